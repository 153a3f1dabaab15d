package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/health"
	healthtypes "github.com/aws/aws-sdk-go-v2/service/health/types"
	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/investigate"
)

// SubscriptionRequiredError says that the account cannot read AWS Health
// through the API: it needs a Business, Enterprise On-Ramp or Enterprise
// Support plan. Health returns it wrapped; errors.As finds it, and the
// SDK's smithy.APIError beneath it.
type SubscriptionRequiredError struct{ Err error }

func (e *SubscriptionRequiredError) Error() string {
	return "the AWS Health API needs a Business, Enterprise On-Ramp or Enterprise Support plan (SubscriptionRequiredException)"
}

func (e *SubscriptionRequiredError) Unwrap() error { return e.Err }

// healthError wraps a Health error, naming a missing support plan.
func healthError(what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "SubscriptionRequiredException" {
		err = &SubscriptionRequiredError{Err: err}
	}
	return wrap(what, err)
}

const maxHealthPages = 5

// Health lists the AWS Health events of the client's region (and global
// ones) that were open at any time in [start, end), with the resources
// they affect in this account. AWS Health is read from its global endpoint.
func (s *Session) Health(ctx context.Context, start, end time.Time) (events []investigate.HealthEvent, err error) {
	defer recoverTo(&err, "aws health")
	ctx = s.ctx(ctx)
	p := health.NewDescribeEventsPaginator(s.c.api.health, &health.DescribeEventsInput{
		Filter: &healthtypes.EventFilter{
			Regions:    []string{s.c.region, "global"},
			StartTimes: []healthtypes.DateTimeRange{{To: aws.Time(end)}},
		},
		MaxResults: aws.Int32(100),
	})
	var arns []string
	for page := 0; p.HasMorePages() && page < maxHealthPages; page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, healthError("aws health describe events", err)
		}
		for _, e := range out.Events {
			if e.EndTime != nil && e.EndTime.Before(start) {
				continue
			}
			ev := investigate.HealthEvent{
				ARN:     aws.ToString(e.Arn),
				Service: aws.ToString(e.Service),
				Type:    aws.ToString(e.EventTypeCode),
				Status:  string(e.StatusCode),
				Start:   aws.ToTime(e.StartTime),
				End:     aws.ToTime(e.EndTime),
				Region:  aws.ToString(e.Region),
				AZ:      aws.ToString(e.AvailabilityZone),
				// AWS dates an event from when its impact began, which
				// may be long before it posted it; lastUpdatedTime is
				// when it was posted or last updated.
				Posted: aws.ToTime(e.LastUpdatedTime),
			}
			events = append(events, ev)
			if e.EventScopeCode != healthtypes.EventScopeCodePublic {
				arns = append(arns, ev.ARN)
			}
		}
	}
	if len(arns) > 10 {
		arns = arns[:10]
	}
	if len(arns) > 0 {
		out, err := s.c.api.health.DescribeAffectedEntities(ctx, &health.DescribeAffectedEntitiesInput{
			Filter:     &healthtypes.EntityFilter{EventArns: arns},
			MaxResults: aws.Int32(100),
		})
		if err != nil {
			s.addProblems(healthError("aws health describe affected entities", err))
		} else {
			byEvent := map[string][]string{}
			for _, en := range out.Entities {
				v := aws.ToString(en.EntityValue)
				if v == "" {
					v = aws.ToString(en.EntityArn)
				}
				if v != "" && len(byEvent[aws.ToString(en.EventArn)]) < 20 {
					byEvent[aws.ToString(en.EventArn)] = append(byEvent[aws.ToString(en.EventArn)], v)
				}
			}
			for i := range events {
				events[i].Resources = byEvent[events[i].ARN]
			}
		}
	}
	s.describeHealth(ctx, events)
	sort.SliceStable(events, func(i, j int) bool { return events[i].Start.Before(events[j].Start) })
	return events, nil
}

// maxHealthDetails is how many events' descriptions are read: one
// DescribeEventDetails call, which takes at most 10 ARNs.
const maxHealthDetails = 10

// describeHealth fills in the latest description of the events that
// started last (DescribeEventDetails): what AWS says the event is, which
// the investigation matches against the failures' words. An event it
// could not retrieve, or a call that failed, is a problem; the events
// stand without their words.
func (s *Session) describeHealth(ctx context.Context, events []investigate.HealthEvent) {
	idx := make([]int, len(events))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return events[idx[a]].Start.After(events[idx[b]].Start) })
	if len(idx) > maxHealthDetails {
		idx = idx[:maxHealthDetails]
	}
	byARN := map[string]int{}
	var arns []string
	for _, i := range idx {
		if a := events[i].ARN; a != "" {
			if _, dup := byARN[a]; !dup {
				byARN[a] = i
				arns = append(arns, a)
			}
		}
	}
	if len(arns) == 0 {
		return
	}
	out, err := s.c.api.health.DescribeEventDetails(ctx, &health.DescribeEventDetailsInput{EventArns: arns})
	if err != nil {
		s.addProblems(healthError("aws health describe event details", err))
		return
	}
	for _, d := range out.SuccessfulSet {
		if d.Event == nil || d.EventDescription == nil {
			continue
		}
		if i, ok := byARN[aws.ToString(d.Event.Arn)]; ok {
			events[i].Description = aws.ToString(d.EventDescription.LatestDescription)
		}
	}
	for _, f := range out.FailedSet {
		s.addProblems(fmt.Errorf("aws health describe event details of %s: %s: %s", aws.ToString(f.EventArn), aws.ToString(f.ErrorName), aws.ToString(f.ErrorMessage)))
	}
}
