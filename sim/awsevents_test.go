package sim

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// The scenario's events reach the engine with the changes, in the shapes
// the AWS adapter reads them in.
func TestAWSEvents(t *testing.T) {
	sc := albScenario()
	sc.Resources = append(sc.Resources,
		scenario.Resource{ID: "orders-svc", Type: "ecs", Name: "orders", Cluster: "shop", Tasks: 4},
		scenario.Resource{ID: "orders-db", Type: "rds", Name: "orders-db", ARN: "arn:aws:rds:us-east-1:123456789012:db:orders-db"})
	at := func(d time.Duration) time.Time { return albOnset.Add(d) }
	sc.Events = []scenario.EventItem{
		{At: at(time.Minute), Resource: "orders-svc", Message: "(service orders) was unable to place a task."},
		{At: at(-2 * time.Minute), Resource: "web-asg", Status: "Failed", Description: "Launching a new EC2 instance.  Status Reason: no capacity", Cause: "c", Message: "no capacity"},
		{At: at(-3 * time.Minute), Resource: "web-asg", Status: "Successful", Description: "Terminating EC2 instance: i-0c5e1a2b3d4f50009", Cause: "health check"},
		{At: at(0), Resource: "orders-db", Categories: []string{"failover", "availability"}, Message: "Multi-AZ instance failover started."},
		{At: at(-30 * time.Minute), Resource: "orders-db", Categories: []string{"configuration change"}, Message: "Updated to use DBParameterGroup orders-pg15"},
		{At: at(time.Hour), Resource: "orders-svc", Message: "after now"},
	}
	s := New(sc, Options{})
	all, err := s.Changes(bg, sc.Start(), s.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got []investigate.Change
	steady := 0
	for _, c := range all {
		switch {
		case strings.HasSuffix(c.Message, "has reached a steady state."):
			steady++
			if c.Resource != "orders-svc" || !c.Routine || c.Message != "(service orders) has reached a steady state." {
				t.Errorf("steady state = %+v", c)
			}
		case c.ByService:
			c.ID = ""
			got = append(got, c)
		}
	}
	want := []investigate.Change{
		{Time: at(-30 * time.Minute), Event: "RDSConfigurationChange", Source: "rds.amazonaws.com", Resource: "orders-db", Actor: "rds.amazonaws.com", ByService: true,
			Message: "Updated to use DBParameterGroup orders-pg15",
			Params:  map[string]string{"message": "Updated to use DBParameterGroup orders-pg15", "categories": "configuration change", "sourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db"}},
		{Time: at(-3 * time.Minute), Event: "TerminateInstance", Source: "autoscaling.amazonaws.com", Resource: "i-0c5e1a2b3d4f50009", Actor: "autoscaling.amazonaws.com", ByService: true,
			Params: map[string]string{"autoScalingGroupName": "web-asg", "description": "Terminating EC2 instance: i-0c5e1a2b3d4f50009", "cause": "health check", "status": "Successful"}},
		{Time: at(-2 * time.Minute), Event: "LaunchInstance", Source: "autoscaling.amazonaws.com", Resource: "web-asg", Actor: "autoscaling.amazonaws.com", ByService: true,
			Error: "Failed", Message: "no capacity",
			Params: map[string]string{"autoScalingGroupName": "web-asg", "description": "Launching a new EC2 instance.  Status Reason: no capacity", "cause": "c", "status": "Failed"}},
		{Time: at(0), Event: "RDSFailover", Source: "rds.amazonaws.com", Resource: "orders-db", Actor: "rds.amazonaws.com", ByService: true,
			Message: "Multi-AZ instance failover started.",
			Params:  map[string]string{"message": "Multi-AZ instance failover started.", "categories": "failover,availability", "sourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db"}},
		{Time: at(time.Minute), Event: "ServiceEvent", Source: "ecs.amazonaws.com", Resource: "orders-svc", Actor: "ecs.amazonaws.com", ByService: true, Routine: true,
			Message: "(service orders) was unable to place a task.", Params: map[string]string{"cluster": "shop", "service": "orders"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events:\n got %+v\nwant %+v", got, want)
	}
	// A service says it is steady every six hours: over 3h3m once or not
	// at all, over 13h3m twice or three times.
	if steady > 1 {
		t.Errorf("%d steady-state events in 3 hours", steady)
	}
	sc.History = 13 * time.Hour
	steady = 0
	for _, c := range mustChanges(t, New(sc, Options{})) {
		if strings.HasSuffix(c.Message, "has reached a steady state.") {
			steady++
		}
	}
	if steady < 2 || steady > 3 {
		t.Errorf("%d steady-state events in 13 hours, want one every six", steady)
	}
	again := New(sc, Options{})
	if !reflect.DeepEqual(mustChanges(t, again), mustChanges(t, New(sc, Options{}))) {
		t.Error("the same scenario gives other events")
	}
}

func mustChanges(t *testing.T, s *Sim) []investigate.Change {
	t.Helper()
	ch, err := s.Changes(bg, s.sc.Start(), s.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// A Health event is listed from when it was posted, with the start AWS
// gives it.
func TestHealthPosted(t *testing.T) {
	sc := albScenario()
	sc.Health = []scenario.HealthItem{
		{Window: scenario.Window{At: albOnset.Add(-40 * time.Minute), Until: sc.End()}, PostedAt: albOnset.Add(2 * time.Minute),
			Service: "EC2", Type: "AWS_EC2_OPERATIONAL_ISSUE", Status: "open"},
	}
	for _, tt := range []struct {
		now  time.Time
		want int
	}{
		{albOnset.Add(time.Minute), 0},
		{albOnset.Add(2 * time.Minute), 1},
		{albOnset.Add(10 * time.Minute), 1},
	} {
		s := New(sc, Options{Now: tt.now})
		evs, err := s.Health(bg, sc.Start(), s.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != tt.want {
			t.Errorf("at %v: %d events, want %d", tt.now, len(evs), tt.want)
			continue
		}
		if tt.want == 1 && (!evs[0].Start.Equal(albOnset.Add(-40*time.Minute)) || !evs[0].Posted.Equal(albOnset.Add(2*time.Minute))) {
			t.Errorf("at %v: start %v posted %v", tt.now, evs[0].Start, evs[0].Posted)
		}
	}
}
