package investigate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// What AWS does to running resources by itself is a change the system
// made: instances of a group reclaimed (even ones the topology no longer
// has), a database failed over.
func TestAWSActionsAreSystemChanges(t *testing.T) {
	for _, collected := range []bool{true, false} {
		t.Run(fmt.Sprintf("spot instances reclaimed, group metrics %v", collected), func(t *testing.T) {
			spotReclaimed(t, collected)
		})
	}
	t.Run("database failed over", func(t *testing.T) {
		f := webEnv()
		f.topo.Resources = append(f.topo.Resources, Resource{ID: "db", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "db"}, Config: map[string]string{}})
		f.topo.Relations = append(f.topo.Relations, Relation{"app", "db", RelCalls})
		var es []edge
		for _, i := range []string{"i-1", "i-2", "i-3"} {
			es = append(es, edge{caller: "app", callee: "db", instance: i, perMin: 60, latency: 4 * time.Millisecond})
		}
		f.traces = tracesOf(alter(append(webEdges(), es...), into("db"), failing(0.5, "PSQLException: Connection refused"))...)
		f.changes = []Change{{ID: "rds:db:1", Time: t0.Add(-time.Minute), Event: "RDSFailover", Source: "rds.amazonaws.com", Resource: "db",
			Actor: "rds.amazonaws.com", ByService: true, Message: "Multi-AZ instance failover started.",
			Params: map[string]string{"message": "Multi-AZ instance failover started.", "categories": "failover"}}}
		rep := investigateFake(t, f)
		h := top(t, rep)
		if h.Cause != CauseSystemChange || h.Resource != "db" {
			t.Fatalf("top = %s %s, want system-change db; all %+v", h.Cause, h.Resource, rep.Hypotheses)
		}
		// Scaled for first (the method's move for a change the system
		// made), then the callers reconnect: after a failover their
		// pooled connections and cached address point at the old primary.
		if len(h.Actions) < 2 || h.Actions[0].Kind != ActionScale || h.Actions[1].Kind != ActionRestart || !strings.Contains(h.Actions[1].Detail, "old primary") {
			t.Errorf("actions %+v: want scale, then the callers' connections recycled", h.Actions)
		}
	})
}

// spotReclaimed: EC2 reclaims half a group's instances; the group's
// activities record it. Without the group's metrics (Auto Scaling does
// not collect them unless asked) the activities alone tell it.
func spotReclaimed(t *testing.T, collected bool) {
	f := webEnv()
	f.topo.Resources = append(f.topo.Resources, Resource{ID: "web-asg", Type: TypeASG, Dims: map[string]string{"AutoScalingGroupName": "web-asg"}})
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		f.topo.Relations = append(f.topo.Relations, Relation{i, "web-asg", RelMemberOf})
	}
	f.series["*|AWS/EC2|CPUUtilization"] = level(30, 96, t0)
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 300, t0)
	if collected {
		// Instance counts are whole numbers, without noise.
		f.series["web-asg|AWS/AutoScaling|GroupInServiceInstances"] = func(t time.Time) float64 {
			if t.Before(t0) {
				return 6
			}
			return 2
		}
	}
	for _, gone := range []string{"i-4", "i-5", "i-6"} {
		f.changes = append(f.changes, Change{ID: gone, Time: t0.Add(-time.Minute), Event: "TerminateInstance", Source: "autoscaling.amazonaws.com",
			Resource: gone, Actor: "autoscaling.amazonaws.com", ByService: true,
			Params: map[string]string{"autoScalingGroupName": "web-asg", "description": "Terminating EC2 instance: " + gone, "status": "Successful",
				"cause": "At 2024-12-03T10:29:00Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped."}})
	}
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseSystemChange || h.Resource != "web-asg" || h.Actions[0].Kind != ActionScale || !strings.Contains(h.Actions[0].Detail, "AWS took instances away") {
		t.Fatalf("top = %s %s %+v, want system-change web-asg, scale as AWS took instances; all %+v", h.Cause, h.Resource, h.Actions, rep.Hypotheses)
	}
}

func TestReclaimed(t *testing.T) {
	for _, tt := range []struct {
		event, cause string
		want         bool
	}{
		{"TerminateInstance", "At 2024-12-03T10:29:00Z an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.", true},
		{"TerminateInstance", "At 2024-12-03T10:29:00Z an instance was taken out of service in response to an EC2 instance rebalance recommendation.", true},
		{"TerminateInstance", "At 2024-12-03T10:29:00Z an instance was taken out of service in response to EC2 instance status checks failure.", true},
		{"BidEvictedEvent", "", true},
		{"TerminateInstance", "At 2024-12-03T10:29:00Z an instance was taken out of service in response to an ELB system health check failure.", false},
		{"TerminateInstance", "At 2024-12-03T10:29:00Z a scheduled action update of AutoScalingGroup constraints to min: 3, max: 12, desired: 3 changing the desired capacity from 8 to 3.", false},
	} {
		if got := reclaimed(Change{Event: tt.event, Params: map[string]string{"cause": tt.cause}}); got != tt.want {
			t.Errorf("reclaimed(%s, %q) = %v, want %v", tt.event, tt.cause, got, tt.want)
		}
	}
}
