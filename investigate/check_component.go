package investigate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// minTraces is how many traced requests a host must have served for its
// failure rate to count.
const minTraces = 20

// peerSignal is one host's value of a signal, before and during.
type peerSignal struct {
	before, during float64
}

// outliers returns the hosts whose signal during the onset is far above
// their peers' and their own baseline. min is the smallest level that counts.
func outliers(sig map[string]peerSignal, hosts []string, min float64) []string {
	var out []string
	for _, h := range hosts {
		s := sig[h]
		peers := medianOthers(sig, hosts, h)
		if s.during >= min && s.during >= 3*peers+min/2 && s.during >= 3*s.before+min/2 {
			out = append(out, h)
		}
	}
	// A signal on most of the group is not one part failing.
	if len(out)*2 > len(hosts) {
		return nil
	}
	return out
}

// checkComponent compares peers — the targets of a load balancer, the hosts
// of a service, the members of an Auto Scaling group — and finds the one
// whose errors, traces or resources differ from the others'.
func checkComponent(ctx context.Context, r *run) result {
	var res result
	cands := map[string]*candidate{}
	candFor := func(host string) *candidate {
		c, ok := cands[host]
		if !ok {
			c = &candidate{cause: CauseComponent, resource: host}
			cands[host] = c
		}
		return c
	}
	add := func(host string, f *finding, score float64) {
		res.findings = append(res.findings, f)
		c := candFor(host)
		c.evidence = append(c.evidence, f)
		c.score = noisyOr(c.score, score)
	}

	errLogs := r.errorLinesByStream(ctx)
	traceBefore, traceDuring, tracesOK := r.traces(ctx)
	var tb, td map[string]*edgeStats
	if tracesOK {
		tb, td = byEdge(traceBefore, true), byEdge(traceDuring, true)
	}

	for _, hosts := range r.g.peerGroups() {
		peersOf := func(h string) string {
			var o []string
			for _, x := range hosts {
				if x != h {
					o = append(o, x)
				}
			}
			return strings.Join(o, ", ")
		}

		// Error log lines by stream.
		logSig := map[string]peerSignal{}
		for _, h := range hosts {
			logSig[h] = peerSignal{errLogs.before[h], errLogs.during[h]}
		}
		// A new error on one host alone is telling even at a few lines: a
		// crashed thread logs once and falls silent.
		minutes := r.during.end.Sub(r.during.start).Minutes()
		for _, h := range outliers(logSig, hosts, 1.5) {
			// A couple of lines where a trickle is usual is noise: the count
			// must be past the Poisson noise of its own rate.
			if upperTailZ(logSig[h].during*minutes, logSig[h].before*minutes) < anomalyZ {
				continue
			}
			others := 0.0
			for _, o := range hosts {
				if o != h {
					others = max(others, logSig[o].during)
				}
			}
			f := &finding{Finding: Finding{
				Kind: FindingLog, Check: CheckComponent, Resource: h, Time: r.onset,
				Summary: fmt.Sprintf("%s writes %s error lines/min since %s (%s before); its peers %s at most %s/min: %q",
					h, num(logSig[h].during), Clock(r.onset), num(logSig[h].before), peersOf(h), num(others), errLogs.top[h]),
				Before: ptr(logSig[h].before), During: ptr(logSig[h].during), Unit: "error lines/min",
				Link: r.logsLink(errLogs.group[h]),
			}, weight: 0.8}
			add(h, f, 0.45)
		}

		// A new error pattern seen on one host alone, however few lines.
		for _, ne := range errLogs.lone(hosts) {
			f := &finding{Finding: Finding{
				Kind: FindingLog, Check: CheckComponent, Resource: ne.host, Time: r.onset,
				Summary: fmt.Sprintf("a new error appears on %s alone since %s: %d lines, none before and none on %s: %q",
					ne.host, Clock(r.onset), ne.count, peersOf(ne.host), ne.pattern),
				Link: r.logsLink(ne.group),
			}, weight: 0.7}
			add(ne.host, f, 0.4)
		}

		// Traced failures of the requests each host served.
		if tracesOK {
			for _, edge := range edgesServedBy(td, hosts) {
				sig := map[string]peerSignal{}
				var sampled []string
				for _, h := range hosts {
					k := edge + "@" + h
					// A rate from a handful of sampled traces is noise.
					if e := td[k]; e == nil || e.requests < minTraces {
						continue
					}
					b := 0.0
					if e := tb[k]; e != nil {
						b = e.failRate()
					}
					sig[h] = peerSignal{b * 100, td[k].failRate() * 100}
					sampled = append(sampled, h)
				}
				if len(sampled) < 2 {
					continue
				}
				for _, h := range outliers(sig, sampled, 10) {
					e := td[edge+"@"+h]
					f := &finding{Finding: Finding{
						Kind: FindingTrace, Check: CheckComponent, Resource: h, Time: r.onset,
						Summary: fmt.Sprintf("%s: %s%% of the traced requests served by %s fail since %s (%s%% before), against %s%% on %s; exception: %q",
							edge, num(sig[h].during), h, Clock(r.onset), num(sig[h].before), num(medianOthers(sig, sampled, h)), peersOf(h), e.topException()),
						Before: ptr(sig[h].before), During: ptr(sig[h].during), Unit: "% failed",
						Link: r.traceLink(e.traceIDs),
					}, weight: 0.9}
					add(h, f, 0.5)
				}
			}
		}

		// Each host's own metrics, louder or quieter than its peers'.
		res.findings = append(res.findings, r.hostMetricOutliers(ctx, hosts, candFor)...)
		res.findings = append(res.findings, r.quietPeers(ctx, hosts, candFor)...)
	}
	// Tasks of one revision that fail together, while those of the
	// revision before do not, are that revision failing (tasks.go).
	revs, rvf := r.revisionCandidates(cands)
	res.findings = append(res.findings, rvf...)
	res.candidates = append(res.candidates, revs...)
	// Peers that fail together in one zone, while those of the other
	// zones do not, are their zone failing.
	zones, zf := r.zoneCandidates(ctx, cands)
	res.findings = append(res.findings, zf...)
	res.candidates = append(res.candidates, zones...)
	for _, c := range cands {
		if c.score == 0 {
			continue
		}
		c.actions, c.prevention = componentActions(r, c.resource, r.exhausted(ctx, c.resource))
		res.candidates = append(res.candidates, c)
	}
	sort.Slice(res.candidates, func(i, j int) bool { return res.candidates[i].resource < res.candidates[j].resource })
	return res
}

// medianOthers is the median signal of the other hosts that have one.
func medianOthers(sig map[string]peerSignal, hosts []string, h string) float64 {
	var o []float64
	for _, x := range hosts {
		if s, ok := sig[x]; ok && x != h {
			o = append(o, s.during)
		}
	}
	return median(o)
}

// edgesServedBy lists the edges whose traced requests some of the hosts
// served, as "caller>callee".
func edgesServedBy(groups map[string]*edgeStats, hosts []string) []string {
	var edges []string
	for edge, keys := range byServedEdge(groups) {
		for _, k := range keys {
			if slices.Contains(hosts, instanceOf(k)) {
				edges = append(edges, edge)
				break
			}
		}
	}
	sort.Strings(edges)
	return edges
}

// streamErrors are error log lines per minute by log stream, before and
// during, with each stream's most frequent new error pattern.
type streamErrors struct {
	before, during map[string]float64
	top            map[string]string
	group          map[string]string // the log group of each stream
	// fresh are the error patterns absent from the baseline, with their
	// lines by stream since the onset.
	fresh []freshError
}

// freshError is an error pattern that was not there before the onset.
type freshError struct {
	group, pattern string
	byStream       map[string]int
}

// loneError is a fresh error pattern written by one host of a group only.
type loneError struct {
	host, group, pattern string
	count                int
}

// lone returns the fresh error patterns that one of the hosts wrote and none
// of the others did.
func (se streamErrors) lone(hosts []string) []loneError {
	var out []loneError
	for _, fe := range se.fresh {
		writers := 0
		var who string
		for _, h := range hosts {
			if fe.byStream[h] > 0 {
				writers++
				who = h
			}
		}
		if writers == 1 && fe.byStream[who] >= 3 {
			out = append(out, loneError{host: who, group: fe.group, pattern: fe.pattern, count: fe.byStream[who]})
		}
	}
	return out
}

func (r *run) errorLinesByStream(ctx context.Context) streamErrors {
	se := streamErrors{before: map[string]float64{}, during: map[string]float64{}, top: map[string]string{}, group: map[string]string{}}
	topRate := map[string]float64{}
	for _, group := range r.sortedGroups() {
		before, during, ok := r.logs(ctx, group)
		if !ok {
			continue
		}
		for _, ps := range r.patternShifts(before, during) {
			if !isErrorLine(ps.pattern.Pattern) {
				continue
			}
			// A task's stream counts as the task's (tasks.go).
			if ps.before == 0 && len(ps.pattern.ByStream) > 0 {
				se.fresh = append(se.fresh, freshError{group: group, pattern: ps.pattern.Pattern, byStream: r.g.byOwner(ps.pattern.ByStream)})
			}
			for raw, v := range ps.byStream {
				s := r.g.streamOwner(raw)
				se.during[s] += v
				if v > topRate[s] && grew(ps.streamBefore[raw], v, 1) {
					topRate[s] = v
					se.top[s] = ps.pattern.Pattern
					se.group[s] = group
				}
			}
			for s, v := range ps.streamBefore {
				se.before[r.g.streamOwner(s)] += v
			}
		}
		// Error patterns seen only before the onset still count there.
		cur := map[string]bool{}
		for _, p := range during.Patterns {
			cur[p.Pattern] = true
		}
		for _, p := range before.Patterns {
			if cur[p.Pattern] || !isErrorLine(p.Pattern) {
				continue
			}
			for s, n := range p.ByStream {
				se.before[r.g.streamOwner(s)] += perMinute(n, r.baseline)
			}
		}
	}
	return se
}

// hostMetricOutliers compares the hosts' own metrics: status checks, CPU,
// memory and disk.
func (r *run) hostMetricOutliers(ctx context.Context, hosts []string, candFor func(string) *candidate) []*finding {
	var findings []*finding
	typ := r.g.typeOf(hosts[0])
	for _, spec := range catalog[typ] {
		var score float64
		switch spec.Role {
		case roleHealth:
			score = 0.45
		case roleMemory, roleDisk:
			score = 0.3
		case roleUtilisation:
			score = 0.15
		default:
			continue
		}
		sig := map[string]peerSignal{}
		shifts := map[string]shift{}
		for _, h := range hosts {
			s, ok := r.series(ctx, h, spec)
			if !ok {
				continue
			}
			sh := r.shiftOf(s, spec)
			shifts[h] = sh
			sig[h] = peerSignal{sh.before, sh.during}
		}
		for _, h := range hosts {
			sh, ok := shifts[h]
			if !ok {
				continue
			}
			// Against its peers, not its own history: a slow leak makes its
			// own baseline noisy. It must have risen, and stand apart from
			// the group: above the median of all of them, so that a peer
			// gone quiet does not make the busy ones stand out.
			others := medianOthers(sig, hosts, h)
			var all []float64
			for _, x := range sig {
				all = append(all, x.during)
			}
			if sh.during-sh.before < minMove(spec.Role) || sh.during-median(all) < minMove(spec.Role) {
				continue
			}
			if (spec.Role == roleMemory || spec.Role == roleDisk) && sh.peak >= 90 {
				// Memory or disk runs out when it reaches the top, not when
				// it starts to grow.
				if s, ok := r.series(ctx, h, spec); ok {
					if t := crossedAt(s, window{r.telemetry.start, r.telemetry.end}, 90, true); !t.IsZero() {
						sh.start = t
					}
				}
			}
			f := &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckComponent, Resource: h, Time: startOr(sh.start, r.onset),
				Summary: fmt.Sprintf("%s %s is %s%s since %s (%s before); its peers %s",
					h, spec.Name, num(sh.during), unitSuffix(r.unit(h, spec)), Clock(startOr(sh.start, r.onset)), num(sh.before), num(others)),
				Before: ptr(sh.before), During: ptr(sh.during), Unit: r.unit(h, spec),
				Link: r.metricLink(h, spec),
			}, weight: score, series: metricKey(h, spec), spec: spec}
			findings = append(findings, f)
			c := candFor(h)
			c.evidence = append(c.evidence, f)
			// A host that is busy but not failing is a weak suspect; with
			// failures of its own it explains them.
			c.score = noisyOr(c.score, score*r.alignment(sh.start))
		}
	}
	return findings
}

// startOr is t, or fallback when t is zero.
func startOr(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// unitSuffix joins a unit to a number: "%" directly, others after a space.
func unitSuffix(u string) string {
	if u == "" || u == "%" {
		return u
	}
	return " " + u
}

// quietPeers finds the hosts that went quiet while their peers kept working:
// CPU or traffic far below its own normal since the onset, while the peers'
// held or rose, or no datapoints of it at all where the peers' go on. A stuck worker, a hung process or a host that lost its
// network does less, not more, and fails the requests sent to it.
func (r *run) quietPeers(ctx context.Context, hosts []string, candFor func(string) *candidate) []*finding {
	var findings []*finding
	typ := r.g.typeOf(hosts[0])
	for _, spec := range catalog[typ] {
		if spec.Role != roleUtilisation && spec.Role != roleRequests {
			continue
		}
		levels := map[string]anomaly{}
		series := map[string]Series{}
		for _, h := range hosts {
			if s, ok := r.series(ctx, h, spec); ok {
				series[h] = s
				if a, ok := seriesAnomaly(s, spec, r.metricBaseline(), r.metricDuring()); ok {
					levels[h] = a
				}
			}
		}
		// Quieter still: no datapoints at all since the onset (silence.go).
		findings = append(findings, r.silentFindings(hosts, series, spec, candFor)...)
		if len(levels) < 2 {
			continue
		}
		for _, h := range hosts {
			a, ok := levels[h]
			if !ok || a.z > -anomalyZ || a.during > 0.5*a.before {
				continue
			}
			var peerBefore, peerDuring []float64
			for _, o := range hosts {
				if pa, ok := levels[o]; ok && o != h {
					peerBefore, peerDuring = append(peerBefore, pa.before), append(peerDuring, pa.during)
				}
			}
			pb, pd := median(peerBefore), median(peerDuring)
			if pd < 0.8*pb {
				continue // the whole group fell: less traffic, not one host
			}
			f := &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckComponent, Resource: h, Time: r.onset,
				Summary: fmt.Sprintf("%s went quiet: %s %s%s since %s (%s before) while its peers went from %s to %s: it stopped doing its share of the work",
					h, spec.Name, num(a.during), unitSuffix(r.unit(h, spec)), Clock(r.onset), num(a.before), num(pb), num(pd)),
				Before: ptr(a.before), During: ptr(a.during), Unit: r.unit(h, spec), Link: r.metricLink(h, spec),
			}, weight: 0.6, series: metricKey(h, spec), spec: spec}
			findings = append(findings, f)
			c := candFor(h)
			c.evidence = append(c.evidence, f)
			c.score = noisyOr(c.score, 0.45*strength(-a.z))
		}
	}
	return findings
}

// exhausted reports whether a host's memory or disk is full since the onset:
// taking it out moves its load onto peers no better off, while a restart
// frees what it holds.
func (r *run) exhausted(ctx context.Context, host string) bool {
	for _, spec := range catalog[r.g.typeOf(host)] {
		if (spec.Role == roleMemory || spec.Role == roleDisk) && r.anyAtLevel(ctx, []string{host}, spec, 90) {
			return true
		}
	}
	return false
}
