package awstelemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
)

// A Health event carries when it was posted (lastUpdatedTime) beside the
// start AWS gives it, and the latest description DescribeEventDetails has
// for it.
func TestHealthPostedAndDescribed(t *testing.T) {
	srv, w, c := newALBClient(t)
	ctx := ctxTimeout(t, 5*time.Second)
	const arn = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_ABC"
	const gone = "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/AWS_EC2_OPERATIONAL_ISSUE_GONE"
	events := []map[string]any{
		{"arn": arn, "service": "EC2", "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE", "eventTypeCategory": "issue", "region": "us-east-1",
			"availabilityZone": "us-east-1c", "startTime": w.Onset.Add(-40 * time.Minute), "lastUpdatedTime": w.Onset.Add(12 * time.Minute),
			"statusCode": "open", "eventScopeCode": "PUBLIC"},
		{"arn": gone, "service": "EC2", "eventTypeCode": "AWS_EC2_OPERATIONAL_ISSUE", "region": "us-east-1",
			"startTime": w.Onset.Add(-2 * time.Hour), "lastUpdatedTime": w.Onset.Add(-2 * time.Hour), "statusCode": "open", "eventScopeCode": "PUBLIC"},
	}
	srv.Reply("Health.DescribeEvents", map[string]any{"events": []any{events[0], events[1]}})
	const desc = "We are investigating increased network packet loss for instances in a single Availability Zone (use1-az6)."
	srv.Handle("Health.DescribeEventDetails", func(r *awstest.Request) any {
		// The second event is not retrievable any more.
		return awstest.EventDetails(r, events[:1], map[string]string{arn: desc})
	})
	s := c.NewSession()
	evs, err := s.Health(ctx, w.Onset.Add(-3*time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
	e := evs[1]
	if e.ARN != arn || !e.Start.Equal(w.Onset.Add(-40*time.Minute)) || !e.Posted.Equal(w.Onset.Add(12*time.Minute)) || e.Description != desc {
		t.Errorf("event = %+v", e)
	}
	if evs[0].Description != "" {
		t.Errorf("the unretrievable event has a description: %+v", evs[0])
	}
	found := false
	for _, p := range s.Problems() {
		found = found || strings.Contains(p.Error(), "describe event details of "+gone)
	}
	if !found {
		t.Errorf("problems = %v; want the event that could not be retrieved", s.Problems())
	}
	if n := srv.Count("Health.DescribeEventDetails"); n != 1 {
		t.Errorf("DescribeEventDetails calls = %d, want 1", n)
	}

	// Denied details leave the events, without their words.
	srv.Reply("Health.DescribeEventDetails", awstest.Denied("AccessDeniedException"))
	s = c.NewSession()
	if evs, err := s.Health(context.Background(), w.Onset.Add(-3*time.Hour), w.Fires); err != nil || len(evs) != 2 || evs[1].Description != "" {
		t.Errorf("events %+v, err %v", evs, err)
	}
	if len(s.Problems()) == 0 {
		t.Error("the denied call is no problem")
	}
}

// Eleven events or more: one call for the ten that started last, as the
// API takes at most 10 ARNs.
func TestHealthDetailsAtMostTen(t *testing.T) {
	srv, w, c := newALBClient(t)
	var events []map[string]any
	var list []any
	for i := 0; i < 12; i++ {
		e := map[string]any{"arn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_X/AWS_EC2_X_" + string(rune('A'+i)), "service": "EC2",
			"eventTypeCode": "AWS_EC2_X", "region": "us-east-1", "startTime": w.Onset.Add(time.Duration(-i) * time.Minute), "statusCode": "open", "eventScopeCode": "PUBLIC"}
		events = append(events, e)
		list = append(list, e)
	}
	srv.Reply("Health.DescribeEvents", map[string]any{"events": list})
	descs := map[string]string{}
	for _, e := range events {
		descs[e["arn"].(string)] = "words of " + e["arn"].(string)
	}
	srv.Handle("Health.DescribeEventDetails", func(r *awstest.Request) any { return awstest.EventDetails(r, events, descs) })
	s := c.NewSession()
	evs, err := s.Health(ctxTimeout(t, 5*time.Second), w.Onset.Add(-3*time.Hour), w.Fires)
	if err != nil || len(evs) != 12 {
		t.Fatalf("events %d, err %v", len(evs), err)
	}
	described := 0
	for _, e := range evs {
		if e.Description != "" {
			described++
			if e.Start.Before(w.Onset.Add(-9 * time.Minute)) {
				t.Errorf("described %s, one of the oldest", e.ARN)
			}
		}
	}
	if described != 10 || len(s.Problems()) != 0 {
		t.Errorf("%d described, problems %v; want the 10 latest", described, s.Problems())
	}
}
