package scenario

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withEvents is base with an ECS service and an RDS instance, and the
// given events and health sections in place of base's health.
func withEvents(events, health string) string {
	doc := strings.Replace(base, "  - {id: grp, type: asg, min: 1, max: 3, desired: 1}\n",
		"  - {id: grp, type: asg, min: 1, max: 3, desired: 1}\n  - {id: orders-svc, type: ecs}\n  - {id: orders-db, type: rds}\n", 1)
	doc = strings.Replace(doc, "health:\n  - {at: -5m, service: DYNAMODB, type: AWS_DYNAMODB_ISSUE, status: open, resources: [table]}\n", health, 1)
	return doc + events
}

func TestEvents(t *testing.T) {
	f, err := Parse("test.yaml", []byte(withEvents(`events:
  - {at: +1m, resource: orders-svc, message: "(service orders-svc) was unable to place a task."}
  - {at: +2m, resource: grp, status: Failed, description: "Launching a new EC2 instance.  Status Reason: no capacity", cause: "At 2024-12-03T10:32:00Z an instance was started", message: "no capacity"}
  - {at: -3m, resource: grp, description: "Terminating EC2 instance: i-1"}
  - {at: +0m, resource: orders-db, categories: [failover, availability], message: "Multi-AZ instance failover started."}
  - {at: +0m, resource: orders-db, categories: maintenance, message: "Applying off-line patches to DB instance."}
  - {at: +0m, resource: orders-db, message: "DB instance restarted"}
`, `health:
  - {at: -40m, posted_at: +14m, service: EC2, type: AWS_EC2_OPERATIONAL_ISSUE, status: open}
  - {at: -5m, service: DYNAMODB, type: AWS_DYNAMODB_ISSUE, status: open, resources: [table]}
`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	at := func(d time.Duration) time.Time { return s.Onset.Add(d) }
	want := []EventItem{
		{At: at(time.Minute), Resource: "orders-svc", Message: "(service orders-svc) was unable to place a task."},
		{At: at(2 * time.Minute), Resource: "grp", Status: "Failed", Description: "Launching a new EC2 instance.  Status Reason: no capacity",
			Cause: "At 2024-12-03T10:32:00Z an instance was started", Message: "no capacity"},
		{At: at(-3 * time.Minute), Resource: "grp", Status: "Successful", Description: "Terminating EC2 instance: i-1"},
		{At: at(0), Resource: "orders-db", Message: "Multi-AZ instance failover started.", Categories: []string{"failover", "availability"}},
		{At: at(0), Resource: "orders-db", Message: "Applying off-line patches to DB instance.", Categories: []string{"maintenance"}},
		{At: at(0), Resource: "orders-db", Message: "DB instance restarted", Categories: []string{"notification"}},
	}
	if !reflect.DeepEqual(s.Events, want) {
		t.Errorf("events:\n got %+v\nwant %+v", s.Events, want)
	}
	for i, tt := range []struct{ at, posted time.Time }{
		{at(-40 * time.Minute), at(14 * time.Minute)},
		{at(-5 * time.Minute), at(-5 * time.Minute)}, // posted_at defaults to at
	} {
		if h := s.Health[i]; !h.At.Equal(tt.at) || !h.PostedAt.Equal(tt.posted) {
			t.Errorf("health[%d]: at %v posted %v, want %v and %v", i, h.At, h.PostedAt, tt.at, tt.posted)
		}
	}
}

func TestEventErrors(t *testing.T) {
	for _, tt := range []struct {
		name, events, field, msg string
	}{
		{"field of another type", `{at: +1m, resource: orders-svc, message: x, status: Failed}`, "events[0].status",
			`field "status" does not apply to an event of a resource of type ecs (want message)`},
		{"not an event resource", `{at: +1m, resource: table, message: x}`, "events[0].resource",
			`"table" is a resource of type dynamodb (want type asg, ecs or rds)`},
		{"unknown resource", `{at: +1m, resource: orders-svx, message: x}`, "events[0].resource", `unknown resource id "orders-svx" (did you mean "orders-svc"?)`},
		{"ecs without message", `{at: +1m, resource: orders-svc}`, "events[0].message", `missing required field "message"`},
		{"asg without description", `{at: +1m, resource: grp, status: Failed}`, "events[0].description", `missing required field "description"`},
		{"bad status", `{at: +1m, resource: grp, description: d, status: failed}`, "events[0].status",
			`unknown activity status "failed" (want one of Successful, Failed, Cancelled, InProgress)`},
		{"bad category", `{at: +1m, resource: orders-db, message: m, categories: [failover, fail-over]}`, "events[0].categories[1]",
			`unknown RDS event category "fail-over"`},
		{"missing at", `{resource: orders-db, message: m}`, "events[0].at", `missing required field "at"`},
		{"unknown field", `{at: +1m, resource: orders-db, mesage: m}`, "events[0].mesage", `unknown field "mesage" (did you mean "message"?)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(withEvents("events:\n  - "+tt.events+"\n", "")), nil)
			if err == nil {
				t.Fatal("no error")
			}
			var found bool
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %T %v, want an ErrorList", err, err)
			}
			for _, e := range list {
				found = found || e.Field == tt.field && strings.Contains(e.Msg, tt.msg)
			}
			if !found {
				t.Errorf("err = %v; want %s: %s", err, tt.field, tt.msg)
			}
		})
	}
}
