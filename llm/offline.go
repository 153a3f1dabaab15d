// Package llm holds the reasoners that put an investigation into words: the
// offline reasoner, deterministic and needing no model, and (with a model
// configured) one that asks an OpenAI-compatible model and validates what it
// says against the findings.
package llm

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/unstuck/unstuck/investigate"
)

// Offline words a report from its ranked hypotheses and findings alone. It
// never changes the ranking, the evidence or the actions.
type Offline struct{}

// NewOffline returns the offline reasoner.
func NewOffline() *Offline { return &Offline{} }

var causeText = map[investigate.Cause]struct{ title, because string }{
	investigate.CauseOwnChange: {
		title:   "A change the team made to %s",
		because: "A change made to %s shortly before the onset lines up with the failure",
	},
	investigate.CauseSystemChange: {
		title:   "A change in the system or its inputs at %s",
		because: "What reaches %s, or what AWS or automation did to it, changed at the onset",
	},
	investigate.CauseLimit: {
		title:   "%s reached a limit",
		because: "%s ran into a ceiling at the onset, and requests beyond it failed or waited",
	},
	investigate.CauseComponent: {
		title:   "%s is failing by itself",
		because: "%s behaves worse than before while what it depends on is sound, and where it has peers doing the same work they are healthy, so the fault is in that one part",
	},
	investigate.CauseDependency: {
		title:   "%s, a dependency, is failing",
		because: "The failures start at %s, which the service calls, while what is upstream of it is sound",
	},
}

// zoneText is the words for a hypothesis on an Availability Zone.
func zoneText(c investigate.Cause, t struct{ title, because string }) struct{ title, because string } {
	switch c {
	case investigate.CauseComponent:
		return struct{ title, because string }{
			"Availability Zone %s is failing",
			"Every member in %s fails while their peers in the other zones are healthy, so the fault is in that zone, not in one instance",
		}
	case investigate.CauseDependency:
		return struct{ title, because string }{
			"Availability Zone %s is impaired (AWS)",
			"The members in %s fail together and AWS reports an event there",
		}
	}
	return t
}

// Reason fills the summary, and each hypothesis's title and explanation.
func (o *Offline) Reason(_ context.Context, r investigate.Report) (investigate.Report, error) {
	byID := map[string]investigate.Finding{}
	for _, f := range r.Findings {
		byID[f.ID] = f
	}
	hyps := make([]investigate.Hypothesis, len(r.Hypotheses))
	for i, h := range r.Hypotheses {
		t, ok := causeText[h.Cause]
		if !ok {
			t = struct{ title, because string }{"%s is implicated", "%s is implicated by the findings"}
		}
		if r.IsZone(h.Resource) {
			t = zoneText(h.Cause, t)
		}
		h.Title = fmt.Sprintf(t.title, h.Resource)
		var b strings.Builder
		fmt.Fprintf(&b, t.because+".", h.Resource)
		for _, id := range h.Evidence {
			if f, ok := byID[id]; ok {
				fmt.Fprintf(&b, " [%s] %s.", id, strings.TrimSuffix(f.Summary, "."))
			}
		}
		if len(h.Actions) > 0 {
			fmt.Fprintf(&b, " First: %s (%s).", strings.TrimSuffix(h.Actions[0].Detail, "."), h.Actions[0].Kind)
		}
		h.Explanation = b.String()
		hyps[i] = h
	}
	r.Hypotheses = hyps
	r.Summary = summary(r)
	r.Reasoner = "offline"
	return r, nil
}

func summary(r investigate.Report) string {
	var b strings.Builder
	onset := "no clear onset"
	if !r.Onset.IsZero() {
		onset = "onset " + r.Onset.UTC().Format("15:04 UTC")
	}
	fmt.Fprintf(&b, "%s on %s (%s). ", r.Scope.Alarm, r.Scope.Resource, onset)
	h, lead := r.Lead()
	switch {
	case len(r.Hypotheses) == 0:
		b.WriteString("Nothing stands out: no check found a change, a limit, a failing part or a failing dependency that explains the alarm. Look at the findings, and widen the window if the cause may be older.")
	case !lead:
		// The same sentence as every other surface's.
		b.WriteString(r.Headline())
	default:
		fmt.Fprintf(&b, "%s It is %s, resting on %s.", r.Headline(), causeWords[h.Cause], investigate.Count(len(h.Evidence), "finding"))
		if len(h.Actions) > 0 {
			fmt.Fprintf(&b, " First action (%s): %s.", h.Actions[0].Kind, strings.TrimSuffix(h.Actions[0].Detail, "."))
		}
		if len(r.Hypotheses) > 1 {
			next := r.Hypotheses[1]
			fmt.Fprintf(&b, " Next: %s (%.0f%%).", investigate.LowerArticle(next.Title), 100*next.Confidence)
		}
	}
	if len(r.Unavailable) > 0 {
		var srcs []string
		seen := map[string]bool{}
		for _, u := range r.Unavailable {
			if !seen[u.Source] {
				seen[u.Source] = true
				srcs = append(srcs, u.Source)
			}
		}
		sort.Strings(srcs)
		fmt.Fprintf(&b, " Could not read: %s.", strings.Join(srcs, ", "))
	}
	return b.String()
}

// causeWords name each cause in a reader's words, with its JSON name.
var causeWords = map[investigate.Cause]string{
	investigate.CauseOwnChange:    "a change the team made (own-change)",
	investigate.CauseSystemChange: "a change in the system or its inputs (system-change)",
	investigate.CauseLimit:        "a limit reached (limit)",
	investigate.CauseComponent:    "one part failing (component)",
	investigate.CauseDependency:   "a dependency failing (dependency)",
}
