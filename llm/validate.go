package llm

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/redact"
)

// Text limits of what the model writes.
const (
	maxTitle       = 160
	maxExplanation = 1200
	maxSummary     = 1200
	maxDetail      = 400
	maxPrevention  = 5
	maxHypotheses  = 5
	// maxConfidence is the engine's own ceiling.
	maxConfidence = 0.95
	// confidenceShift is how far the model may move the confidence of a
	// hypothesis the engine ranked.
	confidenceShift = 0.25
)

// grounds is what a reply is validated against: the report the engine
// produced.
type grounds struct {
	findings  map[string]investigate.Finding
	resources map[string]bool
	// engine are the engine's hypotheses, worded offline, in rank order.
	engine []investigate.Hypothesis
	refs   map[string]int // "c1" → index in engine
	ids    []string
}

func newGrounds(base investigate.Report) grounds {
	g := grounds{findings: map[string]investigate.Finding{}, resources: map[string]bool{}, engine: base.Hypotheses, refs: map[string]int{}}
	for _, f := range base.Findings {
		g.findings[f.ID] = f
		g.ids = append(g.ids, f.ID)
	}
	for _, id := range allowedResources(base) {
		g.resources[id] = true
	}
	for i := range base.Hypotheses {
		g.refs[candidateRef(i)] = i
	}
	return g
}

func key(cause investigate.Cause, resource string) string { return string(cause) + "|" + resource }

// HypothesisKey names a hypothesis by its cause and resource
// ("own-change|orders-table"), as Summary's accepted list does.
func HypothesisKey(h investigate.Hypothesis) string { return key(h.Cause, h.Resource) }

func (g grounds) engineIndex(cause investigate.Cause, resource string) int {
	for i, h := range g.engine {
		if h.Cause == cause && h.Resource == resource {
			return i
		}
	}
	return -1
}

// checked is a hypothesis of the model that passed validation.
type checked struct {
	investigate.Hypothesis
	// confidence is the model's, NaN when it gave none.
	confidence float64
	actions    []investigate.Action
	prevention []string
	merges     []int // engine indexes folded into this one
}

var idRef = regexp.MustCompile(`\b[fF]\d+\b`)

// normID reads "f3", "F3", "[f3]" as "f3".
func normID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "[")
	s = strings.TrimSuffix(s, "]")
	return strings.ToLower(strings.TrimSpace(s))
}

// validate checks every hypothesis of a reply against the grounds. It
// returns the ones that pass, and the problems, phrased for the model to
// repair. A hypothesis fails on a cause that is not one of the five, a
// resource out of scope, evidence that is missing, unknown or only notes, a
// finding id in its text that does not exist, or repeating another; a
// wrong action or merge ref only loses that action or ref.
func validate(rep modelReply, g grounds) ([]checked, []string) {
	var ok []checked
	var problems []string
	seen := map[string]bool{}
	for i, mh := range rep.Hypotheses {
		n := i + 1
		cause := investigate.Cause(strings.ToLower(strings.TrimSpace(string(mh.Cause))))
		res := strings.TrimSpace(string(mh.Resource))
		label := fmt.Sprintf("hypothesis %d (%s %s)", n, cause, res)
		var errs []string
		if !slices.Contains(causes, cause) {
			errs = append(errs, fmt.Sprintf("cause %q is not one of %s", cause, join(causes, ", ")))
		}
		if !g.resources[res] {
			errs = append(errs, fmt.Sprintf("resource %q is not in scope; use one of the data's resources", res))
		}
		var ev, unknown []string
		nonNote := 0
		for _, raw := range mh.Evidence {
			id := normID(raw)
			f, exists := g.findings[id]
			switch {
			case !exists:
				unknown = append(unknown, raw)
			case !slices.Contains(ev, id):
				ev = append(ev, id)
				if f.Kind != investigate.FindingNote {
					nonNote++
				}
			}
		}
		switch {
		case len(unknown) > 0:
			errs = append(errs, fmt.Sprintf("evidence %s %s not a finding id of the data", quoteList(unknown), isAre(len(unknown))))
		case len(ev) == 0:
			errs = append(errs, "cites no finding")
		case nonNote == 0:
			errs = append(errs, "rests only on notes, which are what people said, not evidence")
		}
		text := string(mh.Title) + " " + string(mh.Explanation)
		var badRefs []string
		for _, ref := range idRef.FindAllString(text, -1) {
			if _, exists := g.findings[normID(ref)]; !exists && !slices.Contains(badRefs, ref) {
				badRefs = append(badRefs, ref)
			}
		}
		if len(badRefs) > 0 {
			errs = append(errs, fmt.Sprintf("its text cites %s, which %s not a finding", quoteList(badRefs), isAre(len(badRefs))))
		}
		if k := key(cause, res); seen[k] && len(errs) == 0 {
			errs = append(errs, "repeats an earlier hypothesis with the same cause and resource; merge them")
		}
		if len(errs) > 0 {
			problems = append(problems, label+": "+strings.Join(errs, "; "))
			continue
		}
		seen[key(cause, res)] = true
		c := checked{confidence: math.NaN()}
		c.Cause, c.Resource = cause, res
		c.Title = clean(string(mh.Title), maxTitle)
		c.Explanation = clean(string(mh.Explanation), maxExplanation)
		sort.SliceStable(ev, func(a, b int) bool { return idNum(ev[a]) < idNum(ev[b]) })
		c.Evidence = ev
		if mh.Confidence != nil && !math.IsNaN(float64(*mh.Confidence)) && !math.IsInf(float64(*mh.Confidence), 0) {
			c.confidence = math.Max(0, math.Min(1, float64(*mh.Confidence)))
		}
		for _, a := range mh.Actions {
			kind := investigate.ActionKind(strings.ToLower(strings.TrimSpace(a.Kind)))
			detail := clean(a.Detail, maxDetail)
			switch {
			case !slices.Contains(actionKinds, kind):
				problems = append(problems, fmt.Sprintf("%s: action kind %q is not one of %s (the action was dropped)", label, kind, join(actionKinds, ", ")))
			case !slices.Contains(fitting[cause], kind):
				problems = append(problems, fmt.Sprintf("%s: action kind %q is not a first move for %s, which takes %s (the action was dropped)", label, kind, cause, join(fitting[cause], " or ")))
			case detail == "":
				problems = append(problems, fmt.Sprintf("%s: action %q has no detail (the action was dropped)", label, kind))
			default:
				c.actions = append(c.actions, investigate.Action{Kind: kind, Detail: detail})
			}
		}
		for _, p := range mh.Prevention {
			if p = clean(p, maxDetail); p != "" && len(c.prevention) < maxPrevention {
				c.prevention = append(c.prevention, p)
			}
		}
		for _, ref := range mh.Merges {
			ref = strings.TrimSpace(ref)
			mc, mr, _ := strings.Cut(ref, "|")
			if j, exists := g.refs[strings.ToLower(ref)]; exists {
				c.merges = append(c.merges, j)
			} else if j := g.engineIndex(investigate.Cause(mc), mr); j >= 0 {
				c.merges = append(c.merges, j)
			} else {
				problems = append(problems, fmt.Sprintf("%s: merges %q, which is not a candidate ref (the merge was ignored)", label, ref))
			}
		}
		ok = append(ok, c)
	}
	return ok, problems
}

// join joins the names of a typed list, as strings.Join does.
func join[S ~string](list []S, sep string) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = string(x)
	}
	return strings.Join(parts, sep)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// clean makes model text safe to keep: no control characters, collapsed
// blank lines, secrets redacted, cut to n bytes. It is still untrusted text
// that the Slack side escapes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case investigate.Hidden(r):
			return -1
		}
		return r
	}, s)
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return investigate.Truncate(strings.TrimSpace(redact.Redact(s)), n)
}

// merged is the outcome of combining the model's hypotheses with the
// engine's.
type merged struct {
	hyps []investigate.Hypothesis
	// guarded is set when the model's first hypothesis did not rest on the
	// evidence needed to displace the engine's first, which stays first.
	guarded string
}

// combine builds the final ranking: the model's valid hypotheses in its
// order, then the engine's that it neither kept nor merged, in the engine's
// order; the engine's first hypothesis keeps rank 1 unless the model's first
// passes the top-1 rule (see topRule); confidences never rise down the list.
func combine(valid []checked, g grounds) merged {
	var out []investigate.Hypothesis
	used := map[int]bool{}
	for _, c := range valid {
		h := c.Hypothesis
		if i := g.engineIndex(h.Cause, h.Resource); i >= 0 {
			e := g.engine[i]
			used[i] = true
			h.Actions, h.Prevention = e.Actions, e.Prevention
			if acts := keepFirstKind(c.actions, e.Actions); acts != nil {
				h.Actions = acts
			}
			if len(c.prevention) > 0 {
				h.Prevention = c.prevention
			}
			h.Confidence = e.Confidence
			if !math.IsNaN(c.confidence) {
				h.Confidence = math.Max(e.Confidence-confidenceShift, math.Min(e.Confidence+confidenceShift, c.confidence))
			}
			if h.Title == "" {
				h.Title = e.Title
			}
			if h.Explanation == "" {
				h.Explanation = e.Explanation
			}
		} else {
			h.Actions = c.actions
			if len(h.Actions) == 0 {
				h.Actions = defaultActions(h.Cause, h.Resource)
			}
			h.Prevention = c.prevention
			if h.Prevention == nil {
				h.Prevention = []string{}
			}
			h.Confidence = 0.5
			if !math.IsNaN(c.confidence) {
				h.Confidence = c.confidence
			}
			if h.Title == "" {
				h.Title = offlineTitle(h.Cause, h.Resource)
			}
		}
		h.Confidence = math.Min(h.Confidence, maxConfidence)
		for _, j := range c.merges {
			used[j] = true
		}
		out = append(out, h)
	}
	for i, e := range g.engine {
		if !used[i] {
			out = append(out, e)
		}
	}
	var m merged
	out, m.guarded = guardTop(out, g)
	for i := 1; i < len(out); i++ {
		if out[i].Confidence > out[i-1].Confidence {
			out[i].Confidence = out[i-1].Confidence
		}
	}
	for i := range out {
		out[i].Confidence = math.Round(out[i].Confidence*100) / 100
	}
	if len(out) > maxHypotheses {
		out = out[:maxHypotheses]
	}
	m.hyps = out
	return m
}

// guardTop keeps the engine's first hypothesis, E, first against a model
// that is confident and wrong. Another hypothesis may take rank 1 from E only
// under topRule; otherwise E goes back to rank 1 (in the model's words if it
// kept E) and the model's first follows it.
func guardTop(out []investigate.Hypothesis, g grounds) ([]investigate.Hypothesis, string) {
	if len(g.engine) == 0 || len(out) == 0 {
		return out, ""
	}
	e := g.engine[0]
	top := out[0]
	if top.Cause == e.Cause && top.Resource == e.Resource {
		return out, ""
	}
	ok, why := topRule(top, g)
	if ok {
		return out, ""
	}
	// Put E (as the model worded it, if it did) first.
	idx := -1
	for i, h := range out {
		if h.Cause == e.Cause && h.Resource == e.Resource {
			idx = i
			break
		}
	}
	first := e
	if idx >= 0 {
		first = out[idx]
		out = append(out[:idx:idx], out[idx+1:]...)
	}
	if first.Confidence < e.Confidence {
		first.Confidence = e.Confidence
	}
	res := append([]investigate.Hypothesis{first}, out...)
	return res, fmt.Sprintf("the model put %s on %s first, but %s; the engine's first hypothesis stays first", top.Cause, top.Resource, why)
}

// topRule reports whether a hypothesis may displace the engine's first, E,
// and why not. The rule:
//
//  1. Evidence: it cites every finding E rests on (notes aside), so at least
//     as many, and the same ones. A finding is as strong as the most
//     confident engine hypothesis that cites it; none is stronger than E's,
//     so nothing can stand in for them — not weaker findings however many,
//     not the findings of a hypothesis tied with E, not notes, not ids that
//     do not exist. It may cite more.
//  2. Standing: a hypothesis the engine ranked too must have been rated by
//     the engine at least half as likely as E: the model may settle a close
//     call, not overturn a clear one.
//
// So a model citing nothing, inventing ids, resting on what people said or
// on weak findings, or promoting a long shot, cannot lower top-1; a model
// that reads E's own evidence differently can, and says so in its
// explanation.
func topRule(h investigate.Hypothesis, g grounds) (bool, string) {
	e := g.engine[0]
	cited := map[string]bool{}
	for _, id := range h.Evidence {
		cited[id] = true
	}
	need, have := 0, 0
	for _, id := range e.Evidence {
		if f, ok := g.findings[id]; !ok || f.Kind == investigate.FindingNote {
			continue
		}
		need++
		if cited[id] {
			have++
		}
	}
	if have < need {
		return false, fmt.Sprintf("it cites %d of the %d findings the engine's first rests on", have, need)
	}
	if need == 0 {
		nonNote := 0
		for _, id := range h.Evidence {
			if f, ok := g.findings[id]; ok && f.Kind != investigate.FindingNote {
				nonNote++
			}
		}
		if nonNote == 0 {
			return false, "it rests on no finding"
		}
	}
	if i := g.engineIndex(h.Cause, h.Resource); i > 0 && g.engine[i].Confidence < e.Confidence/2 {
		return false, fmt.Sprintf("the engine rated it %.0f%% against %.0f%%", 100*g.engine[i].Confidence, 100*e.Confidence)
	}
	return true, ""
}

// keepFirstKind returns the model's actions for a hypothesis the engine
// ranked, when one of them is of the kind of the engine's first action: that
// one first. The engine chose the kind from the evidence (exclude or
// restart, block or scale); the model may word the move, not change it.
// Otherwise nil: the engine's actions stand.
func keepFirstKind(model, engine []investigate.Action) []investigate.Action {
	if len(model) == 0 {
		return nil
	}
	if len(engine) == 0 {
		return model
	}
	for i, a := range model {
		if a.Kind == engine[0].Kind {
			out := []investigate.Action{a}
			out = append(out, model[:i]...)
			return append(out, model[i+1:]...)
		}
	}
	return nil
}

// defaultActions are the first move for a cause, for a hypothesis of the
// model's own that gave none.
func defaultActions(cause investigate.Cause, resource string) []investigate.Action {
	switch cause {
	case investigate.CauseOwnChange:
		return []investigate.Action{{Kind: investigate.ActionRollback, Detail: fmt.Sprintf("Roll back the most recent change to %s", resource)}}
	case investigate.CauseSystemChange:
		return []investigate.Action{{Kind: investigate.ActionScale, Detail: fmt.Sprintf("Add capacity at %s for what changed, or block the traffic that is new", resource)}}
	case investigate.CauseLimit:
		return []investigate.Action{{Kind: investigate.ActionScale, Detail: fmt.Sprintf("Raise the limit %s runs into, or add capacity behind it", resource)}}
	case investigate.CauseComponent:
		return []investigate.Action{{Kind: investigate.ActionExclude, Detail: fmt.Sprintf("Stop routing work to %s while its peers carry the load", resource)}}
	default:
		return []investigate.Action{{Kind: investigate.ActionExclude, Detail: fmt.Sprintf("Fail away from %s: stop sending it work until it recovers", resource)}}
	}
}

func offlineTitle(cause investigate.Cause, resource string) string {
	t, ok := causeText[cause]
	if !ok {
		return resource
	}
	return fmt.Sprintf(t.title, resource)
}
