package investigate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// checkTraffic looks for a change in the system's inputs and capacity: a
// surge or a drop of requests at the entry, a shift in their mix — one new
// client, path or kind of request that grew while the rest did not — and
// capacity that went away (instances or tasks lost).
func checkTraffic(ctx context.Context, r *run) result {
	var res result
	res.add(r.capacityLoss(ctx))
	for _, id := range r.g.inScope() {
		rs := r.g.byID[id]
		if rs.Type != TypeALB && rs.Type != TypeAPIGateway && id != r.alarmDef.Resource {
			continue
		}
		var surge *finding
		var ratio float64
		var surgeStart = r.onset
		for _, spec := range catalog[rs.Type] {
			if spec.Role != roleRequests {
				continue
			}
			s, ok := r.series(ctx, id, spec)
			if !ok {
				continue
			}
			before := mean(s.values(window{r.onset.Add(-baselineGap - baselineLength), r.onset.Add(-30 * time.Minute)}))
			// At the time the alarm fires a surge is often still rising:
			// its latest level says more than its mean.
			latest := s.values(r.metricDuring())
			if before <= 0 || len(latest) == 0 {
				continue
			}
			during := maxOf(latest)
			if during < before {
				during = minOf(latest)
			}
			ratio = during / before
			if ratio < 1.5 && ratio > 0.5 {
				continue
			}
			sh := r.shiftOf(s, spec)
			surgeStart = startOr(sh.start, r.onset)
			word := "rose"
			if ratio < 1 {
				word = "fell"
			}
			surge = &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckTraffic, Resource: id, Time: surgeStart,
				Summary: fmt.Sprintf("%s %s %s to %s%s since %s, %s× its level an hour before (%s)",
					id, spec.Name, word, num(during), unitSuffix(r.unit(id, spec)), Clock(surgeStart), num(ratio), num(before)),
				Before: ptr(before), During: ptr(during), Unit: r.unit(id, spec), Link: r.metricLink(id, spec),
			}, weight: 0.7, series: metricKey(id, spec), spec: spec}
			res.findings = append(res.findings, surge)
			break
		}

		// A mix shift: request patterns of the services behind this entry
		// that appeared or grew far more than the rest.
		var mix []*finding
		for _, svc := range r.servicesBehind(id) {
			group := r.g.byID[svc].LogGroup
			if group == "" {
				continue
			}
			before, during, ok := r.logs(ctx, group)
			if !ok {
				continue
			}
			shifts := r.patternShifts(before, during)
			total, totalBefore := 0.0, perMinute(before.Lines, r.baseline)
			for _, ps := range shifts {
				total += ps.during
			}
			sort.SliceStable(shifts, func(i, j int) bool { return shifts[i].during > shifts[j].during })
			for _, ps := range shifts {
				if isErrorLine(ps.pattern.Pattern) || total == 0 {
					continue
				}
				// Traffic that grows in proportion keeps each kind's share;
				// a new client or path takes a share it did not have.
				share, shareBefore := ps.during/total, 0.0
				if totalBefore > 0 {
					shareBefore = ps.before / totalBefore
				}
				if share >= 0.2 && share >= 2*shareBefore+0.1 && ps.during >= 20 && ps.during >= 5*ps.before+10 {
					mix = append(mix, &finding{Finding: Finding{
						Kind: FindingLog, Check: CheckTraffic, Resource: id, Time: r.onset,
						Summary: fmt.Sprintf("a new kind of request makes %s%% of %s's log lines since %s: %s lines/min (%s before): %q",
							num(100*share), svc, Clock(r.onset), num(ps.during), num(ps.before), ps.pattern.Sample),
						Before: ptr(ps.before), During: ptr(ps.during), Unit: "lines/min",
					}, weight: 0.8})
				}
			}
		}
		res.findings = append(res.findings, mix...)
		// Who sends the requests: one client or path that took them over.
		who := r.clientShift(ctx, id)
		if surge == nil && len(mix) == 0 && who == nil {
			continue
		}
		c := &candidate{cause: CauseSystemChange, resource: id, surge: surge != nil && ratio > 1}
		switch {
		case who != nil:
			res.findings = append(res.findings, who.f)
			c.score = 0.7
			if surge != nil && ratio > 1 {
				c.score = 0.85
				c.evidence = append(c.evidence, surge)
			}
			c.evidence = append(c.evidence, who.f)
			c.evidence = append(c.evidence, mix...)
			c.surge = c.surge || who.surge
			c.client = true
			if f := r.entryThrottling(ctx, id); f != nil {
				res.findings = append(res.findings, f)
				c.evidence = append(c.evidence, f)
				c.shed = true
			}
			c.actions, c.prevention = clientActions(r, id, who)
		case len(mix) > 0:
			c.score = 0.6
			if surge != nil && ratio > 1 {
				c.score = 0.8
				c.evidence = append(c.evidence, surge)
			}
			c.evidence = append(c.evidence, mix...)
			c.actions, c.prevention = trafficActions(r, id, true, mix[0].Summary)
		case ratio > 1:
			c.score = 0.4 * r.alignment(surgeStart)
			c.evidence = append(c.evidence, surge)
			c.actions, c.prevention = trafficActions(r, id, false, "")
			// An entry that throttles the surge is already shedding it:
			// scaling behind it does not help; keeping the flood out does.
			if f := r.entryThrottling(ctx, id); f != nil {
				res.findings = append(res.findings, f)
				c.evidence = append(c.evidence, f)
				c.score = noisyOr(c.score, 0.3)
				c.shed = true
				c.actions = []Action{
					{ActionBlock, fmt.Sprintf("Block or rate-limit the client that floods %s (a usage plan or WAF rate-based rule on its key or address), so the others stop being throttled with it", id)},
					{ActionScale, fmt.Sprintf("If the traffic is legitimate, raise %s's throttling limits", id)},
				}
			}
		default:
			// Traffic fell: something upstream changed; worth a finding, not
			// a cause of errors here — unless the fall is what paged.
			c.score = 0.15
			if id == r.alarmDef.Resource && r.alarmFalls() && r.symptom.Role == roleRequests {
				c.score = 0.6 * r.alignment(surgeStart)
			}
			c.evidence = append(c.evidence, surge)
			c.actions = []Action{{ActionBlock, fmt.Sprintf("Find what stopped sending traffic to %s upstream (DNS, a client release, a routing change) and keep any traffic that is now wrong away from it", id)}}
			c.prevention = []string{fmt.Sprintf("Alarm on a drop of %s's request count, not only on errors", id)}
		}
		res.candidates = append(res.candidates, c)
	}
	return res
}

// add appends another result's findings and candidates.
func (res *result) add(o result) {
	res.findings = append(res.findings, o.findings...)
	res.candidates = append(res.candidates, o.candidates...)
}

// entryThrottling is a finding when the traced requests entering an entry
// resource are throttled since the onset and were not before.
func (r *run) entryThrottling(ctx context.Context, entry string) *finding {
	before, during, ok := r.traces(ctx)
	if !ok {
		return nil
	}
	b, d := byEdge(before, false)["client>"+entry], byEdge(during, false)["client>"+entry]
	if d == nil || d.requests < minTraces {
		return nil
	}
	share := float64(d.throttles) / float64(d.requests)
	prev := 0.0
	if b != nil && b.requests > 0 {
		prev = float64(b.throttles) / float64(b.requests)
	}
	if share < 0.05 || share < 3*prev+0.02 {
		return nil
	}
	return &finding{Finding: Finding{
		Kind: FindingTrace, Check: CheckTraffic, Resource: entry, Time: r.onset,
		Summary: fmt.Sprintf("%s throttles %s%% of the requests entering it since %s (%s%% before): it is shedding load (429)",
			entry, num(100*share), Clock(r.onset), num(100*prev)),
		Before: ptr(100 * prev), During: ptr(100 * share), Unit: "% throttled", Link: r.traceLink(d.traceIDs),
	}, weight: 0.8}
}

// capacityLoss finds groups (Auto Scaling groups, ECS services) whose
// in-service capacity fell at the onset: instances reclaimed, tasks lost,
// a scale-in. What made it — a person, automation, AWS — the changes check
// says; this is the effect, and restoring capacity is the move.
func (r *run) capacityLoss(ctx context.Context) result {
	var res result
	for _, id := range r.g.inScope() {
		rs := r.g.byID[id]
		if rs.Type != TypeASG && rs.Type != TypeECS {
			continue
		}
		for _, spec := range catalog[rs.Type] {
			if spec.Role != roleCapacity || strings.Contains(spec.Name, "Desired") {
				continue
			}
			s, ok := r.series(ctx, id, spec)
			if !ok {
				continue
			}
			sh := r.shiftOf(s, spec)
			if !sh.moved || sh.peak > 0.8*sh.before {
				continue
			}
			f := &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckTraffic, Resource: id, Time: startOr(sh.start, r.onset),
				Summary: fmt.Sprintf("%s %s fell to %s (%s before) at %s: the work is spread over fewer %s",
					id, spec.Name, num(sh.peak), num(sh.before), Clock(startOr(sh.start, r.onset)), r.unit(id, spec)),
				Before: ptr(sh.before), During: ptr(sh.peak), Unit: r.unit(id, spec), Link: r.metricLink(id, spec),
			}, weight: 0.8, series: metricKey(id, spec), spec: spec}
			res.findings = append(res.findings, f)
			c := &candidate{cause: CauseSystemChange, resource: id, score: 0.55 * r.alignment(sh.start), evidence: []*finding{f}, surge: true,
				actions: []Action{{ActionScale, fmt.Sprintf("Restore %s's capacity: raise its desired count back to %s (or launch in other instance types or AZs if launches fail), then find what removed it", id, num(sh.before))}},
				prevention: []string{
					fmt.Sprintf("Alarm on %s's in-service count below its desired count", id),
					"Spread capacity over instance types and AZs so one reclaim or shortage cannot take most of it",
				}}
			res.candidates = append(res.candidates, c)
			break
		}
	}
	return res
}

// servicesBehind are the services that receive an entry resource's traffic.
func (r *run) servicesBehind(entry string) []string {
	seen := map[string]bool{}
	var out []string
	if r.g.typeOf(entry) == TypeService {
		return []string{entry}
	}
	for _, t := range append(r.g.targets(entry), entry) {
		for _, s := range r.g.servicesOn(t) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}
