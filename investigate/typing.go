package investigate

import (
	"math"
	"slices"
)

// This file types where the walk located the fault, and keeps one hypothesis
// per reading of the evidence: the rules rank applies between the checks'
// candidates and the ranked list.

// takeFrom gives c a share of another candidate's support, with its
// evidence, and leaves that one keep of its own score: the more specific
// reading of the same evidence stands in for the other.
func (c *candidate) takeFrom(x *candidate, share, keep float64) {
	c.score = noisyOr(c.score, share*x.score)
	c.evidence = appendUnique(c.evidence, x.evidence...)
	x.score *= keep
}

// absorb takes on what another candidate for the same cause and resource
// knows about it: what its traffic drives, where its failing calls come
// from, and the signs that type it.
func (m *candidate) absorb(c *candidate) {
	if m.drives == "" {
		m.drives = c.drives
	}
	if m.via == "" {
		m.via = c.via
	}
	m.surge = m.surge || c.surge
	m.shed = m.shed || c.shed
	m.health = m.health || c.health
	m.throttled = m.throttled || c.throttled
	m.strained = m.strained || c.strained
	m.apart = m.apart || c.apart
	for _, h := range c.members {
		if !slices.Contains(m.members, h) {
			m.members = append(m.members, h)
		}
	}
}

// mergeSame joins the candidates that typing left with one cause and
// resource (a limit found to be a part failing, beside that part's own
// candidate): one hypothesis, with the stronger one's actions.
func mergeSame(cands []*candidate) []*candidate {
	byKey := map[string]*candidate{}
	var out []*candidate
	for _, c := range cands {
		key := string(c.cause) + "|" + c.resource
		m, ok := byKey[key]
		if !ok {
			byKey[key] = c
			out = append(out, c)
			continue
		}
		if c.score > m.score {
			m.actions, m.prevention = c.actions, c.prevention
		}
		m.score = math.Max(m.score, c.score)
		m.evidence = appendUnique(m.evidence, c.evidence...)
		m.absorb(c)
	}
	return out
}

// restsOn reports whether a candidate says again what a higher one says: the
// same cause, on no evidence the higher one lacks. The same traffic surge is
// one hypothesis, not two. Another kind of cause on the same evidence stays:
// it is another reading of it, worth a look when the first is wrong.
func restsOn(higher []*candidate, c *candidate) bool {
	for _, h := range higher {
		if h.cause != c.cause {
			continue
		}
		inside := true
		for _, f := range c.evidence {
			if !slices.Contains(h.evidence, f) {
				inside = false
				break
			}
		}
		if inside {
			return true
		}
	}
	return false
}

// unitOf is the part of the system a located resource stands for: the
// resource, the hosts it runs on and the services on it, and the entry
// resources that send it traffic, with their targets.
func (r *run) unitOf(id string) map[string]bool {
	unit := map[string]bool{id: true}
	// The hosts it runs on, and an ECS service's tasks (tasks.go).
	for _, h := range r.g.withTasks(append([]string{id}, r.g.hosts(id)...)) {
		unit[h] = true
	}
	for _, s := range r.g.servicesOn(id) {
		unit[s] = true
	}
	for _, e := range r.g.entriesOf(id) {
		unit[e] = true
	}
	if t := r.g.typeOf(id); t == TypeALB || t == TypeAPIGateway {
		for _, x := range r.g.targets(id) {
			unit[x] = true
		}
	}
	for x := range unit {
		if g := r.g.group(x); g != "" {
			unit[g] = true
		}
	}
	return unit
}

// typeLocated gives the cause to where the walk located the fault. The walk
// says where; what kind of cause it is comes from what else was found in the
// same part: a limit reached there, one of its hosts failing apart from its
// peers, or more traffic entering it. Such a typed candidate takes on the
// location's support, and the untyped location steps back. Changes are typed
// in rank's change rule, which weighs when they happened.
func (r *run) typeLocated(cands []*candidate) {
	// A part that fails apart from its peers while AWS Health says its
	// infrastructure is impaired (the instance, its zone) fails by AWS's
	// fault: the same move, excluding it, but a dependency, not a defect.
	for _, h := range cands {
		if !h.health {
			continue
		}
		for _, x := range cands {
			if x.cause == CauseComponent && x.resource == h.resource && x.change == nil {
				h.takeFrom(x, 0.8, 0.4)
			}
		}
	}

	// Traffic from outside the alarm's path that drove a shared resource to
	// its limit, or into the fault the walk located, is the cause to act on.
	for _, t := range cands {
		if t.drives == "" {
			continue
		}
		for _, x := range cands {
			if x.resource != t.drives || x.change != nil || !(x.located || (x.cause == CauseLimit && !x.saturation)) {
				continue
			}
			t.takeFrom(x, 0.9, 0.5)
		}
	}
	for _, l := range cands {
		if !l.located || l.change != nil {
			continue
		}
		unit := r.unitOf(l.resource)
		// More traffic is how a hard limit (a quota, throttles, connections
		// at their maximum) was reached, not the cause to act on: the limit
		// rejects the work, and raising it is the move.
		hardLimit, saturated := false, false
		for _, x := range cands {
			hardLimit = hardLimit || (x.cause == CauseLimit && !x.saturation && unit[x.resource])
			saturated = saturated || (x.saturation && unit[x.resource])
		}
		// More traffic explains a part only where it strains it: slower
		// answers, or saturation. Failures alone (a wrong answer, a missing
		// record) are a defect whatever the traffic.
		strained := l.strained || saturated
		for _, x := range cands {
			if x == l || x.located || x.change != nil {
				continue
			}
			var share float64
			switch {
			case len(x.members) > 0 && unitHasAny(unit, x.members):
				// The part the walk found runs on the members of a zone
				// that fail together: the zone is where it fails.
				share = zoneShare
			case (x.cause == CauseLimit || x.cause == CauseComponent) && unit[x.resource]:
				share = 0.8
			case x.health && unit[x.resource]:
				// AWS says the part is impaired: its fault is AWS's.
				share = 0.8
			case x.cause == CauseSystemChange && x.surge && (strained || x.shed) && !hardLimit && (unit[x.resource] || r.g.downstream(x.resource)[l.resource]) && !r.hardLimitBelow(cands, x.resource):
				share = 0.7
			default:
				continue
			}
			x.takeFrom(l, share, 1-share)
		}
	}

	// A zone whose members fail together stands for what was found on each
	// of them: one of them failing, AWS Health saying it is impaired, the
	// walk ending on it. With AWS Health saying so, the zone fails by AWS's
	// fault, as a part does: a dependency, with the same move.
	for _, z := range cands {
		if len(z.members) == 0 {
			continue
		}
		for _, x := range cands {
			if x != z && x.change == nil && slices.Contains(z.members, x.resource) && (x.cause == CauseComponent || x.cause == CauseDependency) {
				z.takeFrom(x, zoneShare, zoneKeep)
				z.health = z.health || x.health
			}
		}
		if z.health && z.cause == CauseComponent {
			z.cause = CauseDependency
		}
	}
}

// unitHasAny reports whether a part holds any of the ids.
func unitHasAny(unit map[string]bool, ids []string) bool {
	for _, id := range ids {
		if unit[id] {
			return true
		}
	}
	return false
}

// hardLimitBelow reports whether a limit that rejects work (not mere
// utilisation) was reached on what a resource's traffic reaches.
func (r *run) hardLimitBelow(cands []*candidate, id string) bool {
	below := r.g.downstream(id)
	for _, x := range cands {
		if x.cause == CauseLimit && !x.saturation && below[x.resource] {
			return true
		}
	}
	return false
}

// onlyChanges reports whether a candidate rests on change events alone.
func onlyChanges(c *candidate) bool {
	for _, f := range c.evidence {
		if f.Kind != FindingChange {
			return false
		}
	}
	return true
}
