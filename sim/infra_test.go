package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

const infraYAML = `
name: infra-test
title: a service whose instance stands on a volume and a NAT gateway
onset: 2025-06-02T10:00:00Z
history: 1h
alarm: {name: a, resource: web-alb, metric: AWS/ApplicationELB TargetResponseTime, stat: Average, threshold: 1, fires: +3m}
resources:
  - {id: web-alb, type: alb, rps: 40, targets: [i-1]}
  - {id: i-1, type: ec2}
  - {id: web, type: service, runs_on: [i-1], calls: [payments, orders, sessions]}
  - {id: sessions, type: elasticache, node_type: cache.m6g.large}
  - {id: payments, type: external, url: https://pay.example.com}
  - {id: orders, type: dynamodb}
  - {id: vol-1, type: ebs, instance: i-1, size: 100}
  - {id: vol-2, type: ebs, volume_type: gp3, iops: 6000}
  - {id: nat-1, type: nat, serves: [i-1]}
metrics:
  - {resource: vol-1, metric: AWS/EBS BurstBalance, at: +0m, value: 0, noise: 0}
  - {resource: nat-1, metric: AWS/NATGateway ErrorPortAllocation, at: +0m, value: 300}
  - {resource: sessions, metric: AWS/ElastiCache DatabaseMemoryUsagePercentage, at: +0m, value: 100, noise: 0}
`

func infraSim(t *testing.T) *Sim {
	t.Helper()
	f, err := scenario.Parse("infra.yaml", []byte(infraYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(f.Scenario, Options{})
}

func TestInfraTopology(t *testing.T) {
	m := infraSim(t)
	topo, err := m.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []investigate.Relation{
		{From: "i-1", To: "vol-1", Kind: investigate.RelUses},
		{From: "i-1", To: "nat-1", Kind: investigate.RelUses},
	} {
		if !slices.Contains(topo.Relations, want) {
			t.Errorf("relations lack %+v: %+v", want, topo.Relations)
		}
	}
	res := map[string]investigate.Resource{}
	for _, r := range topo.Resources {
		res[r.ID] = r
	}
	for _, c := range []struct {
		id, key, want string
	}{
		{"vol-1", "baseline_iops", "300"},
		{"vol-1", "volume_type", "gp2"},
		{"vol-2", "baseline_iops", "6000"},
		{"nat-1", "connections_per_destination", "55000"},
		{"sessions", "max_connections", "65000"},
		{"sessions", "node_type", "cache.m6g.large"},
		{"sessions", "memory_gib", "6.38"},
	} {
		if got := res[c.id].Config[c.key]; got != c.want {
			t.Errorf("%s config %s = %q, want %q", c.id, c.key, got, c.want)
		}
	}
	if got := res["vol-1"].Dims["VolumeId"]; got != "vol-1" {
		t.Errorf("vol-1 dims %v", res["vol-1"].Dims)
	}
	if got := res["nat-1"].ARN; got != "arn:aws:ec2:us-east-1:123456789012:natgateway/nat-1" {
		t.Errorf("nat-1 arn %q", got)
	}
}

// TestInfraMetrics: healthy levels before the onset, and what the fault
// does since: a volume out of burst credits queues its I/O and takes longer
// over each operation; a gateway out of ports establishes fewer connections.
func TestInfraMetrics(t *testing.T) {
	m := infraSim(t)
	onset := m.sc.Onset
	start, end := m.sc.Start(), m.sc.Alarm.Fires
	q := func(res, ns, name, stat string) (before, during float64) {
		t.Helper()
		dims := map[string]string{"VolumeId": res}
		switch ns {
		case nsNAT:
			dims = map[string]string{"NatGatewayId": res}
		case nsElastiCache:
			dims = map[string]string{"CacheClusterId": res}
		}
		s := metrics(t, m, investigate.MetricQuery{ID: "q", Metric: investigate.Metric{Namespace: ns, Name: name, Dims: dims}, Stat: stat, Period: time.Minute}, start, end)
		b, d := valuesIn(s, start, onset), valuesIn(s, onset, end)
		if len(b) == 0 || len(d) == 0 {
			t.Fatalf("%s %s: no datapoints (%d before, %d during)", res, name, len(b), len(d))
		}
		return mean(b), mean(d)
	}
	for _, c := range []struct {
		res, ns, name, stat string
		before              [2]float64 // healthy range
		during              [2]float64
	}{
		{"vol-1", nsEBS, "BurstBalance", "Average", [2]float64{100, 100}, [2]float64{0, 0}},
		{"vol-1", nsEBS, "VolumeQueueLength", "Average", [2]float64{0, 0.5}, [2]float64{20, 40}},
		{"vol-1", nsEBS, "VolumeIOPSExceededCheck", "Maximum", [2]float64{0, 0}, [2]float64{1, 1}},
		{"vol-1", nsEBS, "VolumeReadOps", "Sum", [2]float64{600, 1800}, [2]float64{600, 1800}},
		{"nat-1", nsNAT, "ErrorPortAllocation", "Sum", [2]float64{0, 0}, [2]float64{250, 350}},
		{"nat-1", nsNAT, "ConnectionAttemptCount", "Sum", [2]float64{600, 800}, [2]float64{600, 800}},
		{"nat-1", nsNAT, "ConnectionEstablishedCount", "Sum", [2]float64{600, 800}, [2]float64{300, 500}},
		{"nat-1", nsNAT, "PacketsDropCount", "Sum", [2]float64{0, 0}, [2]float64{0, 0}},
		// a cache with its memory full evicts, and its reads miss
		{"sessions", nsElastiCache, "DatabaseMemoryUsagePercentage", "Average", [2]float64{55, 70}, [2]float64{100, 100}},
		{"sessions", nsElastiCache, "Evictions", "Sum", [2]float64{0, 0}, [2]float64{300, 900}},
		{"sessions", nsElastiCache, "CacheHitRate", "Average", [2]float64{92, 97}, [2]float64{35, 40}},
		{"sessions", nsElastiCache, "CacheMisses", "Sum", [2]float64{50, 200}, [2]float64{1000, 1400}},
		{"sessions", nsElastiCache, "CurrConnections", "Maximum", [2]float64{80, 120}, [2]float64{80, 120}},
	} {
		b, d := q(c.res, c.ns, c.name, c.stat)
		if b < c.before[0] || b > c.before[1] || d < c.during[0] || d > c.during[1] {
			t.Errorf("%s %s: %.3g before, %.3g since the onset; want %v and %v", c.res, c.name, b, d, c.before, c.during)
		}
	}
	// Each read takes longer: total read time per operation.
	rtB, rtD := q("vol-1", nsEBS, "VolumeTotalReadTime", "Sum")
	opsB, opsD := q("vol-1", nsEBS, "VolumeReadOps", "Sum")
	if per := (rtD / opsD) / (rtB / opsB); per < 20 {
		t.Errorf("read time per operation rose %.1f times, want 20 or more", per)
	}
	// A gp3 volume has no burst balance.
	s := metrics(t, m, investigate.MetricQuery{ID: "bb", Metric: investigate.Metric{Namespace: nsEBS, Name: "BurstBalance", Dims: map[string]string{"VolumeId": "vol-2"}}, Stat: "Average", Period: time.Minute}, start, end)
	if len(s.Values) != 0 {
		t.Errorf("gp3 vol-2 publishes BurstBalance: %v", s.Values[:1])
	}
}
