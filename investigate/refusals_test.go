package investigate

import (
	"strings"
	"testing"
	"time"
)

// ecsEnv is an ALB in front of an ECS service whose tasks call a
// database. At t0 its tasks' CPU pins and the ALB's response time climbs;
// nothing else moves.
func ecsEnv() *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "orders-latency", Resource: "orders-alb", Region: "eu-south-1",
		Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Dims: map[string]string{"LoadBalancer": "app/orders-alb/1"}},
		Stat:   "Average", Period: time.Minute, Threshold: 1, Comparison: "GreaterThanThreshold", State: "ALARM",
		History: []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}},
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "orders-alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "app/orders-alb/1"}},
			{ID: "orders-svc", Type: TypeECS, Dims: map[string]string{"ClusterName": "shop", "ServiceName": "orders-svc"},
				Config: map[string]string{"cluster": "shop", "tasks": "6"}},
			{ID: "orders", Type: TypeService, LogGroup: "/ecs/orders"},
			{ID: "orders-db", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "orders-db"}, Config: map[string]string{}},
		},
		Relations: []Relation{
			{"orders-alb", "orders-svc", RelTargets}, {"orders", "orders-svc", RelRunsOn}, {"orders", "orders-db", RelCalls},
		},
	}
	f.series["orders-alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.06, 1.4, t0)
	f.series["orders-alb|AWS/ApplicationELB|RequestCount"] = level(9000, 9000, t0)
	f.series["orders-svc|AWS/ECS|CPUUtilization"] = level(55, 97, t0)
	f.series["orders-db|AWS/RDS|ReadLatency"] = level(0.002, 0.002, t0)
	f.traces = tracesOf(
		edge{caller: "orders-alb", callee: "orders", perMin: 600, latency: 40 * time.Millisecond, latencyAfter: 1300 * time.Millisecond, from: t0},
		edge{caller: "orders", callee: "orders-db", perMin: 600, latency: 3 * time.Millisecond},
	)
	return f
}

// serviceEvent is an ECS service event as the sources give it.
func serviceEvent(at time.Time, svc, msg string) Change {
	return Change{ID: "e-" + at.Format("1504"), Time: at, Event: "ServiceEvent", Source: "ecs.amazonaws.com", Resource: svc,
		Actor: "ecs.amazonaws.com", ByService: true, Routine: true, Message: msg}
}

// What AWS refused to place or launch for lack of room is a limit, and
// the first move gives room: capacity first, a quota increase second.
func TestRefusedRoomIsALimit(t *testing.T) {
	const (
		noInstance = "(service orders-svc) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 3f9c) has insufficient CPU units available."
		fargateCap = "(service orders-svc) was unable to place a task. Reason: You've reached the limit on the number of vCPUs you can run concurrently."
		attribute  = "(service orders-svc) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 3f9c) is missing an attribute required by your task."
		noSpot     = "We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1b). Launching EC2 instance failed."
		vcpuLimit  = "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Launching EC2 instance failed."
	)
	asgEnv := func() *fake {
		f := webEnv()
		f.topo.Resources = append(f.topo.Resources, Resource{ID: "web-asg", Type: TypeASG, Dims: map[string]string{"AutoScalingGroupName": "web-asg"}})
		for _, i := range []string{"i-1", "i-2", "i-3"} {
			f.topo.Relations = append(f.topo.Relations, Relation{i, "web-asg", RelMemberOf})
		}
		f.series["*|AWS/EC2|CPUUtilization"] = level(30, 96, t0)
		f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 300, t0)
		return f
	}
	launch := func(at time.Time, msg string) Change {
		return Change{ID: "a-" + at.Format("1504"), Time: at, Event: "LaunchInstance", Source: "autoscaling.amazonaws.com", Resource: "web-asg",
			Actor: "autoscaling.amazonaws.com", ByService: true, Error: "Failed", Message: msg,
			Params: map[string]string{"autoScalingGroupName": "web-asg", "description": "Launching a new EC2 instance.  Status Reason: " + msg, "status": "Failed"}}
	}
	for _, tt := range []struct {
		name     string
		env      func() *fake
		changes  []Change
		quotas   []Quota
		resource string
		actions  []string // fragments of the first actions, in order; nil: no limit on resource
	}{
		{"ecs, no container instance with room", ecsEnv, []Change{serviceEvent(t0.Add(-2*time.Minute), "orders-svc", noInstance)}, nil,
			"orders-svc", []string{"add container instances to its cluster"}},
		{"ecs, a quota, named", ecsEnv, []Change{serviceEvent(t0.Add(time.Minute), "orders-svc", fargateCap)},
			[]Quota{{Resource: "orders-svc", Service: "fargate", Code: "L-3032A538", Name: "Fargate On-Demand vCPU resource count", Value: 64}},
			"orders-svc", []string{"Free room under Fargate On-Demand vCPU resource count (now 64)", "Request a higher Fargate On-Demand vCPU resource count"}},
		{"ecs, a quota, unnamed", ecsEnv, []Change{serviceEvent(t0.Add(time.Minute), "orders-svc", fargateCap)}, nil,
			"orders-svc", []string{"Free room under the limit AWS names", "Request a higher limit AWS names"}},
		{"a group's launch, no capacity", asgEnv, []Change{launch(t0, noSpot), launch(t0.Add(time.Minute), noSpot)}, nil,
			"web-asg", []string{"launch where there is capacity"}},
		{"a group's launch, a vCPU limit", asgEnv, []Change{launch(t0.Add(time.Minute), vcpuLimit)}, nil,
			"web-asg", []string{"Free room under the limit AWS names", "Request a higher"}},
		{"a task's own requirement is no room", ecsEnv, []Change{serviceEvent(t0.Add(-2*time.Minute), "orders-svc", attribute)}, nil, "orders-svc", nil},
		{"a refusal long before the onset", ecsEnv, []Change{serviceEvent(t0.Add(-2*time.Hour), "orders-svc", noInstance)}, nil, "orders-svc", nil},
		{"a person's call refused for a limit", ecsEnv, []Change{{ID: "u1", Time: t0.Add(-time.Minute), Event: "UpdateService", Source: "ecs.amazonaws.com",
			Resource: "orders-svc", Actor: "arn:aws:sts::123456789012:assumed-role/admin/kim", Error: "LimitExceededException",
			Message: "You have reached the limit on the number of services in the cluster."}}, nil, "orders-svc", nil},
		{"a steady state", ecsEnv, []Change{serviceEvent(t0.Add(-time.Minute), "orders-svc", "(service orders-svc) has reached a steady state.")}, nil, "orders-svc", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.env()
			f.changes, f.quotas = tt.changes, tt.quotas
			rep := investigateFake(t, f)
			if tt.actions == nil {
				if rankOf(rep, CauseLimit, tt.resource) != 0 {
					t.Fatalf("limit on %s ranked; hypotheses %+v", tt.resource, rep.Hypotheses)
				}
				return
			}
			h := top(t, rep)
			if h.Cause != CauseLimit || h.Resource != tt.resource {
				t.Fatalf("top = %s %s, want limit %s; all %+v", h.Cause, h.Resource, tt.resource, rep.Hypotheses)
			}
			if len(h.Actions) < len(tt.actions) {
				t.Fatalf("actions = %+v, want %d", h.Actions, len(tt.actions))
			}
			for i, want := range tt.actions {
				if h.Actions[i].Kind != ActionScale || !strings.Contains(h.Actions[i].Detail, want) {
					t.Errorf("action %d = %s %q, want scale with %q", i, h.Actions[i].Kind, h.Actions[i].Detail, want)
				}
			}
			quoted := false
			for _, id := range h.Evidence {
				if fd, ok := rep.Finding(id); ok && fd.Kind == FindingChange && strings.Contains(fd.Summary, "AWS could not") {
					quoted = true
				}
			}
			if !quoted {
				t.Errorf("AWS's refusal is not cited: %v", h.Evidence)
			}
		})
	}
}
