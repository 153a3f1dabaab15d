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
}

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
		var text string
		if rep := s.Report; rep != nil && len(rep.Hypotheses) > 0 {
			h := rep.Hypotheses[0]
			text = fmt.Sprintf(":white_check_mark: Investigated %s: most likely *%s* (`%s`, %.0f%%).", name, mrkdwn.EscapeLine(h.Title), mrkdwn.EscapeLine(string(h.Cause)), 100*h.Confidence)
			if len(h.Actions) > 0 {
				text += fmt.Sprintf(" First action (`%s`): %s.", mrkdwn.EscapeLine(string(h.Actions[0].Kind)), mrkdwn.Truncate(mrkdwn.EscapeLine(h.Actions[0].Detail), 400))
			}
		} else {
			text = ":white_check_mark: Investigated " + name + ": nothing in the telemetry explains it."
		}
		if s.CutShort {
			text += " The deadline cut it short, so some checks are missing."
		}
		text += " The report is in the thread."
		return []slack.Block{
			slack.NewSectionBlock(Mrkdwn(text), nil, nil),
			Context(fmt.Sprintf("%d checks in %s%s", len(s.Steps), s.Elapsed.Round(100*time.Millisecond), who)),
		}, "Investigated " + mrkdwn.EscapeLine(s.Alarm)
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
