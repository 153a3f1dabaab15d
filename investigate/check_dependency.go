package investigate

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// healthServiceTypes maps AWS Health service codes to resource types.
var healthServiceTypes = map[string]ResourceType{
	"EC2":                  TypeEC2,
	"ELASTICLOADBALANCING": TypeALB,
	"APIGATEWAY":           TypeAPIGateway,
	"LAMBDA":               TypeLambda,
	"DYNAMODB":             TypeDynamoDB,
	"RDS":                  TypeRDS,
	"SQS":                  TypeSQS,
	"ECS":                  TypeECS,
	"AUTOSCALING":          TypeASG,
	"EBS":                  TypeEBS,
	"NATGATEWAY":           TypeNATGateway,
	"ELASTICACHE":          TypeElastiCache,
	"SNS":                  TypeSNS,
	"STATES":               TypeStepFunctions,
}

// checkDependency localizes the fault: the deepest anomalous resource below
// the alarm that explains what is above it (localize.go), typed here only as
// far as the walk can tell — a throttling AWS resource is at a limit, load
// its callers did not send is a change in its inputs, the part behind the
// alarm itself is a component, anything else a dependency; rank types it
// further from the other checks. It adds the AWS Health events open on what
// is in scope.
func checkDependency(ctx context.Context, r *run) result {
	var res result
	cands := map[string]*candidate{}
	addCand := func(cause Cause, id string, score float64, f *finding) *candidate {
		key := string(cause) + "|" + id
		c, ok := cands[key]
		if !ok {
			c = &candidate{cause: cause, resource: id}
			cands[key] = c
		}
		c.score = noisyOr(c.score, score)
		c.evidence = appendUnique(c.evidence, f)
		return c
	}
	// Health first: it is one call, and waiting for the logs and traces the
	// walk reads must not turn its own failure into a timeout.
	events, healthOK := get(ctx, r, "health", r.health)
	sigs := r.scoredSignals(ctx)
	alarmUnit := r.g.alarmUnit()
	// What the walk finds explains the alarm only as far as the alarm's own
	// signal moved: when it barely did (an alarm on a threshold set close,
	// or fired on a blip), the strongest lead nearby is only a lead.
	symptom := 0.6 + 0.4*strength(sigs[r.primaryClass()].best[r.g.root].zOr0())
	outside := r.outsideTraffic(ctx, sigs)
	for _, c := range outside {
		res.findings = append(res.findings, c.evidence...)
	}
	for _, l := range r.localize(sigs) {
		if l.score < minScore {
			continue
		}
		culprit := r.culpritOf(sigs[l.class], l.node)
		f := r.signalFinding(l.sig, CheckDependency)
		res.findings = append(res.findings, f)
		evidence := []*finding{f}
		if q := r.quietFinding(sigs[l.class], l); q != nil {
			res.findings = append(res.findings, q)
			evidence = append(evidence, q)
		}
		peers := r.apart(sigs[l.class], l.node)
		cause, score := CauseDependency, l.score*symptom
		switch {
		case l.sig.throttle && r.g.typeOf(culprit) != TypeExternal:
			// Throttling by an AWS resource is that resource at its limit;
			// a vendor that throttles is a dependency failing us.
			cause = CauseLimit
		case peers != nil:
			// One member of a group doing the same work fails while its
			// peers show nothing: what differs is that member.
			cause = CauseComponent
		case alarmUnit[l.node] || alarmUnit[culprit]:
			// Nothing it depends on explains the alarm's own resource: the
			// fault is in the part behind the alarm itself, the suspect
			// people start from, and the least telling answer.
			cause, score = CauseComponent, 0.5*score
		case ownCompute[r.g.typeOf(culprit)]:
			// A part the team runs (a service, its tasks, instances or
			// functions) that fails while what it calls is sound has failed
			// itself: restart or roll it back. Fail away is for what the
			// team does not run: AWS's tables, queues and databases, and
			// third parties.
			cause = CauseComponent
		}
		st := sigs[classState].best[l.node]
		load := l.sig.load || (st != nil && st.load && anomalous(st))
		if load {
			// More load than its callers send: a client the topology does
			// not know. Holding that traffic back is the move.
			cause = CauseSystemChange
		}
		if peers != nil {
			f := &finding{Finding: Finding{
				Kind: FindingMetric, Check: CheckDependency, Resource: l.node, Time: r.onset,
				Summary: fmt.Sprintf("%s's peers doing the same work show no %s change since %s: %s", l.node, l.class, Clock(r.onset), strings.Join(peers, ", ")),
			}, weight: 0.5}
			res.findings = append(res.findings, f)
			evidence = append(evidence, f)
		}
		c := addCand(cause, culprit, score, evidence[0])
		c.located = true
		c.apart = c.apart || peers != nil
		c.surge = c.surge || load
		if l.sig.caller != "" && l.sig.caller != "client" {
			c.via = l.sig.caller
		}
		c.throttled = c.throttled || l.sig.throttle
		c.strained = c.strained || l.class == classLatency
		for _, e := range evidence[1:] {
			c.evidence = appendUnique(c.evidence, e)
		}
	}

	// AWS Health events open at the onset on what is in scope.
	if healthOK {
		fails := r.shared(ctx).failing
		for _, ev := range events {
			// AWS posts an event minutes into the impact, so one that opens
			// after the onset still explains it.
			if ev.Start.After(r.onset.Add(healthLag)) || (!ev.End.IsZero() && ev.End.Before(r.onset)) {
				continue
			}
			affected := r.healthAffected(ev)
			if len(affected) == 0 {
				continue
			}
			// AWS backdates an event's start to when its impact began; it
			// could be known only once posted. It is weighed, and placed
			// in time, by when it could be known.
			known := healthKnown(ev)
			f := &finding{Finding: Finding{
				Kind: FindingHealth, Check: CheckDependency, Resource: affected[0], Time: known,
				Summary: fmt.Sprintf("AWS Health %s event %s (%s) %s affects %s: %s",
					ev.Service, ev.Type, ev.Status, r.healthWhen(ev.Start, known), strings.Join(affected, ", "), firstSentence(ev.Description)),
				Link: "https://health.aws.amazon.com/health/home#/account/dashboard/open-issues",
			}, weight: 0.9, words: ev.Type + " " + ev.Description}
			res.findings = append(res.findings, f)
			for _, id := range affected {
				score := 0.45
				if _, bad := fails[id]; bad {
					score = 0.8
				}
				align := 1.0
				if known.Before(r.onset) {
					align = r.alignment(known)
				}
				addCand(CauseDependency, id, score*align, f).health = true
			}
		}
	}

	for _, k := range slices.Sorted(maps.Keys(cands)) {
		c := cands[k]
		switch c.cause {
		case CauseSystemChange:
			c.actions, c.prevention = unknownClientActions(r, c.resource)
		case CauseLimit:
			c.actions, c.prevention = limitActions(r, c.resource, nil)
		case CauseComponent:
			c.actions, c.prevention = unitActions(r, c.resource)
		default:
			health := false
			for _, f := range c.evidence {
				health = health || f.Kind == FindingHealth
			}
			c.actions, c.prevention = dependencyActions(ctx, r, c.resource, health, refusedRE.MatchString(evidenceText(c)))
		}
		res.candidates = append(res.candidates, c)
	}
	res.candidates = append(res.candidates, outside...)
	return res
}

// refusedRE matches failures that say access was refused: a replica or
// another Region under the same policy or key would refuse them too.
var refusedRE = regexp.MustCompile(`accessdenied|access denied|not authorized|forbidden|unauthori[sz]ed|kmsdisabled|kmsinvalidstate|kmsaccessdenied`)

// apart returns the peers of a resource (the other hosts of the services on
// it, or of its group) when they all have readings of the class and none is
// anomalous, and nil otherwise.
func (r *run) apart(ns *nodeSignals, id string) []string {
	var peers []string
	for _, group := range r.g.peerGroups() {
		if !slices.Contains(group, id) {
			continue
		}
		for _, p := range group {
			if p == id {
				continue
			}
			if !ns.hasData[p] || anomalous(ns.best[p]) {
				return nil
			}
			peers = append(peers, p)
		}
	}
	return peers
}

// ownCompute are the types of the parts the team runs itself.
var ownCompute = map[ResourceType]bool{TypeService: true, TypeLambda: true, TypeECS: true, TypeEC2: true, TypeASG: true}

// healthLag is how long after the onset an AWS Health event may open and
// still be its cause.
const healthLag = 30 * time.Minute

// healthKnown is when a Health event could be known: when it was posted,
// or its start when that is later (an event announced ahead, like a
// scheduled maintenance) or the source cannot tell.
func healthKnown(ev HealthEvent) time.Time {
	if ev.Posted.After(ev.Start) {
		return ev.Posted
	}
	return ev.Start
}

// healthWhen says when a Health event began: since its start, or, when
// AWS posted it later than the start it gives, both times against the
// onset.
func (r *run) healthWhen(start, known time.Time) string {
	if known.Sub(start) < time.Minute {
		return "since " + Clock(start)
	}
	return fmt.Sprintf("dated by AWS from %s (%s) but posted at %s (%s)",
		Clock(start), r.relOnset(start), Clock(known), r.relOnset(known))
}

// relOnset says how far t is from the onset: "12 min before the onset".
func (r *run) relOnset(t time.Time) string {
	switch d := t.Sub(r.onset); {
	case d < 0:
		return ago(d) + " before the onset"
	case d == 0:
		return "at the onset"
	default:
		return ago(d) + " after the onset"
	}
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
