package handlers

import (
	"context"
	"regexp"
	"strings"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// Answerer answers a free-form question about an investigation that no
// built-in intent understood (a model adapter implements it), reading
// telemetry through the channel's querier. Its answer is untrusted text.
type Answerer interface {
	Answer(ctx context.Context, question string, q Querier, inv incident.Investigation) (string, error)
}

// Summarizer drafts a postmortem of an investigation — timeline, impact,
// root cause, actions taken, prevention — from its report, the accepted
// hypotheses and the thread's notes. Its draft is untrusted text.
type Summarizer interface {
	Postmortem(ctx context.Context, inv incident.Investigation) (string, error)
}

// onThreadMessage keeps a person's message in an investigation's thread as
// a note.
func (b *Bot) onThreadMessage(ctx context.Context, m message) {
	if strings.TrimSpace(m.Text) == "" {
		return
	}
	if _, err := b.store.Thread(ctx, m.Channel, m.ThreadTS); err != nil {
		return // not an investigation's thread
	}
	n := investigate.Note{Time: b.opts.Clock(), Author: m.User, Text: mrkdwn.Redact(plainText(m.Text))}
	if err := b.store.AddNote(ctx, m.Channel, m.ThreadTS, n); err != nil {
		b.log.Warn("note", "err", err)
	}
}

var mentionRe = regexp.MustCompile(`<@[A-Z0-9]+(\|[^>]*)?>`)

// plainText turns a message's mrkdwn into the words a person typed:
// mentions and links unwrapped, entities decoded.
func plainText(s string) string {
	s = mentionRe.ReplaceAllString(s, "")
	return strings.TrimSpace(mrkdwn.Unescape(s))
}

// onMention answers a question in an investigation's thread, or starts an
// investigation from "@unstuck investigate ALARM".
func (b *Bot) onMention(ctx context.Context, ch Channel, m message, ev *keptEvent) {
	q := plainText(m.Text)
	thread := m.ThreadTS
	if thread == "" {
		thread = m.TS
	}
	if !b.allowed(ctx, ch, m.User) {
		b.ephemeral(ctx, m.Channel, m.User, thread, "Only members of this channel's unstuck user group may ask me here.")
		return
	}
	if rest, ok := cutWord(q, "investigate"); ok {
		c, err := ParseCommand(rest, b.opts.Clock())
		if err != nil || c.Help {
			b.reply(ctx, m.Channel, thread, usageText(err))
			return
		}
		b.start(ctx, start{ch: ch, channel: m.Channel, threadTS: thread, user: m.User, target: c.Target, region: c.Region, now: c.At, lookback: c.Since, event: ev})
		return
	}
	inv, err := b.store.Thread(ctx, m.Channel, thread)
	if err != nil {
		b.reply(ctx, m.Channel, thread, "There is no investigation in this thread. Start one with `/investigate ALARM`, or mention me with `investigate ALARM`.\n\n"+IntentHelp)
		return
	}
	b.answer(ctx, ch, inv, q, m.User, ev)
}

// cutWord cuts a leading word (case-insensitive) off s.
func cutWord(s, word string) (string, bool) {
	f := strings.Fields(s)
	if len(f) == 0 || !strings.EqualFold(f[0], word) {
		return "", false
	}
	return strings.TrimSpace(s[len(f[0]):]), true
}
