package sim

import (
	"strings"
	"testing"

	"github.com/unstuck/unstuck/scenario"
)

// onDoc is a service api on two instances behind an ALB, calling a service
// db on two other instances and a table. EDGE and ON are replaced by each
// case of TestTracesOn.
const onDoc = `name: trace-on
title: a traces item's on, on either side of its edge
onset: 2024-12-03T10:30:00Z
history: 1h
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
  - {id: api-alb, type: alb, rps: 40, targets: [i-a1, i-a2]}
  - {id: i-a1, type: ec2}
  - {id: i-a2, type: ec2}
  - {id: i-d1, type: ec2}
  - {id: i-d2, type: ec2}
  - {id: api, type: service, runs_on: [i-a1, i-a2], calls: [db, table]}
  - {id: db, type: service, runs_on: [i-d1, i-d2]}
  - {id: table, type: dynamodb}
traces:
  - {edge: EDGE, on: ON, at: +0m, fault: 1}
`

// TestTracesOn checks that a traces item whose on the loader accepts has the
// effect the format gives it, and that the instance reported on each group
// is the one that served the service segment on the edge (the callee's host
// on an entry edge, the caller's host on a call), whichever side on names.
func TestTracesOn(t *testing.T) {
	type want struct {
		edge, instance string
		share          string // all, half or none of the requests fault
	}
	cases := []struct {
		name     string
		edge, on string
		want     []want
	}{
		{"call to a table, a host of the caller", "api>table", "i-a1", []want{
			{"api>table", "i-a1", "all"}, {"api>table", "i-a2", "none"},
			{"api>db", "i-a1", "none"}, {"api-alb>api", "i-a1", "none"},
		}},
		{"call to a service, a host of the caller", "api>db", "i-a1", []want{
			{"api>db", "i-a1", "all"}, {"api>db", "i-a2", "none"},
			{"api>table", "i-a1", "none"},
		}},
		{"call to a service, a host of the callee", "api>db", "i-d2", []want{
			// db serves half of api's calls on i-d2, from either api instance.
			{"api>db", "i-a1", "half"}, {"api>db", "i-a2", "half"},
			{"api>table", "i-a1", "none"}, {"api-alb>api", "i-a1", "none"},
		}},
		{"entry edge, a host of the callee", "api-alb>api", "i-a2", []want{
			{"api-alb>api", "i-a2", "all"}, {"api-alb>api", "i-a1", "none"},
			{"client>api-alb", "", "half"}, {"api>db", "i-a2", "none"},
		}},
		{"client edge, an instance behind the entry", "client>api-alb", "i-a2", []want{
			{"api-alb>api", "i-a2", "all"}, {"api-alb>api", "i-a1", "none"},
			{"client>api-alb", "", "half"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.NewReplacer("EDGE", c.edge, "ON", c.on).Replace(onDoc)
			f, err := scenario.Parse("trace-on.yaml", []byte(doc), nil)
			if err != nil {
				t.Fatalf("edge %s, on %s: the loader rejects it: %v", c.edge, c.on, err)
			}
			s := New(f.Scenario, Options{})
			after := traces(t, s, f.Scenario.Onset, s.Now())
			for _, w := range c.want {
				caller, callee, _ := strings.Cut(w.edge, ">")
				g, ok := findGroup(after, caller, callee, w.instance)
				if !ok || g.Requests == 0 {
					t.Errorf("no %s group on %q", w.edge, w.instance)
					continue
				}
				share := float64(g.Faults) / float64(g.Requests)
				var okShare bool
				switch w.share {
				case "all":
					okShare = g.Faults == g.Requests
				case "half":
					okShare = share > 0.4 && share < 0.6
				default:
					okShare = share < 0.02
				}
				if !okShare {
					t.Errorf("%s on %q: %d faults of %d (%.2f), want %s", w.edge, w.instance, g.Faults, g.Requests, share, w.share)
				}
			}
		})
	}
}
