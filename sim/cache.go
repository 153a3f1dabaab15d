package sim

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// ElastiCache clusters: what their callers read and write, kept in memory.

const nsElastiCache = "AWS/ElastiCache"

// Defaults of an ElastiCache cluster, as the loader's.
const (
	defaultCacheEngine      = "redis"
	defaultNodeType         = "cache.r6g.large"
	defaultCacheConnections = 65000
)

func (n *node) cacheEngine() string {
	if n.r.Engine != "" {
		return n.r.Engine
	}
	return defaultCacheEngine
}

func (n *node) nodeType() string {
	if n.r.NodeType != "" {
		return n.r.NodeType
	}
	return defaultNodeType
}

func (n *node) cacheConnections() int {
	if n.r.MaxConnections > 0 {
		return n.r.MaxConnections
	}
	return defaultCacheConnections
}

// cacheMemGiB is a cache node type's memory in GiB, by family and size
// (cache.r6g.large 13.07, cache.m6g.large 6.38, cache.t3.medium 3.09).
func cacheMemGiB(nodeType string) float64 {
	parts := strings.Split(nodeType, ".")
	fam, size := "r", "large"
	if len(parts) >= 3 {
		fam, size = parts[1], parts[2]
	}
	base := 6.38 // m: a large
	switch {
	case strings.HasPrefix(fam, "r"):
		base = 13.07
	case strings.HasPrefix(fam, "t"):
		base = 6.18
	}
	mult := 1.0
	switch size {
	case "micro":
		mult = 0.08
	case "small":
		mult = 0.22
	case "medium":
		mult = 0.5
	case "large":
	case "xlarge":
		mult = 2
	default:
		if k, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge")); err == nil && strings.HasSuffix(size, "xlarge") {
			mult = 2 * float64(k)
		}
	}
	return base * mult
}

// cacheCatalogue is the healthy form of an ElastiCache cluster's metrics.
// Each request of its callers reads a key (most of them hit) and a fifth
// of them write one, as does each miss (the caller fills the cache). With
// its memory near full the engine evicts keys to make room: evictions
// grow with the writes, and the reads that find their key evicted miss.
func (m *Sim) cacheCatalogue(n *node) []*metricDef {
	S := m.step.Seconds()
	u := func(what string) float64 { return unit(m.key("level", n.r.ID, what)) }
	tr := func(t time.Time) float64 { return m.traffic(n.flow, t) }
	trH := m.healthyTraffic(n.flow)
	ratio := func(t time.Time) float64 {
		if trH <= 0 {
			return 1
		}
		return tr(t) / trH
	}
	konst := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	flat := noise{}
	pois := noise{noisePoisson, 0}
	traf := noise{noiseTraffic, 0}
	rel := func(x float64) noise { return noise{noiseRel, x} }
	var b defs
	memcached := n.cacheEngine() == "memcached"
	memBytes := cacheMemGiB(n.nodeType()) * (1 << 30)

	memName, hitName, missName := "DatabaseMemoryUsagePercentage", "CacheHits", "CacheMisses"
	if memcached {
		hitName, missName = "GetHits", "GetMisses"
	}
	memPct := 55 + 15*u("mem")
	// full is how far the memory is into the engine's eviction range: 0
	// below 95%, 1 at 100%.
	full := func(t time.Time) float64 {
		if memcached {
			return 0
		}
		return math.Max(0, math.Min(1, (m.levelOf(n, nsElastiCache, memName, t, memPct)-95)/5))
	}
	hitRate := 0.92 + 0.05*u("hits")
	hits := func(t time.Time) float64 { return hitRate * (1 - 0.6*full(t)) }
	gets := func(t time.Time) float64 { return 0.8 * tr(t) * S }
	misses := func(t time.Time) float64 { return gets(t) * (1 - hits(t)) }
	sets := func(t time.Time) float64 { return 0.2*tr(t)*S + misses(t) }

	b.count(nsElastiCache, hitName, traf, func(t time.Time) float64 { return gets(t) * hits(t) })
	b.count(nsElastiCache, missName, pois, misses)
	b.count(nsElastiCache, "Evictions", pois, func(t time.Time) float64 { return 0.5 * full(t) * sets(t) })
	d := b.gauge(nsElastiCache, "CurrConnections", rel(0.03), func(t time.Time) float64 { return 30 + 20*u("conns") + 1.5*trH })
	d.stat, d.integer = "Maximum", true
	lim := float64(n.cacheConnections())
	d.limit = func() float64 { return lim }
	b.count(nsElastiCache, "NewConnections", pois, func(t time.Time) float64 { return 0.02 * tr(t) * S })
	cpu := b.gauge(nsElastiCache, "CPUUtilization", rel(0.06), func(t time.Time) float64 { return 2 + 2*u("cpu") + 3*ratio(t) })
	cpu.max = 100
	b.gauge(nsElastiCache, "FreeableMemory", rel(0.01), func(t time.Time) float64 {
		used := m.levelOf(n, nsElastiCache, memName, t, memPct) / 100
		return memBytes * math.Max(0.02, 1.1-used)
	})
	b.gauge(nsElastiCache, "SwapUsage", flat, konst(0))
	b.count(nsElastiCache, "NetworkBytesIn", rel(0.05), func(t time.Time) float64 { return (300*gets(t) + 1200*sets(t)) })
	b.count(nsElastiCache, "NetworkBytesOut", rel(0.05), func(t time.Time) float64 { return 1300 * gets(t) })
	if memcached {
		b.count(nsElastiCache, "CmdGet", traf, gets)
		b.count(nsElastiCache, "CmdSet", traf, sets)
		return b.out
	}
	b.count(nsElastiCache, "GetTypeCmds", traf, gets)
	b.count(nsElastiCache, "SetTypeCmds", traf, sets)
	eng := b.gauge(nsElastiCache, "EngineCPUUtilization", rel(0.06), func(t time.Time) float64 { return 5 + 5*u("engine") + 6*ratio(t) })
	eng.max = 100
	mem := b.gauge(nsElastiCache, memName, rel(0.01), konst(memPct))
	mem.max = 100
	b.gauge(nsElastiCache, "BytesUsedForCache", rel(0.01), func(t time.Time) float64 {
		return memBytes * 0.95 * m.levelOf(n, nsElastiCache, memName, t, memPct) / 100
	})
	b.gauge(nsElastiCache, "CacheHitRate", rel(0.005), func(t time.Time) float64 { return 100 * hits(t) })
	d = b.gauge(nsElastiCache, "CurrItems", rel(0.01), konst(2e5+8e5*u("items")))
	d.integer = true
	if n.r.Nodes > 1 {
		b.gauge(nsElastiCache, "ReplicationLag", rel(0.3), konst(0.01+0.02*u("lag")))
	}
	return b.out
}

// cacheConfig is an ElastiCache cluster's settings.
func (n *node) cacheConfig(set func(k, v string)) {
	set("engine", n.cacheEngine())
	set("node_type", n.nodeType())
	set("nodes", strconv.Itoa(max(n.r.Nodes, 1)))
	set("max_connections", strconv.Itoa(n.cacheConnections()))
	set("memory_gib", strconv.FormatFloat(math.Round(cacheMemGiB(n.nodeType())*100)/100, 'f', -1, 64))
}
