package sim

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// zoneDoc is an ALB in front of six instances, two per zone, running a
// service that calls a table. From the onset the zone us-east-1b fails:
// requests its instances serve fault, their calls to the table time out,
// they log errors and their network traffic falls; the load balancer's
// target 5XX rise accordingly.
const zoneDoc = `name: zone-fails
title: one zone's instances fail
onset: 2024-12-03T10:30:00Z
history: 1h
alarm:
  name: web-5xx
  resource: web-alb
  metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count
  stat: Sum
  threshold: 50
  fires: +4m
resources:
  - {id: web-alb, type: alb, rps: 60, targets: [i-a1, i-a2, i-b1, i-b2, i-c1, i-c2]}
  - {id: i-a1, type: ec2, az: us-east-1a}
  - {id: i-a2, type: ec2, az: us-east-1a}
  - {id: i-b1, type: ec2, az: us-east-1b}
  - {id: i-b2, type: ec2, az: us-east-1b}
  - {id: i-c1, type: ec2, az: us-east-1c}
  - {id: i-c2, type: ec2, az: us-east-1c}
  - {id: web, type: service, runs_on: [i-a1, i-a2, i-b1, i-b2, i-c1, i-c2], calls: [table]}
  - {id: table, type: dynamodb}
metrics:
  - {resource: web-alb, metric: AWS/ApplicationELB HTTPCode_Target_5XX_Count, at: +0m, value: 1200}
  - {resource: us-east-1b, metric: AWS/EC2 NetworkIn, at: +0m, value: 1000, noise: 0}
logs:
  - {service: web, on: us-east-1b, at: +0m, level: error, rate: 300/m, text: "ERROR dial tcp: i/o timeout"}
traces:
  - {edge: web-alb>web, on: us-east-1b, at: +0m, fault: 0.6}
  - {edge: web>table, on: us-east-1b, at: +0m, fault: 0.5}
`

func loadZoneDoc(t *testing.T) *Sim {
	t.Helper()
	f, err := scenario.Parse("zones.yaml", []byte(zoneDoc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(f.Scenario, Options{})
}

// sumAfter is a series' sum over the datapoints at or after t.
func sumAfter(s investigate.Series, t time.Time) float64 {
	var sum float64
	for i, at := range s.Times {
		if !at.Before(t) {
			sum += s.Values[i]
		}
	}
	return sum
}

func TestZoneItemsReachEveryMember(t *testing.T) {
	m := loadZoneDoc(t)
	ctx := context.Background()
	onset := m.sc.Onset
	var qs []investigate.MetricQuery
	for _, id := range []string{"i-a1", "i-b1", "i-b2", "i-c2"} {
		qs = append(qs, investigate.MetricQuery{ID: id, Stat: "Average", Period: time.Minute,
			Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "NetworkIn", Dims: map[string]string{"InstanceId": id}}})
	}
	series, err := m.Metrics(ctx, qs, onset, m.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		inZone := strings.HasPrefix(s.ID, "i-b")
		if len(s.Values) == 0 {
			t.Fatalf("%s: no datapoints", s.ID)
		}
		if got := s.Values[0]; (got == 1000) != inZone {
			t.Errorf("%s NetworkIn since the onset = %v; the zone's item (1000) applies: %v, want %v", s.ID, got, got == 1000, inZone)
		}
	}

	groups, err := m.Traces(ctx, investigate.TraceQuery{Start: onset, End: m.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if g.Caller == "client" || g.Requests == 0 {
			continue
		}
		inZone := strings.HasPrefix(g.Instance, "i-b")
		rate := float64(g.Faults) / float64(g.Requests)
		if (rate > 0.3) != inZone {
			t.Errorf("%s>%s on %s: %.0f%% of %d fault; in the zone: %v", g.Caller, g.Callee, g.Instance, 100*rate, g.Requests, inZone)
		}
	}

	stats, err := m.Logs(ctx, investigate.LogQuery{Group: "/app/web", Start: onset, End: m.Now()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range stats.Patterns {
		if !strings.Contains(p.Pattern, "i/o timeout") {
			continue
		}
		found = true
		for _, h := range []string{"i-a1", "i-a2", "i-b1", "i-b2", "i-c1", "i-c2"} {
			if n := p.ByStream[h]; (n > 0) != strings.HasPrefix(h, "i-b") {
				t.Errorf("the zone's error line: %d on %s", n, h)
			}
		}
	}
	if !found {
		t.Errorf("the zone's error line is not in the logs: %+v", stats.Patterns)
	}
}

func TestALBMetricsPerZone(t *testing.T) {
	m := loadZoneDoc(t)
	ctx := context.Background()
	onset := m.sc.Onset
	lb := m.byID["web-alb"].dims["LoadBalancer"]
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	query := func(name, stat string, dims map[string]string) investigate.Series {
		t.Helper()
		out, err := m.Metrics(ctx, []investigate.MetricQuery{{ID: "q", Stat: stat, Period: time.Minute,
			Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: name, Dims: dims}}}, m.sc.Start(), m.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(out[0].Values) == 0 {
			t.Fatalf("%s %v: no datapoints", name, dims)
		}
		return out[0]
	}
	for _, name := range []string{"HTTPCode_Target_5XX_Count", "RequestCount"} {
		whole := sumAfter(query(name, "Sum", map[string]string{"LoadBalancer": lb}), onset)
		got := map[string]float64{}
		var sum float64
		for _, z := range zones {
			got[z] = sumAfter(query(name, "Sum", map[string]string{"LoadBalancer": lb, "AvailabilityZone": z}), onset)
			sum += got[z]
			tg := sumAfter(query(name, "Sum", map[string]string{"TargetGroup": tgDim(m.byID["web-alb"]), "LoadBalancer": lb, "AvailabilityZone": z}), onset)
			if tg != got[z] {
				t.Errorf("%s in %s: %v per target group, %v per load balancer; one target group has them all", name, z, tg, got[z])
			}
		}
		if math.Abs(sum-whole) > 0.01*whole+3 {
			t.Errorf("%s: the zones add up to %v, the load balancer counts %v", name, sum, whole)
		}
		switch name {
		case "HTTPCode_Target_5XX_Count":
			if got["us-east-1b"] < 0.95*whole || got["us-east-1a"] > 0.02*whole || got["us-east-1c"] > 0.02*whole {
				t.Errorf("5XX by zone since the onset: %v of %v; want nearly all in us-east-1b", got, whole)
			}
		case "RequestCount":
			for _, z := range zones {
				if math.Abs(got[z]-whole/3) > 0.02*whole {
					t.Errorf("requests in %s: %v of %v, want a third: each zone has a third of the targets", z, got[z], whole)
				}
			}
		}
	}
	// Before the onset, every zone fails alike.
	before := query("HTTPCode_Target_5XX_Count", "Sum", map[string]string{"LoadBalancer": lb, "AvailabilityZone": "us-east-1b"})
	if v := before.Values[0]; v > 10 {
		t.Errorf("us-east-1b 5XX an hour before the onset: %v, want the healthy trickle", v)
	}
	for _, z := range zones {
		if h := query("HealthyHostCount", "Average", map[string]string{"LoadBalancer": lb, "AvailabilityZone": z}); h.Values[0] != 2 {
			t.Errorf("HealthyHostCount in %s = %v, want its 2 instances", z, h.Values[0])
		}
	}
	if slow := query("TargetResponseTime", "Average", map[string]string{"LoadBalancer": lb, "AvailabilityZone": "us-east-1a"}); slow.Values[0] <= 0 {
		t.Errorf("TargetResponseTime in us-east-1a = %v", slow.Values[0])
	}
}

// A scenario whose instances have no zone publishes no per-zone series.
func TestNoZoneNoZoneSeries(t *testing.T) {
	m := New(albScenarioNoZones(), Options{})
	for k := range m.series {
		if strings.Contains(k, "AvailabilityZone") {
			t.Errorf("series %s without zones", k)
		}
	}
}

func albScenarioNoZones() *scenario.Scenario {
	s := albScenario()
	for i := range s.Resources {
		s.Resources[i].AZ = ""
	}
	return s
}
