package scenario

import (
	"errors"
	"strings"
	"testing"
)

// zoneDoc has an ALB in front of four instances in two zones, a service on
// them calling a table, a worker on an instance of its own in a third zone,
// and a database in the first zone. ITEM is replaced by each case of
// TestZoneRefs: one item, on line 22.
const zoneDoc = `name: zone-refs
title: items naming a zone
onset: 2024-12-03T10:30:00Z
alarm:
  name: web-5xx
  resource: web-alb
  metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count
  stat: Sum
  threshold: 10
  fires: +3m
resources:
  - {id: web-alb, type: alb, targets: [i-a1, i-a2, i-b1, i-b2]}
  - {id: i-a1, type: ec2, az: us-east-1a}
  - {id: i-a2, type: ec2, az: us-east-1a}
  - {id: i-b1, type: ec2, az: us-east-1b}
  - {id: i-b2, type: ec2, az: us-east-1b}
  - {id: i-c1, type: ec2, az: us-east-1c}
  - {id: web, type: service, runs_on: [i-a1, i-a2, i-b1, i-b2], calls: [table]}
  - {id: worker, type: service, runs_on: [i-c1], calls: [table]}
  - {id: table, type: dynamodb}
  - {id: db, type: rds, az: us-east-1d}
ITEM
expect: {cause: component, resource: EXPECT, action: exclude}
`

func TestZoneRefs(t *testing.T) {
	cases := []struct {
		name   string
		item   string
		expect string
		field  string // where the error is, or "" for none
		msg    string // a fragment of it
		check  func(t *testing.T, s *Scenario, e *Expect)
	}{
		{name: "a traces item on a zone", item: "traces: [{edge: web-alb>web, on: us-east-1b, fault: 0.5}]", expect: "us-east-1b",
			check: func(t *testing.T, s *Scenario, e *Expect) {
				if it := s.Traces[0]; it.On != "us-east-1b" || it.Zone != "us-east-1b" {
					t.Errorf("traces[0]: on %q zone %q, want both us-east-1b", it.On, it.Zone)
				}
				if len(e.Resources) != 1 || e.Resources[0] != "us-east-1b" {
					t.Errorf("expect.resource = %v, want the zone", e.Resources)
				}
			}},
		{name: "a traces item on a host keeps no zone", item: "traces: [{edge: web-alb>web, on: i-b1, fault: 0.5}]", expect: "i-b1",
			check: func(t *testing.T, s *Scenario, e *Expect) {
				if it := s.Traces[0]; it.On != "i-b1" || it.Zone != "" {
					t.Errorf("traces[0]: on %q zone %q, want on i-b1 and no zone", it.On, it.Zone)
				}
			}},
		{name: "a call edge from a zone", item: "traces: [{edge: web>table, on: us-east-1a, fault: 0.5}]", expect: "us-east-1a"},
		{name: "a call edge from a zone of another service's hosts", item: "traces: [{edge: web>table, on: us-east-1c, fault: 0.5}]", expect: "us-east-1a",
			field: "traces[0].on", msg: "zone us-east-1c has no instance that serves or makes the calls of edge web>table (its hosts: i-c1)"},
		{name: "a zone with no host", item: "traces: [{edge: web>table, on: us-east-1d, fault: 0.5}]", expect: "us-east-1a",
			field: "traces[0].on", msg: "zone us-east-1d has no resource of type ec2, ecs or lambda (its resources: db)"},
		{name: "a log item on a zone", item: "logs: [{service: web, on: us-east-1b, level: error, rate: 10/m, text: boom}]", expect: "us-east-1b",
			check: func(t *testing.T, s *Scenario, e *Expect) {
				if it := s.Logs[0]; it.Zone != "us-east-1b" {
					t.Errorf("logs[0].zone = %q, want us-east-1b", it.Zone)
				}
			}},
		{name: "a log item on a zone the service is not in", item: "logs: [{service: web, on: us-east-1c, level: error, rate: 10/m, text: boom}]", expect: "us-east-1b",
			field: "logs[0].on", msg: "zone us-east-1c has none of the resources service web runs on"},
		{name: "a metric item on a zone", item: "metrics: [{resource: us-east-1b, metric: AWS/EC2 NetworkIn, value: 10}]", expect: "us-east-1b",
			check: func(t *testing.T, s *Scenario, e *Expect) {
				if it := s.Metrics[0]; it.Resource != "us-east-1b" || it.Zone != "us-east-1b" || it.Dims != nil {
					t.Errorf("metrics[0]: resource %q zone %q dims %v", it.Resource, it.Zone, it.Dims)
				}
			}},
		{name: "a metric item on a zone with dims", item: "metrics: [{resource: us-east-1b, metric: AWS/EC2 NetworkIn, dims: {InstanceId: i-b1}, value: 10}]", expect: "us-east-1b",
			field: "metrics[0].dims", msg: "dims do not apply to zone us-east-1b"},
		{name: "a zone no resource is in is no zone", item: "metrics: [{resource: us-east-1e, metric: AWS/EC2 NetworkIn, value: 10}]", expect: "us-east-1b",
			field: "metrics[0].resource", msg: `unknown resource id "us-east-1e"`},
		{name: "expect names a zone no resource is in", item: "", expect: "us-east-1e",
			field: "expect.resource", msg: `unknown resource id "us-east-1e"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(strings.Replace(zoneDoc, "ITEM", c.item, 1), "EXPECT", c.expect, 1)
			f, err := Parse("zones.yaml", []byte(doc), nil)
			if c.field == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if c.check != nil {
					c.check(t, f.Scenario, f.Expect)
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

// A resource whose id looks like a zone is still the resource: references
// to it keep their meaning.
func TestZoneNameOfAResource(t *testing.T) {
	doc := strings.Replace(strings.Replace(zoneDoc, "ITEM", "metrics: [{resource: us-east-1a, metric: AWS/EC2 NetworkIn, value: 10}]", 1), "EXPECT", "us-east-1a", 1)
	doc = strings.Replace(doc, "  - {id: db, type: rds, az: us-east-1d}", "  - {id: us-east-1a, type: other}", 1)
	f, err := Parse("zones.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if it := f.Scenario.Metrics[0]; it.Zone != "" {
		t.Errorf("metrics[0].zone = %q, want none: us-east-1a is a resource's id", it.Zone)
	}
}
