// Package blockkit renders what the bot posts as Slack Block Kit: a report
// (hypotheses, evidence, actions, buttons) in messages that keep within
// Slack's limits, and an investigation's status message. Every untrusted
// string goes through package mrkdwn on its way in. It does no I/O.
package blockkit

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// Action ids of the bot's buttons.
const (
	ActionAccept      = "unstuck.accept"
	ActionDiscard     = "unstuck.discard"
	ActionRerun       = "unstuck.rerun"
	ActionChanges     = "unstuck.changes"
	ActionPostmortem  = "unstuck.postmortem"
	ActionInvestigate = "unstuck.investigate"
	ActionDetails     = "unstuck.details"
)

var findingIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

func findingRef(id string) string {
	if findingIDRe.MatchString(id) {
		return "`" + id + "`"
	}
	return mrkdwn.EscapeLine(id)
}

func linkLabel(kind investigate.FindingKind) string {
	switch kind {
	case investigate.FindingChange:
		return "CloudTrail"
	case investigate.FindingTrace:
		return "trace"
	case investigate.FindingLog:
		return "Logs Insights"
	case investigate.FindingMetric, investigate.FindingOnset:
		return "metric"
	case investigate.FindingHealth:
		return "AWS Health"
	}
	return "console"
}

// findingLine renders one finding on one line with its console link, its
// time written by layout (investigate.WindowLayout of the report's window).
func findingLine(f investigate.Finding, layout string) string {
	var b strings.Builder
	b.WriteString("• ")
	b.WriteString(findingRef(f.ID))
	b.WriteString(" ")
	if !f.Time.IsZero() {
		b.WriteString(f.Time.UTC().Format(layout))
		b.WriteString(" · ")
	}
	b.WriteString(mrkdwn.EscapeLine(string(f.Kind)))
	if f.Resource != "" {
		b.WriteString(" · ")
		b.WriteString(mrkdwn.EscapeLine(f.Resource))
	}
	b.WriteString(" — ")
	b.WriteString(mrkdwn.Truncate(mrkdwn.EscapeLine(f.Summary), 600))
	if f.Link != "" && mrkdwn.SafeConsoleURL(f.Link) {
		b.WriteString(" ")
		b.WriteString(mrkdwn.Link(f.Link, linkLabel(f.Kind)))
	}
	return b.String()
}

// ReportView is what a report's rendering depends on besides the report.
type ReportView struct {
	// ThreadTS keys the buttons to their investigation.
	ThreadTS string
	Feedback []incident.Feedback
	Joined   []string
	// Details renders the details after the first screen: every
	// hypothesis, finding, note and unread source. Without it the report
	// is its first screen, with a "Show details" button.
	Details bool
}

func (v ReportView) verdict(h investigate.Hypothesis) (incident.Feedback, bool) {
	for _, f := range v.Feedback {
		if f.Cause == h.Cause && f.Resource == h.Resource {
			return f, true
		}
	}
	return incident.Feedback{}, false
}

// HypothesisBlockID is the block id of the i-th hypothesis's buttons (or,
// with "-verdict" after it, of its verdict).
func HypothesisBlockID(i int) string { return fmt.Sprintf("hypothesis-%d", i) }

// ButtonValue keys a button to its thread and, for a hypothesis, its index.
func ButtonValue(threadTS string, i int) string { return fmt.Sprintf("%s/%d", threadTS, i) }

// firstScreenFindings is how many findings the first screen shows for its
// answer: the two or three that prove it.
const firstScreenFindings = 3

// Report renders a report as Block Kit messages and the notification text
// of the first. The first message is the first screen, made to be read on
// a phone at 3 a.m.: the answer in one sentence, its first action, the
// findings that prove it, what argues against it, and the buttons. With
// v.Details, the messages after it hold everything else, each within
// Slack's limits on blocks and on text.
func Report(rep investigate.Report, v ReportView) ([][]slack.Block, string) {
	msgs := pack([][]slack.Block{firstScreen(rep, v)})
	if v.Details {
		msgs = append(msgs, details(rep, v)...)
	}
	return msgs, mrkdwn.Truncate(reportFallback(rep), maxFallbackText)
}

// firstScreen is the report's first message.
func firstScreen(rep investigate.Report, v ReportView) []slack.Block {
	title := "unstuck: " + rep.Scope.Alarm
	if rep.Scope.Resource != "" {
		title += " on " + rep.Scope.Resource
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}

	top, lead := rep.Lead()
	icon := ":dart:"
	switch {
	case len(rep.Hypotheses) == 0:
		icon = ":white_circle:"
	case !lead:
		icon, top = ":grey_question:", rep.Hypotheses[0]
	}
	answer := icon + " *" + mrkdwn.Truncate(mrkdwn.EscapeLine(rep.Headline()), 600) + "*"
	if lead {
		answer += "\n`" + mrkdwn.EscapeLine(string(top.Cause)) + "`"
		if top.Resource != "" {
			answer += " on " + mrkdwn.EscapeLine(top.Resource)
		}
	}
	blocks = append(blocks, Sections(answer)...)
	if lead && len(top.Actions) > 0 {
		a := top.Actions[0]
		text := fmt.Sprintf("*First action* (`%s`): %s", mrkdwn.EscapeLine(string(a.Kind)), mrkdwn.Truncate(mrkdwn.EscapeLine(a.Detail), 600))
		if len(top.Actions) > 1 {
			text += "\n*Then*: " + mrkdwn.Truncate(mrkdwn.EscapeLine(top.Actions[1].Detail), 400)
		}
		blocks = append(blocks, Sections(text)...)
	}
	if len(rep.Hypotheses) > 0 {
		heading := "*Why*"
		if !lead {
			heading = "*Where to look*"
		}
		var ev []string
		for _, id := range top.Evidence {
			if f, ok := rep.Finding(id); ok && len(ev) < firstScreenFindings {
				ev = append(ev, findingLine(f, investigate.WindowLayout(rep.Scope.Start, rep.Scope.End)))
			}
		}
		if len(ev) > 0 {
			if n := len(top.Evidence) - len(ev); n > 0 {
				ev = append(ev, fmt.Sprintf("…and %s in the details", investigate.Count(n, "more finding")))
			}
			blocks = append(blocks, Sections(heading+"\n"+strings.Join(ev, "\n"))...)
		}
		if against := rep.Against(0); len(against) > 0 {
			var lines []string
			for _, a := range against {
				lines = append(lines, "• "+mrkdwn.EscapeLine(a))
			}
			blocks = append(blocks, Sections("*What argues against*\n"+strings.Join(lines, "\n"))...)
		}
	}
	blocks = append(blocks, Context(scopeContext(rep)...))
	if len(v.Joined) > 0 {
		var names []string
		for _, j := range v.Joined {
			names = append(names, "*"+mrkdwn.EscapeLine(j)+"*")
		}
		blocks = append(blocks, Context("Fired with it and joined here: "+strings.Join(names, ", ")))
	}
	if more := detailsLine(rep); more != "" {
		blocks = append(blocks, Context(more))
	}
	if len(rep.Hypotheses) > 0 {
		blocks = append(blocks, verdictBlock(rep.Hypotheses[0], 0, v))
	}
	buttons := []slack.BlockElement{}
	if !v.Details {
		buttons = append(buttons, Button(ActionDetails, "Show details", ButtonValue(v.ThreadTS, -1), ""))
	}
	buttons = append(buttons,
		Button(ActionRerun, "Re-run with a wider window", ButtonValue(v.ThreadTS, -1), ""),
		Button(ActionChanges, "What changed?", ButtonValue(v.ThreadTS, -1), ""),
		Button(ActionPostmortem, "Postmortem draft", ButtonValue(v.ThreadTS, -1), ""),
	)
	blocks = append(blocks, slack.NewActionBlock("report-actions", buttons...))
	reasoner := rep.Reasoner
	if reasoner == "" {
		reasoner = "offline"
	}
	blocks = append(blocks, Context(fmt.Sprintf("%d API calls · %s · %d model tokens · words by %s · ask me in this thread: _why?_, _what should I do?_, _what changed?_, _errors on …_",
		rep.Stats.APICalls, wallTime(rep.Stats.WallMS), rep.Stats.LLMTokens, mrkdwn.EscapeLine(reasoner))))
	return blocks
}

// scopeContext is the report's onset, window, size, metric, region and
// alarm link, with dates where the window spans days.
func scopeContext(rep investigate.Report) []string {
	var ctx []string
	if !rep.Onset.IsZero() {
		ctx = append(ctx, "onset *"+rep.Onset.UTC().Format("2006-01-02 15:04 UTC")+"*")
	} else {
		ctx = append(ctx, "no clear onset")
	}
	// A window over a day says the date of each time.
	layout := investigate.WindowLayout(rep.Scope.Start, rep.Scope.End)
	window := fmt.Sprintf("telemetry %s–%s", rep.Scope.Start.UTC().Format(layout), investigate.Clock(rep.Scope.End))
	if layout != "15:04" {
		window = fmt.Sprintf("telemetry %s – %s UTC", rep.Scope.Start.UTC().Format(layout), rep.Scope.End.UTC().Format(layout))
	}
	ctx = append(ctx, window)
	ctx = append(ctx, fmt.Sprintf("%d resources in scope", len(rep.Scope.Resources)))
	if rep.Scope.Metric != "" {
		ctx = append(ctx, mrkdwn.EscapeLine(rep.Scope.Metric))
	}
	if rep.Scope.Region != "" {
		ctx = append(ctx, mrkdwn.EscapeLine(rep.Scope.Region))
	}
	if rep.Scope.Alarm != "" {
		ctx = append(ctx, mrkdwn.Link(investigate.AlarmLink(rep.Scope.Region, rep.Scope.Alarm), "alarm"))
	}
	return ctx
}

// detailsLine says what the details hold beyond the first screen.
func detailsLine(rep investigate.Report) string {
	var parts []string
	if n := len(rep.Hypotheses) - 1; n > 0 {
		parts = append(parts, investigate.Count(n, "other hypothesis"))
	}
	if n := len(rep.Findings); n > 0 {
		parts = append(parts, investigate.Count(n, "finding"))
	}
	if n := len(rep.Notes); n > 0 {
		parts = append(parts, investigate.Count(n, "note")+" from the thread")
	}
	if len(rep.Unavailable) > 0 {
		var srcs []string
		for _, u := range rep.Unavailable {
			if s := mrkdwn.EscapeLine(u.Source); !slices.Contains(srcs, s) {
				srcs = append(srcs, s)
			}
		}
		parts = append(parts, ":warning: could not read "+mrkdwn.Truncate(strings.Join(srcs, ", "), 300))
	}
	if len(parts) == 0 {
		return ""
	}
	return "In the details: " + strings.Join(parts, " · ")
}

// verdictBlock is a hypothesis's Accept and Discard buttons, or the
// verdict given. Discarding is not destructive: it records a judgement.
func verdictBlock(h investigate.Hypothesis, i int, v ReportView) slack.Block {
	blockID := HypothesisBlockID(i)
	if f, ok := v.verdict(h); ok {
		icon := ":white_check_mark: Accepted"
		if f.Verdict == incident.VerdictDiscarded {
			icon = ":x: Discarded"
		}
		return slack.NewContextBlock(blockID+"-verdict", Mrkdwn(fmt.Sprintf("%s by %s at %s", icon, mrkdwn.UserMention(f.User), investigate.Clock(f.Time))))
	}
	return slack.NewActionBlock(blockID,
		Button(ActionAccept, "Accept", ButtonValue(v.ThreadTS, i), slack.StylePrimary),
		Button(ActionDiscard, "Discard", ButtonValue(v.ThreadTS, i), ""),
	)
}

// details are the messages after the first screen.
func details(rep investigate.Report, v ReportView) [][]slack.Block {
	var groups [][]slack.Block
	head := []slack.Block{slack.NewHeaderBlock(plain("Details"))}
	if rep.Summary != "" {
		head = append(head, Sections("*Summary*\n"+mrkdwn.Escape(rep.Summary))...)
	}
	groups = append(groups, head)

	cited := map[string]bool{}
	for i, h := range rep.Hypotheses {
		if i >= maxHypotheses {
			break
		}
		groups = append(groups, hypothesisBlocks(rep, i, h, v, cited))
	}
	if n := len(rep.Hypotheses) - maxHypotheses; n > 0 {
		var lines []string
		for i, h := range rep.Hypotheses[maxHypotheses:] {
			lines = append(lines, fmt.Sprintf("%d. %s (`%s`, %.0f%%)", maxHypotheses+i+1, mrkdwn.EscapeLine(h.Title), mrkdwn.EscapeLine(string(h.Cause)), 100*h.Confidence))
		}
		groups = append(groups, Sections("*Less likely*\n"+strings.Join(lines, "\n")))
	}

	var other []string
	for _, f := range rep.Findings {
		if cited[f.ID] || f.Kind == investigate.FindingNote {
			continue
		}
		other = append(other, findingLine(f, investigate.WindowLayout(rep.Scope.Start, rep.Scope.End)))
	}
	if len(other) > 0 {
		extra := ""
		if len(other) > maxOtherFindings {
			extra = fmt.Sprintf("\n…and %d more", len(other)-maxOtherFindings)
			other = other[:maxOtherFindings]
		}
		groups = append(groups, append([]slack.Block{slack.NewDividerBlock()}, Sections("*Other findings*\n"+strings.Join(other, "\n")+extra)...))
	}

	if len(rep.Notes) > 0 {
		var lines []string
		for i, n := range rep.Notes {
			if i == maxNotes {
				lines = append(lines, fmt.Sprintf("…and %d more", len(rep.Notes)-maxNotes))
				break
			}
			lines = append(lines, fmt.Sprintf("• %s %s: “%s”", investigate.Clock(n.Time), NoteAuthor(n.Author), mrkdwn.Truncate(mrkdwn.EscapeLine(n.Text), 500)))
		}
		groups = append(groups, Sections("*Notes from the thread* (weighed as evidence)\n"+strings.Join(lines, "\n")))
	}

	if len(rep.Unavailable) > 0 {
		var parts []string
		for _, u := range rep.Unavailable {
			parts = append(parts, "*"+mrkdwn.EscapeLine(u.Source)+"*: "+mrkdwn.Truncate(mrkdwn.EscapeLine(u.Error), 200))
		}
		groups = append(groups, Sections(":warning: *Could not read* — the report stands on the rest\n"+strings.Join(parts, "\n")))
	}
	return pack(groups)
}

func wallTime(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

// NoteAuthor renders a note's author: a Slack user id as a mention, a name
// as text.
func NoteAuthor(a string) string {
	if a == "" {
		return "someone"
	}
	return mrkdwn.UserMention(a)
}

// hypothesisBlocks is one hypothesis in full, for the details. The first
// hypothesis's buttons are on the first screen.
func hypothesisBlocks(rep investigate.Report, i int, h investigate.Hypothesis, v ReportView, cited map[string]bool) []slack.Block {
	blocks := []slack.Block{slack.NewDividerBlock()}
	head := fmt.Sprintf("*%d. %s*\n`%s` · %s (%.0f%%)", i+1, mrkdwn.EscapeLine(h.Title), mrkdwn.EscapeLine(string(h.Cause)), investigate.ConfidenceWord(h.Confidence), 100*h.Confidence)
	if h.Resource != "" {
		head += " · " + mrkdwn.EscapeLine(h.Resource)
	}
	if h.Explanation != "" {
		head += "\n" + mrkdwn.Truncate(mrkdwn.Escape(h.Explanation), maxExplanation)
	}
	blocks = append(blocks, Sections(head)...)

	if len(h.Actions) > 0 {
		var lines []string
		for j, a := range h.Actions {
			label := "*First action*"
			if j > 0 {
				label = "*Then*"
			}
			lines = append(lines, fmt.Sprintf("%s (`%s`): %s", label, mrkdwn.EscapeLine(string(a.Kind)), mrkdwn.EscapeLine(a.Detail)))
		}
		blocks = append(blocks, Sections(strings.Join(lines, "\n"))...)
	}

	var ev []string
	for _, id := range h.Evidence {
		f, ok := rep.Finding(id)
		if !ok {
			continue
		}
		cited[id] = true
		if len(ev) < maxCitedFindings {
			ev = append(ev, findingLine(f, investigate.WindowLayout(rep.Scope.Start, rep.Scope.End)))
		}
	}
	if len(ev) > 0 {
		blocks = append(blocks, Sections("*Evidence*\n"+strings.Join(ev, "\n"))...)
	}
	if against := rep.Against(i); len(against) > 0 {
		var lines []string
		for _, a := range against {
			lines = append(lines, "• "+mrkdwn.EscapeLine(a))
		}
		blocks = append(blocks, Sections("*What argues against*\n"+strings.Join(lines, "\n"))...)
	}

	if len(h.Prevention) > 0 {
		var lines []string
		for _, p := range h.Prevention {
			lines = append(lines, "• "+mrkdwn.EscapeLine(p))
		}
		blocks = append(blocks, Sections("*To keep it from happening again*\n"+strings.Join(lines, "\n"))...)
	}
	if i > 0 {
		blocks = append(blocks, verdictBlock(h, i, v))
	}
	return blocks
}

// Shortened is a report in a few plain lines, for when Slack refused its
// first screen: the answer, the first action, and what to do to see the
// rest.
func Shortened(rep investigate.Report) ([]slack.Block, string) {
	lines := []string{"*" + mrkdwn.Truncate(mrkdwn.EscapeLine(rep.Headline()), 600) + "*"}
	if h, ok := rep.Lead(); ok && len(h.Actions) > 0 {
		lines = append(lines, fmt.Sprintf("First action (`%s`): %s", mrkdwn.EscapeLine(string(h.Actions[0].Kind)), mrkdwn.Truncate(mrkdwn.EscapeLine(h.Actions[0].Detail), 600)))
	}
	lines = append(lines, "_Slack refused the whole report, so this is a shortened one. Ask me here (why?, what changed?, what couldn't you read?) for the rest._")
	blocks, _ := Message(strings.Join(lines, "\n"))
	return blocks, mrkdwn.Truncate(reportFallback(rep), maxFallbackText)
}

// reportFallback is the notification text of a report: the same sentence
// as its first screen.
func reportFallback(rep investigate.Report) string {
	return "unstuck: " + mrkdwn.EscapeLine(rep.Scope.Alarm) + " — " + mrkdwn.EscapeLine(rep.Headline())
}

// ParseButtonValue reads a value made by buttonValue.
func ParseButtonValue(v string) (threadTS string, index int, err error) {
	ts, i, ok := strings.Cut(v, "/")
	if !ok || ts == "" {
		return "", 0, errors.New("bad button value")
	}
	n, err := strconv.Atoi(i)
	if err != nil {
		return "", 0, errors.New("bad button value")
	}
	return ts, n, nil
}

// PartFallback is the notification text of the report's i-th message.
func PartFallback(fallback string, i int) string {
	if i == 0 {
		return fallback
	}
	return "unstuck report, continued"
}
