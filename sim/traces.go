package sim

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Traces. The service graph has three kinds of edge:
//
//   - client>ENTRY, the requests entering each entry resource (no instance);
//   - ENTRY>SERVICE, for each service running on the entry's targets, one per
//     serving host (a target with no service on it is its own callee);
//   - SERVICE>CALLEE, for each calls edge, one per caller host.
//
// A traces item's on names a host (see scenario.TraceItem): on a client edge,
// the item applies to the entry's edges served by that host; on an entry
// edge, to the edge on that serving host; on a call edge, to the calls made
// from that host or, when on is a host of the callee instead, to the share
// of every caller host's calls that the callee host serves.
//
// Request counts are X-Ray's sampled counts, not all traffic: with the default
// sampling rule each host records the first request each second and 5% of the
// rest, and the decision travels with the trace, so every edge downstream
// carries the sampled share of its root's traffic.

type edgeKind int

const (
	edgeClient edgeKind = iota
	edgeEntry
	edgeCall
)

type edge struct {
	kind     edgeKind
	caller   string
	callee   *node
	host     *node // the serving host (entry edges) or the caller's host (call edges)
	svc      *node // entry edges: the service served; call edges: the caller
	flow     vec
	children []*edge // a client edge: its entry's edges
	items    []edgeItem
	key      uint64
	// flowKey seeds the request count: edges that carry the same traffic
	// (a service's inbound edge on a host and its calls from that host)
	// trace the same requests.
	flowKey uint64
	idx     int
}

// edgeItem is a traces item as it applies to one edge: part is the share of
// the edge's requests it covers, 1 unless its on names one of the hosts
// serving a call edge's callee.
type edgeItem struct {
	*scenario.TraceItem
	part float64
}

// hostIs reports whether on names host h (by id or name).
func hostIs(h *node, on string) bool {
	return h != nil && (h.r.ID == on || h.name == on)
}

// hostRef is what a traces item's on names: a host, or every host of a zone.
type hostRef struct{ on, zone string }

func refOf(it *scenario.TraceItem) hostRef { return hostRef{it.On, it.Zone} }

// names reports whether the reference names host h: h itself, or h is in
// the zone.
func (ref hostRef) names(h *node) bool {
	if ref.zone != "" {
		return h != nil && h.r.AZ == ref.zone
	}
	return hostIs(h, ref.on)
}

// callPart is the share of call edge e's requests that an item with the
// given on covers: all of them when on is e's caller host; none when on is
// another host of the caller; the share the callee serves on on otherwise.
// A zone names its hosts alike: the calls made from its hosts of the
// caller, or else the share its hosts of the callee serve.
func callPart(e *edge, on hostRef) float64 {
	if on.names(e.host) {
		return 1
	}
	for _, h := range e.svc.hosts {
		if on.names(h) {
			return 0
		}
	}
	if e.callee.isHost() && on.names(e.callee) {
		return 1
	}
	if e.callee.r.Type != investigate.TypeService || len(e.callee.hosts) == 0 {
		return 0
	}
	// Calls are spread evenly over the callee's hosts.
	k := 0
	for _, h := range e.callee.hosts {
		if on.names(h) {
			k++
		}
	}
	return float64(k) / float64(len(e.callee.hosts))
}

func (e *edge) instance() string {
	if e.host == nil {
		return ""
	}
	return e.host.r.ID
}

func (m *Sim) buildEdges() {
	add := func(e *edge) *edge {
		e.idx = len(m.edges)
		e.key = m.key("edge", e.caller, e.callee.r.ID, e.instance())
		var sig []string
		for i, k := range e.flow {
			if k != 0 {
				sig = append(sig, strconv.Itoa(i)+":"+strconv.FormatFloat(k, 'g', 9, 64))
			}
		}
		e.flowKey = m.key("flow", strings.Join(sig, ","))
		m.edges = append(m.edges, e)
		return e
	}
	var clients []*edge
	for _, en := range m.nodes {
		if !en.isEntry() {
			continue
		}
		c := &edge{kind: edgeClient, caller: "client", callee: en, flow: en.flow}
		toHost := func(h *node, share float64) {
			if len(h.services) == 0 {
				c.children = append(c.children, add(&edge{kind: edgeEntry, caller: en.r.ID, callee: h, host: h, flow: vec(nil).plus(en.flow, share)}))
				return
			}
			for _, s := range h.services {
				c.children = append(c.children, add(&edge{kind: edgeEntry, caller: en.r.ID, callee: s, host: h, svc: s,
					flow: vec(nil).plus(en.flow, share/float64(len(h.services)))}))
			}
		}
		n := float64(len(en.targets))
		for _, t := range en.targets {
			share := 1 / n
			switch {
			case t.isHost():
				toHost(t, share)
			case t.r.Type == investigate.TypeASG && len(t.members) > 0:
				for _, mb := range t.members {
					toHost(mb, share/float64(len(t.members)))
				}
			case t.r.Type == investigate.TypeService && len(t.hosts) > 0:
				for _, h := range t.hosts {
					c.children = append(c.children, add(&edge{kind: edgeEntry, caller: en.r.ID, callee: t, host: h, svc: t,
						flow: vec(nil).plus(en.flow, share/float64(len(t.hosts)))}))
				}
			case t.r.Type == investigate.TypeService:
				c.children = append(c.children, add(&edge{kind: edgeEntry, caller: en.r.ID, callee: t, svc: t, flow: vec(nil).plus(en.flow, share)}))
			default:
				c.children = append(c.children, add(&edge{kind: edgeEntry, caller: en.r.ID, callee: t, flow: vec(nil).plus(en.flow, share)}))
			}
		}
		clients = append(clients, c)
	}
	for _, s := range m.nodes {
		if s.r.Type != investigate.TypeService {
			continue
		}
		for _, c := range s.calls {
			if len(s.hosts) == 0 {
				add(&edge{kind: edgeCall, caller: s.r.ID, callee: c, svc: s, flow: s.flow})
				continue
			}
			for _, h := range s.hosts {
				add(&edge{kind: edgeCall, caller: s.r.ID, callee: c, host: h, svc: s, flow: s.onHost[h]})
			}
		}
	}
	// Client edges come after the edges they sum.
	for _, c := range clients {
		add(c)
	}
	for i := range m.sc.Traces {
		it := &m.sc.Traces[i]
		for _, e := range m.edges {
			if e.caller != it.Caller || e.callee.r.ID != it.Callee {
				continue
			}
			switch {
			case it.On == "":
				e.items = append(e.items, edgeItem{it, 1})
			case e.kind == edgeClient:
				for _, ch := range e.children {
					if refOf(it).names(ch.host) {
						ch.items = append(ch.items, edgeItem{it, 1})
					}
				}
			case e.kind == edgeEntry:
				if refOf(it).names(e.host) {
					e.items = append(e.items, edgeItem{it, 1})
				}
			default:
				if part := callPart(e, refOf(it)); part > 0 {
					e.items = append(e.items, edgeItem{it, part})
				}
			}
		}
	}
}

// Failure kinds.
const (
	failFault = iota
	failError
	failThrottle
)

var healthyShare = [3]float64{0.001, 0.003, 0}

type failure struct {
	kind int
	msg  string
	n    int
}

// minuteRec is one edge's traced requests in one minute.
type minuteRec struct {
	n     int
	fails []failure
	lat   float64 // ms
}

// genericMsg is the exception recorded on a failure no item describes.
func genericMsg(kind int, callee *node, client bool) string {
	t := callee.r.Type
	switch kind {
	case failFault:
		switch {
		case client:
			return "Internal server error"
		case t == investigate.TypeDynamoDB:
			return "InternalServerError: Internal server error"
		case t == investigate.TypeSQS:
			return "InternalError: We encountered an internal error. Please try again."
		case t == investigate.TypeRDS:
			return "connection reset by peer"
		}
		return "upstream request timeout"
	case failError:
		switch t {
		case investigate.TypeDynamoDB:
			return "ConditionalCheckFailedException: The conditional request failed"
		case investigate.TypeSQS:
			return "InvalidParameterValue: Value for parameter MessageBody is invalid"
		case investigate.TypeRDS:
			return "duplicate key value violates unique constraint"
		case investigate.TypeExternal:
			return "HTTP 404 Not Found"
		}
		return "NotFound: resource not found"
	}
	switch t {
	case investigate.TypeDynamoDB:
		return "ProvisionedThroughputExceededException: The level of configured provisioned throughput for the table was exceeded"
	case investigate.TypeExternal:
		return "HTTP 429 Too Many Requests"
	}
	return "TooManyRequestsException: Rate exceeded"
}

func itemShare(it *scenario.TraceItem, kind int) *float64 {
	switch kind {
	case failFault:
		return it.Fault
	case failError:
		return it.Error
	}
	return it.Throttle
}

// itemWeight is how much of minute mm item it covers, scaled by its ramp and
// by the share of the edge's requests it applies to.
func (m *Sim) itemWeight(it edgeItem, mm time.Time) float64 {
	return m.windowWeight(it.Window, mm) * it.part
}

// windowWeight is how much of minute mm window w covers, scaled by its ramp.
func (m *Sim) windowWeight(w scenario.Window, mm time.Time) float64 {
	a, b := mm, mm.Add(time.Minute)
	if !w.At.IsZero() && a.Before(w.At) {
		a = w.At
	}
	if !w.Until.IsZero() && b.After(w.Until) {
		b = w.Until
	}
	if !a.Before(b) {
		return 0
	}
	return float64(b.Sub(a)) / float64(time.Minute) * rampAt(w, a.Add(b.Sub(a)/2))
}

// typeLatency is the healthy median of a call to a resource that is not a
// service, in ms.
func (m *Sim) typeLatency(n *node) float64 {
	v := 0.9 + 0.2*unit(m.key("latency", n.r.ID))
	switch n.r.Type {
	case investigate.TypeDynamoDB:
		return 6 * v
	case investigate.TypeRDS, investigate.TypeAurora:
		return 4 * v
	case investigate.TypeElastiCache:
		return 0.8 * v
	case investigate.TypeSNS:
		return 15 * v
	case investigate.TypeSQS:
		return 8 * v
	case investigate.TypeExternal:
		return 120 * v
	case investigate.TypeLambda:
		return lambdaDuration(n, unit(m.key("level", n.r.ID, "duration")))
	case investigate.TypeEC2, investigate.TypeECS:
		return 35 * v
	}
	return 20 * v
}

// latCtx memoises latencies within one minute.
type latCtx struct {
	mm    time.Time
	edges map[*edge]float64
	svcs  map[[2]*node]float64
	depth int
}

// edgeLat is edge e's median latency in minute mm without noise, in ms.
func (m *Sim) edgeLat(c *latCtx, e *edge) float64 {
	if v, ok := c.edges[e]; ok {
		return v
	}
	c.edges[e] = 0 // a cycle adds nothing
	var L float64
	switch {
	case e.kind == edgeClient:
		var sum, w float64
		for _, ch := range e.children {
			x := m.sampled(ch.flow, c.mm)
			sum += x * m.edgeLat(c, ch)
			w += x
		}
		if w > 0 {
			L = sum / w
		}
		if e.callee.r.Type == investigate.TypeAPIGateway {
			L += 8
		} else {
			L += 2
		}
	case e.callee.r.Type == investigate.TypeService:
		if e.kind == edgeEntry {
			L = m.svcLat(c, e.callee, e.host)
		} else {
			hosts := e.callee.hosts
			if len(hosts) == 0 {
				L = m.svcLat(c, e.callee, nil) + 1
			} else {
				for _, h := range hosts {
					L += m.svcLat(c, e.callee, h)
				}
				L = L/float64(len(hosts)) + 1
			}
		}
	default:
		L = m.typeLatency(e.callee)
	}
	for _, it := range e.items {
		if it.Latency == nil {
			continue
		}
		if w := m.itemWeight(it, c.mm); w > 0 {
			L += (float64(*it.Latency)/float64(time.Millisecond) - L) * w
		}
	}
	c.edges[e] = L
	return L
}

// svcLat is service s's own median latency on host h in minute c.mm: its
// own work plus its calls from that host.
func (m *Sim) svcLat(c *latCtx, s, h *node) float64 {
	k := [2]*node{s, h}
	if v, ok := c.svcs[k]; ok {
		return v
	}
	c.svcs[k] = 0
	L := 35 * (0.9 + 0.2*unit(m.key("latency", s.r.ID)))
	for _, e := range m.edges {
		if e.kind == edgeCall && e.svc == s && e.host == h {
			L += m.edgeLat(c, e)
		}
	}
	c.svcs[k] = L
	return L
}

// minute computes edge e's traced requests in minute mm; recs holds the
// minute's records of edges before e.
func (m *Sim) minute(c *latCtx, e *edge, recs []minuteRec) minuteRec {
	mm := c.mm
	k := hi(e.key, mm.Unix())
	var r minuteRec
	if e.kind == edgeClient {
		byMsg := map[[2]any]int{}
		var order [][2]any
		var latSum float64
		for _, ch := range e.children {
			cr := recs[ch.idx]
			r.n += cr.n
			latSum += cr.lat * float64(cr.n)
			for _, f := range cr.fails {
				key := [2]any{f.kind, f.msg}
				if _, ok := byMsg[key]; !ok {
					order = append(order, key)
				}
				byMsg[key] += f.n
			}
		}
		// What the entry answered itself reached none of its edges.
		for _, f := range m.answeredFailures(e.callee, mm, k) {
			r.n += f.n
			key := [2]any{f.kind, f.msg}
			if _, ok := byMsg[key]; !ok {
				order = append(order, key)
			}
			byMsg[key] += f.n
		}
		counts := [3]int{}
		for _, key := range order {
			counts[key[0].(int)] += byMsg[key]
		}
		overridden := [3]bool{}
		var fails []failure
		for kind := 0; kind < 3; kind++ {
			share := 0.0
			if r.n > 0 {
				share = float64(counts[kind]) / float64(r.n)
			}
			msg, set := "", false
			for _, it := range e.items {
				p := itemShare(it.TraceItem, kind)
				if p == nil {
					continue
				}
				if w := m.itemWeight(it, mm); w > 0 {
					share += (*p - share) * w
					msg, set = it.Exception, true
				}
			}
			if !set {
				continue
			}
			overridden[kind] = true
			if msg == "" {
				msg = genericMsg(kind, e.callee, true)
			}
			if n := draw(r.n, share, hi(k, int64(kind))); n > 0 {
				fails = append(fails, failure{kind, msg, n})
			}
		}
		for _, key := range order {
			if kind := key[0].(int); !overridden[kind] && byMsg[key] > 0 {
				fails = append(fails, failure{kind, key[1].(string), byMsg[key]})
			}
		}
		r.fails = fails
		if r.n > 0 {
			r.lat = latSum / float64(r.n)
		}
		base := m.edgeLat(c, e)
		hasLat := false
		for _, it := range e.items {
			if it.Latency != nil && m.itemWeight(it, mm) > 0 {
				hasLat = true
			}
		}
		if hasLat || r.n == 0 {
			r.lat = base * (1 + 0.04*gauss(hi(k, 7)))
		} else if e.callee.r.Type == investigate.TypeAPIGateway {
			r.lat += 8
		} else {
			r.lat += 2
		}
		return r
	}

	r.n = poisson(m.sampled(e.flow, mm)*60, hi(e.flowKey, mm.Unix()))
	r.lat = m.edgeLat(c, e) * (1 + 0.04*gauss(hi(k, 7)))
	left := r.n
	for kind := 0; kind < 3; kind++ {
		share := healthyShare[kind]
		msg := ""
		for _, it := range e.items {
			p := itemShare(it.TraceItem, kind)
			anyShare := it.Fault != nil || it.Error != nil || it.Throttle != nil
			w := m.itemWeight(it, mm)
			if w <= 0 {
				continue
			}
			if p != nil {
				share += (*p - share) * w
			}
			if it.Exception != "" && (p != nil || !anyShare) {
				msg = it.Exception
			}
		}
		if msg == "" {
			msg = genericMsg(kind, e.callee, false)
		}
		n := min(left, draw(r.n, share, hi(k, int64(kind))))
		left -= n
		if n > 0 {
			r.fails = append(r.fails, failure{kind, msg, n})
		}
	}
	return r
}

// Traces aggregates the traced requests in [q.Start, q.End) by edge and
// instance. Requests are X-Ray's sampled counts: each host records the first
// request each second and 5% of the rest, and downstream edges carry the
// sampled share of their traces. Edges with no traced request in the window
// are left out.
func (m *Sim) Traces(ctx context.Context, q investigate.TraceQuery) ([]investigate.TraceGroup, error) {
	if err := m.call(ctx, KindTraces); err != nil {
		return nil, err
	}
	out := []investigate.TraceGroup{}
	lo, hiT, ok := m.clip(q.Start, q.End)
	if !ok {
		return out, nil
	}
	type acc struct {
		req, fault, errs, thr int
		latSum                float64
		exc                   map[string]int
		failMinutes, minutes  []time.Time
	}
	accs := make([]acc, len(m.edges))
	recs := make([]minuteRec, len(m.edges))
	for mm := lo.Truncate(time.Minute); mm.Before(hiT); mm = mm.Add(time.Minute) {
		c := &latCtx{mm: mm, edges: map[*edge]float64{}, svcs: map[[2]*node]float64{}}
		// Requests are spread evenly over the minute's telemetry.
		pa, pb := mm, mm.Add(time.Minute)
		if s := m.sc.Start(); pa.Before(s) {
			pa = s
		}
		if e := m.sc.End(); pb.After(e) {
			pb = e
		}
		for _, e := range m.edges {
			r := m.minute(c, e, recs)
			recs[e.idx] = r
			if r.n == 0 {
				continue
			}
			j0, j1 := portion(r.n, pa, pb, lo, hiT)
			if j1 <= j0 {
				continue
			}
			a := &accs[e.idx]
			a.req += j1 - j0
			a.latSum += r.lat * float64(j1-j0)
			a.minutes = append(a.minutes, mm)
			failed := 0
			for _, f := range r.fails {
				cnt := (j1*f.n)/r.n - (j0*f.n)/r.n
				if cnt <= 0 {
					continue
				}
				failed += cnt
				switch f.kind {
				case failFault:
					a.fault += cnt
				case failError:
					a.errs += cnt
				default:
					a.thr += cnt
				}
				if a.exc == nil {
					a.exc = map[string]int{}
				}
				a.exc[f.msg] += cnt
			}
			if failed > 0 {
				a.failMinutes = append(a.failMinutes, mm)
			}
		}
	}
	for _, e := range m.edges {
		a := &accs[e.idx]
		if a.req == 0 {
			continue
		}
		g := investigate.TraceGroup{
			Caller:    e.caller,
			Callee:    e.callee.r.ID,
			Instance:  e.instance(),
			Requests:  a.req,
			Faults:    a.fault,
			Errors:    a.errs,
			Throttles: a.thr,
			Latency:   time.Duration(math.Round(a.latSum/float64(a.req)*1000)) * time.Microsecond,
		}
		for msg, n := range a.exc {
			g.Exceptions = append(g.Exceptions, investigate.TraceException{Message: msg, Count: n})
		}
		sort.Slice(g.Exceptions, func(i, j int) bool {
			if g.Exceptions[i].Count != g.Exceptions[j].Count {
				return g.Exceptions[i].Count > g.Exceptions[j].Count
			}
			return g.Exceptions[i].Message < g.Exceptions[j].Message
		})
		mins := a.failMinutes
		if len(mins) == 0 {
			mins = a.minutes
		}
		g.TraceIDs = m.traceIDs(e, mins, lo, hiT)
		out = append(out, g)
	}
	return out, nil
}

// portion is the index range [j0, j1) of the n requests spread evenly over
// [pa, pb) that fall in [lo, hi).
func portion(n int, pa, pb, lo, hiT time.Time) (int, int) {
	if !pa.Before(pb) {
		return 0, 0
	}
	span := float64(pb.Sub(pa))
	idx := func(t time.Time) int {
		if !t.After(pa) {
			return 0
		}
		if !t.Before(pb) {
			return n
		}
		j := int(math.Ceil(float64(n)*float64(t.Sub(pa))/span - 0.5))
		return max(0, min(n, j))
	}
	return idx(lo), idx(hiT)
}

// traceIDs are up to three X-Ray trace ids from the first, middle and last
// of the given minutes.
func (m *Sim) traceIDs(e *edge, mins []time.Time, lo, hiT time.Time) []string {
	if len(mins) == 0 {
		return nil
	}
	pick := []time.Time{mins[0]}
	if len(mins) > 2 {
		pick = append(pick, mins[len(mins)/2])
	}
	if len(mins) > 1 {
		pick = append(pick, mins[len(mins)-1])
	}
	var ids []string
	for _, mm := range pick {
		h := hi(e.key^0x7472616365, mm.Unix())
		t := mm.Add(time.Duration(h%60) * time.Second)
		if t.Before(lo) {
			t = lo
		}
		if !t.Before(hiT) {
			t = hiT.Add(-time.Second)
		}
		ids = append(ids, fmt.Sprintf("1-%08x-%s%s", t.Unix(), hex(mix64(h), 16), hex(mix64(h^1), 8)))
	}
	return ids
}
