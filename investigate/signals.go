package investigate

import (
	"context"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// shift compares a metric's baseline with the onset window.
type shift struct {
	before float64 // mean over the baseline
	during float64 // mean over the onset window
	peak   float64 // the worst value in the onset window
	// start is when the series left its normal range; zero when it did not.
	start time.Time
	// moved is true when the onset window is worse than the baseline by more
	// than noise and the role's minimum.
	moved bool
}

// minMove is the smallest change of a role that matters, in its unit.
func minMove(ro role) float64 {
	switch ro {
	case roleErrors, roleClientErrors:
		return 5
	case roleThrottles:
		return 1
	case roleLimitHit:
		return 0.5
	case roleUtilisation, roleMemory, roleDisk:
		return 15
	case roleHealth:
		return 0.5
	case roleHealthyHosts, roleCapacity:
		return 0.5
	}
	return 0
}

// shiftOf compares a series before and during the onset.
func (r *run) shiftOf(s Series, spec metricSpec) shift {
	base := s.values(r.metricBaseline())
	dur := s.values(r.metricDuring())
	if len(base) == 0 || len(dur) == 0 {
		return shift{}
	}
	sh := shift{before: mean(base), during: mean(dur)}
	up := spec.Role.rises()
	if up {
		sh.peak = maxOf(dur)
	} else {
		sh.peak = minOf(dur)
	}
	delta := sh.during - sh.before
	if !up {
		delta = -delta
	}
	noise := 4 * robustSpread(base)
	// Percentages are bounded: 60% to 88% is a large move although it is
	// less than half again; the role's minimum move stands for them.
	rel := 0.5 * math.Abs(sh.before)
	if spec.Role == roleUtilisation || spec.Role == roleMemory || spec.Role == roleDisk {
		rel = 0
	}
	need := math.Max(math.Max(noise, rel), minMove(spec.Role))
	if need == 0 {
		need = 1e-9
	}
	sh.moved = delta > need
	dir := 1
	if !up {
		dir = -1
	}
	if t, _, ok := departure(s, r.metricBaseline(), window{r.telemetry.start, r.telemetry.end}, dir, need/2, isCount(spec)); ok {
		sh.start = t
	}
	return sh
}

// crossedAt is when a series last reached a level (from below when up, from
// above otherwise) and stayed there: when a ceiling was hit, which for a slow
// leak is long after it started to grow. Zero when it is not there now.
func crossedAt(s Series, w window, level float64, up bool) time.Time {
	var at time.Time
	for i, t := range s.Times {
		if !w.contains(t) || i >= len(s.Values) || math.IsNaN(s.Values[i]) {
			continue
		}
		v := s.Values[i]
		if (up && v >= level) || (!up && v <= level) {
			if at.IsZero() {
				at = t
			}
		} else {
			at = time.Time{}
		}
	}
	return at
}

// alignment is how well a signal's start fits the onset: 1 at the onset,
// less the further before it, and little when it starts well after it (an
// effect, not a cause).
func (r *run) alignment(start time.Time) float64 {
	if start.IsZero() {
		return 0.6
	}
	d := start.Sub(r.onset)
	if d > 2*r.step {
		return 0.3
	}
	if d >= 0 {
		return 1
	}
	return 1 / (1 + math.Pow(float64(-d)/float64(30*time.Minute), 2))
}

// errorish matches log lines and exception messages that report a failure.
var errorish = regexp.MustCompile(`(?i)(\berror\b|exception|\bfail|fatal|panic|denied|not authorized|unauthori[sz]ed|forbidden|timed? ?out|refused|unavailable|throttl|exceeded|too many|\b5\d\d\b)`)

// isErrorLine reports whether a log pattern reports a failure. A request line
// that merely succeeded (an INFO line with a 2xx status) does not.
func isErrorLine(p string) bool {
	lower := strings.ToLower(strings.TrimSpace(p))
	if strings.HasPrefix(lower, "info") || strings.HasPrefix(lower, "debug") {
		return false
	}
	return errorish.MatchString(p)
}

// perMinute is a count in a window as a rate.
func perMinute(count int, w window) float64 {
	mins := w.end.Sub(w.start).Minutes()
	if mins <= 0 {
		return 0
	}
	return float64(count) / mins
}

// patternShift is a log pattern's rate before and during the onset.
type patternShift struct {
	group   string
	pattern LogPattern // the onset window's
	before  float64    // lines per minute
	during  float64
	// byStream is the onset window's lines per minute by stream, and
	// streamBefore the baseline's.
	byStream     map[string]float64
	streamBefore map[string]float64
}

// patternShifts pairs the patterns of a group's two windows.
func (r *run) patternShifts(before, during LogStats) []patternShift {
	prev := map[string]LogPattern{}
	for _, p := range before.Patterns {
		prev[p.Pattern] = p
	}
	var out []patternShift
	for _, p := range during.Patterns {
		b := prev[p.Pattern]
		ps := patternShift{
			group: during.Group, pattern: p,
			before: perMinute(b.Count, r.baseline), during: perMinute(p.Count, r.during),
			byStream: map[string]float64{}, streamBefore: map[string]float64{},
		}
		for s, n := range p.ByStream {
			ps.byStream[s] = perMinute(n, r.during)
		}
		for s, n := range b.ByStream {
			ps.streamBefore[s] = perMinute(n, r.baseline)
		}
		out = append(out, ps)
	}
	return out
}

// grew reports whether a rate grew from before to during by more than noise.
func grew(before, during, minRate float64) bool {
	return during >= minRate && during >= 3*before+1
}

// newErrors are the error patterns that appeared or grew at the onset, in
// every log group in scope, most frequent first.
func (r *run) newErrors(ctx context.Context) []patternShift {
	var out []patternShift
	for _, group := range r.sortedGroups() {
		before, during, ok := r.logs(ctx, group)
		if !ok {
			continue
		}
		for _, ps := range r.patternShifts(before, during) {
			if isErrorLine(ps.pattern.Pattern) && grew(ps.before, ps.during, 1) {
				out = append(out, ps)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].during > out[j].during })
	return out
}

// edgeStats sums trace groups by edge.
type edgeStats struct {
	caller, callee string
	requests       int
	failures       int // faults + errors + throttles
	throttles      int
	latency        time.Duration // request-weighted mean
	exceptions     map[string]int
	traceIDs       []string
}

func (e edgeStats) failRate() float64 {
	if e.requests == 0 {
		return 0
	}
	return float64(e.failures) / float64(e.requests)
}

func (e edgeStats) topException() string {
	best, n := "", 0
	for m, c := range e.exceptions {
		if c > n || (c == n && m < best) {
			best, n = m, c
		}
	}
	return best
}

// byEdge sums trace groups per edge, or per edge and instance when
// perInstance is set.
func byEdge(groups []TraceGroup, perInstance bool) map[string]*edgeStats {
	out := map[string]*edgeStats{}
	var latSum = map[string]float64{}
	for _, g := range groups {
		key := g.Caller + ">" + g.Callee
		if perInstance {
			key += "@" + g.Instance
		}
		e, ok := out[key]
		if !ok {
			e = &edgeStats{caller: g.Caller, callee: g.Callee, exceptions: map[string]int{}}
			out[key] = e
		}
		e.requests += g.Requests
		e.failures += g.Faults + g.Errors + g.Throttles
		e.throttles += g.Throttles
		latSum[key] += float64(g.Latency) * float64(g.Requests)
		for _, x := range g.Exceptions {
			e.exceptions[x.Message] += x.Count
		}
		if len(e.traceIDs) < 3 {
			e.traceIDs = append(e.traceIDs, g.TraceIDs...)
			if len(e.traceIDs) > 3 {
				e.traceIDs = e.traceIDs[:3]
			}
		}
	}
	for k, e := range out {
		if e.requests > 0 {
			e.latency = time.Duration(latSum[k] / float64(e.requests))
		}
	}
	return out
}

// edgeFailing reports whether an edge's failures rose at the onset.
func edgeFailing(before, during *edgeStats) bool {
	if during == nil || during.requests == 0 {
		return false
	}
	b := 0.0
	if before != nil {
		b = before.failRate()
	}
	d := during.failRate()
	return d >= 0.05 && d >= 3*b+0.02
}

// edgeSlow reports whether an edge's latency rose at the onset.
func edgeSlow(before, during *edgeStats) bool {
	if before == nil || during == nil || before.requests == 0 || during.requests == 0 {
		return false
	}
	return during.latency >= 2*before.latency && during.latency-before.latency >= 20*time.Millisecond
}

// derived is what several checks read from logs, traces and metrics.
type derived struct {
	// failing are the resources that show failures since the onset: their
	// own error metrics rose, the traced calls into them fail, or their log
	// group's errors grew. The value says how: "metrics", "traces" or "logs".
	failing map[string]string
	// errorText is everything the failures said since the onset — new error
	// log patterns and the exceptions on failing traced calls — lower-cased.
	errorText string
	// said is the new error log text by the resource whose logs hold it,
	// lower-cased.
	said map[string]string
}

// derive computes what the checks share, once per investigation.
func (r *run) derive(ctx context.Context) (derived, error) {
	d := derived{failing: map[string]string{}, said: map[string]string{}}
	for _, id := range r.g.inScope() {
		res := r.g.byID[id]
		for _, spec := range catalog[res.Type] {
			if !spec.Role.failure() {
				continue
			}
			if s, ok := r.series(ctx, id, spec); ok && r.shiftOf(s, spec).moved {
				d.failing[id] = "metrics"
			}
		}
	}
	var parts []string
	if before, during, ok := r.traces(ctx); ok {
		b, dur := byEdge(before, false), byEdge(during, false)
		for k, e := range dur {
			if edgeFailing(b[k], e) {
				d.failing[e.callee] = "traces"
				for m := range e.exceptions {
					parts = append(parts, m)
				}
			}
		}
	}
	owners := r.g.logGroups()
	for _, ps := range r.newErrors(ctx) {
		if _, ok := d.failing[owners[ps.group]]; !ok {
			d.failing[owners[ps.group]] = "logs"
		}
		parts = append(parts, ps.pattern.Pattern, ps.pattern.Sample)
		d.said[owners[ps.group]] += strings.ToLower(ps.pattern.Pattern + "\n" + ps.pattern.Sample + "\n")
	}
	sort.Strings(parts)
	d.errorText = strings.ToLower(strings.Join(parts, "\n"))
	return d, nil
}

// shared returns what the checks share; empty when it could not be computed
// in time.
func (r *run) shared(ctx context.Context) derived {
	d, err := r.derived.wait(ctx)
	if err != nil || d.failing == nil {
		return derived{failing: map[string]string{}, said: map[string]string{}}
	}
	return d
}

// resolve maps a resource reference (an id, a name or an ARN) to a topology
// id, or "" when none matches.
func (r *run) resolve(ref string) string {
	if res, ok := r.topo.Find(ref); ok {
		return res.ID
	}
	return ""
}
