package investigate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// limitOf is the ceiling a metric runs into on a resource, from its
// configuration or its quotas; 0 when there is none known.
func (r *run) limitOf(res *Resource, spec metricSpec, quotas []Quota) (limit float64, what string) {
	conf := func(k string) float64 {
		v, _ := strconv.ParseFloat(res.Config[k], 64)
		return v
	}
	// Consumed capacity is a sum per period; provisioned units are per second.
	secondsPerPeriod := r.step.Seconds()
	switch spec.Role {
	case roleConcurrency:
		if v := conf("reserved_concurrency"); v > 0 {
			return v, "its reserved concurrency"
		}
		for _, q := range quotas {
			if q.Resource == res.ID && strings.Contains(strings.ToLower(q.Name), "concurren") {
				return q.Value, fmt.Sprintf("the %s quota %s (%s)", q.Service, q.Code, q.Name)
			}
		}
	case roleConnections:
		if v := conf("max_connections"); v > 0 {
			return v, "max_connections"
		}
	case roleConsumedRead:
		if v := conf("rcu"); v > 0 && res.Config["mode"] == "provisioned" {
			return v * secondsPerPeriod, fmt.Sprintf("its provisioned %s RCU", num(v))
		}
	case roleConsumedWrite:
		if v := conf("wcu"); v > 0 && res.Config["mode"] == "provisioned" {
			return v * secondsPerPeriod, fmt.Sprintf("its provisioned %s WCU", num(v))
		}
	case roleUtilisation, roleMemory, roleDisk:
		return 100, "100%"
	case roleRequests:
		// Only a rate that a quota caps per second: a topic's publishes.
		return publishLimit(res, quotas, secondsPerPeriod)
	}
	// Any other quota on the resource whose name matches the metric.
	for _, q := range quotas {
		if q.Resource == res.ID && strings.Contains(strings.ToLower(spec.Name), strings.ToLower(strings.Fields(q.Name + " x")[0])) {
			return q.Value, fmt.Sprintf("the %s quota %s (%s)", q.Service, q.Code, q.Name)
		}
	}
	return 0, ""
}

// checkLimits finds what ran into a limit: throttles, usage at its quota or
// configured ceiling, connections at their maximum, CPU credits at zero,
// memory or disk full, free storage gone.
func checkLimits(ctx context.Context, r *run) result {
	var res result
	quotas, _ := get(ctx, r, "quotas", r.quotas)
	peers := map[string][]string{} // each host's peers
	for _, hosts := range r.g.peerGroups() {
		for _, h := range hosts {
			for _, o := range hosts {
				if o != h {
					peers[h] = append(peers[h], o)
				}
			}
		}
	}

	for _, id := range r.g.inScope() {
		rs := r.g.byID[id]
		var evidence []*finding
		var score float64
		saturation := true
		busy := true  // the limit rests on CPU or memory alone
		lone := false // memory or disk ran out here and on none of its peers
		var quota *Quota
		for _, spec := range catalog[rs.Type] {
			s, ok := r.series(ctx, id, spec)
			if !ok {
				continue
			}
			sh := r.shiftOf(s, spec)
			var f *finding
			var sc float64
			switch spec.Role {
			case roleThrottles:
				if !sh.moved {
					continue
				}
				f = r.metricFinding(id, spec, sh, fmt.Sprintf("%s %s rose to %s%s since %s (%s before)",
					id, spec.Name, num(sh.during), unitSuffix(r.unit(id, spec)), Clock(startOr(sh.start, r.onset)), num(sh.before)))
				sc = 0.55
			case roleLimitHit:
				if !sh.moved {
					continue
				}
				f = r.metricFinding(id, spec, sh, fmt.Sprintf("%s %s rose to %s%s since %s (%s before)%s",
					id, spec.Name, num(sh.peak), unitSuffix(r.unit(id, spec)), Clock(startOr(sh.start, r.onset)), num(sh.before), r.limitHitMeaning(ctx, rs, spec)))
				sc = 0.6
			case roleConcurrency, roleConnections, roleConsumedRead, roleConsumedWrite, roleUtilisation, roleMemory, roleDisk, roleRequests:
				limit, what := r.limitOf(rs, spec, quotas)
				// What reaches a ceiling may fall back just before the
				// onset (a process killed at the top restarts empty): the
				// ceiling counts from a little before it.
				sh.peak = math.Max(sh.peak, maxOf(s.values(window{r.onset.Add(-2 * r.step), r.telemetry.end})))
				if limit <= 0 || sh.peak < 0.9*limit || sh.before >= 0.9*limit {
					continue
				}
				// A limit matters from when it was reached.
				if t := crossedAt(s, window{r.telemetry.start, r.telemetry.end}, 0.9*limit, true); !t.IsZero() {
					sh.start = t
				}
				of := fmt.Sprintf(", %s%% of %s", num(100*sh.peak/limit), what)
				if spec.Unit == "%" {
					of = ""
				}
				f = r.metricFinding(id, spec, sh, fmt.Sprintf("%s %s reached %s%s%s (%s before)",
					id, spec.Name, num(sh.peak), unitSuffix(r.unit(id, spec)), of, num(sh.before)))
				if spec.Role == roleMemory || spec.Role == roleDisk {
					// Memory and disk fill slowly: what made them grow
					// happened when they started to, long before the limit.
					if t := risingSince(s, window{r.telemetry.start, r.onset.Add(r.step)}); !t.IsZero() {
						f.since = t
						f.Summary += fmt.Sprintf(", growing since %s", Clock(t))
					}
				}
				if (spec.Role == roleMemory || spec.Role == roleDisk) && len(peers[id]) > 0 && !r.anyAtLevel(ctx, peers[id], spec, 0.9*limit) {
					lone = true
				}
				sc = 0.6
				if spec.Role == roleUtilisation || spec.Role == roleMemory || spec.Role == roleDisk {
					sc = 0.45
				}
				if strings.HasPrefix(what, "the ") {
					quota = &Quota{Resource: id, Name: what, Value: limit}
				}
			case roleCredits:
				if sh.before < 10 || sh.peak > 1 {
					continue
				}
				if t := crossedAt(s, window{r.telemetry.start, r.telemetry.end}, 1, false); !t.IsZero() {
					sh.start = t
				}
				f = r.metricFinding(id, spec, sh, fmt.Sprintf("%s %s ran out: %s (%s before); %s",
					id, spec.Name, num(sh.peak), num(sh.before), creditsMeaning(rs)))
				sc = 0.65
			case roleFreeStorage, roleFreeMemory:
				if sh.before <= 0 || sh.peak > 0.05*sh.before {
					continue
				}
				if t := crossedAt(s, window{r.telemetry.start, r.telemetry.end}, 0.05*sh.before, false); !t.IsZero() {
					sh.start = t
				}
				f = r.metricFinding(id, spec, sh, fmt.Sprintf("%s %s fell to %s bytes (%s before)",
					id, spec.Name, num(sh.peak), num(sh.before)))
				sc = 0.6
			default:
				continue
			}
			sc *= r.alignment(sh.start)
			if spec.Role != roleUtilisation && spec.Role != roleMemory && spec.Role != roleDisk {
				saturation = false
			}
			busy = busy && (spec.Role == roleUtilisation || spec.Role == roleMemory)
			if rs.Type == TypeElastiCache {
				// A cache's memory holds its data and its CPU runs its
				// callers' commands: full, it refuses or evicts, and a
				// restart would lose the data and fix neither.
				saturation = saturation && spec.Role != roleMemory
				busy = false
			}
			evidence = append(evidence, f)
			score = noisyOr(score, sc)
		}
		if len(evidence) == 0 {
			continue
		}
		res.findings = append(res.findings, evidence...)
		if lone {
			// Memory or disk that ran out on one host and none of its peers
			// is that host failing: restart it.
			c := &candidate{cause: CauseComponent, resource: id, score: score, evidence: evidence}
			c.actions, c.prevention = componentActions(r, id, true)
			res.candidates = append(res.candidates, c)
			continue
		}
		// One host of several at its limit is one part failing; the component
		// check weighs it against its peers.
		if len(peers[id]) > 0 {
			score *= 0.6
		}
		c := &candidate{cause: CauseLimit, resource: id, score: score, evidence: evidence, saturation: saturation, busy: busy}
		c.actions, c.prevention = limitActions(r, id, quota)
		res.candidates = append(res.candidates, c)
	}
	res.add(r.cannotGrow(ctx, quotas))
	// Last, since it waits for the changes: what AWS refused to place or
	// launch.
	res.add(r.refusedRoom(ctx, quotas, res.candidates))
	// What the refusals took in is gone.
	res.candidates = slices.DeleteFunc(res.candidates, func(c *candidate) bool { return c.score == 0 })
	sort.SliceStable(res.candidates, func(i, j int) bool { return res.candidates[i].score > res.candidates[j].score })
	return res
}

// cannotGrow finds groups (ECS services, Auto Scaling groups) that want
// more capacity than they run since the onset: the tasks or instances asked
// for cannot be placed or launched, which is a limit (an account quota, the
// subnets' addresses, an instance type's availability) however busy the
// running ones are.
func (r *run) cannotGrow(ctx context.Context, quotas []Quota) result {
	var res result
	for _, id := range r.g.inScope() {
		rs := r.g.byID[id]
		var desired, running *metricSpec
		for i, spec := range catalog[rs.Type] {
			if spec.Role != roleCapacity {
				continue
			}
			if strings.Contains(spec.Name, "Desired") {
				desired = &catalog[rs.Type][i]
			} else {
				running = &catalog[rs.Type][i]
			}
		}
		if desired == nil || running == nil {
			continue
		}
		ds, ok1 := r.series(ctx, id, *desired)
		rn, ok2 := r.series(ctx, id, *running)
		if !ok1 || !ok2 {
			continue
		}
		// It must have asked for more than before: tasks that die and
		// restart leave fewer running than desired too, without any limit.
		base := r.metricBaseline()
		gapBefore := mean(ds.values(base)) - mean(rn.values(base))
		want, have := maxOf(ds.values(r.metricDuring())), mean(rn.values(r.metricDuring()))
		if want-have < 1 || want-have < 0.1*have || gapBefore > 0.5 || want <= median(ds.values(base)) {
			continue
		}
		what := ""
		var quota *Quota
		for _, q := range quotas {
			if q.Resource == id {
				quota = &Quota{Resource: id, Name: "the " + q.Name, Value: q.Value}
				what = fmt.Sprintf("; the %s quota %s (%s) applies to it: %s", q.Service, q.Code, q.Name, num(q.Value))
				break
			}
		}
		f := &finding{Finding: Finding{
			Kind: FindingMetric, Check: CheckLimits, Resource: id, Time: r.onset,
			Summary: fmt.Sprintf("%s wants %s %s but runs %s since %s: it cannot add the capacity it asks for%s",
				id, num(want), desired.Unit, num(have), Clock(r.onset), what),
			Before: ptr(gapBefore), During: ptr(want - have), Unit: desired.Unit + " missing",
			Link: r.metricLink(id, *running),
		}, weight: 0.8, series: metricKey(id, *running), spec: *running}
		res.findings = append(res.findings, f)
		c := &candidate{cause: CauseLimit, resource: id, score: 0.6, evidence: []*finding{f}}
		c.actions, c.prevention = limitActions(r, id, quota)
		res.candidates = append(res.candidates, c)
	}
	return res
}

// anyAtLevel reports whether any of the hosts' metric peaked at the level
// since the onset.
func (r *run) anyAtLevel(ctx context.Context, hosts []string, spec metricSpec, level float64) bool {
	for _, h := range hosts {
		if s, ok := r.series(ctx, h, spec); ok && r.shiftOf(s, spec).peak >= level {
			return true
		}
	}
	return false
}

func (r *run) metricFinding(id string, spec metricSpec, sh shift, summary string) *finding {
	return &finding{Finding: Finding{
		Kind: FindingMetric, Check: CheckLimits, Resource: id, Time: startOr(sh.start, r.onset),
		Summary: summary, Before: ptr(sh.before), During: ptr(sh.peak), Unit: r.unit(id, spec),
		Link: r.metricLink(id, spec),
	}, weight: 0.8, series: metricKey(id, spec), spec: spec}
}

// risingSince is when a series that ends high last stood near its floor:
// the start of a steady climb to where it is. Zero when it did not climb by
// at least a fifth of its scale.
func risingSince(s Series, w window) time.Time {
	idx := s.indexIn(w)
	if len(idx) < 3 {
		return time.Time{}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, i := range idx {
		lo, hi = math.Min(lo, s.Values[i]), math.Max(hi, s.Values[i])
	}
	end := s.Values[idx[len(idx)-1]]
	if hi <= 0 || end-lo < 0.2*hi {
		return time.Time{}
	}
	for j := len(idx) - 1; j >= 0; j-- {
		if s.Values[idx[j]] <= lo+0.1*(end-lo) {
			return s.Times[idx[j]]
		}
	}
	return time.Time{}
}
