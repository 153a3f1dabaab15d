package handlers

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/unstuck/unstuck/incident"
)

// defaultReplicaID names this process among the bot's replicas: host, pid
// and a random part, so that a restarted process (same host, same pid in a
// container) never passes for the one before it.
func defaultReplicaID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}

// hold is a lease on one investigation, held while it waits and runs: a
// goroutine renews it every third of its ttl. When the lease is lost —
// Renew says another owner has it, or no renewal succeeded before it
// expired — lost is done and the work must stop without posting.
type hold struct {
	b     *Bot
	key   string
	owner string
	ttl   time.Duration

	lost     context.Context
	lose     context.CancelFunc
	tick     <-chan time.Time // every third of ttl, by the WallClock
	stopTick func()
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	mu    sync.Mutex
	until time.Time // when the lease expires at the latest, by the WallClock
}

// acquire takes the lease on the investigation of a thread for owner and
// starts renewing it; nil when another owner holds it.
func (b *Bot) acquire(ctx context.Context, channel, threadTS, owner string) (*hold, error) {
	return b.acquireKey(ctx, incident.LeaseKey(channel, threadTS), owner)
}

// groupWait bounds the wait for the lease on grouping an alarm's messages:
// its holder keeps it while it starts one investigation.
const groupWait = 10 * time.Second

// groupKey is the key of the lease on grouping the messages of an alarm
// in a channel.
func groupKey(channel, alarm string) string { return "group/" + channel + "/" + alarm }

// acquireWait takes the lease key for owner, waiting up to wait while
// another owner holds it; nil when another owner still holds it then.
func (b *Bot) acquireWait(ctx context.Context, key, owner string, wait time.Duration) (*hold, error) {
	end := time.Now().Add(wait)
	pause := 20 * time.Millisecond
	for {
		h, err := b.acquireKey(ctx, key, owner)
		if h != nil || err != nil || !time.Now().Add(pause).Before(end) {
			return h, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// threadWait is how long a new run in an existing thread (a Re-run, an
// alarm message) waits for the run before it to let the thread go: a
// click on Re-run as the report appears comes while that run still
// stores its outcome.
const threadWait = 3 * time.Second

// acquireKey takes the lease key for owner and starts renewing it; nil
// when another owner holds it.
func (b *Bot) acquireKey(ctx context.Context, key, owner string) (*hold, error) {
	at := b.wall.Now()
	ok, err := b.store.Acquire(ctx, key, owner, b.opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	lost, lose := context.WithCancel(context.Background())
	h := &hold{b: b, key: key, owner: owner, ttl: b.opts.LeaseTTL, lost: lost, lose: lose,
		stop: make(chan struct{}), done: make(chan struct{}), until: at.Add(b.opts.LeaseTTL)}
	// The ticker starts with the lease, not whenever keep gets to run.
	h.tick, h.stopTick = b.wall.Tick(h.ttl / 3)
	go h.keep()
	return h, nil
}

// keep renews the lease until release, or until it is lost.
func (h *hold) keep() {
	defer close(h.done)
	defer h.stopTick()
	for {
		select {
		case <-h.stop:
			return
		case <-h.tick:
		}
		if !h.renew() {
			return
		}
	}
}

// renew extends the lease once; false when it is lost.
func (h *hold) renew() bool {
	at := h.b.wall.Now()
	ctx, cancel := context.WithTimeout(context.Background(), h.ttl/3)
	ok, err := h.b.store.Renew(ctx, h.key, h.owner, h.ttl)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil && ok:
		h.until = at.Add(h.ttl)
		return true
	case err == nil:
		h.b.log.Warn("lease lost: another replica took the investigation over", "lease", h.key)
	case h.b.wall.Now().Before(h.until):
		h.b.log.Warn("lease renewal failed; trying again", "lease", h.key, "err", err)
		return true
	default:
		h.b.log.Warn("lease expired: renewals failed", "lease", h.key, "err", err)
	}
	h.lose()
	return false
}

// confirm renews the lease now, before work that must happen only once
// (posting the report); false when it is lost.
func (h *hold) confirm() bool {
	if h.lost.Err() != nil {
		return false
	}
	return h.renew()
}

// isLost reports whether the lease was lost.
func (h *hold) isLost() bool { return h.lost.Err() != nil }

// release stops renewing and frees the lease (if this owner still holds
// it). It may be called more than once.
func (h *hold) release(ctx context.Context) {
	if h == nil {
		return
	}
	h.once.Do(func() {
		close(h.stop)
		<-h.done
		if err := h.b.store.Release(ctx, h.key, h.owner); err != nil {
			h.b.log.Warn("lease release", "lease", h.key, "err", err)
		}
		h.lose()
	})
}

// owner is a lease owner unique to this replica and one piece of work.
func (b *Bot) owner(what string) string {
	return fmt.Sprintf("%s#%s-%d", b.replica, what, b.seq.Add(1))
}
