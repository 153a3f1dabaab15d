package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/unstuck/unstuck/investigate"
)

// writeText prints a report for a terminal, in a form that pastes well into a
// ticket: plain text, wrapped, every claim next to the finding it rests on.
func writeText(w io.Writer, r investigate.Report) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }

	p("unstuck: %s on %s", r.Scope.Alarm, r.Scope.Resource)
	if r.Scope.Metric != "" {
		p(" (%s)", r.Scope.Metric)
	}
	p("\n")
	onset := "no clear onset"
	if !r.Onset.IsZero() {
		onset = "onset " + r.Onset.UTC().Format("2006-01-02 15:04 UTC")
	}
	// A window over a day says the date of each time.
	layout := investigate.WindowLayout(r.Scope.Start, r.Scope.End)
	p("%s · telemetry %s to %s · %d resources in scope\n\n", onset,
		r.Scope.Start.UTC().Format(layout), r.Scope.End.UTC().Format(layout+" UTC"), len(r.Scope.Resources))

	// The answer in the words of every other surface (the thread, the
	// channel message), whatever the reasoner's summary says.
	p("ANSWER\n")
	wrap(b, r.Headline(), "  ", 92)
	p("\n")

	p("SUMMARY\n")
	wrap(b, r.Summary, "  ", 92)
	p("\n")

	if _, lead := r.Lead(); len(r.Hypotheses) > 0 && !lead {
		p("HYPOTHESES (none stands out: places to look, not answers)\n")
	} else if len(r.Hypotheses) > 0 {
		p("HYPOTHESES\n")
	}
	for i, h := range r.Hypotheses {
		p("%d. [%s] %s (%s, %.0f%%)\n", i+1, h.Cause, h.Title, investigate.ConfidenceWord(h.Confidence), 100*h.Confidence)
		for j, a := range h.Actions {
			label := "first action"
			if j > 0 {
				label = "then"
			}
			wrap(b, fmt.Sprintf("%s (%s): %s", label, a.Kind, a.Detail), "   ", 92)
		}
		if len(h.Evidence) > 0 {
			p("   evidence: %s\n", strings.Join(h.Evidence, ", "))
		}
		for _, a := range r.Against(i) {
			wrap(b, "against: "+a, "   ", 92)
		}
		for _, pr := range h.Prevention {
			wrap(b, "prevent: "+pr, "   ", 92)
		}
		p("\n")
	}

	if len(r.Findings) > 0 {
		p("FINDINGS\n")
	}
	for _, f := range r.Findings {
		res := f.Resource
		if res == "" {
			res = "-"
		}
		wrap(b, fmt.Sprintf("%-4s %s %-7s %s: %s", f.ID, f.Time.UTC().Format(layout), f.Kind, res, f.Summary), "  ", 110)
		if f.Link != "" {
			p("         %s\n", f.Link)
		}
	}
	if len(r.Unavailable) > 0 {
		p("\nCOULD NOT READ\n")
		for _, u := range r.Unavailable {
			wrap(b, u.Source+": "+u.Error, "  ", 110)
		}
	}
	reasoner := r.Reasoner
	if reasoner == "" {
		reasoner = "none"
	}
	p("\n%d API calls · %d ms · %d model tokens · reasoner %s\n", r.Stats.APICalls, r.Stats.WallMS, r.Stats.LLMTokens, reasoner)
	return b.Flush()
}

// wrap writes text indented and folded at width, continuing lines two
// spaces further in.
func wrap(w io.Writer, text, indent string, width int) {
	line, empty := indent, true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+len(word)+1 > width {
			fmt.Fprintln(w, line)
			line, empty = indent+"  ", true
		}
		if !empty {
			line += " "
		}
		line, empty = line+word, false
	}
	if !empty {
		fmt.Fprintln(w, line)
	}
}
