package awstelemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// What AWS writes outside CloudTrail reaches the changes with its words:
// an ECS service's events (DescribeServices' services[].events), a failed
// Auto Scaling activity's StatusCode and StatusMessage, an RDS event's
// message.
func TestEventsAWSWritesOutsideCloudTrail(t *testing.T) {
	onset := ts("2024-12-05T14:00:00Z")
	srv, c := newServerClient(t, func(o *Options) { o.Now = func() time.Time { return onset.Add(5 * time.Minute) } })
	installContainers(srv, onset)
	// The container story's service, with its events, newest first as
	// ECS lists them.
	srv.Reply("ECS.DescribeServices", map[string]any{"services": []any{map[string]any{
		"serviceName": "checkout", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/checkout",
		"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "desiredCount": 6, "runningCount": 4,
		"launchType": "EC2", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42",
		"events": []any{
			map[string]any{"id": "e3", "createdAt": onset.Add(time.Minute),
				"message": "(service checkout) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 3f9c1e27) has insufficient CPU units available. For more information, see the Troubleshooting section."},
			map[string]any{"id": "e2", "createdAt": onset.Add(-3 * time.Hour), "message": "(service checkout) has reached a steady state."},
			map[string]any{"id": "e1", "createdAt": onset.Add(-30 * time.Minute), "message": "(service checkout) has started 2 tasks: (task 6c1f0d7e) (task b47e2a90)."},
		},
	}}, "failures": []any{}})
	srv.Reply("RDS.DescribeEvents", map[string]any{"Events": awstest.List{Member: "Event", Items: []any{
		map[string]any{"SourceIdentifier": "orders-db", "SourceType": "db-instance", "Date": onset.Add(-time.Minute),
			"Message": "Multi-AZ instance failover started.", "EventCategories": awstest.List{Member: "EventCategory", Items: []any{"failover"}},
			"SourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db"},
	}}})
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
	var events []investigate.Change
	var failover *investigate.Change
	for i, ch := range changes {
		switch ch.Event {
		case "ServiceEvent":
			events = append(events, ch)
		case "RDSFailover":
			failover = &changes[i]
		}
	}
	if len(events) != 2 || events[0].ID != "e1" || events[1].ID != "e3" {
		t.Fatalf("service events = %+v; want e1 and e3 (e2 is before the window), oldest first", events)
	}
	if e := events[1]; e.Resource != "checkout" || !e.Routine || !e.ByService || e.Source != "ecs.amazonaws.com" ||
		!e.Time.Equal(onset.Add(time.Minute)) || !strings.HasPrefix(e.Message, "(service checkout) was unable to place a task") || e.Params["cluster"] != "prod" {
		t.Errorf("placement event = %+v", e)
	}
	if failover == nil || failover.Message != "Multi-AZ instance failover started." || failover.Params["categories"] != "failover" {
		t.Errorf("failover = %+v", failover)
	}

	// The ALB world's group: a launch that failed for lack of capacity.
	srv2, w, c2 := newALBClient(t)
	const noCapacity = "We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1b). Our system will be working on provisioning additional capacity. Launching EC2 instance failed."
	srv2.Reply("Auto Scaling.DescribeScalingActivities", map[string]any{"Activities": []any{
		map[string]any{"ActivityId": "a2", "AutoScalingGroupName": "web-asg", "StartTime": w.Onset.Add(time.Minute), "EndTime": w.Onset.Add(time.Minute),
			"Description": "Launching a new EC2 instance.  Status Reason: " + noCapacity,
			"Cause":       "At 2024-12-03T10:31:00Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 3 to 4.",
			"StatusCode":  "Failed", "StatusMessage": noCapacity, "Progress": 100},
		map[string]any{"ActivityId": "a1", "AutoScalingGroupName": "web-asg", "StartTime": w.Onset.Add(-5 * time.Minute),
			"Description": "Terminating EC2 instance: i-0c5e1a2b3d4f50002", "Cause": "health check", "StatusCode": "Successful", "Progress": 100},
	}})
	s2 := c2.NewSession()
	a, _ := s2.Alarm(ctx, "web-alb-target-5xx")
	if _, err := s2.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	changes, err = s2.Changes(ctx, w.Onset.Add(-time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]investigate.Change{}
	for _, ch := range changes {
		byID[ch.ID] = ch
	}
	if l := byID["a2"]; l.Event != "LaunchInstance" || l.Error != "Failed" || l.Message != noCapacity || l.Resource != "web-asg" || l.Params["status"] != "Failed" {
		t.Errorf("failed launch = %+v", l)
	}
	if tr := byID["a1"]; tr.Event != "TerminateInstance" || tr.Error != "" || tr.Message != "" || tr.Resource != "i-0c5e1a2b3d4f50002" {
		t.Errorf("termination = %+v", tr)
	}
}
