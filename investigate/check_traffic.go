package investigate

import (
	"context"
	"fmt"
	"sort"
)

// checkTraffic looks for a change in the system's inputs: a surge or a drop
// of requests at the entry, and a shift in their mix — one new client, path or
// kind of request that grew while the rest did not.
func checkTraffic(ctx context.Context, r *run) result {
	var res result
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
			before := mean(s.values(window{r.onset.Add(-baselineGap - baselineLength), r.onset.Add(-30 * r.step)}))
			// At the time the alarm fires a surge is often still rising:
			// its latest level says more than its mean.
			latest := s.values(window{r.onset, r.during.end})
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
					id, spec.Name, word, num(during), unitSuffix(spec.Unit), clock(surgeStart), num(ratio), num(before)),
				Before: ptr(before), During: ptr(during), Unit: spec.Unit, Link: r.metricLink(id, spec),
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
							num(100*share), svc, clock(r.onset), num(ps.during), num(ps.before), ps.pattern.Sample),
						Before: ptr(ps.before), During: ptr(ps.during), Unit: "lines/min",
					}, weight: 0.8})
				}
			}
		}
		res.findings = append(res.findings, mix...)
		if surge == nil && len(mix) == 0 {
			continue
		}
		c := &candidate{cause: CauseSystemChange, resource: id, surge: ratio > 1}
		switch {
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
		default:
			// Traffic fell: something upstream changed; worth a finding, not
			// a cause of errors here.
			c.score = 0.15
			c.evidence = append(c.evidence, surge)
			c.actions, c.prevention = trafficActions(r, id, false, "")
		}
		res.candidates = append(res.candidates, c)
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
