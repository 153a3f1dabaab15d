package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

const auroraYAML = `
name: aurora-test
title: a service on an Aurora cluster of a writer and two readers
onset: 2025-06-02T10:00:00Z
history: 1h
alarm: {name: a, resource: web-alb, metric: AWS/ApplicationELB TargetResponseTime, stat: Average, threshold: 1, fires: +3m}
resources:
  - {id: web-alb, type: alb, rps: 50, targets: [i-1]}
  - {id: i-1, type: ec2}
  - {id: web, type: service, runs_on: [i-1], calls: [orders]}
  - {id: orders, type: aurora, max_connections: 2000}
  - {id: orders-a, type: rds, db_cluster: orders, instance_class: db.r6g.xlarge}
  - {id: orders-b, type: rds, db_cluster: orders}
  - {id: orders-c, type: rds, db_cluster: orders}
metrics:
  - {resource: orders-a, metric: AWS/RDS CPUUtilization, at: +0m, value: 97, noise: 0}
`

func TestAuroraCluster(t *testing.T) {
	f, err := scenario.Parse("aurora.yaml", []byte(auroraYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(f.Scenario, Options{})
	topo, err := m.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"orders-a", "orders-b", "orders-c"} {
		if want := (investigate.Relation{From: id, To: "orders", Kind: investigate.RelMemberOf}); !slices.Contains(topo.Relations, want) {
			t.Errorf("relations lack %+v", want)
		}
	}
	for _, r := range topo.Resources {
		switch r.ID {
		case "orders":
			if r.Dims["DBClusterIdentifier"] != "orders" || r.Config["writer"] != "orders-a" || r.Config["max_connections"] != "6000" {
				t.Errorf("orders = %+v", r)
			}
		case "orders-b":
			if r.Config["cluster_role"] != "reader" || r.Config["db_cluster"] != "orders" || r.Config["max_connections"] != "2000" {
				t.Errorf("orders-b = %+v", r)
			}
		}
	}

	onset, start, end := m.sc.Onset, m.sc.Start(), m.sc.Alarm.Fires
	q := func(dim, id, name, stat string) (float64, float64) {
		t.Helper()
		s := metrics(t, m, investigate.MetricQuery{ID: "q", Metric: investigate.Metric{Namespace: nsRDS, Name: name, Dims: map[string]string{dim: id}}, Stat: stat, Period: time.Minute}, start, end)
		b, d := valuesIn(s, start, onset), valuesIn(s, onset, end)
		if len(b) == 0 || len(d) == 0 {
			t.Fatalf("%s %s: no datapoints", id, name)
		}
		return mean(b), mean(d)
	}
	const cl, in = "DBClusterIdentifier", "DBInstanceIdentifier"
	// The cluster's series aggregate its instances'.
	cpuB, cpuD := q(cl, "orders", "CPUUtilization", "Average")
	var sumB float64
	for _, id := range []string{"orders-a", "orders-b", "orders-c"} {
		b, _ := q(in, id, "CPUUtilization", "Average")
		sumB += b
	}
	if got, want := cpuB, sumB/3; got < 0.95*want || got > 1.05*want {
		t.Errorf("cluster CPU %.1f before, want the instances' average %.1f", got, want)
	}
	if cpuD < cpuB+20 {
		t.Errorf("cluster CPU %.1f → %.1f: the writer at 97%% does not show", cpuB, cpuD)
	}
	// The writer's CPU out, its commits wait.
	if b, d := q(cl, "orders", "CommitLatency", "Average"); d < 3*b {
		t.Errorf("commit latency %.2f → %.2f ms, want it to triple or more", b, d)
	}
	// Readers lag a little; the writer does not publish a lag.
	if b, _ := q(in, "orders-b", "AuroraReplicaLag", "Average"); b < 5 || b > 30 {
		t.Errorf("reader lag %.1f ms", b)
	}
	if b, _ := q(cl, "orders", "AuroraReplicaLagMaximum", "Maximum"); b < 5 || b > 40 {
		t.Errorf("cluster's maximum lag %.1f ms", b)
	}
	s := metrics(t, m, investigate.MetricQuery{ID: "w", Metric: investigate.Metric{Namespace: nsRDS, Name: "AuroraReplicaLag", Dims: map[string]string{in: "orders-a"}}, Stat: "Average", Period: time.Minute}, start, end)
	if len(s.Values) > 0 {
		t.Errorf("the writer publishes AuroraReplicaLag")
	}
	// The writer serves more of the traffic than each reader.
	if a, b := m.traffic(m.byID["orders-a"].flow, onset), m.traffic(m.byID["orders-b"].flow, onset); a <= b || a+2*b < 49 || a+2*b > 51 {
		t.Errorf("writer %.1f and readers %.1f requests/s, want 50 in all, most on the writer", a, b)
	}
}
