package investigate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxAgainst bounds the lines Against returns: a reader weighs a few.
const maxAgainst = 3

// Against says, in plain sentences, what speaks against the report's i-th
// hypothesis and what was checked that could have: a rival that fits nearly
// as well, a change it does not account for (or that none was found, and
// whether the changes could be read at all), evidence resting on a single
// finding, and sources that could not be read. Empty when i is out of
// range.
func (r *Report) Against(i int) []string {
	if i < 0 || i >= len(r.Hypotheses) {
		return nil
	}
	h := r.Hypotheses[i]
	var out []string

	// A rival: the hypothesis ranked above this one, or the next one
	// when it comes close.
	switch {
	case i > 0:
		top := r.Hypotheses[0]
		out = append(out, fmt.Sprintf("Ranked above it: %s (%.0f%%).", strings.TrimSuffix(top.Title, "."), 100*top.Confidence))
	case len(r.Hypotheses) > 1:
		next := r.Hypotheses[1]
		if next.Confidence >= 0.15 && next.Confidence >= h.Confidence/2 {
			out = append(out, fmt.Sprintf("%s (%.0f%%) also fits.", strings.TrimSuffix(next.Title, "."), 100*next.Confidence))
		}
	}

	// Changes: the cause of most incidents, and the first thing a reader
	// asks about.
	changesRead := !r.unread(CheckChanges)
	var uncited []Finding
	citesChange := false
	for _, f := range r.Findings {
		if f.Kind != FindingChange {
			continue
		}
		if slices.Contains(h.Evidence, f.ID) {
			citesChange = true
			continue
		}
		uncited = append(uncited, f)
	}
	switch {
	case len(uncited) > 0:
		// The nearest before the onset speaks loudest.
		f := uncited[0]
		for _, g := range uncited[1:] {
			if !r.Onset.IsZero() && absDur(r.Onset.Sub(g.Time)) < absDur(r.Onset.Sub(f.Time)) {
				f = g
			}
		}
		what := "A change"
		if citesChange {
			what = "Another change"
		}
		line := fmt.Sprintf("%s it does not account for: %s", what, Truncate(strings.TrimSuffix(f.Summary, "."), 160))
		if n := len(uncited) - 1; n > 0 {
			line += fmt.Sprintf(" (and %d more)", n)
		}
		out = append(out, line+".")
	case !changesRead:
		out = append(out, "The changes could not be read: one may be missing here.")
	case !citesChange:
		out = append(out, "No change was found in the window (checked).")
	}

	if len(h.Evidence) == 1 {
		out = append(out, "It rests on a single finding.")
	}
	if srcs := r.unreadSources(); len(srcs) > 0 && len(out) < maxAgainst {
		out = append(out, "Not read: "+strings.Join(srcs, ", ")+"; what they hold is not weighed.")
	}
	if len(out) > maxAgainst {
		out = out[:maxAgainst]
	}
	return out
}

// unread reports whether a check failed, so its source was not read.
func (r *Report) unread(check string) bool {
	return slices.ContainsFunc(r.Unavailable, func(u Unavailable) bool { return u.Source == "check "+check })
}

// unreadSources are the distinct sources the report could not read, the
// reasoner aside (its failure leaves the engine's words, not less
// evidence).
func (r *Report) unreadSources() []string {
	var out []string
	for _, u := range r.Unavailable {
		if u.Source != "reasoner" && !slices.Contains(out, u.Source) {
			out = append(out, u.Source)
		}
	}
	return out
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
