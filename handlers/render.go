package handlers

import (
	"fmt"
	"github.com/unstuck/unstuck/incident"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/investigate"
)

// Block Kit limits the renderer keeps to.
const (
	maxBlocks        = 50
	maxSectionText   = 3000
	maxHeaderText    = 150
	maxContextElems  = 10
	maxButtonText    = 75
	maxFallbackText  = 3000
	maxHypotheses    = 5
	maxCitedFindings = 8
	maxOtherFindings = 10
	maxNotes         = 10
	maxExplanation   = 1200
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

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// plain is a plain_text object; s is untrusted.
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, truncate(PlainText(s), maxHeaderText), false, false)
}

func button(actionID, label, value string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionID, value, plain(truncate(label, maxButtonText)))
	b.Style = style
	return b
}

// sections renders mrkdwn text as one or more section blocks, cutting at
// line breaks so that none is over Slack's 3,000 characters.
func sections(text string) []slack.Block {
	var out []slack.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, slack.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
			cur.Reset()
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = truncate(line, maxSectionText)
		if utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(line)+1 > maxSectionText {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	flush()
	return out
}

// context renders short mrkdwn texts as a context block (at most ten).
func contextBlock(texts ...string) slack.Block {
	var els []slack.MixedElement
	for _, t := range texts {
		if t == "" || len(els) == maxContextElems {
			continue
		}
		els = append(els, mrkdwn(truncate(t, maxSectionText)))
	}
	return slack.NewContextBlock("", els...)
}

// pack puts groups of blocks into messages of at most 50 blocks, keeping a
// group whole where it fits.
func pack(groups [][]slack.Block) [][]slack.Block {
	var msgs [][]slack.Block
	var cur []slack.Block
	for _, g := range groups {
		if len(cur)+len(g) > maxBlocks && len(cur) > 0 {
			msgs = append(msgs, cur)
			cur = nil
		}
		for len(g) > maxBlocks {
			msgs = append(msgs, g[:maxBlocks])
			g = g[maxBlocks:]
		}
		cur = append(cur, g...)
	}
	if len(cur) > 0 {
		msgs = append(msgs, cur)
	}
	return msgs
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format("15:04 UTC")
}

var findingIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)

func findingRef(id string) string {
	if findingIDRe.MatchString(id) {
		return "`" + id + "`"
	}
	return EscapeLine(id)
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

// findingLine renders one finding on one line with its console link.
func findingLine(f investigate.Finding) string {
	var b strings.Builder
	b.WriteString("• ")
	b.WriteString(findingRef(f.ID))
	b.WriteString(" ")
	if !f.Time.IsZero() {
		b.WriteString(f.Time.UTC().Format("15:04"))
		b.WriteString(" · ")
	}
	b.WriteString(EscapeLine(string(f.Kind)))
	if f.Resource != "" {
		b.WriteString(" · ")
		b.WriteString(EscapeLine(f.Resource))
	}
	b.WriteString(" — ")
	b.WriteString(truncate(EscapeLine(f.Summary), 600))
	if f.Link != "" && safeConsoleURL(f.Link) {
		b.WriteString(" ")
		b.WriteString(link(f.Link, linkLabel(f.Kind)))
	}
	return b.String()
}

// reportView is what a report's rendering depends on besides the report.
type reportView struct {
	// ThreadTS keys the buttons to their investigation.
	ThreadTS string
	Feedback []incident.Feedback
	Joined   []string
}

func (v reportView) verdict(h investigate.Hypothesis) (incident.Feedback, bool) {
	for _, f := range v.Feedback {
		if f.Cause == string(h.Cause) && f.Resource == h.Resource {
			return f, true
		}
	}
	return incident.Feedback{}, false
}

func hypothesisBlockID(i int) string { return fmt.Sprintf("hypothesis-%d", i) }

// buttonValue keys a button to its thread and, for a hypothesis, its index.
func buttonValue(threadTS string, i int) string { return fmt.Sprintf("%s/%d", threadTS, i) }

// reportMessages renders a report as Block Kit messages (usually one) and
// the fallback text of the first.
func reportMessages(rep investigate.Report, v reportView) ([][]slack.Block, string) {
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
	ctx = append(ctx, fmt.Sprintf("telemetry %s–%s", rep.Scope.Start.UTC().Format("15:04"), clock(rep.Scope.End)))
	ctx = append(ctx, fmt.Sprintf("%d resources in scope", len(rep.Scope.Resources)))
	if rep.Scope.Metric != "" {
		ctx = append(ctx, EscapeLine(rep.Scope.Metric))
	}
	if rep.Scope.Region != "" {
		ctx = append(ctx, EscapeLine(rep.Scope.Region))
	}
	if rep.Scope.Alarm != "" {
		ctx = append(ctx, link(investigate.AlarmLink(rep.Scope.Region, rep.Scope.Alarm), "alarm"))
	}
	head = append(head, contextBlock(ctx...))
	summary := rep.Summary
	if summary == "" {
		summary = "Nothing in the telemetry explains the alarm."
	}
	head = append(head, sections("*Summary*\n"+Escape(summary))...)
	if len(v.Joined) > 0 {
		var names []string
		for _, j := range v.Joined {
			names = append(names, "*"+EscapeLine(j)+"*")
		}
		head = append(head, contextBlock("Fired with it and joined here: "+strings.Join(names, ", ")))
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
			lines = append(lines, fmt.Sprintf("%d. %s (`%s`, %.0f%%)", maxHypotheses+i+1, EscapeLine(h.Title), EscapeLine(string(h.Cause)), 100*h.Confidence))
		}
		groups = append(groups, sections("*Less likely*\n"+strings.Join(lines, "\n")))
	}

	var other []string
	for _, f := range rep.Findings {
		if cited[f.ID] || f.Kind == investigate.FindingNote {
			continue
		}
		other = append(other, findingLine(f))
	}
	if len(other) > 0 {
		extra := ""
		if len(other) > maxOtherFindings {
			extra = fmt.Sprintf("\n…and %d more", len(other)-maxOtherFindings)
			other = other[:maxOtherFindings]
		}
		groups = append(groups, append([]slack.Block{slack.NewDividerBlock()}, sections("*Other findings*\n"+strings.Join(other, "\n")+extra)...))
	}

	if len(rep.Notes) > 0 {
		var lines []string
		for i, n := range rep.Notes {
			if i == maxNotes {
				lines = append(lines, fmt.Sprintf("…and %d more", len(rep.Notes)-maxNotes))
				break
			}
			lines = append(lines, fmt.Sprintf("• %s %s: “%s”", clock(n.Time), noteAuthor(n.Author), truncate(EscapeLine(n.Text), 500)))
		}
		groups = append(groups, sections("*Notes from the thread* (weighed as evidence)\n"+strings.Join(lines, "\n")))
	}

	var tail []slack.Block
	if len(rep.Unavailable) > 0 {
		var parts []string
		for _, u := range rep.Unavailable {
			parts = append(parts, "*"+EscapeLine(u.Source)+"*: "+truncate(EscapeLine(u.Error), 200))
		}
		tail = append(tail, sections(":warning: *Could not read* — the report stands on the rest\n"+strings.Join(parts, "\n"))...)
	}
	reasoner := rep.Reasoner
	if reasoner == "" {
		reasoner = "offline"
	}
	tail = append(tail,
		contextBlock(fmt.Sprintf("%d API calls · %s · %d model tokens · words by %s · ask me in this thread: _what changed?_, _errors on …_, _check …_",
			rep.Stats.APICalls, wallTime(rep.Stats.WallMS), rep.Stats.LLMTokens, EscapeLine(reasoner))),
		slack.NewActionBlock("report-actions",
			button(ActionRerun, "Re-run with a wider window", buttonValue(v.ThreadTS, -1), ""),
			button(ActionChanges, "What changed?", buttonValue(v.ThreadTS, -1), ""),
			button(ActionPostmortem, "Postmortem draft", buttonValue(v.ThreadTS, -1), ""),
		),
	)
	groups = append(groups, tail)

	return pack(groups), truncate(reportFallback(rep), maxFallbackText)
}

func wallTime(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

// noteAuthor renders a note's author: a Slack user id as a mention, a name
// as text.
func noteAuthor(a string) string {
	if a == "" {
		return "someone"
	}
	return userMention(a)
}

func hypothesisBlocks(rep investigate.Report, i int, h investigate.Hypothesis, v reportView, cited map[string]bool) []slack.Block {
	var blocks []slack.Block
	if i > 0 {
		blocks = append(blocks, slack.NewDividerBlock())
	}
	head := fmt.Sprintf("*%d. %s*\n`%s` · %.0f%% confidence", i+1, EscapeLine(h.Title), EscapeLine(string(h.Cause)), 100*h.Confidence)
	if h.Resource != "" {
		head += " · " + EscapeLine(h.Resource)
	}
	if h.Explanation != "" {
		head += "\n" + truncate(Escape(h.Explanation), maxExplanation)
	}
	blocks = append(blocks, sections(head)...)

	if len(h.Actions) > 0 {
		var lines []string
		for j, a := range h.Actions {
			label := "*First action*"
			if j > 0 {
				label = "*Then*"
			}
			lines = append(lines, fmt.Sprintf("%s (`%s`): %s", label, EscapeLine(string(a.Kind)), EscapeLine(a.Detail)))
		}
		blocks = append(blocks, sections(strings.Join(lines, "\n"))...)
	}

	var ev []string
	for _, id := range h.Evidence {
		f, ok := rep.Finding(id)
		if !ok {
			continue
		}
		cited[id] = true
		if len(ev) < maxCitedFindings {
			ev = append(ev, findingLine(f))
		}
	}
	if len(ev) > 0 {
		blocks = append(blocks, sections("*Evidence*\n"+strings.Join(ev, "\n"))...)
	}

	if len(h.Prevention) > 0 {
		var lines []string
		for _, p := range h.Prevention {
			lines = append(lines, "• "+EscapeLine(p))
		}
		blocks = append(blocks, sections("*To keep it from happening again*\n"+strings.Join(lines, "\n"))...)
	}

	blockID := hypothesisBlockID(i)
	if f, ok := v.verdict(h); ok {
		icon := ":white_check_mark: Accepted"
		if f.Verdict == incident.VerdictDiscarded {
			icon = ":x: Discarded"
		}
		blocks = append(blocks, slack.NewContextBlock(blockID+"-verdict", mrkdwn(fmt.Sprintf("%s by %s at %s", icon, userMention(f.User), clock(f.Time)))))
	} else {
		blocks = append(blocks, slack.NewActionBlock(blockID,
			button(ActionAccept, "Accept", buttonValue(v.ThreadTS, i), slack.StylePrimary),
			button(ActionDiscard, "Discard", buttonValue(v.ThreadTS, i), slack.StyleDanger),
		))
	}
	return blocks
}

// reportFallback is the plain notification text of a report.
func reportFallback(rep investigate.Report) string {
	if len(rep.Hypotheses) == 0 {
		return "unstuck: " + EscapeLine(rep.Scope.Alarm) + " — nothing in the telemetry explains it"
	}
	h := rep.Hypotheses[0]
	return fmt.Sprintf("unstuck: %s — most likely %s (%s, %.0f%%)", EscapeLine(rep.Scope.Alarm), EscapeLine(h.Title), EscapeLine(string(h.Cause)), 100*h.Confidence)
}

// Progress of an investigation, for its status message.

// checkOrder is the order the status message lists the engine's steps in.
var checkOrder = investigate.Steps()

// step is one engine step as the status message shows it.
type step struct {
	Stage    string
	Findings int
	Detail   string
}

// statusView is the state of an investigation's status message.
type statusView struct {
	Alarm     string
	Requester string
	State     incident.State
	Steps     map[string]step
	Error     string
	Report    *investigate.Report
	Elapsed   time.Duration
	Wider     bool
	// CutShort: the deadline passed before every check finished.
	CutShort bool
}

func statusMessage(s statusView) ([]slack.Block, string) {
	name := "*" + EscapeLine(s.Alarm) + "*"
	who := ""
	if s.Requester != "" {
		who = " (asked by " + userMention(s.Requester) + ")"
	}
	switch s.State {
	case incident.StateQueued:
		text := ":hourglass: Queued: investigating " + name + " as soon as a worker is free" + who
		return []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, "Queued: " + EscapeLine(s.Alarm)
	case incident.StateFailed:
		text := ":warning: Could not investigate " + name + ": " + truncate(EscapeLine(s.Error), 1500)
		return []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, "Could not investigate " + EscapeLine(s.Alarm)
	case incident.StateDone:
		var text string
		if rep := s.Report; rep != nil && len(rep.Hypotheses) > 0 {
			h := rep.Hypotheses[0]
			text = fmt.Sprintf(":white_check_mark: Investigated %s: most likely *%s* (`%s`, %.0f%%).", name, EscapeLine(h.Title), EscapeLine(string(h.Cause)), 100*h.Confidence)
			if len(h.Actions) > 0 {
				text += fmt.Sprintf(" First action (`%s`): %s.", EscapeLine(string(h.Actions[0].Kind)), truncate(EscapeLine(h.Actions[0].Detail), 400))
			}
		} else {
			text = ":white_check_mark: Investigated " + name + ": nothing in the telemetry explains it."
		}
		if s.CutShort {
			text += " The deadline cut it short, so some checks are missing."
		}
		text += " The report is in the thread."
		return []slack.Block{
			slack.NewSectionBlock(mrkdwn(text), nil, nil),
			contextBlock(fmt.Sprintf("%d checks in %s%s", len(s.Steps), s.Elapsed.Round(100*time.Millisecond), who)),
		}, "Investigated " + EscapeLine(s.Alarm)
	}
	verb := "Investigating "
	if s.Wider {
		verb = "Re-investigating, with a wider window, "
	}
	done := 0
	var lines []string
	for _, c := range checkOrder {
		st, ok := s.Steps[c.Name]
		if !ok {
			continue
		}
		icon := ":hourglass_flowing_sand:"
		switch st.Stage {
		case investigate.StageFinished:
			icon, done = ":white_check_mark:", done+1
		case investigate.StageFailed:
			icon, done = ":warning:", done+1
		}
		line := icon + " " + c.Label
		if st.Detail != "" {
			line += " — " + truncate(EscapeLine(st.Detail), 200)
		}
		lines = append(lines, line)
	}
	text := ":mag: " + verb + name + "…" + who
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	if len(lines) > 0 {
		blocks = append(blocks, contextBlock(strings.Join(lines, "\n")), contextBlock(fmt.Sprintf("%d of %d steps done", done, len(checkOrder))))
	}
	return blocks, verb + EscapeLine(s.Alarm) + "…"
}
