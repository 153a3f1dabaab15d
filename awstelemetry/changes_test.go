package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// What real records carry says who made a change and what it changed:
// AWS rotating a key or reclaiming a Spot instance is AWS's, an agent's
// write with its instance's role and a sign-in are never the team's, and
// each names its resource.
func TestChangesSayWhoMadeThemFromTheirRecords(t *testing.T) {
	events := trailEvents(t,
		"cloudtrail/awsdocs-kms-rotatekey-awsserviceevent.json",
		"cloudtrail/awsdocs-ec2-bidevictedevent-awsserviceevent.json",
		"cloudtrail/awsdocs-guardduty-sendsecuritytelemetry-instance-role.json",
		"cloudtrail/awsdocs-signin-consolelogin-mfa.json",
		"cloudtrail/awsdocs-records-updatetrail-errorcode.json",
		"cloudtrail/awsdocs-ecs-createcluster-assumedrole.json",
		"cloudtrail/awsdocs-lambda-records-accessdenied-getfunction-deletefunction.json",
	)
	c := newWithAPIs("us-east-1", apis{trail: &fakeCloudTrail{pages: []*cloudtrail.LookupEventsOutput{{Events: events}}}}, Options{})
	changes, err := c.NewSession().Changes(context.Background(), ts("2015-01-01T00:00:00Z"), ts("2022-01-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]investigate.Change{}
	for _, ch := range changes {
		by[ch.Event] = ch
	}
	tests := []struct {
		event, resource, actor string
		byService, routine     bool
		check                  func(investigate.Change) bool
	}{
		{"RotateKey", "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "kms.amazonaws.com", true, false,
			func(ch investigate.Change) bool {
				return ch.EventType == "AwsServiceEvent" && ch.InvokedBy == "AWS Internal"
			}},
		{"BidEvictedEvent", "i-1eb2ac8e", "ec2.amazonaws.com", true, false,
			func(ch investigate.Change) bool { return ch.EventType == "AwsServiceEvent" }},
		{"SendSecurityTelemetry", "arn:aws:guardduty:us-west-2:111122223333:detector/`12abc34d567e8fa901bc2d34e56789f0`",
			"arn:aws:sts::111122223333:assumed-role/aws:ec2-instance/`i-123412341234example`", false, true,
			func(ch investigate.Change) bool {
				return ch.Identity == "AssumedRole" && ch.Role == "aws:ec2-instance" && !ch.ReadOnly
			}},
		{"ConsoleLogin", "", "arn:aws:iam::111122223333:user/anaya", false, true,
			func(ch investigate.Change) bool {
				return ch.EventType == "AwsConsoleSignIn" && ch.Identity == "IAMUser"
			}},
		{"UpdateTrail", "myTrail2", "arn:aws:iam::123456789012:user/Alice", false, false,
			func(ch investigate.Change) bool { return ch.Error == "TrailNotFoundException" }},
		{"CreateCluster", "default", "arn:aws:sts::123456789012:user/Mary_Major", false, false,
			func(ch investigate.Change) bool {
				return ch.Role == "Mary_Major" && ch.Identity == "AssumedRole" && ch.EventType == "AwsApiCall"
			}},
		{"DeleteFunction", "basic-node-task", "arn:aws:iam::999999999999:user/myUserName", false, false,
			func(ch investigate.Change) bool { return ch.Identity == "IAMUser" && ch.Role == "" }},
	}
	for _, tt := range tests {
		ch, ok := by[tt.event]
		if !ok {
			t.Errorf("%s not read", tt.event)
			continue
		}
		if ch.Resource != tt.resource || ch.Actor != tt.actor || ch.ByService != tt.byService || ch.Routine != tt.routine || !tt.check(ch) {
			t.Errorf("%s: resource %q actor %q by service %v routine %v (%+v); want %q, %q, %v, %v",
				tt.event, ch.Resource, ch.Actor, ch.ByService, ch.Routine, ch, tt.resource, tt.actor, tt.byService, tt.routine)
		}
	}
}

// Every change names its resource, by what each service calls it.
func TestChangedResourceBySource(t *testing.T) {
	for _, tt := range []struct{ source, params, want string }{
		{"logs.amazonaws.com", `{"logGroupName":"/app/bot-forge","logStreamName":"i-0c5e1a2b3d4f50001"}`, "/app/bot-forge"},
		{"logs.amazonaws.com", `{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:/app/bot-forge:*"}`, "/app/bot-forge"},
		{"ssm.amazonaws.com", `{"name":"/ingest/batch-size","overwrite":true,"type":"String"}`, "/ingest/batch-size"},
		{"sns.amazonaws.com", `{"topicArn":"arn:aws:sns:us-east-1:123456789012:alerts","attributeName":"Policy"}`, "alerts"},
		{"events.amazonaws.com", `{"rule":"nightly","targets":[{"id":"1"}]}`, "nightly"},
		{"secretsmanager.amazonaws.com", `{"secretId":"prod/db"}`, "prod/db"},
		{"monitoring.amazonaws.com", `{"alarmName":"web-alb-target-5xx","threshold":50}`, "web-alb-target-5xx"},
		{"elasticache.amazonaws.com", `{"replicationGroupId":"sessions","cacheNodeType":"cache.r6g.large"}`, "sessions"},
		// What every service calls the same keeps its meaning.
		{"ec2.amazonaws.com", `{"groupId":"sg-0bastion","ipPermissions":{}}`, "sg-0bastion"},
		{"iam.amazonaws.com", `{"roleName":"bot-forge","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}`, "bot-forge"},
	} {
		ch := changeFromRecord(trailRecord{EventSource: tt.source, Request: []byte(tt.params)}, investigate.Change{})
		if ch.Resource != tt.want {
			t.Errorf("%s %s → %q, want %q", tt.source, tt.params, ch.Resource, tt.want)
		}
	}
}

// busyTrail is CloudTrail in a busy account: a write event every 10 s,
// answered as LookupEvents does (the window's events, both ends
// included, newest first, 50 a page, a token that goes with its query).
type busyTrail struct {
	start, end time.Time
	mu         sync.Mutex
	calls      int
}

func (b *busyTrail) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	lo, hi := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
	query := lo.String() + "|" + hi.String()
	skip := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		if _, err := fmt.Sscanf(tok, "%d", &skip); err != nil || !strings.HasSuffix(tok, "@"+query) {
			return nil, errors.New("InvalidNextTokenException")
		}
	}
	out := &cloudtrail.LookupEventsOutput{}
	n := 0
	for at := b.end; !at.Before(b.start); at = at.Add(-10 * time.Second) {
		if at.Before(lo) || at.After(hi) {
			continue
		}
		if n++; n <= skip {
			continue
		}
		if len(out.Events) == 50 {
			out.NextToken = aws.String(fmt.Sprintf("%d@%s", skip+50, query))
			break
		}
		id := at.UTC().Format(time.RFC3339)
		out.Events = append(out.Events, cttypes.Event{EventId: aws.String(id), EventName: aws.String("PutParameter"), EventSource: aws.String("ssm.amazonaws.com"),
			EventTime: aws.Time(at), ReadOnly: aws.String("false"), Username: aws.String("deployer")})
	}
	return out, nil
}

// truncation is the problem that says what the budget left unread.
func truncation(s *Session) error {
	for _, p := range s.Problems() {
		if errors.Is(p, ErrChangesTruncated) {
			return p
		}
	}
	return nil
}

// A budget that runs out says so, and names what it left unread.
func TestChangesSayWhatTheBudgetLeftUnread(t *testing.T) {
	end := ts("2024-12-03T14:00:00Z")
	ct := &busyTrail{start: end.Add(-6 * time.Hour), end: end}
	c := newWithAPIs("us-east-1", apis{trail: ct}, Options{})
	s := c.NewSession()
	changes, err := s.Changes(context.Background(), end.Add(-6*time.Hour), end)
	if err != nil {
		t.Fatal(err)
	}
	if ct.calls != 20 || len(changes) != 1000 {
		t.Fatalf("%d calls, %d changes; want the budget's 20 pages of 50", ct.calls, len(changes))
	}
	p := truncation(s)
	oldest := changes[0].Time.UTC().Format(time.RFC3339)
	if p == nil || !strings.Contains(p.Error(), "from 2024-12-03T08:00:00Z to "+oldest) {
		t.Fatalf("problems = %v; want one that names 08:00:00 to %s unread", s.Problems(), oldest)
	}
	if u := s.Usage().Unavailable; len(u) != 1 || !strings.Contains(u[0].Error, "were not read") {
		t.Errorf("unavailable = %+v", u)
	}
}

// Read around the focus (the alarm's firing, four hours before the end),
// the budget reads the changes nearest it, and what it leaves unread is
// far from it; read from the end, it never reaches them.
func TestChangesAreReadNearestTheFocusFirst(t *testing.T) {
	end := ts("2024-12-03T14:00:00Z")
	start, focus := end.Add(-6*time.Hour), end.Add(-4*time.Hour)
	ct := &busyTrail{start: start, end: end}
	c := newWithAPIs("us-east-1", apis{trail: ct}, Options{})
	s := c.NewSession()
	changes, err := s.ChangesAround(context.Background(), start, end, focus)
	if err != nil {
		t.Fatal(err)
	}
	if ct.calls > 20 {
		t.Errorf("%d calls over the budget of 20", ct.calls)
	}
	read := map[time.Time]bool{}
	for _, ch := range changes {
		if read[ch.Time] {
			t.Errorf("%s read twice", ch.ID)
		}
		read[ch.Time] = true
	}
	// Every change of the hour before the focus and of the minutes after
	// it is read.
	for at := focus.Add(-nearBefore); !at.After(focus.Add(nearAfter)); at = at.Add(10 * time.Second) {
		if !read[at] {
			t.Fatalf("the change at %s, near the focus, was not read", at.Format(time.RFC3339))
		}
	}
	p := truncation(s)
	if p == nil || !strings.Contains(p.Error(), "from "+focus.Add(nearAfter).Format(time.RFC3339)+" to ") {
		t.Fatalf("problems = %v; want the unread part to start after the focus", s.Problems())
	}

	// From the end, the same budget never reaches the focus.
	ct2 := &busyTrail{start: start, end: end}
	s2 := newWithAPIs("us-east-1", apis{trail: ct2}, Options{}).NewSession()
	fromEnd, err := s2.Changes(context.Background(), start, end)
	if err != nil {
		t.Fatal(err)
	}
	if first := fromEnd[0].Time; !first.After(focus) {
		t.Errorf("reading from the end reached %s; the test needs a window the budget cannot cover", first)
	}
}

// Auto Scaling activities and RDS events are read past their first page.
func TestSystemChangesFollowPages(t *testing.T) {
	onset := ts("2024-12-05T14:00:00Z")
	srv, c := newServerClient(t, func(o *Options) { o.Now = func() time.Time { return onset.Add(5 * time.Minute) } })
	installContainers(srv, onset)
	srv.Handle("RDS.DescribeEvents", func(r *awstest.Request) any {
		if r.String("Marker") == "" {
			return map[string]any{"Marker": "p2", "Events": awstest.List{Member: "Event", Items: []any{
				map[string]any{"SourceIdentifier": "other-db", "SourceType": "db-instance", "Date": onset.Add(-30 * time.Minute), "Message": "elsewhere"},
			}}}
		}
		return map[string]any{"Events": awstest.List{Member: "Event", Items: []any{
			map[string]any{"SourceIdentifier": "orders-db", "SourceType": "db-instance", "Date": onset.Add(-time.Minute),
				"Message": "Multi-AZ instance failover started.", "EventCategories": awstest.List{Member: "EventCategory", Items: []any{"failover"}}},
		}}}
	})
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := s.Topology(ctx, investigate.Alarm{Name: "checkout-cpu",
		Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dims: map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}}}); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Changes(ctx, onset.Add(-time.Hour), onset.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ch := range changes {
		found = found || ch.Event == "RDSFailover" && ch.Resource == "orders-db" && ch.ByService
	}
	if !found || srv.Count("RDS.DescribeEvents") != 2 {
		t.Errorf("changes = %+v after %d DescribeEvents calls; want the failover on the second page", changes, srv.Count("RDS.DescribeEvents"))
	}

	// The ALB world's group: its activity of the window is on the second page.
	srv2, w, c2 := newALBClient(t)
	srv2.Handle("Auto Scaling.DescribeScalingActivities", func(r *awstest.Request) any {
		act := func(id, desc string, at time.Time) map[string]any {
			return map[string]any{"ActivityId": id, "AutoScalingGroupName": "web-asg", "StartTime": at, "Description": desc, "Cause": "health check", "StatusCode": "Successful"}
		}
		if r.String("NextToken") == "" {
			return map[string]any{"NextToken": "a2", "Activities": []any{act("a3", "Launching a new EC2 instance: i-0c5e1a2b3d4f50009", w.Fires.Add(time.Minute))}}
		}
		return map[string]any{"Activities": []any{act("a2", "Terminating EC2 instance: i-0c5e1a2b3d4f50002", w.Onset.Add(-5*time.Minute)),
			act("a1", "Launching a new EC2 instance: i-0c5e1a2b3d4f50003", w.Onset.Add(-30*time.Hour))}}
	})
	s2 := c2.NewSession()
	a, _ := s2.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s2.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	changes, err = s2.Changes(ctx, w.Onset.Add(-3*time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, ch := range changes {
		found = found || ch.Event == "TerminateInstance" && ch.Resource == "i-0c5e1a2b3d4f50002" && ch.ByService
	}
	if !found || srv2.Count("Auto Scaling.DescribeScalingActivities") != 2 {
		t.Errorf("changes = %+v after %d calls; want the termination on the second page", changes, srv2.Count("Auto Scaling.DescribeScalingActivities"))
	}
}

// Scaling activities past the budget are a problem that says how far back
// they were read.
func TestScalingActivitiesBudget(t *testing.T) {
	srv, w, c := newALBClient(t)
	srv.Handle("Auto Scaling.DescribeScalingActivities", func(r *awstest.Request) any {
		return map[string]any{"NextToken": "more", "Activities": []any{map[string]any{"ActivityId": "a", "AutoScalingGroupName": "web-asg",
			"StartTime": w.Fires, "Description": "Launching a new EC2 instance: i-0c5e1a2b3d4f50009", "StatusCode": "Successful"}}}
	})
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, _ := s.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Changes(ctx, w.Onset.Add(-3*time.Hour), w.Fires.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("Auto Scaling.DescribeScalingActivities"); n != maxSystemPages {
		t.Errorf("%d calls, want the budget of %d", n, maxSystemPages)
	}
	if p := truncation(s); p == nil || !strings.Contains(p.Error(), "web-asg") {
		t.Errorf("problems = %v", s.Problems())
	}
}

// The ALB world's LookupEvents honours its window and its one lookup
// attribute, as CloudTrail does, through the real SDK client.
func TestALBWorldLookupEventsHonoursWindowAndAttribute(t *testing.T) {
	_, w, c := newALBClient(t)
	ctx := ctxTimeout(t, 5*time.Second)
	lookup := func(in *cloudtrail.LookupEventsInput) ([]string, error) {
		var names []string
		for {
			out, err := c.api.trail.LookupEvents(ctx, in)
			if err != nil {
				return names, err
			}
			for _, ev := range out.Events {
				names = append(names, aws.ToString(ev.EventName))
			}
			if aws.ToString(out.NextToken) == "" {
				return names, nil
			}
			in.NextToken = out.NextToken
		}
	}
	attr := func(k cttypes.LookupAttributeKey, v string) []cttypes.LookupAttribute {
		return []cttypes.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}
	}
	for _, tt := range []struct {
		name  string
		in    cloudtrail.LookupEventsInput
		want  string
		error string
	}{
		{"the hour before", cloudtrail.LookupEventsInput{StartTime: aws.Time(w.Onset.Add(-time.Hour)), EndTime: aws.Time(w.Fires)}, "CreateLogStream", ""},
		{"both ends included", cloudtrail.LookupEventsInput{StartTime: aws.Time(w.Onset.Add(-2 * time.Hour)), EndTime: aws.Time(w.Onset.Add(-2 * time.Hour))}, "AuthorizeSecurityGroupIngress", ""},
		{"three hours", cloudtrail.LookupEventsInput{StartTime: aws.Time(w.Onset.Add(-3 * time.Hour)), EndTime: aws.Time(w.Fires)}, "CreateLogStream AuthorizeSecurityGroupIngress", ""},
		{"by event name", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyEventName, "AuthorizeSecurityGroupIngress")}, "AuthorizeSecurityGroupIngress", ""},
		{"by resource name", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyResourceName, "/app/bot-forge")}, "CreateLogStream", ""},
		{"no read-only events", cloudtrail.LookupEventsInput{LookupAttributes: attr(cttypes.LookupAttributeKeyReadOnly, "true")}, "", ""},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(w.Fires), EndTime: aws.Time(w.Onset)}, "", "InvalidTimeRangeException"},
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: append(attr(cttypes.LookupAttributeKeyReadOnly, "false"),
			attr(cttypes.LookupAttributeKeyEventName, "CreateLogStream")...)}, "", "InvalidLookupAttributesException"},
		{"a token from another query", cloudtrail.LookupEventsInput{StartTime: aws.Time(w.Onset.Add(-time.Hour)), NextToken: aws.String("1@||=")}, "", "InvalidNextTokenException"},
	} {
		got, err := lookup(&tt.in)
		if tt.error != "" {
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("%s: err = %v, want %s", tt.name, err, tt.error)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("%s: events %q, err %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// When CloudTrail fails, what the system changed is still read and
// reported, and CloudTrail's failure is a part left unread: a denied
// LookupEvents does not throw away the Auto Scaling activity beside it.
func TestCloudTrailFailureKeepsSystemChanges(t *testing.T) {
	srv, w, c := newALBClient(t)
	srv.Reply("CloudTrail.LookupEvents", awstest.Denied("AccessDeniedException"))
	srv.Reply("Auto Scaling.DescribeScalingActivities", map[string]any{"Activities": []any{map[string]any{
		"ActivityId": "a9", "AutoScalingGroupName": "web-asg", "StartTime": w.Onset.Add(-5 * time.Minute),
		"Description": "Terminating EC2 instance: i-0c5e1a2b3d4f50003", "Cause": "health check", "StatusCode": "Successful",
	}}})
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := s.Topology(ctx, investigate.Alarm{Name: "web-alb-target-5xx",
		Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}}); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Changes(ctx, w.Onset.Add(-time.Hour), w.Fires)
	if err != nil {
		t.Fatalf("Changes failed although the group's activities were read: %v", err)
	}
	scaled := false
	for _, ch := range changes {
		scaled = scaled || ch.ID == "a9" && ch.ByService
	}
	if !scaled {
		t.Errorf("changes = %+v; want the group's scaling activity", changes)
	}
	denied := false
	for _, p := range s.Problems() {
		var ae interface{ ErrorCode() string }
		denied = denied || errors.As(p, &ae) && ae.ErrorCode() == "AccessDeniedException"
	}
	if !denied {
		t.Errorf("problems = %v; want CloudTrail's denial", s.Problems())
	}
}
