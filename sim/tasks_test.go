package sim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// taskDoc is an ALB in front of an ECS service with four listed tasks, two
// of revision 7 and two of revision 8 started at the onset and a minute
// after, and a second service given as a count. From the onset task t-c
// fails: it logs errors; task t-a leaks memory for an hour. ITEM adds one
// more item.
const taskDoc = `name: tasks-fail
title: some tasks fail
onset: 2024-12-03T10:30:00Z
history: 2h
alarm:
  name: web-5xx
  resource: web-alb
  metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count
  stat: Sum
  threshold: 50
  fires: +4m
resources:
  - {id: web-alb, type: alb, rps: 60, targets: [web-svc]}
  - id: web-svc
    type: ecs
    name: web
    cluster: shop
    tasks:
      - {id: t-a, az: us-east-1a, revision: 7}
      - {id: t-b, az: us-east-1b, revision: 7}
      - {id: t-c, az: us-east-1a, revision: 8, started: +0m}
      - {id: t-d, az: us-east-1b, revision: 8, started: +1m}
  - {id: jobs-svc, type: ecs, cluster: shop, tasks: 3}
  - {id: web, type: service, runs_on: [web-svc], calls: [table]}
  - {id: table, type: dynamodb}
metrics:
  - {resource: t-a, metric: ECS/ContainerInsights TaskMemoryUtilization, at: -60m, ramp: 60m, value: 96, noise: 0}
logs:
  - {service: web, on: t-c, at: +0m, level: error, rate: 300/m, text: "ERROR checkout {id} failed: KeyError: 'tax_region'"}
ITEM
`

func loadTaskDoc(t *testing.T, item string) *Sim {
	t.Helper()
	f, err := scenario.Parse("tasks.yaml", []byte(strings.Replace(taskDoc, "ITEM", item, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(f.Scenario, Options{})
}

func taskQuery(task, name string) investigate.MetricQuery {
	return investigate.MetricQuery{ID: task + "|" + name, Stat: "Average", Period: time.Minute,
		Metric: investigate.Metric{Namespace: "ECS/ContainerInsights", Name: name, Dims: map[string]string{"ClusterName": "shop", "ServiceName": "web", "TaskId": task}}}
}

func TestTasksInTheTopology(t *testing.T) {
	m := loadTaskDoc(t, "")
	topo, err := m.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]investigate.Resource{}
	for _, r := range topo.Resources {
		byID[r.ID] = r
	}
	cases := []struct {
		id, az, taskDef, started string
	}{
		{"t-a", "us-east-1a", "web:7", ""},
		{"t-b", "us-east-1b", "web:7", ""},
		{"t-c", "us-east-1a", "web:8", "2024-12-03T10:30:00Z"},
		{"t-d", "us-east-1b", "web:8", "2024-12-03T10:31:00Z"},
	}
	for _, c := range cases {
		r, ok := byID[c.id]
		if !ok {
			t.Errorf("task %s is not in the topology", c.id)
			continue
		}
		if r.Type != investigate.TypeECSTask || r.AZ != c.az || r.ARN != "arn:aws:ecs:us-east-1:123456789012:task/shop/"+c.id ||
			r.Dims["ClusterName"] != "shop" || r.Dims["ServiceName"] != "web" || r.Dims["TaskId"] != c.id || r.LogGroup != "" ||
			r.Config[investigate.TaskDefinitionKey] != "arn:aws:ecs:us-east-1:123456789012:task-definition/"+c.taskDef ||
			r.Config["last_status"] != "RUNNING" || r.Config["log_stream"] != "ecs/web/"+c.id {
			t.Errorf("task %s = %+v", c.id, r)
		}
		started, err := time.Parse(time.RFC3339, r.Config[investigate.StartedAtKey])
		switch {
		case err != nil:
			t.Errorf("task %s started_at %q: %v", c.id, r.Config[investigate.StartedAtKey], err)
		case c.started != "" && r.Config[investigate.StartedAtKey] != c.started:
			t.Errorf("task %s started_at %s, want %s", c.id, r.Config[investigate.StartedAtKey], c.started)
		case c.started == "" && !started.Before(m.sc.Start()):
			t.Errorf("task %s started_at %s, want before the telemetry (%s)", c.id, started, m.sc.Start())
		}
		if !slices.Contains(topo.Relations, investigate.Relation{From: c.id, To: "web-svc", Kind: investigate.RelMemberOf}) {
			t.Errorf("task %s is no member of web-svc: %+v", c.id, topo.Relations)
		}
	}
	for _, r := range topo.Resources {
		if r.Type == investigate.TypeECSTask && !strings.HasPrefix(r.ID, "t-") {
			t.Errorf("a service given as a count has a task of its own: %+v", r)
		}
	}
	// Before a task starts, ListTasks does not list it.
	sc := m.sc
	early := New(sc, Options{Now: sc.Onset.Add(30 * time.Second)})
	topo, err = early.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range topo.Resources {
		if r.Type == investigate.TypeECSTask {
			listed = append(listed, r.ID)
		}
	}
	for _, rel := range topo.Relations {
		if rel.From == "t-d" || rel.To == "t-d" {
			t.Errorf("relation %+v of a task not started yet", rel)
		}
	}
	if strings.Join(listed, ",") != "t-a,t-b,t-c" {
		t.Errorf("tasks listed 30 s after the onset: %v, want t-a, t-b, t-c (t-d starts a minute after it)", listed)
	}
}

func TestTaskMetrics(t *testing.T) {
	m := loadTaskDoc(t, "")
	onset := m.sc.Onset
	start, end := m.sc.Start(), m.Now()
	mem := func(task string) investigate.Series {
		return metrics(t, m, taskQuery(task, "TaskMemoryUtilization"), start, end)
	}
	// The leak shows on t-a alone.
	if got := mean(valuesIn(mem("t-a"), onset, end)); math.Abs(got-96) > 1 {
		t.Errorf("t-a memory since the onset = %.1f, want 96", got)
	}
	for _, task := range []string{"t-b"} {
		if got := mean(valuesIn(mem(task), onset, end)); got < 38 || got > 62 {
			t.Errorf("%s memory since the onset = %.1f, want healthy (40-60)", task, got)
		}
	}
	// A task reports from its start on.
	for task, from := range map[string]time.Time{"t-c": onset, "t-d": onset.Add(time.Minute)} {
		if s := mem(task); len(s.Times) == 0 || !s.Times[0].Equal(from) {
			t.Errorf("%s memory has %d datapoints from %v, want them from its start %v", task, len(s.Times), s.Times[:min(1, len(s.Times))], from)
		}
	}
	// The absolute form follows the percentage.
	used := metrics(t, m, taskQuery("t-a", "MemoryUtilized"), onset, end)
	if got := mean(used.Values); math.Abs(got-0.96*taskMemMiB) > 0.02*taskMemMiB {
		t.Errorf("t-a MemoryUtilized = %.0f MiB, want 96%% of %d", got, taskMemMiB)
	}
	// The service's memory is its tasks' average: t-a's leak moves it by
	// its share.
	svc := metrics(t, m, investigate.MetricQuery{ID: "svc", Stat: "Average", Period: time.Minute,
		Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "MemoryUtilization", Dims: map[string]string{"ClusterName": "shop", "ServiceName": "web"}}}, start, end)
	before, after := mean(valuesIn(svc, start, start.Add(30*time.Minute))), mean(valuesIn(svc, onset.Add(2*time.Minute), end))
	peers := mean(valuesIn(mem("t-b"), onset, end))
	if want := (96 + 3*peers) / 4; math.Abs(after-want) > 3 || after-before < 8 {
		t.Errorf("web MemoryUtilization %.1f before, %.1f after; want about %.1f after", before, after, want)
	}
}

// An item on the service moves its tasks too.
func TestServiceItemReachesItsTasks(t *testing.T) {
	m := loadTaskDoc(t, "")
	sc := m.sc
	sc.Metrics = []scenario.MetricItem{{Window: scenario.Window{At: sc.Onset, Until: sc.End()}, Resource: "web-svc",
		Namespace: "AWS/ECS", MetricName: "CPUUtilization", Value: fp(90), Noise: fp(0)}}
	m = New(sc, Options{Now: sc.End()})
	onset, end := m.sc.Onset, m.Now()
	for _, task := range []string{"t-a", "t-b"} {
		s := metrics(t, m, taskQuery(task, "TaskCpuUtilization"), onset, end)
		if got := mean(s.Values); got < 86 || got > 94 {
			t.Errorf("%s CPU since the onset = %.1f, want about 90", task, got)
		}
	}
}

func TestTaskLogStreams(t *testing.T) {
	m := loadTaskDoc(t, "")
	onset, end := m.sc.Onset, m.Now()
	during := logs(t, m, "/app/web", onset.Add(time.Minute+10*time.Second), end)
	before := logs(t, m, "/app/web", onset.Add(-30*time.Minute), onset)
	for _, task := range []string{"t-a", "t-b", "t-c", "t-d"} {
		if during.ByStream["ecs/web/"+task] == 0 {
			t.Errorf("stream ecs/web/%s has no lines since the onset: %v", task, during.ByStream)
		}
	}
	if n := errorLines(during, "ecs/web/t-c"); n < 200 {
		t.Errorf("t-c's stream has %d error lines, want its item's", n)
	}
	for _, task := range []string{"t-a", "t-b", "t-d"} {
		if n := errorLines(during, "ecs/web/"+task); n > 20 {
			t.Errorf("%s's stream has %d error lines, want the trickle only", task, n)
		}
	}
	// The new tasks wrote nothing before they started; the tasks they
	// replaced wrote their share until then, and nothing since.
	if n := before.ByStream["ecs/web/t-c"] + before.ByStream["ecs/web/t-d"]; n != 0 {
		t.Errorf("the new tasks wrote %d lines before they started", n)
	}
	replaced := 0
	for s, n := range before.ByStream {
		if strings.HasPrefix(s, "ecs/web/") && !strings.HasSuffix(s, "/t-a") && !strings.HasSuffix(s, "/t-b") {
			replaced++
			if during.ByStream[s] != 0 {
				t.Errorf("replaced stream %s wrote %d lines after its successor started", s, during.ByStream[s])
			}
			if n == 0 {
				t.Errorf("replaced stream %s wrote nothing", s)
			}
		}
	}
	if replaced != 2 {
		t.Errorf("%d replaced streams before the onset, want 2: %v", replaced, before.ByStream)
	}
	// The service's lines per minute hold across the deploy.
	perMin := func(st investigate.LogStats, d time.Duration) float64 {
		return float64(st.Lines-errorLinesAll(st)) / d.Minutes()
	}
	b, a := perMin(before, 30*time.Minute), perMin(during, end.Sub(onset.Add(time.Minute+10*time.Second)))
	if math.Abs(a-b) > 0.15*b {
		t.Errorf("lines per minute %.0f before, %.0f after the tasks were replaced", b, a)
	}
}

// errorLinesAll counts every ERROR line of a group.
func errorLinesAll(st investigate.LogStats) int {
	n := 0
	for _, p := range st.Patterns {
		if strings.HasPrefix(p.Pattern, "ERROR") {
			n += p.Count
		}
	}
	return n
}

// A zone names the listed tasks in it.
func TestZoneLogItemOnTasks(t *testing.T) {
	m := loadTaskDoc(t, `  - {service: web, on: us-east-1b, at: +0m, level: error, rate: 120/m, text: "ERROR dial tcp: i/o timeout"}`)
	m.sc.Logs = m.sc.Logs[1:] // only the zone's item
	m = New(m.sc, Options{})
	onset, end := m.sc.Onset, m.Now()
	during := logs(t, m, "/app/web", onset.Add(2*time.Minute), end)
	for task, want := range map[string]bool{"t-a": false, "t-b": true, "t-c": false, "t-d": true} {
		n := errorLines(during, "ecs/web/"+task)
		if (n > 100) != want {
			t.Errorf("%s's stream has %d error lines; want the zone's item: %v", task, n, want)
		}
	}
}
