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
// message is updated at most once per UpdateInterval.
type tracker struct {
	b        *Bot
	channel  string
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

func (b *Bot) newTracker(channel, ts string, view blockkit.StatusView) *tracker {
	view.Steps = map[string]blockkit.Step{}
	return &tracker{
		b: b, channel: channel, ts: ts, interval: b.opts.UpdateInterval,
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
			if !t.wait() {
				return
			}
			t.flush(ctx)
		}
	})
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
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return false
	case <-timer.C:
		return true
	}
}

func (t *tracker) flush(ctx context.Context) {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return
	}
	v := t.view
	v.Steps = maps.Clone(t.view.Steps)
	t.dirty = false
	t.mu.Unlock()
	blocks, fallback := blockkit.Status(v)
	if err := t.b.update(ctx, t.channel, t.ts, blocks, fallback); err != nil {
		t.b.log.Warn("progress update", "err", err)
	}
	// The interval counts from the update's answer: Slack received it
	// before then, so the next one reaches Slack at least an interval
	// later however long either took on the way.
	t.mu.Lock()
	t.last = time.Now()
	t.mu.Unlock()
}

// stop stops the updater and leaves the message as it is.
func (t *tracker) stop() {
	t.once.Do(func() { close(t.done) })
	t.wg.Wait()
}

// finish stops the updater and writes the final state, no sooner than the
// update interval allows.
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
	t.flush(ctx)
}
