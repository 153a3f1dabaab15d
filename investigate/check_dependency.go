package investigate

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// healthServiceTypes maps AWS Health service codes to resource types.
var healthServiceTypes = map[string]string{
	"EC2":                  TypeEC2,
	"ELASTICLOADBALANCING": TypeALB,
	"APIGATEWAY":           TypeAPIGateway,
	"LAMBDA":               TypeLambda,
	"DYNAMODB":             TypeDynamoDB,
	"RDS":                  TypeRDS,
	"SQS":                  TypeSQS,
	"ECS":                  TypeECS,
	"AUTOSCALING":          TypeASG,
}

// checkDependency finds the downstream node where failures or latency start:
// a traced call from a service to what it calls that fails since the onset
// while what that node calls in turn does not, an AWS Health event on a
// dependency, an external API.
func checkDependency(ctx context.Context, r *run) result {
	var res result
	cands := map[string]*candidate{}
	addCand := func(cause, id string, score float64, f *finding) *candidate {
		key := cause + "|" + id
		c, ok := cands[key]
		if !ok {
			c = &candidate{cause: cause, resource: id}
			cands[key] = c
		}
		c.score = noisyOr(c.score, score)
		c.evidence = append(c.evidence, f)
		return c
	}
	failsOnErrors := r.symptom.Role != roleLatency

	if before, during, ok := r.traces(ctx); ok {
		b, d := byEdge(before, false), byEdge(during, false)
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		failingFrom := map[string]bool{} // callers with a failing outgoing call
		for _, k := range keys {
			if r.g.typeOf(d[k].caller) == TypeService && edgeFailing(b[k], d[k]) {
				failingFrom[d[k].caller] = true
			}
		}
		for _, k := range keys {
			e := d[k]
			if r.g.typeOf(e.caller) != TypeService {
				continue // entry edges: the service itself, not what it depends on
			}
			if !r.g.has(e.callee) {
				continue
			}
			pb := b[k]
			switch {
			case edgeFailing(pb, e):
				before := 0.0
				if pb != nil {
					before = pb.failRate()
				}
				f := &finding{Finding: Finding{
					Kind: FindingTrace, Check: CheckDependency, Resource: e.callee, Time: r.onset,
					Summary: fmt.Sprintf("calls from %s to %s fail since %s: %s%% of %d traced calls (%s%% before); exception: %q",
						e.caller, r.g.label(e.callee), clock(r.onset), num(100*e.failRate()), e.requests, num(100*before), e.topException()),
					Before: ptr(100 * before), During: ptr(100 * e.failRate()), Unit: "% failed",
					Link: r.traceLink(e.traceIDs),
				}, weight: 0.9}
				res.findings = append(res.findings, f)
				if float64(e.throttles) >= 0.5*float64(e.failures) {
					// Throttling is the callee at a limit, not the callee down.
					addCand(CauseLimit, e.callee, 0.55, f)
					continue
				}
				if failingFrom[e.callee] {
					continue // it fails because of what it calls
				}
				score := 0.7
				if !failsOnErrors {
					score = 0.55
				}
				addCand(CauseDependency, e.callee, score, f)
			case edgeSlow(pb, e):
				f := &finding{Finding: Finding{
					Kind: FindingTrace, Check: CheckDependency, Resource: e.callee, Time: r.onset,
					Summary: fmt.Sprintf("calls from %s to %s are slower since %s: %s ms on average (%s ms before), with %s%% failing",
						e.caller, r.g.label(e.callee), clock(r.onset), num(ms(e.latency)), num(ms(pb.latency)), num(100*e.failRate())),
					Before: ptr(ms(pb.latency)), During: ptr(ms(e.latency)), Unit: "ms",
					Link: r.traceLink(e.traceIDs),
				}, weight: 0.5}
				res.findings = append(res.findings, f)
				// Slow but not failing explains a latency alarm, not an
				// error alarm.
				score := 0.55
				if failsOnErrors {
					score = 0.15
				}
				addCand(CauseDependency, e.callee, score, f)
			}
		}
	}

	// Error metrics of what the services call, where traces say nothing.
	for _, id := range r.g.inScope() {
		if len(r.g.related(id, RelCalls, false)) == 0 {
			continue
		}
		res0 := r.g.byID[id]
		for _, spec := range catalog[res0.Type] {
			if spec.Role != roleErrors {
				continue
			}
			s, ok := r.series(ctx, id, spec)
			if !ok {
				continue
			}
			sh := r.shiftOf(s, spec)
			if !sh.moved {
				continue
			}
			f := &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckDependency, Resource: id, Time: startOr(sh.start, r.onset),
				Summary: fmt.Sprintf("%s %s rose to %s%s since %s (%s before)",
					id, spec.Name, num(sh.during), unitSuffix(spec.Unit), clock(startOr(sh.start, r.onset)), num(sh.before)),
				Before: ptr(sh.before), During: ptr(sh.during), Unit: spec.Unit, Link: r.metricLink(id, spec),
			}, weight: 0.6, series: metricKey(id, spec), spec: spec}
			res.findings = append(res.findings, f)
			addCand(CauseDependency, id, 0.45*r.alignment(sh.start), f)
		}
	}

	// AWS Health events open at the onset on what is in scope.
	if events, ok := get(ctx, r, "health", r.health); ok {
		fails := r.shared(ctx).failing
		for _, ev := range events {
			if ev.Start.After(r.onset.Add(10*r.step)) || (!ev.End.IsZero() && ev.End.Before(r.onset)) {
				continue
			}
			affected := r.healthAffected(ev)
			if len(affected) == 0 {
				continue
			}
			f := &finding{Finding: Finding{
				Kind: FindingHealth, Check: CheckDependency, Resource: affected[0], Time: ev.Start,
				Summary: fmt.Sprintf("AWS Health %s event %s (%s) since %s affects %s: %s",
					ev.Service, ev.Type, ev.Status, clock(ev.Start), strings.Join(affected, ", "), firstSentence(ev.Description)),
				Link: "https://health.aws.amazon.com/health/home#/account/dashboard/open-issues",
			}, weight: 0.9}
			res.findings = append(res.findings, f)
			for _, id := range affected {
				score := 0.45
				if _, bad := fails[id]; bad {
					score = 0.8
				}
				addCand(CauseDependency, id, score*r.alignment(ev.Start), f)
			}
		}
	}

	keys := make([]string, 0, len(cands))
	for k := range cands {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := cands[k]
		if c.cause == CauseLimit {
			c.actions, c.prevention = limitActions(r, c.resource, nil)
		} else {
			health := false
			for _, f := range c.evidence {
				health = health || f.Kind == FindingHealth
			}
			c.actions, c.prevention = dependencyActions(r, c.resource, health)
		}
		res.candidates = append(res.candidates, c)
	}
	return res
}

// healthAffected lists the resources in scope a Health event affects: those
// it names, or else those of its service (in its AZ, when it has one).
func (r *run) healthAffected(ev HealthEvent) []string {
	var ids []string
	for _, ref := range ev.Resources {
		if id := r.resolve(ref); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 || len(ev.Resources) > 0 {
		return ids
	}
	typ := healthServiceTypes[strings.ToUpper(ev.Service)]
	for _, id := range r.g.inScope() {
		res := r.g.byID[id]
		if res.Type == typ && (ev.AZ == "" || res.AZ == ev.AZ) {
			ids = append(ids, id)
		}
	}
	return ids
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
