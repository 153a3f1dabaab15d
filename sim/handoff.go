package sim

import (
	"math"
	"strconv"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// What passes work on: SNS topics deliver each message published to every
// subscriber; Step Functions state machines run an execution per start,
// whose tasks call what the machine invokes.

// Namespaces of the hand-off types.
const (
	nsSNS    = "AWS/SNS"
	nsStates = "AWS/States"
)

// handoffTargets are what a topic or a state machine passes work to.
func (m *Sim) handoffTargets(n *node) []*node {
	ids := n.r.Subscribers
	if n.r.Type == investigate.TypeStepFunctions {
		ids = n.r.Invokes
	}
	var out []*node
	for _, id := range ids {
		if x, ok := m.byID[id]; ok {
			out = append(out, x)
		}
	}
	return out
}

// handoffTraffic gives a topic or a state machine what is published or
// started on it (a trickle when nothing calls it), and adds it to what it
// passes work to. It runs after the other resources' traffic is known, in
// the order of the file; a chain of topics and machines passes on what is
// known by then.
func (m *Sim) handoffTraffic(n *node) vec {
	v := n.flow
	if v.zero() {
		v = unitVec(m.addStream(&stream{base: m.background(n), hosts: 1}))
	}
	for _, x := range m.handoffTargets(n) {
		x.flow = x.flow.plus(v, 1)
	}
	return v
}

// handoffCatalogue is the healthy form of a topic's or a state machine's
// metrics.
func (m *Sim) handoffCatalogue(n *node) []*metricDef {
	S := m.step.Seconds()
	u := func(what string) float64 { return unit(m.key("level", n.r.ID, what)) }
	tr := func(t time.Time) float64 { return m.traffic(n.flow, t) }
	konst := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	pois := noise{noisePoisson, 0}
	traf := noise{noiseTraffic, 0}
	rel := func(x float64) noise { return noise{noiseRel, x} }
	var b defs
	targets := m.handoffTargets(n)

	switch n.r.Type {
	case investigate.TypeSNS:
		subs := float64(max(len(targets), 1))
		published := func(t time.Time) float64 { return tr(t) * S }
		b.count(nsSNS, "NumberOfMessagesPublished", traf, published)
		failed := func(t time.Time) float64 { return 0.0002 * subs * published(t) }
		b.count(nsSNS, "NumberOfNotificationsFailed", pois, failed)
		// What fails is not delivered.
		b.count(nsSNS, "NumberOfNotificationsDelivered", traf, func(t time.Time) float64 {
			return math.Max(0, subs*m.levelOf(n, nsSNS, "NumberOfMessagesPublished", t, published(t))-m.levelOf(n, nsSNS, "NumberOfNotificationsFailed", t, failed(t)))
		})
		b.count(nsSNS, "NumberOfNotificationsFilteredOut", pois, konst(0))
		b.gauge(nsSNS, "PublishSize", rel(0.1), konst(700+900*u("size"))).samples = samplesTraffic

	case investigate.TypeStepFunctions:
		started := func(t time.Time) float64 { return tr(t) * S }
		b.count(nsStates, "ExecutionsStarted", traf, started)
		failed := func(t time.Time) float64 { return 0.001 * started(t) }
		b.count(nsStates, "ExecutionsFailed", pois, failed)
		b.count(nsStates, "ExecutionsTimedOut", pois, konst(0))
		b.count(nsStates, "ExecutionsAborted", pois, konst(0))
		b.count(nsStates, "ExecutionThrottled", pois, konst(0))
		// What fails, times out or is aborted does not succeed.
		b.count(nsStates, "ExecutionsSucceeded", traf, func(t time.Time) float64 {
			out := m.levelOf(n, nsStates, "ExecutionsStarted", t, started(t))
			for _, name := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} {
				out -= m.levelOf(n, nsStates, name, t, 0)
			}
			return math.Max(0, out)
		})
		// An execution takes its tasks' time, one after the other, plus
		// the transitions between them.
		d := b.gauge(nsStates, "ExecutionTime", rel(0.06), func(t time.Time) float64 {
			ms := 40 + 30*u("overhead")
			for _, x := range targets {
				ms += m.typeLatency(x)
			}
			return ms
		})
		d.samples = samplesTraffic
	}
	return b.out
}

// handoffConfig is a topic's or a state machine's settings.
func (n *node) handoffConfig(set func(k, v string)) {
	switch n.r.Type {
	case investigate.TypeSNS:
		set("subscribers", strconv.Itoa(len(n.r.Subscribers)))
	case investigate.TypeStepFunctions:
		w := n.r.Workflow
		if w == "" {
			w = "standard"
		}
		set("workflow", w)
	}
}

// handoffRelations: a topic calls its subscribers, a state machine what it
// invokes.
func (m *Sim) handoffRelations(n *node) []investigate.Relation {
	var out []investigate.Relation
	for _, x := range m.handoffTargets(n) {
		out = append(out, investigate.Relation{From: n.r.ID, To: x.r.ID, Kind: investigate.RelCalls})
	}
	return out
}
