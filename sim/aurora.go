package sim

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Aurora clusters: the services call the cluster; its DB instances (rds
// resources with a db_cluster) serve the calls, the writer the writes and a
// share of the reads, the readers the rest of the reads. The cluster's own
// series aggregate its instances', as CloudWatch's DBClusterIdentifier
// series do.

// writerShare is the share of a cluster's requests its writer serves when
// it has readers.
const writerShare = 0.4

// auroraMembers links each Aurora cluster to its DB instances.
func (m *Sim) auroraMembers() {
	for _, n := range m.nodes {
		if n.r.Type != investigate.TypeRDS || n.r.DBCluster == "" {
			continue
		}
		if c, ok := m.byID[n.r.DBCluster]; ok && c.r.Type == investigate.TypeAurora {
			c.members = append(c.members, n)
		}
	}
}

// auroraTraffic gives a cluster its callers' traffic (a few requests a
// second when nothing calls it) and shares it among its instances.
func (m *Sim) auroraTraffic(c *node) vec {
	v := c.flow
	if v.zero() {
		v = unitVec(m.addStream(&stream{base: m.background(c), hosts: 1}))
	}
	readers := 0
	for _, mb := range c.members {
		if mb.r.ClusterRole == "reader" {
			readers++
		}
	}
	for _, mb := range c.members {
		switch {
		case readers == 0:
			mb.flow = v
		case mb.r.ClusterRole == "reader":
			mb.flow = vec(nil).plus(v, (1-writerShare)/float64(readers))
		default:
			mb.flow = vec(nil).plus(v, writerShare)
		}
	}
	return v
}

// auroraCatalogue is the healthy form of an Aurora cluster's series: its
// instances' CPU (average), connections (sum) and replica lag (maximum),
// and the cluster's own commit latency, deadlocks and volume.
func (m *Sim) auroraCatalogue(n *node) []*metricDef {
	u := func(what string) float64 { return unit(m.key("level", n.r.ID, what)) }
	tr := func(t time.Time) float64 { return m.traffic(n.flow, t) }
	rel := func(x float64) noise { return noise{noiseRel, x} }
	pois := noise{noisePoisson, 0}
	var b defs
	members := n.members
	over := func(name string, agg func(sum, max float64, k int) float64, only func(*node) bool) func(time.Time) float64 {
		return func(t time.Time) float64 {
			var sum, hi float64
			k := 0
			for _, mb := range members {
				if only != nil && !only(mb) {
					continue
				}
				if se := m.seriesOf(mb, nsRDS, name); se != nil && !se.silentAt(m, t) {
					v := se.value(m, t)
					sum, hi = sum+v, math.Max(hi, v)
					k++
				}
			}
			if k == 0 {
				return math.NaN()
			}
			return agg(sum, hi, k)
		}
	}
	avg := func(sum, _ float64, k int) float64 { return sum / float64(k) }
	total := func(sum, _ float64, _ int) float64 { return sum }
	highest := func(_, hi float64, _ int) float64 { return hi }
	reader := func(mb *node) bool { return mb.r.ClusterRole == "reader" }
	if len(members) > 0 {
		b.out = append(b.out,
			&metricDef{ns: nsRDS, name: "CPUUtilization", stat: "Average", value: over("CPUUtilization", avg, nil)},
			&metricDef{ns: nsRDS, name: "DatabaseConnections", stat: "Average", value: over("DatabaseConnections", total, nil)},
			&metricDef{ns: nsRDS, name: "FreeableMemory", stat: "Average", value: over("FreeableMemory", avg, nil)})
		if slices.ContainsFunc(members, reader) {
			b.out = append(b.out, &metricDef{ns: nsRDS, name: "AuroraReplicaLagMaximum", stat: "Maximum", value: over("AuroraReplicaLag", highest, reader)})
		}
	} else {
		b.gauge(nsRDS, "CPUUtilization", rel(0.06), konstF(20+10*u("cpu"))).max = 100
		d := b.gauge(nsRDS, "DatabaseConnections", rel(0.04), konstF(30+10*u("conns")))
		d.integer = true
	}
	// The writer's commits wait when its CPU runs out.
	writerCPU := func(t time.Time) float64 {
		for _, mb := range members {
			if mb.r.ClusterRole != "reader" {
				return m.levelOf(mb, nsRDS, "CPUUtilization", t, 25)
			}
		}
		return 25
	}
	commit := 1.6 + 1.2*u("commit")
	d := b.gauge(nsRDS, "CommitLatency", rel(0.08), func(t time.Time) float64 {
		return commit * (1 + math.Max(0, writerCPU(t)-85)/3)
	})
	d.samples = samplesTraffic
	b.gauge(nsRDS, "CommitThroughput", rel(0.05), func(t time.Time) float64 { return 0.3*tr(t) + 2 })
	b.gauge(nsRDS, "SelectLatency", rel(0.08), konstF(0.4+0.4*u("select")))
	b.gauge(nsRDS, "DMLLatency", rel(0.08), konstF(1.5+1.5*u("dml")))
	b.count(nsRDS, "Deadlocks", pois, konstF(0))
	b.gauge(nsRDS, "BufferCacheHitRatio", rel(0.001), konstF(99.2+0.6*u("bchr"))).max = 100
	b.gauge(nsRDS, "VolumeBytesUsed", rel(0.0005), konstF((80+200*u("volume"))*(1<<30)))
	return b.out
}

// auroraMemberMetrics are what an Aurora DB instance publishes beside an
// RDS instance's metrics: a reader's lag behind the writer, in ms.
func (m *Sim) auroraMemberMetrics(n *node) []*metricDef {
	if n.r.DBCluster == "" || n.r.ClusterRole != "reader" {
		return nil
	}
	u := unit(m.key("level", n.r.ID, "aurora-lag"))
	return []*metricDef{{ns: nsRDS, name: "AuroraReplicaLag", stat: "Average", noise: noise{noiseRel, 0.15}, level: konstF(10 + 15*u)}}
}

// auroraConfig is an Aurora cluster's settings, and a member's.
func (n *node) auroraConfig(set func(k, v string)) {
	switch n.r.Type {
	case investigate.TypeAurora:
		set("engine", n.r.Engine)
		set("instances", strconv.Itoa(len(n.members)))
		if n.r.MaxConnections > 0 {
			set("max_connections", strconv.Itoa(n.r.MaxConnections*max(len(n.members), 1)))
			set("instance_max_connections", strconv.Itoa(n.r.MaxConnections))
		}
		for _, mb := range n.members {
			if mb.r.ClusterRole == "writer" {
				set("writer", mb.r.ID)
			}
		}
	case investigate.TypeRDS:
		set("db_cluster", n.r.DBCluster)
		set("cluster_role", n.r.ClusterRole)
	}
}

func konstF(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
