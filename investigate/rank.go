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

// Ranking limits.
const (
	maxHypotheses = 5
	minScore      = 0.05
	maxConfidence = 0.95
	// ClearCause is the confidence under which the report says that nothing
	// stands out rather than presenting its best guess as the cause. It
	// sits between what the engine claimed where nothing was wrong (real
	// PetShop telemetry before each incident, bot eval --quiet 60m: at most
	// 0.25) and its lowest right answer on the incidents themselves (0.41).
	ClearCause = 0.4
)

// noisyOr combines independent pieces of support for one hypothesis.
func noisyOr(a, b float64) float64 {
	return 1 - (1-a)*(1-b)
}

func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

var causeOrder = map[Cause]int{CauseOwnChange: 0, CauseLimit: 1, CauseDependency: 2, CauseComponent: 3, CauseSystemChange: 4}

// linked reports whether a change to one resource can act through another:
// the same resource, or a service and the host it runs on. A group's change
// is not linked to one member failing apart from its peers: what changed
// for all of them does not explain one.
func (r *run) linked(changed, affected string) bool {
	if changed == affected {
		return true
	}
	for _, h := range r.g.hosts(changed) {
		if h == affected {
			return true
		}
	}
	for _, h := range r.g.hosts(affected) {
		if h == changed {
			return true
		}
	}
	return false
}

// reachesFailure reports whether a change to changed reaches a failure
// through the relations that carry no requests: the failing part itself,
// or the caller whose calls into it fail (a role its host assumes, a
// security group on its host). Throttling is the callee holding its own
// limit, which none of these reach.
func (r *run) reachesFailure(changed string, x *candidate) bool {
	if _, ok := r.g.reaches(changed, x.resource); ok {
		return true
	}
	if x.via == "" || x.throttled {
		return false
	}
	_, ok := r.g.reaches(changed, x.via)
	return ok
}

// reachesApart reports whether a change to changed reaches id and none of
// its peers.
func (r *run) reachesApart(changed, id string) bool {
	for _, grp := range r.g.peerGroups() {
		if !slices.Contains(grp, id) {
			continue
		}
		for _, p := range grp {
			if _, ok := r.g.reaches(changed, p); ok && p != id {
				return false
			}
		}
	}
	return true
}

// rank merges the checks' candidates and weighs them against each other.
//
// said is the new error text of each resource's logs, for the changes that
// the failures name.
func (r *run) rank(results map[string]result, said map[string]string) []*candidate {
	merged := map[string]*candidate{}
	var order []string
	for _, step := range checks {
		for _, c := range results[step.Name].candidates {
			key := string(c.cause) + "|" + c.resource
			m, ok := merged[key]
			if !ok {
				cp := *c
				cp.evidence = append([]*finding(nil), c.evidence...)
				merged[key] = &cp
				order = append(order, key)
				continue
			}
			// The checks that type a cause know its specifics (the quota,
			// the peer); the walk only knows where it is.
			if (c.score > m.score && c.located == m.located) || (m.located && !c.located) {
				m.actions, m.prevention = c.actions, c.prevention
				if c.change != nil {
					m.change = c.change
				}
			}
			if c.change != nil {
				// The events of one change (a new version, then the alias
				// moved to it) are one act, not independent support.
				m.score = math.Max(m.score, c.score)
			} else {
				m.score = noisyOr(m.score, c.score)
			}
			m.evidence = appendUnique(m.evidence, c.evidence...)
			m.absorb(c)
		}
	}
	cands := make([]*candidate, 0, len(order))
	for _, k := range order {
		c := merged[k]
		if c.change == nil {
			// A change's closeness to the alarm is weighed in its check.
			near := c.resource
			if len(c.members) > 0 {
				near = c.members[0] // a zone is as close as its members
			}
			c.score *= r.g.proximity(near)
		}
		cands = append(cands, c)
	}

	r.typeLocated(cands)

	// A dependency that fails because it is at its limit is a limit: the
	// more specific explanation, and scaling it is the move.
	for _, l := range cands {
		if l.cause != CauseLimit {
			continue
		}
		for _, d := range cands {
			if d.cause == CauseDependency && d.resource == l.resource {
				l.takeFrom(d, 0.8, 0.5)
			}
		}
	}
	r.gatewayFailures(cands)
	r.cacheFallbacks(cands)
	r.memberLimits(cands)

	// What each located or typed failure said, and how it names each change:
	// the failing part's own words and its caller's logs count as its own.
	// A part's own name in its own logs (a logger, a deployment named after
	// it) names nothing else.
	textOf := map[*candidate]string{}
	for _, x := range cands {
		if x.change != nil {
			continue
		}
		text := evidenceText(x) + said[x.resource] + said[x.via]
		for _, h := range append(r.g.hosts(x.resource), r.g.hosts(x.via)...) {
			text += said[h]
		}
		textOf[x] = text
	}
	type pair struct{ c, x *candidate }
	mention := map[pair]float64{}
	// The failures that name one change's resource outright speak against
	// the others that only match by kind: the error quotes this key, not
	// that one.
	named := map[*candidate]bool{}
	for _, c := range cands {
		if c.change == nil {
			continue
		}
		for _, x := range cands {
			if x.change != nil {
				continue
			}
			m := mentioned(textOf[x], *c.change, r.namesFor(*c.change, x))
			mention[pair{c, x}] = m
			named[x] = named[x] || m == 1
			// So does a failure that a change reaches through the
			// relations that carry no requests: the key that encrypts
			// the failing table explains its KMS errors, not another key
			// disabled the same morning.
			named[x] = named[x] || (c.plausible*risk(c.change.Event) >= 0.3 && r.reachesFailure(c.resource, x))
		}
	}

	// A change made shortly before the onset to the very resource that hit a
	// limit, failed as a dependency or failed among its peers is the cause of
	// that failure, not a coincidence: a limit a person just lowered is a
	// change, and the move is to roll it back.
	for _, c := range cands {
		if c.change == nil {
			continue
		}
		atOnset := closeness(r.onset.Sub(c.change.Time))
		linkedAny, faultBelow := false, false
		for _, x := range cands {
			// A change to a resource does not make an outside client send
			// it more: one client's surge stays the change in the inputs.
			if x.change != nil || (x.cause == CauseSystemChange && x.resource != c.resource) || x.client {
				continue
			}
			if x.located && x.resource != c.resource && r.g.downstream(c.resource)[x.resource] {
				faultBelow = true
			}
			// A slow climb to a limit started long before the onset: a
			// change when it started is as near as one at the onset.
			near := atOnset
			for _, f := range x.evidence {
				if !f.since.IsZero() && !c.change.Time.After(f.since.Add(r.step)) {
					near = math.Max(near, closeness(f.since.Sub(c.change.Time)))
				}
			}
			// Linked by the topology, or by what the failure says: its
			// errors name the changed resource (full weight) or what that
			// kind of change breaks (half).
			link := 1.0
			switch {
			case r.linked(c.resource, x.resource):
			case r.reachesFailure(c.resource, x) && (!x.apart || r.reachesApart(c.resource, x.resource)):
				// The changed security group, key, parameter or role is
				// one the failing part (or the caller whose calls into it
				// fail) works through; for one member failing apart from
				// its peers, one that is not theirs too.
			case x.apart:
				// One member failing apart from its peers: a change to
				// anything they share would have failed them all.
				link = 0
			case r.g.group(x.resource) == c.resource && changeActor(*c.change) == actorService && reclaimed(*c.change):
				// A member failing with its peers after AWS took some of
				// them away: the rest carry their work.
			case x.via != "" && r.unitOf(x.via)[c.resource]:
				// Calls from the changed part fail or slow down: a caller's
				// deploy breaks its own calls (a wrong name, a new query).
				// Throttling is the callee holding its own limit, which a
				// caller's change reaches only by calling more: that shows
				// as more traffic, not through this link.
				link = 0.8
				if x.throttled {
					link = 0
				}
			default:
				// What the failing part, or the caller whose calls into it
				// fail, wrote in its logs counts as its own words.
				link = mention[pair{c, x}]
				if link < 1 && named[x] {
					link *= 0.3
				}
			}
			link *= c.plausible
			if link == 0 {
				continue
			}
			linkedAny = true
			c.takeFrom(x, near*link, 1-0.6*near*link)
		}
		// The walk found the fault below the changed part, and nothing ties
		// the change to it: close in time is all it has.
		if faultBelow && !linkedAny && onlyChanges(c) {
			c.score *= 0.5
		}
	}

	// More traffic that saturated CPU or memory is a change in the inputs;
	// the saturation is how it showed. A hard limit that rejects work (a
	// quota, throttles, max connections) stays a limit.
	for _, s := range cands {
		if !s.surge || s.change != nil {
			continue
		}
		below := r.g.downstream(s.resource)
		for _, x := range cands {
			if x.cause == CauseLimit && x.saturation && below[x.resource] {
				s.takeFrom(x, 0.8, 0.5)
			}
		}
	}

	// CPU pinned or memory full with no more traffic to explain it is the
	// part misbehaving (a runaway thread, a hot loop, a leak, a bad build),
	// not a capacity limit: restart it rather than scale it.
	for _, x := range cands {
		if x.cause != CauseLimit || !x.busy || x.change != nil {
			continue
		}
		fed := false
		for _, s := range cands {
			fed = fed || (s.surge && s.change == nil && s.cause == CauseSystemChange && r.g.downstream(s.resource)[x.resource])
		}
		if !fed {
			x.cause = CauseComponent
			x.actions, x.prevention = busyActions(r, x.resource)
		}
	}

	// A new kind of traffic that drove a resource to its limit is the cause;
	// the limit is how it showed.
	demoted := map[*candidate]bool{}
	for _, c := range cands {
		if c.cause != CauseSystemChange || c.change != nil || c.score < 0.6 {
			continue
		}
		below := r.g.downstream(c.resource)
		for _, x := range cands {
			if x.cause == CauseLimit && below[x.resource] && !demoted[x] {
				demoted[x] = true
				x.score *= 0.6
			}
		}
	}

	cands = mergeSame(cands)

	// Ties are broken by how much evidence a candidate rests on; the cause
	// order and the name only keep the order stable.
	sort.SliceStable(cands, func(i, j int) bool {
		if math.Abs(cands[i].score-cands[j].score) > 1e-9 {
			return cands[i].score > cands[j].score
		}
		if len(cands[i].evidence) != len(cands[j].evidence) {
			return len(cands[i].evidence) > len(cands[j].evidence)
		}
		if causeOrder[cands[i].cause] != causeOrder[cands[j].cause] {
			return causeOrder[cands[i].cause] < causeOrder[cands[j].cause]
		}
		return cands[i].resource < cands[j].resource
	})
	var out []*candidate
	for _, c := range cands {
		if c.score < minScore || len(out) == maxHypotheses {
			break
		}
		if restsOn(out, c) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// namesFor are the names by which x's failures could name a change: the
// change's names less those of x's own part and its caller's.
func (r *run) namesFor(ch Change, x *candidate) []string {
	own := r.unitOf(x.resource)
	if x.via != "" {
		maps.Copy(own, r.unitOf(x.via))
	}
	for id := range own {
		if res := r.g.byID[id]; res != nil && res.Name != "" {
			own[res.Name] = true
		}
	}
	return slices.DeleteFunc(changeNames(r, ch), func(n string) bool { return own[n] })
}

// evidenceText is what a candidate's failures say, lower-cased: its log,
// trace and Health findings, not metric names.
func evidenceText(c *candidate) string {
	var b strings.Builder
	for _, f := range c.evidence {
		switch {
		case f.words != "":
			// The failure's own words, not the sentence around them that
			// names the resources involved.
			b.WriteString(strings.ToLower(f.words))
			b.WriteByte('\n')
		case f.Kind == FindingLog || f.Kind == FindingTrace || f.Kind == FindingHealth:
			b.WriteString(strings.ToLower(f.Summary))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func appendUnique(to []*finding, fs ...*finding) []*finding {
	for _, f := range fs {
		dup := false
		for _, t := range to {
			if t == f {
				dup = true
				break
			}
		}
		if !dup {
			to = append(to, f)
		}
	}
	return to
}

// assemble numbers the findings, ranks the candidates and builds the report.
func (r *run) assemble(ctx context.Context, results map[string]result) Report {
	var all []*finding
	for _, step := range checks {
		fs := append([]*finding(nil), results[step.Name].findings...)
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].weight > fs[j].weight })
		all = append(all, fs...)
	}
	ids := map[*finding]string{}
	findings := make([]Finding, 0, len(all))
	for _, f := range all {
		if _, dup := ids[f]; dup {
			continue
		}
		id := fmt.Sprintf("f%d", len(findings)+1)
		ids[f] = id
		f.ID = id
		findings = append(findings, f.Finding)
	}

	// With nothing paged, no lead is the cause of anything: each keeps its
	// rank, under the confidence at which the report names a cause.
	scale := 1.0
	if r.unpaged() {
		scale = ClearCause
	}
	var hyps []Hypothesis
	for _, c := range r.rank(results, r.shared(ctx).said) {
		h := Hypothesis{
			Cause:      c.cause,
			Resource:   c.resource,
			Confidence: math.Round(scale*math.Min(c.score, maxConfidence)*100) / 100,
			Actions:    c.actions,
			Prevention: c.prevention,
		}
		ev := append([]*finding(nil), c.evidence...)
		sort.SliceStable(ev, func(i, j int) bool { return idNum(ids[ev[i]]) < idNum(ids[ev[j]]) })
		for _, f := range ev {
			if id, ok := ids[f]; ok {
				h.Evidence = append(h.Evidence, id)
			}
		}
		hyps = append(hyps, h)
	}

	hyps = oneStory(hyps)

	r.umu.Lock()
	unav := append([]Unavailable{}, r.unav...)
	r.umu.Unlock()
	sort.SliceStable(unav, func(i, j int) bool { return unav[i].Source < unav[j].Source })

	report := Report{
		Scope: Scope{
			Alarm:     r.alarmDef.Name,
			Resource:  r.alarmDef.Resource,
			Metric:    strings.TrimSpace(r.alarmDef.Metric.Namespace + " " + r.alarmDef.Metric.Name),
			Start:     r.telemetry.start,
			End:       r.now,
			Resources: r.g.inScope(),
			Region:    r.alarmDef.Region,
			Account:   r.alarmDef.Account,
		},
		Findings:    findings,
		Hypotheses:  hyps,
		Notes:       r.notes,
		Unavailable: unav,
		Stats: Stats{
			APICalls:     int(r.calls.Load()),
			BytesScanned: r.bytes.Load(),
		},
	}
	if r.onsetFound {
		report.Onset = r.onset
	}
	report.Series = r.chartSeries(ctx, hyps, all)
	if report.Findings == nil {
		report.Findings = []Finding{}
	}
	if report.Hypotheses == nil {
		report.Hypotheses = []Hypothesis{}
	}
	return report
}

// chartSeries are the alarm's series and up to two series the top
// hypothesis cites.
func (r *run) chartSeries(ctx context.Context, hyps []Hypothesis, all []*finding) []NamedSeries {
	var out []NamedSeries
	if s, err := r.alarmSeries.wait(ctx); err == nil && len(s) > 0 {
		out = append(out, NamedSeries{Resource: r.alarmDef.Resource, Metric: r.alarmDef.Metric.Name, Unit: r.symptom.Unit, Series: s[0]})
	}
	if len(hyps) == 0 {
		return out
	}
	metrics, err := r.metrics.wait(ctx)
	if err != nil {
		return out
	}
	cited := map[string]bool{}
	for _, id := range hyps[0].Evidence {
		cited[id] = true
	}
	for _, f := range all {
		if !cited[f.ID] || f.series == "" || len(out) == 3 {
			continue
		}
		s, ok := metrics[f.series]
		if !ok && r.tailMetrics != nil && f.spec.Stat == tailStat {
			if tails, err := r.tailMetrics.wait(ctx); err == nil {
				s, ok = tails[f.series]
			}
		}
		if ok && len(s.Values) > 0 {
			name := f.spec.Name
			if f.spec.Stat == tailStat {
				name += " " + tailStat
			}
			out = append(out, NamedSeries{Resource: f.Resource, Metric: name, Unit: r.unit(f.Resource, f.spec), Series: s})
			f.series = "" // once
		}
	}
	return out
}

// oneStory drops each hypothesis that retells the story of one ranked
// above it: the same resource, and no finding the higher one does not
// already cite (a policy change to a table, then the same table failing as
// a dependency because of it). A reader gets one story with one first
// action; two stories on one resource with evidence of their own both stay.
func oneStory(hyps []Hypothesis) []Hypothesis {
	out := hyps[:0:0]
	for _, h := range hyps {
		told := false
		for _, above := range out {
			if above.Resource == h.Resource && subset(h.Evidence, above.Evidence) {
				told = true
				break
			}
		}
		if !told {
			out = append(out, h)
		}
	}
	return out
}

// subset reports whether every id of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func idNum(id string) int {
	var n int
	fmt.Sscanf(id, "f%d", &n)
	return n
}

// unpaged reports whether there is nothing to explain: the alarm is not in
// ALARM, its history shows no time it went into ALARM up to now, and its
// own signal did not leave its normal range. What the checks found then
// has no symptom to answer for (a deployment minutes ago, say, on a
// service whose alarm is quiet).
func (r *run) unpaged() bool {
	if r.onsetFound || strings.EqualFold(r.alarmDef.State, "ALARM") {
		return false
	}
	for _, h := range r.alarmDef.History {
		if strings.EqualFold(h.To, "ALARM") && !h.Time.After(r.now) {
			return false
		}
	}
	return true
}
