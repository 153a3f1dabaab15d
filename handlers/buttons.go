package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
)

// onInteraction handles a button click.
func (b *Bot) onInteraction(ctx context.Context, ch Channel, p blockActions, actionID, value string, ev *keptEvent) {
	if !b.allowed(ctx, ch, p.User.ID) {
		b.ephemeral(ctx, p.channel(), p.User.ID, p.threadTS(), "Only members of this channel's unstuck user group may use these buttons.")
		return
	}
	b.onAction(ctx, ch, p, actionID, value, ev)
}

// onAction handles a button.
func (b *Bot) onAction(ctx context.Context, ch Channel, p blockActions, actionID, value string, ev *keptEvent) {
	channel := p.channel()
	if actionID == blockkit.ActionInvestigate {
		region, name, ok := strings.Cut(value, "|")
		if !ok || name == "" {
			return
		}
		thread := p.threadTS()
		if inv, err := b.store.Thread(ctx, channel, thread); err == nil && inv.State != incident.StateFailed {
			b.ephemeral(ctx, channel, p.User.ID, thread, "This alarm is already being investigated in this thread.")
			return
		}
		// The offer is answered: replace its button with who pressed it.
		text := fmt.Sprintf("CloudWatch alarm *%s* is in ALARM. Investigation started by %s.", mrkdwn.EscapeLine(name), mrkdwn.UserMention(p.User.ID))
		blocks, fallback := blockkit.Message(text)
		if err := b.update(ctx, channel, p.messageTS(), blocks, fallback); err != nil {
			b.log.Warn("offer update", "err", err)
		}
		b.start(ctx, start{ch: ch, channel: channel, threadTS: thread, user: p.User.ID, target: name, region: region, event: ev})
		return
	}
	thread, idx, err := blockkit.ParseButtonValue(value)
	if err != nil {
		return
	}
	inv, err := b.store.Thread(ctx, channel, thread)
	if err != nil {
		b.ephemeral(ctx, channel, p.User.ID, thread, "I no longer know this investigation (the bot may have restarted); start a new one with /investigate.")
		return
	}
	switch actionID {
	case blockkit.ActionAccept, blockkit.ActionDiscard:
		b.onVerdict(ctx, inv, p, idx, actionID)
	case blockkit.ActionRerun:
		b.rerun(ctx, ch, inv, p.User.ID, ev)
	case blockkit.ActionChanges:
		b.answer(ctx, ch, inv, "what changed", p.User.ID, ev)
	case blockkit.ActionPostmortem:
		b.answer(ctx, ch, inv, "postmortem", p.User.ID, ev)
	case blockkit.ActionDetails:
		b.showDetails(ctx, inv, p)
	}
}

// rerun investigates a thread's alarm again with the thread's notes: over
// twice the window (at least an hour) when it has a report, over the same
// window when it never finished.
func (b *Bot) rerun(ctx context.Context, ch Channel, inv incident.Investigation, user string, ev *keptEvent) {
	if inv.Report == nil {
		b.start(ctx, start{ch: ch, channel: inv.Channel, threadTS: inv.ThreadTS, user: user, target: inv.Alarm.Name, region: inv.Region, now: inv.Now, lookback: inv.Lookback, event: ev})
		return
	}
	lookback := 2 * inv.Report.Scope.End.Sub(inv.Report.Scope.Start)
	lookback = min(max(lookback, time.Hour), maxSince)
	b.start(ctx, start{ch: ch, channel: inv.Channel, threadTS: inv.ThreadTS, user: user, target: inv.Alarm.Name, region: inv.Region, now: inv.Now, lookback: lookback, wider: true, event: ev})
}

// onVerdict records an accept or discard and updates the report message.
func (b *Bot) onVerdict(ctx context.Context, inv incident.Investigation, p blockActions, idx int, actionID string) {
	if inv.Report == nil || idx < 0 || idx >= len(inv.Report.Hypotheses) {
		return
	}
	h := inv.Report.Hypotheses[idx]
	verdict := incident.VerdictAccepted
	if actionID == blockkit.ActionDiscard {
		verdict = incident.VerdictDiscarded
	}
	f := incident.Feedback{Hypothesis: idx, Cause: h.Cause, Resource: h.Resource, Verdict: verdict, User: p.User.ID, Time: b.opts.Clock()}
	if err := b.store.SetFeedback(ctx, inv.Channel, inv.ThreadTS, f); err != nil {
		b.log.Error("feedback", "err", err)
		return
	}
	b.log.Info("feedback", "alarm", inv.Alarm.Name, "hypothesis", idx, "cause", h.Cause, "resource", h.Resource, "verdict", verdict, "user", p.User.ID)
	cur, err := b.store.Thread(ctx, inv.Channel, inv.ThreadTS)
	if err != nil {
		return
	}
	msgs, fallback := blockkit.Report(*cur.Report, reportView(cur))
	// Update the clicked message with the part of the report that holds
	// the hypothesis.
	part := slices.IndexFunc(msgs, func(blocks []slack.Block) bool {
		return slices.ContainsFunc(blocks, func(bl slack.Block) bool {
			id := blockkit.HypothesisBlockID(idx)
			return bl.ID() == id || bl.ID() == id+"-verdict"
		})
	})
	if part < 0 {
		return
	}
	if err := b.update(ctx, cur.Channel, p.messageTS(), msgs[part], blockkit.PartFallback(fallback, part)); err != nil {
		b.log.Warn("update report", "err", err)
	}
}

// reportView is how an investigation's report is rendered now: with its
// details once they were posted.
func reportView(inv incident.Investigation) blockkit.ReportView {
	return blockkit.ReportView{ThreadTS: inv.ThreadTS, Feedback: inv.Feedback, Joined: inv.Joined, Details: len(inv.ReportTS) > 1}
}

// showDetails posts a report's details after its first screen, once, and
// takes the "Show details" button off the first screen.
func (b *Bot) showDetails(ctx context.Context, inv incident.Investigation, p blockActions) {
	if inv.Report == nil {
		return
	}
	if len(inv.ReportTS) == 0 {
		// The report is posted and not yet stored as posted: the click
		// came from its first screen.
		inv.ReportTS = []string{p.messageTS()}
	}
	if len(inv.ReportTS) > 1 {
		b.ephemeral(ctx, inv.Channel, p.User.ID, inv.ThreadTS, "The details are already in this thread, under the report.")
		return
	}
	view := reportView(inv)
	view.Details = true
	msgs, fallback := blockkit.Report(*inv.Report, view)
	for i, blocks := range msgs[1:] {
		ts, err := b.post(ctx, inv.Channel, inv.ThreadTS, blocks, blockkit.PartFallback(fallback, i+1))
		if err != nil {
			b.log.Error("report details", "part", i+1, "err", err)
			b.ephemeral(ctx, inv.Channel, p.User.ID, inv.ThreadTS, "Slack refused the details; ask me about them in the thread instead (what did you check?, what about …?).")
			break
		}
		inv.ReportTS = append(inv.ReportTS, ts)
	}
	if len(inv.ReportTS) == 1 {
		return
	}
	if err := b.store.Put(ctx, inv); err != nil {
		b.log.Error("store: report details not saved", "thread", inv.ThreadTS, "err", err)
	}
	if err := b.update(ctx, inv.Channel, inv.ReportTS[0], msgs[0], fallback); err != nil {
		b.log.Warn("update report", "err", err)
	}
}
