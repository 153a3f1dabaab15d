package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/incident"
)

// resumingText is what an interrupted investigation's thread is told when
// a replica resumes it.
func resumingText(alarm string) string {
	return fmt.Sprintf(":arrows_counterclockwise: I restarted while I was investigating *%s*, so I'm resuming it: the same alarm, window and notes, from the start. If it is cut off again, I won't retry it by myself.", mrkdwn.EscapeLine(alarm))
}

// poisonText is what an investigation's thread is told when it was cut
// off again after it was resumed.
func poisonText(alarm string) string {
	return fmt.Sprintf(":warning: I restarted while I was investigating *%s* again, after I had already resumed it once, so I'm not retrying it by myself: an investigation cut off twice may be what brought me down. Press *Re-run* to investigate it again, or mention me with `rerun`.", mrkdwn.EscapeLine(alarm))
}

// restartedText is what an interrupted investigation's thread is told
// when it cannot be resumed.
func restartedText(alarm, why string) string {
	return fmt.Sprintf(":arrows_counterclockwise: I restarted while I was investigating *%s*, and I can't resume it: %s. Press *Re-run* to investigate it again, or mention me with `rerun`.", mrkdwn.EscapeLine(alarm), mrkdwn.Truncate(mrkdwn.EscapeLine(why), 500))
}

// stoppingText is what a thread is told when shutdown cuts its
// investigation off.
func stoppingText(alarm string) string {
	return fmt.Sprintf(":arrows_counterclockwise: I'm restarting, so my investigation of *%s* did not finish. Press *Re-run* to investigate it again, or mention me with `rerun`.", mrkdwn.EscapeLine(alarm))
}

// errRestarted is the failure of an investigation cut off by a restart
// that could not be resumed.
const errRestarted = "the bot restarted while it was investigating"

// errPoison is the failure of an investigation cut off again after it was
// resumed.
const errPoison = "the bot restarted while it was investigating, twice (once after resuming it), so it was not retried by itself"

// maxResumes is how many times an interrupted investigation is resumed
// without a person: one cut off again after that may be a poison request,
// one whose investigation crashes the process.
const maxResumes = 1

// recoverPass is one pass over the work that stopped or crashed processes
// left: the interrupted investigations, then the kept events received
// before before. Metrics are told what it took over once it is done.
func (b *Bot) recoverPass(ctx context.Context, before time.Time) {
	invs := b.recoverInterrupted(ctx)
	evs := b.recoverEvents(ctx, before)
	b.metrics.Recovered(invs, evs)
}

// recoverInterrupted takes over the investigations whose worker stopped or
// crashed (incident.Store.Interrupted): for each, the one replica that
// acquires its lease resumes it (recoverOne). Investigations are
// read-only, so running one again is safe; what is not is to run again,
// and again, one that brings its process down, so one already resumed is
// marked failed instead, and a person decides.
//
// A replica resumes at most as many at once as it has workers: a restart
// that left hundreds does not read AWS for all of them together, and keeps
// its queue for new requests. What a pass leaves for lack of a slot waits,
// its lease free for another replica, for a later pass: the one a resumed
// investigation asks for when it ends (kick), or the next RecoverEvery.
// It returns how many it took over.
func (b *Bot) recoverInterrupted(ctx context.Context) (n int) {
	invs, err := b.store.Interrupted(ctx)
	if err != nil {
		b.log.Warn("interrupted investigations", "err", err)
		return 0
	}
	left := 0
	for _, inv := range invs {
		if ctx.Err() != nil {
			return n
		}
		slot := false
		if inv.Resumes < maxResumes {
			select {
			case b.resuming <- struct{}{}:
				slot = true
			default:
				left++
				continue
			}
		}
		if b.recoverOne(ctx, inv, slot) {
			n++
		}
	}
	if left > 0 {
		b.log.Info("interrupted investigations left for a later pass: every worker is resuming one", "left", left, "resuming", len(b.resuming))
		b.backlog.Store(true)
		// A slot that freed while this pass ran told nobody.
		if len(b.resuming) < cap(b.resuming) {
			b.kickRecovery()
		}
	}
	return n
}

// kickRecovery asks for a recovery pass now.
func (b *Bot) kickRecovery() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// resumed frees the slot of a resumed investigation that ended, and asks
// for a pass if some were left for lack of one.
func (b *Bot) resumed() {
	<-b.resuming
	if b.backlog.Swap(false) {
		b.kickRecovery()
	}
}

// recoverOne takes one interrupted investigation over: under its lease, it
// resumes it (slot: a slot of b.resuming is held for it, which its run
// frees when it ends, or recoverOne when it does not run), or ends it
// failed when it was resumed before or cannot be. False when another
// replica has it, it finished since it was listed, or it is left for a
// later pass.
func (b *Bot) recoverOne(ctx context.Context, inv incident.Investigation, slot bool) (took bool) {
	running := false
	defer func() {
		if slot && !running {
			<-b.resuming
		}
	}()
	h, err := b.acquire(ctx, inv.Channel, inv.ThreadTS, b.owner("recover"))
	if err != nil {
		b.log.Warn("interrupted: lease", "thread", inv.ThreadTS, "err", err)
		return false
	}
	if h == nil {
		return false // another replica works on it, or takes it over
	}
	// Read it again under the lease: its worker may have finished it since
	// the list was read, and nobody starts another run while we hold it.
	cur, err := b.store.Thread(ctx, inv.Channel, inv.ThreadTS)
	if err != nil || !cur.State.Active() || cur.ID != inv.ID {
		h.release(context.WithoutCancel(ctx))
		return false
	}
	r := &run{b: b, inv: cur, lease: h, view: blockkit.StatusView{Alarm: cur.Alarm.Name, Requester: cur.Requester, State: incident.StateRunning}}
	if cur.Resumes >= maxResumes {
		b.log.Warn("not resuming an investigation cut off again after it was resumed: it may be what brought the process down", "alarm", cur.Alarm.Name, "channel", cur.Channel, "thread", cur.ThreadTS, "resumes", cur.Resumes)
		r.interrupted(ctx, errPoison, poisonText(cur.Alarm.Name))
		h.release(context.WithoutCancel(ctx))
		return true
	}
	if !slot {
		// Listed as resumed before, and put back since: no slot is held
		// for it, so a later pass resumes it.
		h.release(context.WithoutCancel(ctx))
		return false
	}
	ch, ok := b.cfg.Channel(cur.Channel)
	var backend Backend
	if ok {
		backend, err = b.backends.Backend(ctx, ch, cur.Region)
	} else {
		err = errors.New("this channel is no longer served")
	}
	if err != nil {
		b.log.Error("interrupted: not resumed", "thread", cur.ThreadTS, "err", err)
		r.interrupted(ctx, errRestarted, restartedText(cur.Alarm.Name, err.Error()))
		h.release(context.WithoutCancel(ctx))
		return true
	}
	b.log.Info("resuming an interrupted investigation", "alarm", cur.Alarm.Name, "channel", cur.Channel, "thread", cur.ThreadTS, "state", cur.State)
	if !r.resume(ctx) {
		h.release(context.WithoutCancel(ctx))
		return false
	}
	job := r.execute(backend)
	if !b.work.slow.submit(func(ctx context.Context) {
		defer b.resumed()
		job(ctx)
	}) {
		r.failed(ctx, nil, "too many investigations are waiting; try again in a few minutes", false)
		h.release(context.WithoutCancel(ctx))
		return true
	}
	running = true
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
