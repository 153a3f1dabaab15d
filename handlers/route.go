package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack/socketmode"
)

// ephemeral is a slash command's acknowledgement payload that only the
// user sees.
func ephemeral(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// routeCommand answers a bad /investigate in its acknowledgement and turns a
// good one into work.
func (b *Bot) routeCommand(payload json.RawMessage) (any, job) {
	var cmd slashCommand
	if err := json.Unmarshal(payload, &cmd); err != nil {
		return ephemeral("I could not read that command."), job{}
	}
	c, err := ParseCommand(cmd.Text, b.opts.Clock())
	if err != nil {
		return ephemeral(usageText(err)), job{}
	}
	if c.Help {
		return ephemeral(Usage), job{}
	}
	ch, ok := b.cfg.Channel(cmd.ChannelID)
	if !ok {
		return ephemeral("I'm not enabled in this channel; ask whoever runs unstuck to add it."), job{}
	}
	if _, ok := ch.region(c.Region); !ok {
		return ephemeral(fmt.Sprintf("This channel may read %s, not %s.", strings.Join(ch.Regions, ", "), c.Region)), job{}
	}
	s := start{ch: ch, channel: cmd.ChannelID, user: cmd.UserID, responseURL: cmd.ResponseURL, target: c.Target, region: c.Region, now: c.At, lookback: c.Since}
	return nil, job{
		key:  eventKey("command", cmd.TriggerID),
		run:  func(ctx context.Context, ev *keptEvent) { s.event = ev; b.start(ctx, s) },
		tell: func(ctx context.Context, text string) { b.tell(ctx, s, text) },
	}
}

// eventKey is the key of an event (incident.Event.Key) of a kind and an id; "" when
// the id is missing.
func eventKey(kind, id string, more ...string) string {
	if id == "" {
		return ""
	}
	return kind + ":" + strings.Join(append([]string{id}, more...), "/")
}

// routeEvent turns an Events API payload into work: a mention, an alarm
// message, a note in an investigation's thread.
func (b *Bot) routeEvent(payload json.RawMessage) job {
	var cb eventCallback
	if json.Unmarshal(payload, &cb) != nil || cb.Type != "event_callback" {
		return job{}
	}
	var m message
	if json.Unmarshal(cb.Event, &m) != nil {
		return job{}
	}
	if b.isSelf(m) {
		return job{}
	}
	ch, ok := b.cfg.Channel(m.Channel)
	if !ok {
		return job{}
	}
	switch m.Type {
	case "app_mention":
		if m.fromBot() {
			return job{}
		}
		return job{key: eventKey("event", cb.EventID), run: func(ctx context.Context, ev *keptEvent) { b.onMention(ctx, ch, m, ev) }}
	case "message":
		switch m.Subtype {
		case "", "bot_message", "thread_broadcast", "file_share":
		default:
			return job{} // edits, deletions, joins
		}
		if m.fromBot() {
			if m.inThread() || !ch.watches(m) {
				return job{}
			}
			return job{
				// Keyed by the message, not the event: the same message
				// may come as more than one event.
				key:  eventKey("alarm", m.Channel, m.TS),
				run:  func(ctx context.Context, ev *keptEvent) { b.onBotMessage(ctx, ch, m, ev) },
				tell: func(ctx context.Context, text string) { b.reply(ctx, m.Channel, m.TS, text) },
			}
		}
		if !m.inThread() || b.mentionsMe(m.Text) {
			return job{} // top-level chatter; mentions come as app_mention
		}
		return job{key: eventKey("event", cb.EventID), run: func(ctx context.Context, _ *keptEvent) { b.onThreadMessage(ctx, m) }}
	}
	return job{}
}

// routeInteraction turns a button click into work.
func (b *Bot) routeInteraction(payload json.RawMessage) job {
	var p blockActions
	if json.Unmarshal(payload, &p) != nil || p.Type != "block_actions" || len(p.Actions) == 0 {
		return job{}
	}
	ch, ok := b.cfg.Channel(p.channel())
	if !ok {
		return job{}
	}
	a := p.Actions[0]
	if !strings.HasPrefix(a.ActionID, "unstuck.") {
		return job{}
	}
	return job{
		key:  eventKey("action", p.TriggerID, a.ActionID, a.ActionTS),
		tell: func(ctx context.Context, text string) { b.ephemeral(ctx, p.channel(), p.User.ID, p.threadTS(), text) },
		run:  func(ctx context.Context, ev *keptEvent) { b.onInteraction(ctx, ch, p, a.ActionID, a.Value, ev) },
	}
}

func (b *Bot) isSelf(m message) bool {
	return (b.botUserID != "" && m.User == b.botUserID) || (b.botID != "" && m.BotID == b.botID)
}

func (b *Bot) mentionsMe(text string) bool {
	return b.botUserID != "" && strings.Contains(text, "<@"+b.botUserID)
}

// job is the work an envelope asks for.
type job struct {
	// key identifies the event across deliveries (incident.Event.Key).
	key string
	// run does the work; ev is the kept event, to forget once the work
	// is kept elsewhere (nil when the event is not kept).
	run func(ctx context.Context, ev *keptEvent)
	// tell answers whoever sent the event, when its work cannot be done;
	// nil when there is nobody to tell.
	tell func(ctx context.Context, text string)
}

// route decides, without I/O, what an envelope's acknowledgement carries
// and what work follows it.
func (b *Bot) route(env envelope) (ackPayload any, j job) {
	switch env.Type {
	case socketmode.RequestTypeSlashCommands:
		ackPayload, j = b.routeCommand(env.Payload)
	case socketmode.RequestTypeEventsAPI:
		j = b.routeEvent(env.Payload)
	case socketmode.RequestTypeInteractive:
		j = b.routeInteraction(env.Payload)
	}
	if j.run != nil && j.key == "" {
		// A payload without its id: its deliveries cannot be told apart
		// beyond their envelope.
		j.key = "envelope:" + env.EnvelopeID
	}
	return ackPayload, j
}
