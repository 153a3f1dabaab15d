package sim

import (
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Traffic. Every request in the simulated account starts at a stream: an
// entry resource (its rps, scaled over time by any metric item on its request
// metric) or a background source (a service, function, table or queue that no
// entry feeds, so that it is not silent). A resource's traffic is a fixed
// linear combination of the streams, worked out once from the topology:
//
//   - an entry's rps is split evenly over its targets (an Auto Scaling group
//     target over its instances);
//   - a service receives the traffic of the entries that target the hosts it
//     runs on (shared with any other service on the same host), plus what
//     its callers send it, spread over its hosts;
//   - each calls edge carries the caller's whole traffic.

// vec is a combination of streams: coefficient i applies to stream i.
type vec []float64

func unitVec(i int) vec {
	v := make(vec, i+1)
	v[i] = 1
	return v
}

// plus returns a + k*b.
func (a vec) plus(b vec, k float64) vec {
	out := make(vec, max(len(a), len(b)))
	copy(out, a)
	for i, x := range b {
		out[i] += k * x
	}
	return out
}

func (a vec) zero() bool {
	for _, x := range a {
		if x > 1e-12 {
			return false
		}
	}
	return true
}

// stream is a source of requests.
type stream struct {
	base  float64 // requests per second at the healthy level
	entry *node   // the entry whose request metric scales it; nil for background
	hosts int     // hosts that share it at its first hop (X-Ray's reservoir is per host)
	req   *series // the entry's request series, set once series exist
	// answered, when set, is the requests per second at t that the entry
	// answers itself (traffic items it throttles or fails): they count in
	// its request series but go no further.
	answered func(t time.Time) float64
}

// rate is the stream's requests per second at t.
func (m *Sim) rate(i int, t time.Time) float64 {
	st := m.streams[i]
	if st.req == nil || (len(st.req.items) == 0 && st.answered == nil) {
		return st.base
	}
	healthy := st.base * m.step.Seconds()
	if healthy <= 0 {
		return st.base
	}
	r := st.base * st.req.level(m, t) / healthy
	if st.answered != nil {
		r = max(0, r-st.answered(t))
	}
	return r
}

// traffic is the requests per second of combination v at t.
func (m *Sim) traffic(v vec, t time.Time) float64 {
	var sum float64
	for i, k := range v {
		if k != 0 {
			sum += k * m.rate(i, t)
		}
	}
	return sum
}

// healthyTraffic is v's requests per second with every stream at its base.
func (m *Sim) healthyTraffic(v vec) float64 {
	var sum float64
	for i, k := range v {
		sum += k * m.streams[i].base
	}
	return sum
}

// sampled is the requests per second X-Ray samples of v at t: each host
// records the first request each second and 5% of the rest.
func (m *Sim) sampled(v vec, t time.Time) float64 {
	var sum float64
	for i, k := range v {
		if k == 0 {
			continue
		}
		r := m.rate(i, t)
		h := float64(max(m.streams[i].hosts, 1))
		per := r / h
		if per <= 0 {
			continue
		}
		f := (min(per, 1) + 0.05*max(per-1, 0)) / per
		sum += k * r * f
	}
	return sum
}

func (m *Sim) addStream(st *stream) int {
	m.streams = append(m.streams, st)
	return len(m.streams) - 1
}

// background is the rate a resource nothing feeds runs at.
func (m *Sim) background(n *node) float64 {
	u := unit(m.key("background", n.r.ID))
	switch n.r.Type {
	case investigate.TypeService, investigate.TypeLambda:
		return 1 + 2*u
	case investigate.TypeEC2, investigate.TypeECS:
		return 3 + 4*u
	case investigate.TypeRDS:
		return 5 + 10*u
	}
	return 1 + 2*u
}

func (m *Sim) buildTraffic() {
	hostEntry := map[*node]vec{} // entry traffic reaching each host
	direct := map[*node]vec{}    // entry or background traffic reaching a service directly
	other := map[*node]vec{}     // entry traffic reaching anything else

	for _, e := range m.nodes {
		if !e.isEntry() {
			continue
		}
		st := &stream{base: e.rps(), entry: e}
		i := m.addStream(st)
		e.flow = unitVec(i)
		hosts := map[*node]bool{}
		n := float64(len(e.targets))
		for _, t := range e.targets {
			share := 1 / n
			switch {
			case t.isHost():
				hostEntry[t] = hostEntry[t].plus(e.flow, share)
				hosts[t] = true
			case t.r.Type == investigate.TypeASG && len(t.members) > 0:
				for _, mb := range t.members {
					hostEntry[mb] = hostEntry[mb].plus(e.flow, share/float64(len(t.members)))
					hosts[mb] = true
				}
			case t.r.Type == investigate.TypeService:
				direct[t] = direct[t].plus(e.flow, share)
				for _, h := range t.hosts {
					hosts[h] = true
				}
			default:
				other[t] = other[t].plus(e.flow, share)
				hosts[t] = true
			}
		}
		st.hosts = reservoirs(hosts)
	}

	// Services that nothing feeds run on background traffic.
	for _, s := range m.nodes {
		if s.r.Type != investigate.TypeService || len(s.callers) > 0 || !direct[s].zero() {
			continue
		}
		fed := false
		for _, h := range s.hosts {
			if !hostEntry[h].zero() {
				fed = true
			}
		}
		if !fed {
			i := m.addStream(&stream{base: m.background(s), hosts: reservoirs(hostSet(s.hosts))})
			direct[s] = unitVec(i)
		}
	}

	var flows map[*node]vec
	var callIn func(s *node) vec
	var flowOf func(s *node) vec
	onHost := func(s, h *node) vec {
		v := vec(nil).plus(hostEntry[h], 1/float64(len(h.services)))
		return v.plus(direct[s].plus(callIn(s), 1), 1/float64(len(s.hosts)))
	}
	flowOf = func(s *node) vec {
		if v, ok := flows[s]; ok {
			return v
		}
		flows[s] = nil // a call cycle adds nothing
		var v vec
		if len(s.hosts) == 0 {
			v = direct[s].plus(callIn(s), 1)
		} else {
			for _, h := range s.hosts {
				v = v.plus(onHost(s, h), 1)
			}
		}
		flows[s] = v
		return v
	}
	callIn = func(s *node) vec {
		var v vec
		for _, c := range s.callers {
			v = v.plus(flowOf(c), 1)
		}
		return v
	}
	for pass := 0; pass < 3; pass++ {
		flows = map[*node]vec{}
		again := false
		for _, s := range m.nodes {
			if s.r.Type == investigate.TypeService && flowOf(s).zero() {
				i := m.addStream(&stream{base: m.background(s), hosts: reservoirs(hostSet(s.hosts))})
				direct[s] = direct[s].plus(unitVec(i), 1)
				again = true
			}
		}
		if !again {
			break
		}
	}
	flows = map[*node]vec{}
	for _, s := range m.nodes {
		if s.r.Type != investigate.TypeService {
			continue
		}
		s.flow = flowOf(s)
		s.onHost = map[*node]vec{}
		for _, h := range s.hosts {
			s.onHost[h] = onHost(s, h)
		}
	}

	for _, n := range m.nodes {
		switch {
		case n.isEntry() || n.r.Type == investigate.TypeService:
			continue
		case n.isHost():
			v := hostEntry[n]
			for _, s := range n.services {
				v = v.plus(direct[s].plus(callIn(s), 1), 1/float64(len(s.hosts)))
			}
			n.flow = v
		default:
			v := other[n]
			for _, c := range n.callers {
				v = v.plus(c.flow, 1)
			}
			n.flow = v
		}
		if n.flow.zero() && n.is(investigate.TypeEC2, investigate.TypeECS, investigate.TypeLambda,
			investigate.TypeDynamoDB, investigate.TypeSQS, investigate.TypeRDS) {
			n.flow = unitVec(m.addStream(&stream{base: m.background(n), hosts: reservoirs(hostSet([]*node{n}))}))
		}
	}
	m.taskFlows()
	for _, a := range m.nodes {
		if a.r.Type == investigate.TypeASG {
			var v vec
			for _, mb := range a.members {
				v = v.plus(mb.flow, 1)
			}
			a.flow = v
		}
	}
	m.infraTraffic()
}

func hostSet(list []*node) map[*node]bool {
	set := map[*node]bool{}
	for _, n := range list {
		set[n] = true
	}
	return set
}

// reservoirs is how many X-Ray reservoirs the hosts have: one per instance
// or function, one per ECS task.
func reservoirs(hosts map[*node]bool) int {
	n := 0
	for h := range hosts {
		if h.r.Type == investigate.TypeECS {
			n += h.tasks()
		} else {
			n++
		}
	}
	return max(n, 1)
}
