package sim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Availability Zones. CloudWatch publishes a load balancer's metrics per
// zone too: under LoadBalancer and AvailabilityZone, and per target group
// under TargetGroup, LoadBalancer and AvailabilityZone. The simulator
// derives them from the load balancer's own series, split by where its
// requests go and where they fail: a zone's share of the requests is the
// share its targets serve; its share of the 5XX (and of the unhealthy
// hosts) is the share of the failed requests its targets served, from the
// traced fault rate of each target (healthy 0.1%, or a traces item's);
// its response time is the load balancer's scaled by how slow its targets
// are against all of them. The zones add up to the load balancer's counts,
// so a scenario that makes the instances of one zone fail shows in that
// zone's series and not in the others'. A metric item that names these
// dimensions changes a zone's series like any other.

// zoneTraffic are the metrics split by the share of requests.
var zoneTraffic = []string{
	"RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_3XX_Count", "HTTPCode_Target_4XX_Count",
	"HTTPCode_ELB_4XX_Count", "ActiveConnectionCount", "NewConnectionCount", "ProcessedBytes",
}

// zoneFailures are the metrics split by the share of failed requests.
var zoneFailures = []string{
	"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "HTTPCode_ELB_502_Count", "HTTPCode_ELB_503_Count",
	"HTTPCode_ELB_504_Count", "TargetConnectionErrorCount",
}

// zoneOf is the zone of an edge's serving host, "" when it has none.
func zoneOf(e *edge) string {
	if e.host == nil {
		return ""
	}
	return e.host.r.AZ
}

// entryEdges are an entry's edges to what serves its requests.
func (m *Sim) entryEdges(n *node) []*edge {
	var out []*edge
	for _, e := range m.edges {
		if e.kind == edgeEntry && e.caller == n.r.ID {
			out = append(out, e)
		}
	}
	return out
}

// faultShare is the share of an entry edge's requests that fail with a 5xx
// in the minute of t, without noise.
func (m *Sim) faultShare(e *edge, t time.Time) float64 {
	share := healthyShare[failFault]
	mm := t.Truncate(time.Minute)
	for _, it := range e.items {
		if it.Fault == nil {
			continue
		}
		if w := m.itemWeight(it, mm); w > 0 {
			share += (*it.Fault - share) * w
		}
	}
	return share
}

// zoneWeights are each zone's share of an entry's requests at t, of its
// failed requests, and the ratio of its targets' latency to all of them.
func (m *Sim) zoneWeights(edges []*edge, t time.Time) (traffic, failed, slow map[string]float64) {
	traffic, failed, slow = map[string]float64{}, map[string]float64{}, map[string]float64{}
	var req, fail, lat float64
	c := &latCtx{mm: t.Truncate(time.Minute), edges: map[*edge]float64{}, svcs: map[[2]*node]float64{}}
	for _, e := range edges {
		x := m.traffic(e.flow, t)
		f := x * m.faultShare(e, t)
		l := x * m.edgeLat(c, e)
		z := zoneOf(e)
		traffic[z] += x
		failed[z] += f
		slow[z] += l
		req, fail, lat = req+x, fail+f, lat+l
	}
	for z := range traffic {
		tz := traffic[z]
		traffic[z], failed[z], slow[z] = ratio(tz, req), ratio(failed[z], fail), 1
		if tz > 0 && lat > 0 {
			slow[z] = (slow[z] / tz) / (lat / req)
		}
	}
	return traffic, failed, slow
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// zoneHosts counts an entry's targets in each zone, as HealthyHostCount
// counts them: an instance, each task of an ECS service, each instance of
// an Auto Scaling group.
func zoneHosts(n *node) map[string]float64 {
	out := map[string]float64{}
	for _, t := range n.targets {
		switch {
		case t.r.Type == investigate.TypeASG:
			for _, mb := range t.members {
				out[mb.r.AZ]++
			}
		case t.r.Type == investigate.TypeECS:
			out[t.r.AZ] += float64(t.tasks())
		default:
			out[t.r.AZ]++
		}
	}
	return out
}

// tgDim is the TargetGroup dimension of an ALB's one target group.
func tgDim(n *node) string {
	return fmt.Sprintf("targetgroup/%s/%016x", n.name, fnv64a("tg/"+n.name))
}

// buildZoneSeries adds the per-zone series of every ALB whose targets are in
// a zone. It runs once the edges are built.
func (m *Sim) buildZoneSeries() {
	for _, n := range m.nodes {
		if n.r.Type != investigate.TypeALB {
			continue
		}
		edges := m.entryEdges(n)
		hosts := zoneHosts(n)
		var zones []string
		for _, e := range edges {
			if z := zoneOf(e); z != "" && !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		for z := range hosts {
			if z != "" && !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		sort.Strings(zones)
		for _, z := range zones {
			for _, dims := range []map[string]string{
				{"LoadBalancer": n.dims["LoadBalancer"], "AvailabilityZone": z},
				{"TargetGroup": tgDim(n), "LoadBalancer": n.dims["LoadBalancer"], "AvailabilityZone": z},
			} {
				m.zoneSeries(n, z, dims, edges, hosts[z])
			}
		}
	}
}

// zoneSeries adds one zone's series of an ALB under dims.
func (m *Sim) zoneSeries(n *node, z string, dims map[string]string, edges []*edge, hosts float64) {
	add := func(name, stat string, integer bool, v func(time.Time) float64) {
		d := &metricDef{ns: nsALB, name: name, dims: dims, stat: stat, integer: integer, samples: samplesCount, value: v}
		if stat == "Average" {
			d.samples = samplesSteps
		}
		k := seriesKey(nsALB, name, dims)
		if se, ok := m.series[k]; ok {
			// A metric item named these dimensions first: it changes
			// this series.
			se.def, se.node = d, n
			return
		}
		m.series[k] = &series{key: k, h: m.key("series", k), node: n, def: d}
	}
	lb := func(name string) *series { return m.seriesOf(n, nsALB, name) }
	split := func(name string, pick func(traffic, failed, slow map[string]float64) float64) func(time.Time) float64 {
		whole := lb(name)
		return func(t time.Time) float64 {
			if whole == nil {
				return 0
			}
			return whole.value(m, t) * pick(m.zoneWeights(edges, t))
		}
	}
	byTraffic := func(tr, _, _ map[string]float64) float64 { return tr[z] }
	byFailures := func(_, f, _ map[string]float64) float64 { return f[z] }
	for _, name := range zoneTraffic {
		add(name, "Sum", true, split(name, byTraffic))
	}
	for _, name := range zoneFailures {
		add(name, "Sum", true, split(name, byFailures))
	}
	trt := lb("TargetResponseTime")
	add("TargetResponseTime", "Average", false, func(t time.Time) float64 {
		if trt == nil {
			return 0
		}
		_, _, slow := m.zoneWeights(edges, t)
		return trt.value(m, t) * slow[z]
	})
	unhealthy := split("UnHealthyHostCount", byFailures)
	add("UnHealthyHostCount", "Average", false, unhealthy)
	add("HealthyHostCount", "Average", false, func(t time.Time) float64 {
		return math.Max(0, hosts-unhealthy(t))
	})
}
