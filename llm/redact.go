package llm

import (
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/redact"
)

// defaultRedactor applies the built-in rules of package redact, for a nil
// Model and a nil redactor argument.
var defaultRedactor = redact.New()

// RedactReport returns a copy of the report with the secrets redacted by r
// from every text a person or a model reads: the summary, findings, notes,
// hypotheses and unavailable sources. Ids and resources stay as they are.
// The input report is not changed. A nil r applies the built-in rules only.
func RedactReport(r *redact.Redactor, rep investigate.Report) investigate.Report {
	rep.Summary = r.Redact(rep.Summary)
	fs := make([]investigate.Finding, len(rep.Findings))
	for i, f := range rep.Findings {
		f.Summary = r.Redact(f.Summary)
		fs[i] = f
	}
	rep.Findings = fs
	notes := make([]investigate.Note, len(rep.Notes))
	for i, n := range rep.Notes {
		n.Text = r.Redact(n.Text)
		n.Author = r.Redact(n.Author)
		notes[i] = n
	}
	if rep.Notes != nil {
		rep.Notes = notes
	}
	hyps := make([]investigate.Hypothesis, len(rep.Hypotheses))
	for i, h := range rep.Hypotheses {
		h.Title = r.Redact(h.Title)
		h.Explanation = r.Redact(h.Explanation)
		h.Evidence = append([]string(nil), h.Evidence...)
		acts := make([]investigate.Action, len(h.Actions))
		for j, a := range h.Actions {
			a.Detail = r.Redact(a.Detail)
			acts[j] = a
		}
		h.Actions = acts
		prev := make([]string, len(h.Prevention))
		for j, p := range h.Prevention {
			prev[j] = r.Redact(p)
		}
		h.Prevention = prev
		hyps[i] = h
	}
	rep.Hypotheses = hyps
	un := make([]investigate.Unavailable, len(rep.Unavailable))
	for i, u := range rep.Unavailable {
		u.Error = r.Redact(u.Error)
		un[i] = u
	}
	rep.Unavailable = un
	return rep
}
