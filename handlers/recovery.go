package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
)

// restartedText is what an interrupted investigation's thread is told
// when the bot comes back.
func restartedText(alarm string) string {
	return fmt.Sprintf(":arrows_counterclockwise: I restarted while I was investigating *%s*, so this investigation did not finish. Press *Re-run* to investigate it again, or mention me with `rerun`.", mrkdwn.EscapeLine(alarm))
}

// stoppingText is what a thread is told when shutdown cuts its
// investigation off.
func stoppingText(alarm string) string {
	return fmt.Sprintf(":arrows_counterclockwise: I'm restarting, so my investigation of *%s* did not finish. Press *Re-run* to investigate it again, or mention me with `rerun`.", mrkdwn.EscapeLine(alarm))
}

// errRestarted is the failure of an investigation cut off by a restart.
const errRestarted = "the bot restarted while it was investigating"

// recoverPass is one pass over the work that stopped or crashed processes
// left: the interrupted investigations, then the kept events received
// before before. Metrics are told what it took over once it is done.
func (b *Bot) recoverPass(ctx context.Context, before time.Time) {
	invs := b.recoverInterrupted(ctx)
	evs := b.recoverEvents(ctx, before)
	b.metrics.Recovered(invs, evs)
}

// recoverInterrupted takes over the investigations whose worker stopped or
// crashed (incident.Store.Interrupted): for each, the one replica that acquires its
// lease marks it failed, updates its status message and tells its thread,
// with a Re-run button. Resuming is left to a person: an investigation that
// brought its process down would bring the next one down too. It returns
// how many it took over.
func (b *Bot) recoverInterrupted(ctx context.Context) (n int) {
	invs, err := b.store.Interrupted(ctx)
	if err != nil {
		b.log.Warn("interrupted investigations", "err", err)
		return 0
	}
	for _, inv := range invs {
		if ctx.Err() != nil {
			return n
		}
		if b.recoverOne(ctx, inv) {
			n++
		}
	}
	return n
}

// recoverOne takes one interrupted investigation over; false when another
// replica has it, or it finished since it was listed.
func (b *Bot) recoverOne(ctx context.Context, inv incident.Investigation) bool {
	h, err := b.acquire(ctx, inv.Channel, inv.ThreadTS, b.owner("recover"))
	if err != nil {
		b.log.Warn("interrupted: lease", "thread", inv.ThreadTS, "err", err)
		return false
	}
	if h == nil {
		return false // another replica works on it, or takes it over
	}
	defer h.release(context.WithoutCancel(ctx))
	// Read it again under the lease: its worker may have finished it since
	// the list was read, and nobody starts another run while we hold it.
	cur, err := b.store.Thread(ctx, inv.Channel, inv.ThreadTS)
	if err != nil || !cur.State.Active() || cur.ID != inv.ID {
		return false
	}
	b.log.Info("taking over an interrupted investigation", "alarm", cur.Alarm.Name, "channel", cur.Channel, "thread", cur.ThreadTS, "state", cur.State)
	if cur.StatusTS != "" {
		blocks, fallback := blockkit.Status(blockkit.StatusView{Alarm: cur.Alarm.Name, Requester: cur.Requester, State: incident.StateFailed, Error: errRestarted})
		if err := b.update(ctx, cur.Channel, cur.StatusTS, blocks, fallback); err != nil {
			b.log.Warn("status update", "err", err)
		}
	}
	b.offerRerun(ctx, cur, restartedText(cur.Alarm.Name))
	cur.State, cur.Error = incident.StateFailed, errRestarted
	if err := b.store.Put(ctx, cur); err != nil {
		b.log.Error("store", "err", err)
	}
	return true
}

// eventGrace is how old an unhandled event must be before a periodic pass
// takes it over: longer than the moment between keeping an event and
// taking its lease (intake).
const eventGrace = 10 * time.Second

// maxEventRetries is how many times an event is taken over: an event whose
// handling brought its process down twice is not tried a third time.
const maxEventRetries = 1

// gaveUpText is what the sender of an event is told when the bot gives up
// on it.
const gaveUpText = ":warning: My handling of this was cut off twice (a restart or a crash), so I stopped trying. Please ask again."

// recoverEvents handles the events acknowledged and kept (incident.Inbox) whose
// handler stopped or crashed before it finished with them: for each, the
// one replica that acquires its lease counts a retry and queues its work
// again, as if Slack had delivered it again. before bounds when they
// arrived (by the WallClock). It returns how many it queued again.
func (b *Bot) recoverEvents(ctx context.Context, before time.Time) (n int) {
	evs, err := b.store.Unhandled(ctx, before)
	if err != nil {
		b.log.Warn("unhandled events", "err", err)
		return 0
	}
	for _, ev := range evs {
		if ctx.Err() != nil {
			return n
		}
		h, err := b.acquireKey(ctx, incident.EventLeaseKey(ev.Key), b.owner("retry"))
		if err != nil {
			b.log.Warn("unhandled event: lease", "key", ev.Key, "err", err)
			continue
		}
		if h == nil {
			continue // another replica handles it
		}
		// Read it again under the lease: its handler may have finished
		// it since the list was read.
		cur, ok, err := b.store.Retry(ctx, ev.Key)
		if err != nil || !ok {
			h.release(context.WithoutCancel(ctx))
			continue
		}
		// Its work, or what stands for it, runs as any event's does: under
		// the lease, and the event is forgotten when it ends.
		_, j := b.route(envelope{Type: cur.Type, Payload: cur.Payload})
		switch {
		case j.run == nil:
			// Nothing to do for it now (the channel is no longer served).
			j.run = func(context.Context, *keptEvent) {}
		case cur.Retries > maxEventRetries:
			b.log.Warn("giving up on an event whose handling stopped more than once", "key", cur.Key, "retries", cur.Retries)
			tell := j.tell
			j.run = func(ctx context.Context, _ *keptEvent) {
				if tell != nil {
					tell(ctx, gaveUpText)
				}
			}
		default:
			b.log.Info("handling an event a stop cut off", "key", cur.Key, "type", cur.Type, "received", cur.Received)
		}
		j.key = cur.Key
		b.dispatch(b.work, j, h, true)
		n++
	}
	return n
}

// offerRerun posts text (mrkdwn) in an investigation's thread with a
// Re-run button.
func (b *Bot) offerRerun(ctx context.Context, inv incident.Investigation, text string) {
	blocks := []slack.Block{
		slack.NewSectionBlock(blockkit.Mrkdwn(text), nil, nil),
		slack.NewActionBlock("rerun", blockkit.Button(blockkit.ActionRerun, "Re-run", blockkit.ButtonValue(inv.ThreadTS, -1), slack.StylePrimary)),
	}
	if _, err := b.post(ctx, inv.Channel, inv.ThreadTS, blocks, text); err != nil {
		b.log.Warn("re-run offer", "err", err)
	}
}
