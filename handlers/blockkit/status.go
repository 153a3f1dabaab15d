package blockkit

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// Progress of an investigation, for its status message.

// checkOrder is the order the status message lists the engine's steps in.
var checkOrder = investigate.Steps()

// Step is one engine step as the status message shows it.
type Step struct {
	Stage    string
	Findings int
	Detail   string
}

// StatusView is the state of an investigation's status message.
type StatusView struct {
	Alarm     string
	Requester string
	State     incident.State
	Steps     map[string]Step
	Error     string
	Report    *investigate.Report
	Elapsed   time.Duration
	Wider     bool
	// CutShort: the deadline passed before every check finished.
	CutShort bool
	// Posted says how much of the report reached the thread.
	Posted Posting
}

// Posting is how much of a report reached its thread.
type Posting int

// How much of a report reached its thread.
const (
	// PostedWhole: the report's first screen is in the thread.
	PostedWhole Posting = iota
	// PostedShort: Slack refused the report; a shortened one is there.
	PostedShort
	// PostedNone: Slack refused the report and its shortened form.
	PostedNone
)

// Status renders an investigation's status message and its fallback text.
func Status(s StatusView) ([]slack.Block, string) {
	name := "*" + mrkdwn.EscapeLine(s.Alarm) + "*"
	who := ""
	if s.Requester != "" {
		who = " (asked by " + mrkdwn.UserMention(s.Requester) + ")"
	}
	switch s.State {
	case incident.StateQueued:
		text := ":hourglass: Queued: investigating " + name + " as soon as a worker is free" + who
		return []slack.Block{slack.NewSectionBlock(Mrkdwn(text), nil, nil)}, "Queued: " + mrkdwn.EscapeLine(s.Alarm)
	case incident.StateFailed:
		text := ":warning: Could not investigate " + name + ": " + mrkdwn.Truncate(mrkdwn.EscapeLine(s.Error), 1500)
		return []slack.Block{slack.NewSectionBlock(Mrkdwn(text), nil, nil)}, "Could not investigate " + mrkdwn.EscapeLine(s.Alarm)
	case incident.StateDone:
		text := ":white_check_mark: Investigated " + name + ": nothing in the telemetry explains it."
		fallback := "Investigated " + mrkdwn.EscapeLine(s.Alarm)
		if rep := s.Report; rep != nil {
			// The thread's first sentence, word for word.
			headline := mrkdwn.Truncate(mrkdwn.EscapeLine(rep.Headline()), 600)
			text = ":white_check_mark: Investigated " + name + ": " + headline
			fallback += ": " + headline
			if h, ok := rep.Lead(); ok && len(h.Actions) > 0 {
				text += fmt.Sprintf(" First action (`%s`): %s.", mrkdwn.EscapeLine(string(h.Actions[0].Kind)), mrkdwn.Truncate(mrkdwn.EscapeLine(strings.TrimSuffix(h.Actions[0].Detail, ".")), 400))
			}
		}
		if s.CutShort {
			text += " The deadline cut it short, so some checks are missing."
		}
		switch s.Posted {
		case PostedShort:
			text += " Slack refused the whole report, so a shortened one is in the thread."
		case PostedNone:
			text += " Slack refused the report, so it is not in the thread: press Re-run, or ask me there (_why?_, _what should I do?_)."
		default:
			text += " The report is in the thread."
		}
		return []slack.Block{
			slack.NewSectionBlock(Mrkdwn(text), nil, nil),
			Context(fmt.Sprintf("%d checks in %s%s", len(s.Steps), s.Elapsed.Round(100*time.Millisecond), who)),
		}, mrkdwn.Truncate(fallback, maxFallbackText)
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
			line += " — " + mrkdwn.Truncate(mrkdwn.EscapeLine(st.Detail), 200)
		}
		lines = append(lines, line)
	}
	text := ":mag: " + verb + name + "…" + who
	blocks := []slack.Block{slack.NewSectionBlock(Mrkdwn(text), nil, nil)}
	if len(lines) > 0 {
		blocks = append(blocks, Context(strings.Join(lines, "\n")), Context(fmt.Sprintf("%d of %d steps done", done, len(checkOrder))))
	}
	return blocks, verb + mrkdwn.EscapeLine(s.Alarm) + "…"
}
