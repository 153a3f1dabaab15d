package handlers_test

import (
	"sync"
	"time"

	"github.com/unstuck/unstuck/handlers"
)

// manualClock is a handlers.WallClock, and a store's clock, that stands
// still until the test advances it: a test moves a lease's life or the
// recovery pass's period forward at once instead of sleeping through it.
// Time the bot waits for in reality (timeouts, UpdateInterval) is not on
// it.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[*manualTicker]bool
}

type manualTicker struct {
	c     chan time.Time
	every time.Duration
	next  time.Time
}

var _ handlers.WallClock = (*manualClock)(nil)

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), tickers: map[*manualTicker]bool{}}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Tick is time.NewTicker on the clock: the first tick is due d from now.
func (c *manualClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		panic("manualClock: non-positive tick")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTicker{c: make(chan time.Time, 1), every: d, next: c.now.Add(d)}
	c.tickers[t] = true
	return t.c, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.tickers, t)
	}
}

// Advance moves the clock d forward and ticks every ticker due by then
// once, as time.Ticker does: the ticks a receiver has not taken yet are
// dropped.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.tickers {
		if c.now.Before(t.next) {
			continue
		}
		select {
		case t.c <- c.now:
		default:
		}
		for !c.now.Before(t.next) {
			t.next = t.next.Add(t.every)
		}
	}
}
