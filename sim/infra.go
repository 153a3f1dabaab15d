package sim

import (
	"math"
	"strconv"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// The resources other resources stand on without calling them by name: NAT
// gateways (the way out to the internet of the hosts they serve) and EBS
// volumes (an instance's disk).

// Namespaces of the infrastructure types.
const (
	nsNAT = "AWS/NATGateway"
	nsEBS = "AWS/EBS"
)

// natPortsPerDestination is how many connections a NAT gateway holds open
// to one destination (address, port and protocol) at once: past it, new
// connections to that destination fail with ErrorPortAllocation.
const natPortsPerDestination = 55000

// defs builds a resource's metric definitions, as catalogue's helpers do.
type defs struct {
	out []*metricDef
}

// count is a per-step Sum.
func (b *defs) count(ns, name string, nz noise, level func(time.Time) float64) *metricDef {
	d := &metricDef{ns: ns, name: name, stat: "Sum", noise: nz, integer: true, samples: samplesCount, level: level}
	b.out = append(b.out, d)
	return d
}

// gauge is a per-step Average.
func (b *defs) gauge(ns, name string, nz noise, level func(time.Time) float64) *metricDef {
	d := &metricDef{ns: ns, name: name, stat: "Average", noise: nz, level: level}
	b.out = append(b.out, d)
	return d
}

// infraCatalogue is the healthy form of the metrics AWS publishes for a NAT
// gateway or an EBS volume.
func (m *Sim) infraCatalogue(n *node) []*metricDef {
	S := m.step.Seconds()
	u := func(what string) float64 { return unit(m.key("level", n.r.ID, what)) }
	tr := func(t time.Time) float64 { return m.traffic(n.flow, t) }
	konst := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	flat := noise{}
	pois := noise{noisePoisson, 0}
	traf := noise{noiseTraffic, 0}
	rel := func(x float64) noise { return noise{noiseRel, x} }
	var b defs

	switch n.r.Type {
	case investigate.TypeElastiCache:
		return m.cacheCatalogue(n)
	case investigate.TypeAurora:
		return m.auroraCatalogue(n)
	case investigate.TypeSNS, investigate.TypeStepFunctions:
		return m.handoffCatalogue(n)
	case investigate.TypeNATGateway:
		// Calls out reuse pooled connections: a quarter of them opens one,
		// and the hosts' own traffic out (updates, agents) adds a few.
		bg := 0.5 + u("bg")
		attempts := func(t time.Time) float64 { return (0.25*tr(t) + bg) * S }
		b.count(nsNAT, "ConnectionAttemptCount", traf, attempts)
		b.count(nsNAT, "ErrorPortAllocation", pois, konst(0))
		// What fails to get a port is not established.
		b.count(nsNAT, "ConnectionEstablishedCount", traf, func(t time.Time) float64 {
			return math.Max(0, m.levelOf(n, nsNAT, "ConnectionAttemptCount", t, attempts(t))-m.levelOf(n, nsNAT, "ErrorPortAllocation", t, 0))
		})
		d := b.gauge(nsNAT, "ActiveConnectionCount", rel(0.05), func(t time.Time) float64 { return 40 + 20*u("conns") + 6*tr(t) })
		d.stat, d.integer = "Maximum", true
		b.count(nsNAT, "IdleTimeoutCount", pois, func(t time.Time) float64 { return 0.02 * attempts(t) })
		b.count(nsNAT, "PacketsDropCount", pois, konst(0))
		out := func(t time.Time) float64 { return (1500*tr(t) + 2000*bg) * S }
		in := func(t time.Time) float64 { return (4200*tr(t) + 6000*bg) * S }
		for _, x := range []struct {
			name  string
			level func(time.Time) float64
		}{
			{"BytesOutToDestination", out}, {"BytesInFromSource", out},
			{"BytesInFromDestination", in}, {"BytesOutToSource", in},
		} {
			b.count(nsNAT, x.name, rel(0.05), x.level)
		}
		b.count(nsNAT, "PacketsOutToDestination", rel(0.05), func(t time.Time) float64 { return out(t) / 700 })
		b.count(nsNAT, "PacketsInFromDestination", rel(0.05), func(t time.Time) float64 { return in(t) / 1100 })

	case investigate.TypeEBS:
		reads := func(t time.Time) float64 { return 0.5*tr(t) + 2 + 2*u("reads") }
		writes := func(t time.Time) float64 { return tr(t) + 3 + 3*u("writes") }
		b.count(nsEBS, "VolumeReadOps", traf, func(t time.Time) float64 { return reads(t) * S })
		b.count(nsEBS, "VolumeWriteOps", traf, func(t time.Time) float64 { return writes(t) * S })
		b.count(nsEBS, "VolumeReadBytes", rel(0.05), func(t time.Time) float64 { return reads(t) * S * 16384 })
		b.count(nsEBS, "VolumeWriteBytes", rel(0.05), func(t time.Time) float64 { return writes(t) * S * 24576 })
		burst := n.bursts()
		if burst {
			b.gauge(nsEBS, "BurstBalance", flat, konst(100))
		}
		// Out of burst credits, the volume serves its baseline only: the
		// rest waits in its queue, and each operation takes longer.
		held := func(t time.Time) float64 {
			if !burst {
				return 0
			}
			bb := m.levelOf(n, nsEBS, "BurstBalance", t, 100)
			return math.Max(0, math.Min(1, 1-bb/5))
		}
		opMS := n.volumeLatency() * (0.9 + 0.2*u("latency"))
		lat := func(t time.Time) float64 { return opMS * (1 + 40*held(t)) / 1000 } // seconds
		b.count(nsEBS, "VolumeTotalReadTime", rel(0.06), func(t time.Time) float64 { return reads(t) * S * lat(t) }).integer = false
		b.count(nsEBS, "VolumeTotalWriteTime", rel(0.06), func(t time.Time) float64 { return writes(t) * S * lat(t) }).integer = false
		busy := func(t time.Time) float64 { return math.Min(1, (reads(t)+writes(t))*lat(t)) }
		b.count(nsEBS, "VolumeIdleTime", rel(0.02), func(t time.Time) float64 { return S * (1 - busy(t)) }).integer = false
		b.gauge(nsEBS, "VolumeQueueLength", rel(0.1), func(t time.Time) float64 {
			return 0.02 + (reads(t)+writes(t))*lat(t) + 30*held(t)
		})
		d := b.gauge(nsEBS, "VolumeIOPSExceededCheck", flat, func(t time.Time) float64 { return math.Round(held(t)) })
		d.stat = "Maximum"
		if n.r.VolumeType == "io1" || n.r.VolumeType == "io2" {
			b.count(nsEBS, "VolumeConsumedReadWriteOps", traf, func(t time.Time) float64 { return (reads(t) + writes(t)) * S })
			b.gauge(nsEBS, "VolumeThroughputPercentage", flat, konst(100))
		}
	}
	return b.out
}

// bursts reports whether an EBS volume runs on burst credits: gp2 under
// 1,000 GiB (larger ones have a baseline of 3,000 IOPS or more, what they
// could burst to), st1 and sc1.
func (n *node) bursts() bool {
	switch n.volumeType() {
	case "gp2":
		return n.volumeSize() < 1000
	case "st1", "sc1":
		return true
	}
	return false
}

func (n *node) volumeType() string {
	if n.r.VolumeType != "" {
		return n.r.VolumeType
	}
	return defaultVolumeType
}

func (n *node) volumeSize() int {
	if n.r.Size > 0 {
		return n.r.Size
	}
	return defaultVolumeSize
}

// baselineIOPS is what an EBS volume sustains without burst credits: gp2
// 3 per GiB (100 to 16,000), gp3 and io* what is provisioned; st1 and sc1
// are rated in throughput, 40 and 12 MiB/s per TiB, here as 1 MiB
// operations.
func (n *node) baselineIOPS() int {
	size := n.volumeSize()
	switch n.volumeType() {
	case "gp2":
		return min(max(3*size, 100), 16000)
	case "st1":
		return max(40*size/1024, 1)
	case "sc1":
		return max(12*size/1024, 1)
	}
	if n.r.IOPS > 0 {
		return n.r.IOPS
	}
	return defaultGP3IOPS
}

// volumeLatency is an EBS volume's healthy time per operation, in ms.
func (n *node) volumeLatency() float64 {
	switch n.volumeType() {
	case "io1", "io2":
		return 0.35
	case "st1", "sc1":
		return 6
	}
	return 0.6
}

// infraConfig is the settings of a NAT gateway or an EBS volume.
func (n *node) infraConfig(set func(k, v string)) {
	switch n.r.Type {
	case investigate.TypeNATGateway:
		set("connections_per_destination", strconv.Itoa(natPortsPerDestination))
	case investigate.TypeEBS:
		set("volume_type", n.volumeType())
		set("size_gib", strconv.Itoa(n.volumeSize()))
		set("baseline_iops", strconv.Itoa(n.baselineIOPS()))
		if n.r.IOPS > 0 {
			set("iops", strconv.Itoa(n.r.IOPS))
		}
		set("instance", n.r.Instance)
	case investigate.TypeElastiCache:
		n.cacheConfig(set)
	case investigate.TypeAurora:
		n.auroraConfig(set)
	case investigate.TypeSNS, investigate.TypeStepFunctions:
		n.handoffConfig(set)
	}
}

// infraRelations are what stands on a NAT gateway or an EBS volume, and
// an Aurora cluster's instances: the hosts a gateway serves (an Auto
// Scaling group's instances, or the group when it lists none), the
// instance a volume is attached to, the cluster's members.
func (m *Sim) infraRelations(n *node) []investigate.Relation {
	var out []investigate.Relation
	uses := func(from string) {
		out = append(out, investigate.Relation{From: from, To: n.r.ID, Kind: investigate.RelUses})
	}
	switch n.r.Type {
	case investigate.TypeNATGateway:
		for _, h := range m.natHosts(n) {
			uses(h.r.ID)
		}
	case investigate.TypeEBS:
		if _, ok := m.byID[n.r.Instance]; ok && n.r.Instance != "" {
			uses(n.r.Instance)
		}
	case investigate.TypeAurora:
		for _, mb := range n.members {
			out = append(out, investigate.Relation{From: mb.r.ID, To: n.r.ID, Kind: investigate.RelMemberOf})
		}
	case investigate.TypeSNS, investigate.TypeStepFunctions:
		out = m.handoffRelations(n)
	}
	return out
}

// natHosts are the hosts whose traffic out a NAT gateway carries.
func (m *Sim) natHosts(n *node) []*node {
	var hosts []*node
	for _, id := range n.r.Serves {
		h, ok := m.byID[id]
		switch {
		case !ok:
		case h.r.Type == investigate.TypeASG && len(h.members) > 0:
			hosts = append(hosts, h.members...)
		default:
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// infraTraffic sets the traffic of NAT gateways and EBS volumes, once the
// services' is known: a gateway carries the calls to external APIs made from
// the hosts it serves; a volume takes its instance's requests.
func (m *Sim) infraTraffic() {
	for _, n := range m.nodes {
		var v vec
		switch n.r.Type {
		case investigate.TypeNATGateway:
			for _, h := range m.natHosts(n) {
				for _, s := range h.services {
					for _, c := range s.calls {
						if c.r.Type == investigate.TypeExternal {
							v = v.plus(s.onHost[h], 1)
						}
					}
				}
			}
		case investigate.TypeEBS:
			if h, ok := m.byID[n.r.Instance]; ok && n.r.Instance != "" {
				v = h.flow
			}
		case investigate.TypeElastiCache:
			v = n.flow // what its callers send
		case investigate.TypeAurora:
			v = m.auroraTraffic(n)
		case investigate.TypeSNS, investigate.TypeStepFunctions:
			v = m.handoffTraffic(n)
		default:
			continue
		}
		if v.zero() {
			v = unitVec(m.addStream(&stream{base: m.background(n), hosts: 1}))
		}
		n.flow = v
	}
}

// Defaults of the infrastructure types, as the loader's.
const (
	defaultVolumeType = "gp2"
	defaultVolumeSize = 100
	defaultGP3IOPS    = 3000
)
