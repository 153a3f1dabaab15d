package handlers

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/socketmode"
	"github.com/unstuck/unstuck/incident"
)

// receiveTimeout bounds keeping an event before it is acknowledged: Slack
// wants the acknowledgement within 3s.
const receiveTimeout = 1500 * time.Millisecond

// intake keeps an event in the store, acknowledges it, takes the lease on
// handling it and queues its work. An event is kept before it is
// acknowledged because Slack does not deliver an acknowledged envelope
// again: if this process dies before the event is handled, whoever comes
// next finds it (recoverEvents). A duplicate delivery is acknowledged and
// dropped. When the store fails, the event is handled without being kept.
func (b *Bot) intake(ctx context.Context, sm *socketmode.Client, w *workers, env envelope, ackPayload any, j job, arrived time.Time) {
	ev := incident.Event{Key: j.key, Type: env.Type, Payload: env.Payload, Received: b.wall.Now()}
	rctx, cancel := context.WithTimeout(ctx, receiveTimeout)
	first, err := b.store.Receive(rctx, ev)
	cancel()
	kept := err == nil
	if err != nil {
		if ctx.Err() != nil {
			// Past the grace period: left unacknowledged. Slack delivers
			// an event again; a command or a click the user sees fail.
			return
		}
		b.log.Warn("event store: handling the event without keeping it", "key", j.key, "err", err)
		first = true
	}
	// Kept, it is this process's to handle even if it is stopping now.
	ctx = context.WithoutCancel(ctx)
	event := env.Type == socketmode.RequestTypeEventsAPI
	if !b.ack(ctx, sm, env, ackPayload, arrived, !event) && !event {
		// Slack does not deliver a command or a click again, and has told
		// the user it failed: acting on it now would answer as though it
		// had worked.
		b.log.Warn("not acknowledged: Slack told the user it failed; not acting on it", "key", j.key, "type", env.Type)
		if kept && first {
			b.handled(ctx, j.key)
		}
		return
	}
	if !first {
		b.log.Info("duplicate delivery ignored", "key", j.key)
		return
	}
	var lease *hold
	if kept {
		h, err := b.acquireKey(ctx, incident.EventLeaseKey(j.key), b.owner("event"))
		switch {
		case err != nil:
			b.log.Warn("event lease: handling the event without it", "key", j.key, "err", err)
		case h == nil:
			return // another replica took it over already
		}
		lease = h
	}
	b.dispatch(w, j, lease, kept)
}

// dispatch queues an event's work. The work runs under the event's lease
// (nil when the event is not kept) and marks the event handled when it
// ends, unless shutdown cut it off: then the event is left for whoever
// comes next.
func (b *Bot) dispatch(w *workers, j job, lease *hold, kept bool) {
	var ev *keptEvent
	if kept {
		ev = &keptEvent{key: j.key}
	}
	finish := func(ctx context.Context, handled bool) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OutcomeTimeout)
		defer cancel()
		if handled {
			b.forget(ctx, ev)
		}
		lease.release(ctx)
	}
	run := func(ctx context.Context) {
		handled := false
		defer func() { finish(ctx, handled) }()
		if ctx.Err() != nil {
			return // cut off by shutdown before it ran
		}
		j.run(ctx, ev)
		handled = ctx.Err() == nil
	}
	if !w.quick.submit(run) {
		b.log.Warn("queue full: dropping work", "key", j.key)
		b.inflight.Add(1)
		go func() {
			defer b.inflight.Add(-1)
			if j.tell != nil {
				j.tell(context.Background(), "I'm too busy right now; try again in a minute.")
			}
			finish(context.Background(), true)
		}()
	}
}

// keptEvent is an event kept in the store (incident.Inbox) while its work
// runs. The work gets it, and may forget it before it ends when the work
// is kept elsewhere from then on (an investigation stored queued); nil
// stands for an event that is not kept.
type keptEvent struct {
	key string
	// forgotten is set once Handled succeeded, so that it is written once.
	forgotten atomic.Bool
}

// forget marks a kept event handled, unless it was already; nil is no
// event.
func (b *Bot) forget(ctx context.Context, ev *keptEvent) {
	if ev != nil && !ev.forgotten.Load() && b.handled(ctx, ev.key) {
		ev.forgotten.Store(true)
	}
}

// handled forgets a kept event; false when the store failed.
func (b *Bot) handled(ctx context.Context, key string) bool {
	if err := b.store.Handled(ctx, key); err != nil {
		b.log.Warn("event store: handled", "key", key, "err", err)
		return false
	}
	return true
}
