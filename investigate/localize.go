package investigate

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file localizes the fault on the dependency graph: every resource's
// signals are scored against their own normal (anomaly.go), and the walk from
// the alarm's resource down every relation it depends through (targets,
// runs-on, calls, and what the services on a host call) finds the deepest
// anomalous resource that explains the anomalies above it. A hop that only
// passes a slower or failing callee along — a load balancer, a gateway, a
// function waiting on a table — is discounted by how much of its own move
// what it calls accounts for.

// class is the kind of symptom a signal shows.
type class int

const (
	classLatency class = iota
	classErrors
	classTraffic
	// classState is a resource's own health apart from what its callers
	// see: a replica falling behind, a failed status check, a log pattern
	// that stopped, load its callers did not send. It explains its callers'
	// latency and errors.
	classState
)

func (c class) String() string {
	switch c {
	case classLatency:
		return "latency"
	case classErrors:
		return "errors"
	case classState:
		return "health"
	}
	return "traffic"
}

// classOf is the class of a metric role, and false for roles that are no
// symptom a caller sees.
func classOf(ro role) (class, bool) {
	switch ro {
	case roleLatency:
		return classLatency, true
	case roleErrors, roleThrottles:
		return classErrors, true
	case roleRequests, roleConsumedRead, roleConsumedWrite:
		return classTraffic, true
	case roleHealth, roleLag, roleLimitHit, roleQueue:
		// A backlog is not here: a queue's depth grows with what is sent
		// to it, and its senders do not wait on it.
		return classState, true
	}
	return 0, false
}

// Units of a signal's magnitude, which decide whether two magnitudes can be
// compared.
const (
	magMS    = "ms"
	magCount = "count"
	magShare = "share"
	magLines = "lines"
)

// signal is one scored reading of a resource.
type signal struct {
	node  string
	class class
	a     anomaly
	// mag is the move in magUnit: milliseconds, failures per period or a
	// share of calls.
	mag     float64
	magUnit string
	// what says what was measured, for the finding: "TargetResponseTime",
	// "traced calls from web to orders".
	what  string
	unit  string
	start time.Time
	// finding is built from the signal when it is cited.
	kind     FindingKind
	series   string
	spec     metricSpec
	link     string
	throttle bool // most of the failures are throttles
	note     string
	// caller is the calling resource of a traced edge's signal.
	caller string
	// vanished marks a log pattern that stopped.
	vanished bool
	// load marks a rise of load that its known callers did not send.
	load bool
	// confined are the instances an edge's anomaly is confined to (those
	// that served the edge's requests: the caller's for a service's calls,
	// the callee's behind an entry), when it shows on fewer than half of
	// them: what differs is on those instances, not at the callee.
	confined []string
}

// confinedTo returns the instances serving an edge that alone show its
// anomaly, or nil when it shows on half of them or more (or the edge is
// served by fewer than two). keys are the edge's per-instance keys of before
// and during.
func confinedTo(keys []string, before, during map[string]*edgeStats, c class) []string {
	var bad []string
	for _, k := range keys {
		e := during[k]
		pb := before[k]
		nb, rate, lat := 0, 0.0, time.Duration(0)
		if pb != nil {
			nb, rate, lat = pb.requests, pb.failRate(), pb.latency
		}
		var a anomaly
		if c == classLatency {
			a = meanAnomaly(lat, nb, e.latency, e.requests)
		} else {
			a = shareAnomaly(rate, nb, e.failRate(), e.requests)
		}
		if a.z >= anomalyZ {
			bad = append(bad, instanceOf(k))
		}
	}
	if len(keys) < 2 || len(bad) == 0 || 2*len(bad) >= len(keys) {
		return nil
	}
	sort.Strings(bad)
	return bad
}

// byServedEdge groups per-instance edge keys ("caller>callee@instance") by
// their edge, leaving out those whose instance is unknown.
func byServedEdge(perInstance map[string]*edgeStats) map[string][]string {
	out := map[string][]string{}
	for k := range perInstance {
		if at := strings.LastIndex(k, "@"); at >= 0 && k[at+1:] != "" {
			out[k[:at]] = append(out[k[:at]], k)
		}
	}
	return out
}

// instanceOf is the instance of a per-instance edge key.
func instanceOf(key string) string {
	return key[strings.LastIndex(key, "@")+1:]
}

// nodeSignals are the strongest signal of each resource in one class, and the
// resources that have any reading of that class at all.
type nodeSignals struct {
	best    map[string]*signal
	hasData map[string]bool
	// measured are the resources with metrics of their own, which see
	// every request, rather than only sampled traces of calls into them or
	// logs: only those can show that a fault did not pass through them.
	measured map[string]bool
	// async are the edges ("caller>callee") that cannot be synchronous.
	async map[string]bool
}

// scoredSignals reads every signal of every resource in scope, once per
// investigation: metrics of the catalogue, traced calls into each resource,
// and error lines in each service's logs.
func (r *run) scoredSignals(ctx context.Context) map[class]*nodeSignals {
	out := map[class]*nodeSignals{}
	for _, c := range []class{classLatency, classErrors, classTraffic, classState} {
		out[c] = &nodeSignals{best: map[string]*signal{}, hasData: map[string]bool{}, measured: map[string]bool{}}
	}
	keep := func(s *signal) {
		ns := out[s.class]
		ns.hasData[s.node] = true
		// Logs say something when they show errors; their silence is no
		// sign that a fault did not pass, since many services do not log
		// what their calls do.
		if s.kind == FindingMetric {
			ns.measured[s.node] = true
		}
		if b := ns.best[s.node]; b == nil || s.a.z > b.a.z {
			ns.best[s.node] = s
		}
	}
	r.metricSignals(ctx, keep)
	async := r.traceSignals(ctx, keep)
	for _, ns := range out {
		ns.async = async
	}
	r.logSignals(ctx, keep)
	for _, s := range r.unexplainedLoad(out[classTraffic]) {
		keep(s)
	}
	return out
}

// metricSignals scores the catalogue's metrics of every resource in scope.
func (r *run) metricSignals(ctx context.Context, keep func(*signal)) {
	base, during := r.metricBaseline(), r.metricDuring()
	for _, id := range r.g.inScope() {
		res := r.g.byID[id]
		for _, spec := range catalog[res.Type] {
			c, ok := classOf(spec.Role)
			if spec.Role == roleClientErrors && r.symptom.Role == roleClientErrors {
				// An alarm on client errors makes them the symptom.
				c, ok = classErrors, true
			}
			if !ok {
				continue
			}
			s, ok := r.series(ctx, id, spec)
			var a anomaly
			if ok {
				a, ok = seriesAnomaly(s, spec, base, during)
			}
			avg, haveAvg := a, ok
			read, key, what := spec, metricKey(id, spec), spec.Name
			// A latency is judged at its p99 where it was read: a slow
			// tail shows there while the average barely moves.
			if ts, tspec, tok := r.tailSeries(ctx, id, spec); tok {
				if ta, tok := seriesAnomaly(ts, tspec, base, during); tok {
					s, a, ok = ts, ta, true
					read, key, what = tspec, tailKey(id, spec), spec.Name+" "+tailStat
				}
			}
			if !ok {
				continue
			}
			sig := &signal{node: id, class: c, a: a, what: what, unit: r.unit(id, spec),
				kind: FindingMetric, series: key, spec: read, link: r.metricLink(id, read)}
			sig.mag, sig.magUnit = a.delta(spec.Role.rises()), magCount
			if c == classLatency {
				// The move's size is the average's where there is one, so
				// that it compares with the mean latency of traced calls
				// and with other averages; a tail compares only with tails.
				sig.mag, sig.magUnit = toMS(spec, sig.mag), magMS
				if read.Stat == tailStat {
					sig.magUnit = magMS + " " + tailStat
					if haveAvg {
						sig.mag, sig.magUnit = toMS(spec, avg.delta(true)), magMS
					}
				}
			}
			sig.throttle = spec.Role == roleThrottles
			if t, _, found := departure(s, base, window{base.start, r.telemetry.end}, dirOf(spec), a.spread*anomalyZ/2, isCount(spec)); found {
				sig.start = t
			}
			keep(sig)
		}
	}
}

// traceSignals scores the failed share and the latency of the traced calls
// into each resource, edge by edge.
//
// It returns the edges that cannot be synchronous: the time spent in them
// before the onset is many times what the requests into the alarm's resource
// took in all. Such a call (a workflow started, a message sent) does not
// hold the alarm's requests up, nor fail them.
func (r *run) traceSignals(ctx context.Context, keep func(*signal)) map[string]bool {
	before, dur, ok := r.traces(ctx)
	if !ok {
		return nil
	}
	b, d := byEdge(before, false), byEdge(dur, false)
	async := map[string]bool{}
	if root := b["client>"+r.g.root]; root != nil && root.requests > 0 {
		total := float64(root.requests) * float64(root.latency)
		for k, e := range b {
			// An entry waits for its targets; only a service's calls can
			// be fire-and-forget.
			if r.g.typeOf(e.caller) == TypeService && float64(e.requests)*float64(e.latency) > asyncRatio*total {
				async[k] = true
			}
		}
	}
	bi, di := byEdge(before, true), byEdge(dur, true)
	served := byServedEdge(di)
	for _, k := range slices.Sorted(maps.Keys(d)) {
		e := d[k]
		if !r.g.has(e.callee) {
			continue
		}
		pb := b[k]
		nb, bRate, bLat := 0, 0.0, time.Duration(0)
		if pb != nil {
			nb, bRate, bLat = pb.requests, pb.failRate(), pb.latency
		}
		from := "traced requests into " + e.callee
		if e.caller != "client" {
			from = "traced calls from " + e.caller + " to " + e.callee
		}
		fa := shareAnomaly(bRate, nb, e.failRate(), e.requests)
		keep(&signal{node: e.callee, caller: e.caller, class: classErrors, a: fa, mag: fa.during - fa.before, magUnit: magShare,
			what: from, unit: "% failed", kind: FindingTrace, link: r.traceLink(e.traceIDs),
			throttle: e.failures > 0 && 2*e.throttles >= e.failures, note: e.topException(), start: r.onset,
			confined: confinedTo(served[k], bi, di, classErrors)})
		if la := meanAnomaly(bLat, nb, e.latency, e.requests); la.spread > 0 {
			keep(&signal{node: e.callee, caller: e.caller, class: classLatency, a: la, mag: la.during - la.before, magUnit: magMS,
				what: from, unit: "ms", kind: FindingTrace, link: r.traceLink(e.traceIDs), start: r.onset,
				confined: confinedTo(served[k], bi, di, classLatency)})
		}
	}
	return async
}

// logSignals scores the error lines of each log group in scope, and the
// patterns that stopped.
func (r *run) logSignals(ctx context.Context, keep func(*signal)) {
	owners := r.g.logGroups()
	for _, group := range r.sortedGroups() {
		before, dur, ok := r.logs(ctx, group)
		if !ok || before.Lines+dur.Lines == 0 {
			continue
		}
		nb, nd, top, topN := 0, 0, "", 0
		for _, ps := range r.patternShifts(before, dur) {
			if !isErrorLine(ps.pattern.Pattern) {
				continue
			}
			nd += ps.pattern.Count
			if ps.pattern.Count > topN && ps.during > ps.before {
				top, topN = ps.pattern.Sample, ps.pattern.Count
			}
		}
		for _, p := range before.Patterns {
			if isErrorLine(p.Pattern) {
				nb += p.Count
			}
		}
		a := poissonAnomaly(nb, r.baseline.end.Sub(r.baseline.start), nd, r.during.end.Sub(r.during.start))
		if a.spread == 0 {
			continue
		}
		keep(&signal{node: owners[group], class: classErrors, a: a, mag: a.during - a.before, magUnit: magLines,
			what: "error lines in " + group, unit: "lines", kind: FindingLog, link: r.logsLink(group), note: top, start: r.onset})
		if s := r.vanished(group, owners[group], before, dur); s != nil {
			keep(s)
		}
	}
}

// nearestAbove are the first resources with readings of the class above id
// (what depends on it), looking through those without readings.
func (r *run) nearestAbove(ns *nodeSignals, id string) []string {
	return nearest(ns, id, r.g.dependents)
}

// surge is how many times its usual level a traffic signal rose to.
func surge(s *signal) float64 {
	switch {
	case s == nil:
		return 0
	case s.a.before <= 0 && s.a.during > 0:
		return math.Inf(1) // from nothing
	case s.a.before <= 0:
		return 0
	}
	return s.a.during / s.a.before
}

// unexplainedLoad finds the resources whose load rose at the onset more than
// any of the resources that call them sent: a client the topology does not
// know (a batch job, a script, a retry storm from elsewhere) hammers them.
// Each becomes a health signal of its own, so that it explains what its
// callers suffer, and is marked so that it can be typed as a change in the
// system's inputs.
func (r *run) unexplainedLoad(traffic *nodeSignals) []*signal {
	var out []*signal
	for _, id := range r.g.inScope() {
		// Counts in the thousands make any small rise significant, and a
		// few messages where there were none are no flood: load that
		// hammers a resource is at least half again its usual, and far
		// past its noise.
		s := traffic.best[id]
		if s == nil || s.a.z < 2*anomalyZ || surge(s) < 1.5 {
			continue
		}
		// The nearest resources above it that count their traffic: if none
		// does, nothing says where the load came from.
		// Any rise above it explains it: a cache that misses or a retry
		// multiplies what the callers send.
		above := r.nearestAbove(traffic, id)
		explained := len(above) == 0
		for _, d := range above {
			if ds := traffic.best[d]; anomalous(ds) && surge(ds) >= 1.2 {
				explained = true
				break
			}
		}
		// An entry's traffic comes from its clients: the traffic check
		// weighs it. A queue takes what it is sent without slowing its
		// senders: more messages strain its consumers, not the path.
		if explained || r.g.typeOf(id) == TypeALB || r.g.typeOf(id) == TypeAPIGateway || r.g.typeOf(id) == TypeSQS {
			continue
		}
		u := *s
		u.class, u.load = classState, true
		out = append(out, &u)
	}
	return out
}

// vanished is the strongest log pattern of a group that stopped at the onset
// while the group kept writing: a fault that only stops a job, a consumer
// or a code path shows nowhere else.
func (r *run) vanished(group, owner string, before, during LogStats) *signal {
	bLen, dLen := r.baseline.end.Sub(r.baseline.start), r.during.end.Sub(r.during.start)
	now := map[string]int{}
	for _, p := range during.Patterns {
		now[p.Pattern] = p.Count
	}
	var best *signal
	for _, p := range before.Patterns {
		// A warning or an error that stops is a recovery, not a fault:
		// only the lines of normal work count when they fall silent.
		if isErrorLine(p.Pattern) || warns(p.Pattern) {
			continue
		}
		// A pattern expected fewer than 10 times can be absent by chance
		// (one in twenty thousand at 10); one that kept a fifth of its
		// rate did not stop.
		a := poissonAnomaly(p.Count, bLen, now[p.Pattern], dLen)
		if a.before < 10 || a.during > 0.2*a.before {
			continue
		}
		// The rest of the group must go on: when everything falls quiet,
		// traffic fell, and no one path stopped.
		rest := poissonAnomaly(before.Lines-p.Count, bLen, during.Lines-now[p.Pattern], dLen)
		if rest.before == 0 || rest.during < 0.6*rest.before {
			continue
		}
		// Scored as how surprising its absence is: far below its usual rate.
		a.z = lowTailZ(a.during, a.before)
		if best == nil || a.z > best.a.z {
			best = &signal{node: owner, class: classState, a: a, mag: a.before - a.during, magUnit: magLines,
				what: "a log pattern of " + group + " that stopped", unit: "lines", kind: FindingLog,
				link: r.logsLink(group), note: p.Sample, start: r.onset, vanished: true}
		}
	}
	return best
}

// warns reports whether a log pattern is at the warning level.
func warns(p string) bool {
	lower := strings.ToLower(strings.TrimSpace(p))
	return strings.HasPrefix(lower, "warn") || strings.Contains(lower, " warn ") || strings.Contains(lower, "[warn")
}

// dirOf is departure's direction for a metric: 1 when it rises when bad.
func dirOf(spec metricSpec) int {
	if spec.Role.rises() {
		return 1
	}
	return -1
}

// metricBaseline is the window metrics are scored against: everything before
// the datapoint that holds the onset, less a gap that keeps a ramp into the
// onset out of it. On coarse data the gap would cost the one or two rows
// there are, and the median already ignores a ramp's first point.
func (r *run) metricBaseline() window {
	if gap := r.rampGap(); gap > 0 {
		return window{r.telemetry.start, r.onset.Add(-gap)}
	}
	return window{r.telemetry.start, r.metricDuring().start}
}

// rampGap is how long before the onset baselines stop, to keep a ramp into
// it out of them: none on coarse data, where it would cost the one or two
// rows there are.
func (r *run) rampGap() time.Duration {
	if r.step >= baselineGap {
		return 0
	}
	return baselineGap
}

// metricDuring is the window of datapoints since the onset. A datapoint is
// stamped with the start of its period and covers the period, so the one
// that holds the onset may be stamped up to a period before it.
func (r *run) metricDuring() window {
	return window{r.onset.Add(-r.step + time.Nanosecond), r.telemetry.end}
}

// confinedShare is what a callee keeps of its score when the calls into it
// fail or slow down from a few of its caller's hosts only.
const confinedShare = 0.3

// unseenPath is what a path loses through a resource with no readings of its
// own in the class.
const unseenPath = 0.85

// asyncRatio is how many times the time the alarm's requests took in all a
// call edge must take before the onset to be no synchronous part of them,
// and asyncPath what a path loses through such an edge. The margin is wide:
// a call made by a few of the requests may well take longer than the
// average request.
const (
	asyncRatio = 10
	asyncPath  = 0.3
)

// otherClass is what a resource keeps of its score when its anomaly is of
// another class than the alarm's (errors under a latency alarm, its own
// health): it may explain the alarm, less directly.
const otherClass = 0.7

// blockedPath is how much a path loses through a resource that has readings
// of the symptom's class and shows nothing: the fault is unlikely to have
// passed through it, but a reading can miss what a few calls saw.
const blockedPath = 0.4

// walk finds, for one class, how well each resource is connected to the alarm
// through anomalous resources: 1 on a path where every resource with metrics
// is anomalous, less through each one that is not (blockedPath), and less
// for each resource with no metrics since the last anomalous one
// (unseenPath): an anomalous resource on the way is evidence that the fault
// passed there, which its unmeasured neighbours are not. Less again through
// a call that cannot be synchronous (asyncPath).
func (r *run) walk(ns *nodeSignals) map[string]float64 {
	type state struct{ anchor, cur float64 }
	reach := map[string]state{r.g.root: {1, 1}}
	queue := []string{r.g.root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		arrived := reach[id]
		st := arrived
		switch {
		case id == r.g.root:
		case ns.measured[id] && anomalous(ns.best[id]):
			st = state{st.anchor, st.anchor}
		case ns.measured[id]:
			st = state{st.cur * blockedPath, st.cur * blockedPath}
		default:
			st.cur *= unseenPath
		}
		for _, d := range r.g.dependencies(id) {
			next := st
			if r.g.samePart(id, d) {
				// A service and its host are one part: going from one to
				// the other is no step along the path.
				next = arrived
			}
			if ns.async[id+">"+d] {
				next = state{st.anchor * asyncPath, st.cur * asyncPath}
			}
			if old, seen := reach[d]; !seen || next.cur > old.cur+1e-9 || (next.cur > old.cur-1e-9 && next.anchor > old.anchor+1e-9) {
				reach[d] = next
				queue = append(queue, d)
			}
		}
	}
	// A resource is as well connected as the path that reaches it: its own
	// anomaly is evidence for what lies below it, not for itself.
	out := make(map[string]float64, len(reach))
	for id, st := range reach {
		out[id] = st.cur
	}
	return out
}

// zOr0 is a signal's score, or 0 for none.
func (s *signal) zOr0() float64 {
	if s == nil {
		return 0
	}
	return s.a.z
}

func anomalous(s *signal) bool {
	return s != nil && s.a.z >= anomalyZ
}

// nearestBelow are the first resources with readings of the class below id,
// looking through those without readings.
func (r *run) nearestBelow(ns *nodeSignals, id string) []string {
	return nearest(ns, id, r.g.dependencies)
}

// nearest walks from id along next and returns the first resources with
// readings of the class on each way.
func nearest(ns *nodeSignals, id string, next func(string) []string) []string {
	seen := map[string]bool{id: true}
	var out []string
	queue := next(id)
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if seen[x] {
			continue
		}
		seen[x] = true
		if ns.hasData[x] {
			out = append(out, x)
			continue
		}
		queue = append(queue, next(x)...)
	}
	sort.Strings(out)
	return out
}

// explained is how much of a resource's move what it depends on accounts
// for, 0 to 1: the nearest anomalous resources below it (in its class, or in
// their own health), each weighed by its own strength, by the share of the
// move it can carry where the two moves are in the same unit, and by
// blockedPath for each resource between them that shows nothing.
func (r *run) explained(ns *nodeSignals, alt []altClass, id string) float64 {
	s := ns.best[id]
	if s == nil {
		return 0
	}
	weight := map[string]float64{id: 1}
	queue := []string{id}
	var sum float64
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		w := weight[x]
		for _, c := range r.g.dependencies(x) {
			if _, seen := weight[c]; seen {
				continue
			}
			if r.g.samePart(id, c) {
				// A service and the hosts it runs on are one part: what
				// the host shows is the service's own, not its cause.
				weight[c] = w
				queue = append(queue, c)
				continue
			}
			// How well c's own anomaly accounts for the move: in the same
			// class by the share of the move it carries, in another (its
			// health; failures that a caller retries and waits on) as far
			// as that class passes.
			var best float64
			if cs := ns.best[c]; anomalous(cs) {
				ratio := 1.0
				if cs.magUnit == s.magUnit && s.mag > 0 {
					ratio = math.Min(1, cs.mag/s.mag)
				}
				best = ratio * real(cs.a.z)
			}
			for _, a := range alt {
				if as := a.ns.best[c]; anomalous(as) {
					best = math.Max(best, a.weight*real(as.a.z))
				}
			}
			if best > 0 {
				weight[c] = w
				sum += w * best
				continue
			}
			cw := w
			if ns.measured[c] {
				cw *= blockedPath
			}
			weight[c] = cw
			queue = append(queue, c)
		}
	}
	return math.Min(1, sum)
}

// altClass is another class whose anomalies explain a resource's, and how
// far.
type altClass struct {
	ns     *nodeSignals
	weight float64
}

// localized is a resource the walk ends at, before it is named and typed.
type localized struct {
	node   string
	class  class
	score  float64
	sig    *signal
	reach  float64
	unexpl float64
	// below are the resources just below it that show nothing.
	quiet []string
}

// localize walks each symptom class and scores every anomalous resource by
// its strength, what it leaves unexplained and how it connects to the alarm.
func (r *run) localize(sigs map[class]*nodeSignals) []localized {
	var out []localized
	reaches := map[class]map[string]float64{}
	for _, c := range r.symptomClasses() {
		ns := sigs[c]
		reach := r.walk(ns)
		if c == classState {
			// A resource's own health does not pass up to its callers;
			// what does is the symptom, so the symptom's path stands.
			reach = reaches[r.primaryClass()]
		}
		reaches[c] = reach
		for id, p := range reach {
			s := ns.best[id]
			if !anomalous(s) {
				continue
			}
			ex := r.explained(ns, r.explainers(sigs, c), id)
			score := strength(s.a.z) * (1 - ex) * p
			if len(s.confined) > 0 {
				score *= confinedShare
			}
			if c != r.primaryClass() {
				score *= otherClass
			}
			var quiet []string
			for _, b := range r.nearestBelow(ns, id) {
				if !anomalous(ns.best[b]) {
					quiet = append(quiet, b)
				}
			}
			out = append(out, localized{node: id, class: c, score: score, sig: s, reach: p, unexpl: 1 - ex, quiet: quiet})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		if out[i].sig.a.z != out[j].sig.a.z {
			return out[i].sig.a.z > out[j].sig.a.z
		}
		return out[i].node < out[j].node // only to keep runs alike
	})
	return out
}

// explainers are the other classes whose anomalies below a resource explain
// its anomaly of class c: the resources' own health fully, and for latency
// the failures below it as far as they are retried and waited on. A slower
// callee explains its callers' failures only by timing out, which its own
// calls then show as failures.
func (r *run) explainers(sigs map[class]*nodeSignals, c class) []altClass {
	alt := []altClass{{sigs[classState], 1}}
	if c == classLatency {
		alt = append(alt, altClass{sigs[classErrors], otherClass})
	}
	return alt
}

// primaryClass is the class of the alarm's own symptom.
func (r *run) primaryClass() class {
	switch r.symptom.Role {
	case roleLatency:
		return classLatency
	case roleRequests:
		return classTraffic
	}
	return classErrors
}

// symptomClasses are the classes the walk follows: the alarm's, the other of
// latency and errors, since a callee timing out shows as both, and the
// resources' own health.
func (r *run) symptomClasses() []class {
	if r.primaryClass() == classLatency {
		return []class{classLatency, classErrors, classState}
	}
	return []class{classErrors, classLatency, classState}
}

// culpritOf names the resource to act on for an anomalous one: an entry
// resource passes on what its single target (or the one service on its
// targets) does — unless that target's own metrics show nothing, and the
// entry itself answers so (a gateway's own throttling or authorizer).
func (r *run) culpritOf(ns *nodeSignals, id string) string {
	switch r.g.typeOf(id) {
	case TypeALB, TypeAPIGateway:
		target := ""
		if targets := r.g.targets(id); len(targets) == 1 {
			target = targets[0]
		} else if svcs := r.servicesBehind(id); len(svcs) == 1 {
			target = svcs[0]
		}
		if target == "" {
			return id
		}
		quiet := ns.measured[target] && !anomalous(ns.best[target])
		if hosts := r.g.hosts(target); !quiet && len(hosts) > 0 {
			quiet = true
			for _, h := range hosts {
				quiet = quiet && ns.measured[h] && !anomalous(ns.best[h])
			}
		}
		if quiet {
			return id
		}
		return target
	}
	return id
}

// signalFinding turns a signal into a finding.
func (r *run) signalFinding(s *signal, check string) *finding {
	at := startOr(s.start, r.onset)
	var summary string
	before, during := s.a.before, s.a.during
	switch s.kind {
	case FindingMetric:
		word := "rose"
		if !s.spec.Role.rises() {
			word = "fell"
		}
		summary = fmt.Sprintf("%s %s %s to %s%s since %s (%s before; %s× its usual variation)",
			s.node, s.what, word, num(during), unitSuffix(s.unit), Clock(at), num(before), num(s.a.z))
		if s.load {
			summary += ": more than the resources that call it send, so another client does"
		}
	case FindingTrace:
		if s.class == classLatency {
			summary = fmt.Sprintf("%s take %s ms on average since %s (%s ms before; %s× its usual variation)",
				s.what, num(during), Clock(at), num(before), num(s.a.z))
		} else {
			before, during = 100*before, 100*during
			kind := "fail"
			if s.throttle {
				kind = "are throttled (429)"
			}
			summary = fmt.Sprintf("%s%% of %s %s since %s (%s%% before)", num(during), s.what, kind, Clock(at), num(before))
			if s.note != "" {
				summary += fmt.Sprintf("; exception: %q", s.note)
			}
		}
		if len(s.confined) > 0 {
			summary += fmt.Sprintf("; only the calls through %s show it, not those through their peers", strings.Join(s.confined, ", "))
		}
	case FindingLog:
		summary = fmt.Sprintf("%s: %s since %s where %s were usual", s.what, num(during), Clock(at), num(before))
		if s.vanished {
			summary = fmt.Sprintf("%s: %s lines since %s where %s were usual, while the rest of its logs went on", s.what, num(during), Clock(at), num(before))
		}
		if s.note != "" {
			summary += fmt.Sprintf(": %q", s.note)
		}
	}
	return &finding{Finding: Finding{
		Kind: s.kind, Check: check, Resource: s.node, Time: at, Summary: summary,
		Before: ptr(before), During: ptr(during), Unit: s.unit, Link: s.link,
	}, weight: math.Min(0.95, strength(s.a.z)), series: s.series, spec: s.spec, words: s.note}
}

// quietFinding says that what a resource depends on shows nothing, which is
// what makes it the deepest anomalous one.
func (r *run) quietFinding(ns *nodeSignals, l localized) *finding {
	if len(l.quiet) == 0 {
		return nil
	}
	var parts []string
	for _, q := range l.quiet {
		s := ns.best[q]
		before, during := num(s.a.before), num(s.a.during)
		if s.magUnit == magShare {
			before, during = num(100*s.a.before)+"%", num(100*s.a.during)+"%"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s → %s", q, s.what, before, during))
		if len(parts) == 4 {
			parts = append(parts, "…")
			break
		}
	}
	return &finding{Finding: Finding{
		Kind: FindingMetric, Check: CheckDependency, Resource: l.node, Time: r.onset,
		Summary: fmt.Sprintf("what %s depends on shows no %s change since %s: %s", l.node, l.class, Clock(r.onset), strings.Join(parts, "; ")),
	}, weight: 0.3}
}

// activity is how much more a compute resource does since the onset when it
// counts no requests: more tasks or instances running, or more CPU (a batch
// job scaled out). Nil when it does not do half again as much.
func (r *run) activity(ctx context.Context, id string) *signal {
	var best *signal
	for _, spec := range catalog[r.g.typeOf(id)] {
		if (spec.Role != roleCapacity || strings.Contains(spec.Name, "Desired")) && spec.Role != roleUtilisation {
			continue
		}
		ser, ok := r.series(ctx, id, spec)
		if !ok {
			continue
		}
		a, ok := seriesAnomaly(ser, spec, r.metricBaseline(), r.metricDuring())
		if !ok {
			continue
		}
		if !spec.Role.rises() {
			// A capacity count is scored as bad when it falls; here its
			// rise is the sign.
			a.z = -a.z
		}
		sig := &signal{node: id, class: classTraffic, a: a, what: spec.Name, unit: r.unit(id, spec), kind: FindingMetric,
			series: metricKey(id, spec), spec: spec, link: r.metricLink(id, spec), start: r.onset}
		if a.z < anomalyZ || surge(sig) < 1.5 {
			continue
		}
		if best == nil || sig.a.z > best.a.z {
			best = sig
		}
	}
	return best
}

// outsideTraffic finds the resources off the alarm's path whose traffic rose
// at the onset while they use something on it: a batch job or another client
// reading the same table. Alone that is a weak lead; rank makes it the cause
// when what it uses reached a limit or is where the walk ended, since the
// first move is then to hold back that traffic, not to scale for it.
func (r *run) outsideTraffic(ctx context.Context, sigs map[class]*nodeSignals) []*candidate {
	path := r.g.downstream(r.g.root) // what the alarm's requests reach
	traffic := sigs[classTraffic]
	var out []*candidate
	for _, used := range r.g.inScope() {
		if !path[used] {
			continue
		}
		for _, d := range r.g.dependents(used) {
			if path[d] || !r.competes(d, used, path) {
				continue
			}
			s := traffic.best[d]
			if !anomalous(s) || surge(s) < 1.5 {
				s = r.activity(ctx, d)
			}
			if s == nil {
				continue
			}
			f := r.signalFinding(s, CheckTraffic)
			f.Summary += fmt.Sprintf("; %s is not on the alarm's path but uses %s", d, used)
			out = append(out, &candidate{
				cause: CauseSystemChange, resource: d, score: 0.3 * strength(s.a.z), evidence: []*finding{f}, drives: used,
				actions: []Action{
					{ActionBlock, fmt.Sprintf("Hold back %s's traffic to %s (pause or throttle it: lower its concurrency or schedule) so the alarm's path gets %s back", d, used, used)},
					{ActionScale, fmt.Sprintf("If %s's load is expected, give %s the capacity for both", d, used)},
				},
				prevention: []string{
					fmt.Sprintf("Give %s its own capacity budget on %s (rate-limit it, run it off-peak, or give it a replica)", d, used),
					fmt.Sprintf("Alarm on %s's share of %s's capacity", d, used),
				},
			})
		}
	}
	return out
}
