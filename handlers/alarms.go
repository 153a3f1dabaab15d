package handlers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/alarmmsg"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/investigate"
)

// onBotMessage handles a watched bot's top-level message: an alarm
// notification starts, offers or closes an investigation.
func (b *Bot) onBotMessage(ctx context.Context, ch Channel, m message, ev *keptEvent) {
	am, ok := alarmmsg.Recognize(m.Text, m.parts())
	if !ok {
		return
	}
	if ch.Account != "" && am.Account != "" && am.Account != ch.Account {
		b.log.Info("alarm from another account ignored", "alarm", am.Name, "account", am.Account)
		return
	}
	if _, ok := ch.region(am.Region); !ok {
		b.log.Info("alarm from a region the channel may not read", "alarm", am.Name, "region", am.Region)
		return
	}
	switch am.State {
	case alarmmsg.StateOK:
		b.onAlarmOK(ctx, m, am)
	case alarmmsg.StateAlarm:
		s := start{ch: ch, channel: m.Channel, threadTS: m.TS, target: am.Name, region: am.Region, fromAlarm: true, event: ev}
		if ch.Alarms == AlarmsButton {
			b.offer(ctx, s, am)
			return
		}
		b.start(ctx, s)
	}
}

// offer posts an Investigate button in an alarm's thread.
func (b *Bot) offer(ctx context.Context, s start, am alarmmsg.Message) {
	text := fmt.Sprintf("CloudWatch alarm *%s* is in ALARM.", mrkdwn.EscapeLine(am.Name))
	value := am.Region + "|" + am.Name
	blocks := []slack.Block{
		slack.NewSectionBlock(blockkit.Mrkdwn(text), nil, nil),
		slack.NewActionBlock("offer", blockkit.Button(blockkit.ActionInvestigate, "Investigate", mrkdwn.Truncate(value, 1900), slack.StylePrimary)),
	}
	if _, err := b.post(ctx, s.channel, s.threadTS, blocks, text); err != nil {
		b.log.Warn("offer", "err", err)
	}
}

// onAlarmOK notes in the latest investigation of an alarm that it is OK.
func (b *Bot) onAlarmOK(ctx context.Context, m message, am alarmmsg.Message) {
	recent, err := b.store.Recent(ctx, m.Channel, b.opts.Clock().Add(-24*time.Hour))
	if err != nil {
		return
	}
	for _, inv := range recent {
		if inv.Alarm.Name != am.Name && !slices.Contains(inv.Joined, am.Name) {
			continue
		}
		text := fmt.Sprintf(":large_green_circle: *%s* is back to OK.", mrkdwn.EscapeLine(am.Name))
		b.reply(ctx, inv.Channel, inv.ThreadTS, text)
		if err := b.store.AddNote(ctx, inv.Channel, inv.ThreadTS, investigate.Note{Time: b.opts.Clock(), Author: "CloudWatch", Text: am.Name + " returned to OK"}); err != nil {
			b.log.Error("store: OK note not saved", "alarm", am.Name, "thread", inv.ThreadTS, "err", err)
		}
		return
	}
}
