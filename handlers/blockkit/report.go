// Package blockkit renders what the bot posts as Slack Block Kit: a report
// (hypotheses, evidence, actions, buttons) in messages that keep within
// Slack's limits, and an investigation's status message. Every untrusted
// string goes through package mrkdwn on its way in. It does no I/O.
package blockkit

import (
	"errors"
	"fmt"
	"regexp"
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
}

func (v ReportView) verdict(h investigate.Hypothesis) (incident.Feedback, bool) {
	for _, f := range v.Feedback {
		if f.Cause == h.Cause && f.Resource == h.Resource {
			return f, true
		}
	}
	return incident.Feedback{}, false
}

// HypothesisBlockID is the block id of the i-th hypothesis's section.
func HypothesisBlockID(i int) string { return fmt.Sprintf("hypothesis-%d", i) }

// ButtonValue keys a button to its thread and, for a hypothesis, its index.
func ButtonValue(threadTS string, i int) string { return fmt.Sprintf("%s/%d", threadTS, i) }

// Report renders a report as Block Kit messages (usually one) and
// the fallback text of the first.
func Report(rep investigate.Report, v ReportView) ([][]slack.Block, string) {
	var groups [][]slack.Block

	title := "unstuck: " + rep.Scope.Alarm
	if rep.Scope.Resource != "" {
		title += " on " + rep.Scope.Resource
	}
	head := []slack.Block{slack.NewHeaderBlock(plain(title))}
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
	head = append(head, Context(ctx...))
	summary := rep.Summary
	if summary == "" {
		summary = "Nothing in the telemetry explains the alarm."
	}
	head = append(head, Sections("*Summary*\n"+mrkdwn.Escape(summary))...)
	if len(v.Joined) > 0 {
		var names []string
		for _, j := range v.Joined {
			names = append(names, "*"+mrkdwn.EscapeLine(j)+"*")
		}
		head = append(head, Context("Fired with it and joined here: "+strings.Join(names, ", ")))
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

	var tail []slack.Block
	if len(rep.Unavailable) > 0 {
		var parts []string
		for _, u := range rep.Unavailable {
			parts = append(parts, "*"+mrkdwn.EscapeLine(u.Source)+"*: "+mrkdwn.Truncate(mrkdwn.EscapeLine(u.Error), 200))
		}
		tail = append(tail, Sections(":warning: *Could not read* — the report stands on the rest\n"+strings.Join(parts, "\n"))...)
	}
	reasoner := rep.Reasoner
	if reasoner == "" {
		reasoner = "offline"
	}
	tail = append(tail,
		Context(fmt.Sprintf("%d API calls · %s · %d model tokens · words by %s · ask me in this thread: _what changed?_, _errors on …_, _check …_",
			rep.Stats.APICalls, wallTime(rep.Stats.WallMS), rep.Stats.LLMTokens, mrkdwn.EscapeLine(reasoner))),
		slack.NewActionBlock("report-actions",
			Button(ActionRerun, "Re-run with a wider window", ButtonValue(v.ThreadTS, -1), ""),
			Button(ActionChanges, "What changed?", ButtonValue(v.ThreadTS, -1), ""),
			Button(ActionPostmortem, "Postmortem draft", ButtonValue(v.ThreadTS, -1), ""),
		),
	)
	groups = append(groups, tail)

	return pack(groups), mrkdwn.Truncate(reportFallback(rep), maxFallbackText)
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

func hypothesisBlocks(rep investigate.Report, i int, h investigate.Hypothesis, v ReportView, cited map[string]bool) []slack.Block {
	var blocks []slack.Block
	if i > 0 {
		blocks = append(blocks, slack.NewDividerBlock())
	}
	head := fmt.Sprintf("*%d. %s*\n`%s` · %.0f%% confidence", i+1, mrkdwn.EscapeLine(h.Title), mrkdwn.EscapeLine(string(h.Cause)), 100*h.Confidence)
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

	if len(h.Prevention) > 0 {
		var lines []string
		for _, p := range h.Prevention {
			lines = append(lines, "• "+mrkdwn.EscapeLine(p))
		}
		blocks = append(blocks, Sections("*To keep it from happening again*\n"+strings.Join(lines, "\n"))...)
	}

	blockID := HypothesisBlockID(i)
	if f, ok := v.verdict(h); ok {
		icon := ":white_check_mark: Accepted"
		if f.Verdict == incident.VerdictDiscarded {
			icon = ":x: Discarded"
		}
		blocks = append(blocks, slack.NewContextBlock(blockID+"-verdict", Mrkdwn(fmt.Sprintf("%s by %s at %s", icon, mrkdwn.UserMention(f.User), investigate.Clock(f.Time)))))
	} else {
		blocks = append(blocks, slack.NewActionBlock(blockID,
			Button(ActionAccept, "Accept", ButtonValue(v.ThreadTS, i), slack.StylePrimary),
			Button(ActionDiscard, "Discard", ButtonValue(v.ThreadTS, i), slack.StyleDanger),
		))
	}
	return blocks
}

// reportFallback is the plain notification text of a report.
func reportFallback(rep investigate.Report) string {
	if len(rep.Hypotheses) == 0 {
		return "unstuck: " + mrkdwn.EscapeLine(rep.Scope.Alarm) + " — nothing in the telemetry explains it"
	}
	h := rep.Hypotheses[0]
	return fmt.Sprintf("unstuck: %s — most likely %s (%s, %.0f%%)", mrkdwn.EscapeLine(rep.Scope.Alarm), mrkdwn.EscapeLine(h.Title), mrkdwn.EscapeLine(string(h.Cause)), 100*h.Confidence)
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
