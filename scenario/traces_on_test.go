package scenario

import (
	"errors"
	"strings"
	"testing"
)

// onDoc has a service api on two instances behind an ALB, calling a service
// db on two other instances, a table and a function; a worker that runs on
// nothing; an API in front of a function with no service on it; and an ALB
// in front of an Auto Scaling group. EDGE and ON are replaced by each case of
// TestTraceOn; the item is on line 30.
const onDoc = `name: trace-on
title: a traces item's on
onset: 2024-12-03T10:30:00Z
alarm:
  name: api-5xx
  resource: api-alb
  metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count
  stat: Sum
  period: 1m
  threshold: 10
  comparison: GreaterThanThreshold
  fires: +3m
resources:
  - {id: api-alb, type: alb, targets: [i-a1, i-a2]}
  - {id: i-a1, type: ec2}
  - {id: i-a2, type: ec2}
  - {id: i-d1, type: ec2}
  - {id: i-d2, type: ec2}
  - {id: api, type: service, runs_on: [i-a1, i-a2], calls: [db, table, fn]}
  - {id: db, type: service, runs_on: [i-d1, i-d2]}
  - {id: table, type: dynamodb}
  - {id: fn, type: lambda}
  - {id: worker, type: service, calls: [table, db]}
  - {id: gw, type: apigw, targets: [fn]}
  - {id: web-alb, type: alb, targets: [web-asg]}
  - {id: web-asg, type: asg}
  - {id: i-w1, type: ec2, asg: web-asg}
  - {id: i-w2, type: ec2, asg: web-asg}
traces:
  - {edge: EDGE, on: ON, fault: 1}
`

func TestTraceOn(t *testing.T) {
	cases := []struct {
		name     string
		edge, on string
		msg      string // a fragment of the error on traces[0].on, or "" for none
	}{
		// A service's calls: a host of the caller, the instance making them.
		{"call to a table, caller's host", "api>table", "i-a1", ""},
		{"call to a service, caller's host", "api>db", "i-a2", ""},
		// or, where it is not also a host of the caller, a host of the
		// callee, the instance serving them.
		{"call to a service, callee's host", "api>db", "i-d1", ""},
		{"call to a function, the function", "api>fn", "fn", ""},
		{"caller on nothing, callee's host", "worker>db", "i-d2", ""},
		// An entry's requests: the instance behind it that serves them.
		{"entry to a service, callee's host", "api-alb>api", "i-a1", ""},
		{"entry to a function", "gw>fn", "fn", ""},
		{"entry to an asg member", "web-alb>i-w2", "i-w2", ""},
		{"client, an instance behind the entry", "client>api-alb", "i-a2", ""},
		{"client, behind an asg target", "client>web-alb", "i-w1", ""},
		{"client, a function target", "client>gw", "fn", ""},

		// Hosts of neither side.
		{"call, neither side", "api>db", "i-w1",
			`"i-w1" is a host of neither api nor db (want a host of the caller, the instance making the calls: i-a1 or i-a2; or a host of the callee, the instance serving them: i-d1 or i-d2)`},
		{"call to a table, a host of neither", "api>table", "i-d1",
			`"i-d1" is a host of neither api nor table (want a host of the caller, the instance making the calls: i-a1 or i-a2)`},
		{"entry, the callee runs elsewhere", "api-alb>api", "i-d1",
			`"i-d1" is not an instance serving api-alb's requests to api (want i-a1 or i-a2)`},
		{"entry, the caller's other target", "web-alb>i-w2", "i-w1",
			`"i-w1" is not an instance serving web-alb's requests to i-w2 (want i-w2)`},
		{"client, not behind the entry", "client>api-alb", "i-w1",
			`"i-w1" is not an instance serving api-alb's requests (want i-a1 or i-a2)`},
		{"no host on either side", "worker>table", "i-a1",
			`edge worker>table has no instance to choose from (worker runs on nothing and table is a dynamodb; leave on out)`},
		{"entry, no instance serves the callee", "web-alb>table", "i-w1",
			`edge web-alb>table has no instance to choose from (no instance behind web-alb serves its requests to table; leave on out)`},
		{"not a compute resource", "api>table", "table", `"table" is a resource of type dynamodb (want type ec2, ecs or lambda)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.NewReplacer("EDGE", c.edge, "ON", c.on).Replace(onDoc)
			f, err := Parse("on.yaml", []byte(doc), nil)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("edge %s, on %s: %v", c.edge, c.on, err)
				}
				if got := f.Scenario.Traces[0].On; got != c.on {
					t.Errorf("On = %q, want %q", got, c.on)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("edge %s, on %s: got %v, want an error ...%s...", c.edge, c.on, err, c.msg)
			}
			for _, e := range list {
				if e.File == "on.yaml" && e.Line == 30 && e.Field == "traces[0].on" && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no error on.yaml:30: traces[0].on: ...%s...; got:\n%v", c.msg, err)
		})
	}
}
