package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// taskDoc has an ALB in front of an ECS service whose four tasks are
// listed, in two zones and two revisions, and a second service given as a
// count. TASKS replaces the first service's tasks and ITEM one item.
const taskDoc = `name: task-refs
title: items naming a task
onset: 2024-12-03T10:30:00Z
history: 2h
alarm:
  name: web-5xx
  resource: web-alb
  metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count
  stat: Sum
  threshold: 10
  fires: +3m
resources:
  - {id: web-alb, type: alb, targets: [web-svc]}
  - id: web-svc
    type: ecs
    cluster: shop
    az: us-east-1a
    tasks: TASKS
  - {id: jobs-svc, type: ecs, cluster: shop, tasks: 2}
  - {id: web, type: service, runs_on: [web-svc], calls: [table]}
  - {id: jobs, type: service, runs_on: [jobs-svc], calls: [table]}
  - {id: table, type: dynamodb}
ITEM
expect: {cause: component, resource: EXPECT, action: restart}
`

const fourTasks = `
      - {id: 0a1b2c3d4e5f40718293a4b5c6d7e8f9, revision: 7}
      - {id: 1b2c3d4e5f6a40718293a4b5c6d7e8f9, az: us-east-1b, revision: 7}
      - {id: 2c3d4e5f6a7b40718293a4b5c6d7e8f9, revision: 8, started: -3m}
      - {id: 3d4e5f6a7b8c40718293a4b5c6d7e8f9, az: us-east-1b, revision: 8, started: 2024-12-03T10:29:00Z}`

func taskScenario(tasks, item, expect string) string {
	r := strings.NewReplacer("TASKS", tasks, "ITEM", item, "EXPECT", expect)
	return r.Replace(taskDoc)
}

func TestListedTasksAreResources(t *testing.T) {
	f, err := Parse("tasks.yaml", []byte(taskScenario(fourTasks, "", "2c3d4e5f6a7b40718293a4b5c6d7e8f9")), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	svc, ok := s.Resource("web-svc")
	if !ok {
		t.Fatal("no web-svc")
	}
	wantIDs := []string{"0a1b2c3d4e5f40718293a4b5c6d7e8f9", "1b2c3d4e5f6a40718293a4b5c6d7e8f9", "2c3d4e5f6a7b40718293a4b5c6d7e8f9", "3d4e5f6a7b8c40718293a4b5c6d7e8f9"}
	if svc.Tasks != 4 || strings.Join(svc.TaskIDs, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("web-svc tasks %d %v, want 4 %v", svc.Tasks, svc.TaskIDs, wantIDs)
	}
	onset := s.Onset
	cases := []struct {
		id       string
		az       string
		revision int
		started  time.Time
	}{
		{wantIDs[0], "us-east-1a", 7, time.Time{}},
		{wantIDs[1], "us-east-1b", 7, time.Time{}},
		{wantIDs[2], "us-east-1a", 8, onset.Add(-3 * time.Minute)},
		{wantIDs[3], "us-east-1b", 8, onset.Add(-time.Minute)},
	}
	for _, c := range cases {
		r, ok := s.Resource(c.id)
		if !ok {
			t.Errorf("task %s is no resource", c.id)
			continue
		}
		wantARN := "arn:aws:ecs:us-east-1:123456789012:task/shop/" + c.id
		if r.Type != investigate.TypeECSTask || r.Service != "web-svc" || r.AZ != c.az || r.Revision != c.revision || !r.Started.Equal(c.started) || r.ARN != wantARN || r.Name != c.id {
			t.Errorf("task %s = %+v, want service web-svc, az %s, revision %d, started %v, arn %s", c.id, r, c.az, c.revision, c.started, wantARN)
		}
	}
	if jobs, _ := s.Resource("jobs-svc"); jobs.Tasks != 2 || jobs.TaskIDs != nil {
		t.Errorf("jobs-svc: tasks %d, ids %v; a count lists no task", jobs.Tasks, jobs.TaskIDs)
	}
	if e := f.Expect; len(e.Resources) != 1 || e.Resources[0] != wantIDs[2] {
		t.Errorf("expect.resource = %v", e.Resources)
	}
}

// A task started before the telemetry runs since before it.
func TestTaskStartedBeforeTelemetry(t *testing.T) {
	doc := taskScenario("\n      - {id: t-old, started: -3h}\n      - {id: t-new}", "", "t-old")
	f, err := Parse("tasks.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := f.Scenario.Resource("t-old"); !r.Started.IsZero() || r.Revision != 1 {
		t.Errorf("t-old started %v revision %d, want zero and 1", r.Started, r.Revision)
	}
}

func TestTaskRefs(t *testing.T) {
	cases := []struct {
		name   string
		tasks  string
		item   string
		expect string
		field  string // where the error is, or "" for none
		msg    string
	}{
		{name: "a metric item on a task", tasks: fourTasks, expect: "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
			item: "metrics: [{resource: 0a1b2c3d4e5f40718293a4b5c6d7e8f9, metric: ECS/ContainerInsights TaskMemoryUtilization, value: 97}]"},
		{name: "a log item on a task of the service's host", tasks: fourTasks, expect: "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
			item: "logs: [{service: web, on: 0a1b2c3d4e5f40718293a4b5c6d7e8f9, level: error, rate: 10/m, text: boom}]"},
		{name: "a log item on a task of another service's host", tasks: fourTasks, expect: "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
			item:  "logs: [{service: jobs, on: 0a1b2c3d4e5f40718293a4b5c6d7e8f9, level: error, rate: 10/m, text: boom}]",
			field: "logs[0].on", msg: `"0a1b2c3d4e5f40718293a4b5c6d7e8f9" is a task of web-svc, not of a resource service jobs runs on (jobs-svc)`},
		{name: "a log item on a zone of the service's tasks", tasks: fourTasks, expect: "us-east-1b",
			item: "logs: [{service: web, on: us-east-1b, level: error, rate: 10/m, text: boom}]"},
		{name: "a duplicate task id", tasks: "\n      - {id: t-1}\n      - {id: t-1}", expect: "t-1",
			field: "resources[1].tasks[1].id", msg: `duplicate id "t-1"`},
		{name: "a task id that is a resource's", tasks: "\n      - {id: table}", expect: "web-svc",
			field: "resources[5].id", msg: `duplicate id "table"`},
		{name: "a task without an id", tasks: "\n      - {revision: 3}", expect: "web-svc",
			field: "resources[1].tasks[0].id", msg: `missing required field "id"`},
		{name: "an unknown task field", tasks: "\n      - {id: t-1, image: nginx}", expect: "t-1",
			field: "resources[1].tasks[0].image", msg: "image"},
		{name: "a revision of zero", tasks: "\n      - {id: t-1, revision: 0}", expect: "t-1",
			field: "resources[1].tasks[0].revision", msg: "0"},
		{name: "a task started after the telemetry", tasks: "\n      - {id: t-1, started: +2h}", expect: "t-1",
			field: "resources[1].tasks[0].started", msg: "is not before the end of telemetry"},
		{name: "tasks of the wrong kind", tasks: "many", expect: "web-svc",
			field: "resources[1].tasks", msg: "want an integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("tasks.yaml", []byte(taskScenario(c.tasks, c.item, c.expect)), nil)
			if c.field == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("got %v, want one error", err)
			}
			if got := list[0]; got.Field != c.field || !strings.Contains(got.Msg, c.msg) {
				t.Errorf("got %s: %s, want %s: …%s…", got.Field, got.Msg, c.field, c.msg)
			}
		})
	}
}
