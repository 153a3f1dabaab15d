package handlers

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/investigate"
)

// tracker keeps an investigation's status message up to date as the
// engine's steps start and finish, coalescing the engine's events so the
// message is updated at most once per UpdateInterval. Progress updates
// may be dropped: one waits while chat.update's budget, shared with every
// other investigation, has no room (or Slack rate-limited it), and only
// the newest state goes out then. The last update (finish) must land.
type tracker struct {
	b        *Bot
	channel  string
	thread   string
	ts       string
	interval time.Duration

	mu    sync.Mutex
	view  blockkit.StatusView
	dirty bool
	last  time.Time // of the last update

	kick chan struct{}
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// newTracker tracks the status message ts in a thread of channel.
func (b *Bot) newTracker(channel, thread, ts string, view blockkit.StatusView) *tracker {
	view.Steps = map[string]blockkit.Step{}
	return &tracker{
		b: b, channel: channel, thread: thread, ts: ts, interval: b.opts.UpdateInterval,
		view: view, last: time.Now(),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// event records an engine event; it never blocks (the engine calls it from
// its checks).
func (t *tracker) event(ev investigate.Event) {
	t.mu.Lock()
	t.view.Steps[ev.Check] = blockkit.Step{Stage: ev.Stage, Findings: ev.Findings, Detail: ev.Detail}
	t.dirty = true
	t.mu.Unlock()
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

func (t *tracker) steps() map[string]blockkit.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.view.Steps)
}

// start runs the updater until finish.
func (t *tracker) start(ctx context.Context) {
	t.wg.Go(func() {
		for {
			select {
			case <-t.done:
				return
			case <-t.kick:
			}
			for {
				if !t.wait() {
					return
				}
				retry := t.flush(ctx)
				if retry <= 0 {
					break
				}
				if !t.sleep(retry) {
					return
				}
			}
		}
	})
}

// sleep waits d; false when finish came first.
func (t *tracker) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return false
	case <-timer.C:
		return true
	}
}

// wait sleeps until the message may be updated again; false when finish
// came first.
func (t *tracker) wait() bool {
	t.mu.Lock()
	d := t.interval - time.Since(t.last)
	t.mu.Unlock()
	if d <= 0 {
		return true
	}
	return t.sleep(d)
}

// flush makes a progress update with the newest state, unless the budget
// has no room for it: then it returns when to try again.
func (t *tracker) flush(ctx context.Context) (retry time.Duration) {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return 0
	}
	v := t.view
	v.Steps = maps.Clone(t.view.Steps)
	t.dirty = false
	t.mu.Unlock()
	blocks, fallback := blockkit.Status(v)
	retry, err := t.b.tryUpdate(ctx, t.channel, t.ts, blocks, fallback)
	if retry > 0 {
		// Not sent: whatever is newest when it is tried again goes.
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return retry
	}
	if err != nil {
		t.b.log.Warn("progress update", "err", err)
	}
	// The interval counts from the update's answer: Slack received it
	// before then, so the next one reaches Slack at least an interval
	// later however long either took on the way.
	t.mu.Lock()
	t.last = time.Now()
	t.mu.Unlock()
	return 0
}

// stop stops the updater and leaves the message as it is.
func (t *tracker) stop() {
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
}

// finish stops the updater and writes the final state, no sooner than the
// update interval allows. It lands: retried while Slack rate-limits it,
// and posted in the thread when the message cannot be updated
// (finalUpdate).
func (t *tracker) finish(ctx context.Context, final blockkit.StatusView) {
	t.stop()
	t.mu.Lock()
	if final.Steps == nil {
		final.Steps = t.view.Steps
	}
	t.view = final
	t.dirty = true
	wait := t.interval - time.Since(t.last)
	t.mu.Unlock()
	if wait > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	t.mu.Lock()
	v := t.view
	v.Steps = maps.Clone(t.view.Steps)
	t.dirty = false
	t.mu.Unlock()
	blocks, fallback := blockkit.Status(v)
	t.b.finalUpdate(ctx, t.channel, t.thread, t.ts, blocks, fallback)
}
