package investigate

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// taskIDs are the four tasks of the checkout service.
var taskIDs = []string{"0a1b2c3d4e5f40718293a4b5c6d7e8f9", "1b2c3d4e5f6a40718293a4b5c6d7e8f9", "2c3d4e5f6a7b40718293a4b5c6d7e8f9", "3d4e5f6a7b8c40718293a4b5c6d7e8f9"}

// taskEnv is an ALB in front of the ECS service checkout-svc, whose four
// tasks run checkout (which calls a table) and write their lines to
// /ecs/checkout in streams ecs/checkout/TASK-ID. revs are the tasks'
// revisions of the task definition checkout, in taskIDs' order; a task of
// a revision above 41 started two minutes before t0, the others a day
// before. The tasks in bad log an error from t0 on, and the ALB's 5XX
// rise. Nothing is in CloudTrail.
func taskEnv(revs []int, bad ...string) *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "checkout-5xx", Resource: "checkout-alb", Region: "us-west-2",
		Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: map[string]string{"LoadBalancer": "app/checkout-alb/1"}},
		Stat:   "Sum", Period: time.Minute, Threshold: 50, Comparison: "GreaterThanThreshold", State: "ALARM",
		History: []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}},
	}
	f.topo = Topology{Resources: []Resource{
		{ID: "checkout-alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "app/checkout-alb/1"}},
		{ID: "checkout-svc", Type: TypeECS, Name: "checkout", Dims: map[string]string{"ClusterName": "shop", "ServiceName": "checkout"}, Config: map[string]string{"cluster": "shop"}},
		{ID: "checkout", Type: TypeService, LogGroup: "/ecs/checkout"},
		{ID: "table", Type: TypeDynamoDB, Dims: map[string]string{"TableName": "table"}},
	}, Relations: []Relation{
		{"checkout-alb", "checkout-svc", RelTargets}, {"checkout", "checkout-svc", RelRunsOn}, {"checkout", "table", RelCalls},
	}}
	var lines []logLine
	for i, id := range taskIDs {
		started := t0.Add(-24 * time.Hour)
		if revs[i] > 41 {
			started = t0.Add(-2 * time.Minute)
		}
		az := []string{"us-west-2a", "us-west-2b"}[i%2]
		f.topo.Resources = append(f.topo.Resources, Resource{ID: id, Type: TypeECSTask, Name: id, AZ: az,
			Dims: map[string]string{"ClusterName": "shop", "ServiceName": "checkout", "TaskId": id},
			Config: map[string]string{"cluster": "shop", TaskDefinitionKey: "arn:aws:ecs:us-west-2:123456789012:task-definition/checkout:" + itoa(revs[i]),
				StartedAtKey: started.Format(time.RFC3339)}})
		f.topo.Relations = append(f.topo.Relations, Relation{id, "checkout-svc", RelMemberOf})
		stream := "ecs/checkout/" + id
		lines = append(lines,
			logLine{"INFO request <*> POST /v1/checkout 200 <*>ms", stream, 300, time.Time{}},
			logLine{"ERROR upstream request timed out after <*>ms, retrying", stream, 0.2, time.Time{}})
		if slices.Contains(bad, id) {
			lines = append(lines, logLine{"ERROR checkout <*> failed: KeyError: 'tax_region'", stream, 250, t0})
		}
		f.series[id+"|ECS/ContainerInsights|TaskCpuUtilization"] = level(30, 30, t0)
		f.series[id+"|ECS/ContainerInsights|TaskMemoryUtilization"] = level(50, 50, t0)
	}
	f.logs["/ecs/checkout"] = logsOf(lines...)
	f.series["checkout-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(3, 3+250*float64(len(bad)), t0)
	f.series["checkout-alb|AWS/ApplicationELB|RequestCount"] = level(1200, 1200, t0)
	f.series["checkout-svc|AWS/ECS|CPUUtilization"] = level(30, 30, t0)
	return f
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTasksAsPeers(t *testing.T) {
	cases := []struct {
		name     string
		revs     []int
		bad      []string
		cause    Cause
		resource string
		action   ActionKind
		detail   []string // fragments of the first action
	}{
		{"one task fails alone", []int{41, 41, 41, 41}, taskIDs[2:3], CauseComponent, taskIDs[2], ActionRestart,
			[]string{"aws ecs stop-task --cluster shop --task " + taskIDs[2]}},
		{"the new revision's tasks fail", []int{41, 41, 42, 42}, taskIDs[2:], CauseOwnChange, "checkout-svc", ActionRollback,
			[]string{"aws ecs update-service --cluster shop --service checkout --task-definition checkout:41", "checkout:42"}},
		{"one task of the new revision fails, the other not", []int{41, 41, 42, 42}, taskIDs[2:3], CauseComponent, taskIDs[2], ActionRestart, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := investigateFake(t, taskEnv(c.revs, c.bad...))
			h := top(t, rep)
			if h.Cause != c.cause || h.Resource != c.resource {
				t.Fatalf("top = %s %s, want %s %s; all: %+v", h.Cause, h.Resource, c.cause, c.resource, rep.Hypotheses)
			}
			if a := h.Actions[0]; a.Kind != c.action {
				t.Errorf("first action = %s: %s, want %s", a.Kind, a.Detail, c.action)
			}
			for _, d := range c.detail {
				if !strings.Contains(h.Actions[0].Detail, d) {
					t.Errorf("first action %q does not say %q", h.Actions[0].Detail, d)
				}
			}
		})
	}
}

// No revision is the culprit when it does not set the failing tasks apart:
// a healthy task runs it too, or the failing tasks run the older one.
func TestNoRevisionCulprit(t *testing.T) {
	cases := []struct {
		name string
		revs []int
		bad  []string
	}{
		{"the failing tasks share their revision with healthy ones", []int{41, 41, 41, 41}, taskIDs[1:3]},
		{"the failing tasks run the older revision", []int{41, 41, 42, 42}, taskIDs[:2]},
		{"the failing tasks run two revisions", []int{40, 41, 42, 42}, taskIDs[:2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := investigateFake(t, taskEnv(c.revs, c.bad...))
			for _, h := range rep.Hypotheses {
				if h.Cause == CauseOwnChange {
					t.Errorf("hypothesis %s %s (%.2f); want no change: nothing was deployed onto only the failing tasks", h.Cause, h.Resource, h.Confidence)
				}
			}
		})
	}
}

func TestFailingRevision(t *testing.T) {
	cases := []struct {
		name    string
		revs    []int
		failing []string
		bad     string // the failing revision, "" for none
		good    string
	}{
		{"every task of the newer revision", []int{41, 41, 42, 42}, taskIDs[2:], "checkout:42", "checkout:41"},
		{"a healthy task of the failing revision", []int{41, 42, 42, 42}, taskIDs[2:], "", ""},
		{"one task alone", []int{41, 41, 41, 42}, taskIDs[3:], "", ""},
		{"the older revision", []int{41, 41, 42, 42}, taskIDs[:2], "", ""},
		{"nothing healthy", []int{42, 42, 42, 42}, taskIDs, "", ""},
		{"nothing fails", []int{41, 41, 42, 42}, nil, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGraph(taskEnv(c.revs).topo, "checkout-alb")
			failing := map[string]bool{}
			for _, id := range c.failing {
				failing[id] = true
			}
			rf, ok := failingRevision(g, taskIDs, failing)
			if ok != (c.bad != "") {
				t.Fatalf("failingRevision = %+v, %v; want %q", rf, ok, c.bad)
			}
			if ok && (rf.bad.String() != c.bad || rf.good[0].String() != c.good || rf.service != "checkout-svc" || !slices.Equal(rf.failing, c.failing) || !rf.since.Equal(t0.Add(-2*time.Minute))) {
				t.Errorf("revision failure = %+v; want %s failing, %s healthy", rf, c.bad, c.good)
			}
		})
	}
}

func TestStreamOwner(t *testing.T) {
	g := newGraph(taskEnv([]int{41, 41, 41, 41}).topo, "checkout-alb")
	cases := []struct{ stream, want string }{
		{"ecs/checkout/" + taskIDs[1], taskIDs[1]},
		{"prefix/other-container/" + taskIDs[3], taskIDs[3]},
		{taskIDs[0], taskIDs[0]},
		{"ecs/checkout/ffffffffffffffffffffffffffffffff", "ecs/checkout/ffffffffffffffffffffffffffffffff"},
		{"ecs/checkout/checkout-svc", "ecs/checkout/checkout-svc"}, // a resource that is no task
		{"i-0abc", "i-0abc"},
		{"ecs/checkout/", "ecs/checkout/"},
	}
	for _, c := range cases {
		if got := g.streamOwner(c.stream); got != c.want {
			t.Errorf("streamOwner(%q) = %q, want %q", c.stream, got, c.want)
		}
	}
}

// A task whose memory fills while its peers' holds is the one to replace.
func TestTaskMemoryLeak(t *testing.T) {
	f := taskEnv([]int{41, 41, 41, 41}, taskIDs[1])
	f.series[taskIDs[1]+"|ECS/ContainerInsights|TaskMemoryUtilization"] = func(tt time.Time) float64 {
		from := t0.Add(-90 * time.Minute)
		if tt.Before(from) {
			return 50 + jitter(tt)
		}
		return min(97, 50+47*tt.Sub(from).Minutes()/90) + jitter(tt)/5
	}
	rep := investigateFake(t, f)
	h := top(t, rep)
	if h.Cause != CauseComponent || h.Resource != taskIDs[1] || h.Actions[0].Kind != ActionRestart {
		t.Fatalf("top = %s %s → %s, want component %s → restart; all: %+v", h.Cause, h.Resource, h.Actions[0].Kind, taskIDs[1], rep.Hypotheses)
	}
	memory := false
	for _, id := range h.Evidence {
		if fd, ok := rep.Finding(id); ok && strings.Contains(fd.Summary, "TaskMemoryUtilization") {
			memory = true
		}
	}
	if !memory {
		t.Errorf("the task's hypothesis does not cite its memory: %v", h.Evidence)
	}
	// Its metrics are read as Container Insights publishes them per task.
	asked := false
	for _, q := range f.queries {
		d := q.Metric.Dims
		asked = asked || (q.Metric.Namespace == "ECS/ContainerInsights" && q.Metric.Name == "TaskMemoryUtilization" &&
			d["ClusterName"] == "shop" && d["ServiceName"] == "checkout" && d["TaskId"] == taskIDs[1] && len(d) == 3)
	}
	if !asked {
		t.Errorf("no query of %s's TaskMemoryUtilization under ClusterName, ServiceName and TaskId", taskIDs[1])
	}
}

func TestParseTaskDef(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"arn:aws:ecs:us-west-2:123456789012:task-definition/checkout:42", "checkout:42", true},
		{"checkout:7", "checkout:7", true},
		{"arn:aws:ecs:us-west-2:123456789012:task-definition/checkout", "", false},
		{"checkout:latest", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		d, ok := parseTaskDef(c.in)
		if ok != c.ok || (ok && d.String() != c.want) {
			t.Errorf("parseTaskDef(%q) = %v, %v; want %q, %v", c.in, d, ok, c.want, c.ok)
		}
	}
}

// A deploy in CloudTrail is rolled back to the revision the service's
// tasks ran before it.
func TestDeployRollsBackToTheTasksRevision(t *testing.T) {
	cases := []struct {
		name   string
		params map[string]string
		want   string // a fragment of the first action
	}{
		{"the deploy names its revision", map[string]string{"service": "checkout", "taskDefinition": "checkout:42"},
			"Roll checkout-svc back to checkout:41, the revision before the deploy by ci at 10:27 UTC: aws ecs update-service --cluster shop --service checkout --task-definition checkout:41"},
		{"the deploy names its family only", map[string]string{"service": "checkout", "taskDefinition": "checkout"}, "--task-definition checkout:41"},
		{"the deploy names no task definition", map[string]string{"service": "checkout", "desiredCount": "4"}, "--task-definition checkout:41"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := taskEnv([]int{41, 41, 42, 42}, taskIDs[2:]...)
			f.changes = []Change{{ID: "e1", Time: t0.Add(-3 * time.Minute), Event: "UpdateService", Source: "ecs.amazonaws.com",
				Resource: "checkout-svc", Actor: "arn:aws:sts::123456789012:assumed-role/deployer/ci", Params: c.params}}
			h := top(t, investigateFake(t, f))
			if h.Cause != CauseOwnChange || h.Resource != "checkout-svc" || h.Actions[0].Kind != ActionRollback || !strings.Contains(h.Actions[0].Detail, c.want) {
				t.Errorf("top = %s %s → %s: %s; want own-change checkout-svc → rollback: …%s…", h.Cause, h.Resource, h.Actions[0].Kind, h.Actions[0].Detail, c.want)
			}
		})
	}
}
