package incident

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Memory is a Store in memory: what a single process needs, lost on
// restart. Claimed keys are forgotten after a TTL; leases expire by the
// Memory's clock.
type Memory struct {
	mu     sync.Mutex
	ttl    time.Duration
	now    func() time.Time
	claims map[string]time.Time
	swept  time.Time
	invs   map[string]*Investigation // by channel/thread
	leases map[string]memLease
	inbox  map[string]Event
}

type memLease struct {
	owner string
	until time.Time
}

// NewMemory returns an empty in-memory store that remembers claimed keys
// for ttl (an hour when ttl is zero; Slack retries within minutes).
func NewMemory(ttl time.Duration) *Memory {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Memory{ttl: ttl, now: time.Now, claims: map[string]time.Time{}, invs: map[string]*Investigation{}, leases: map[string]memLease{}, inbox: map[string]Event{}}
}

// WithClock makes now the clock that claims and leases expire by (time.Now
// by default) and returns m. Call it before m is used.
func (m *Memory) WithClock(now func() time.Time) *Memory {
	m.now = now
	return m
}

func threadKey(channel, ts string) string { return channel + "/" + ts }

// Claim records key and reports whether this is its first claim within
// the TTL.
func (m *Memory) Claim(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claim(key), nil
}

func (m *Memory) claim(key string) bool {
	now := m.now()
	if now.Sub(m.swept) > m.ttl/4 {
		for k, t := range m.claims {
			if now.Sub(t) >= m.ttl {
				delete(m.claims, k)
			}
		}
		for k, l := range m.leases {
			if !now.Before(l.until) {
				delete(m.leases, k)
			}
		}
		m.swept = now
	}
	if t, ok := m.claims[key]; ok && now.Sub(t) < m.ttl {
		return false
	}
	m.claims[key] = now
	return true
}

// Receive implements Inbox.
func (m *Memory) Receive(_ context.Context, ev Event) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.claim(ev.Key) {
		return false, nil
	}
	ev.Payload = slices.Clone(ev.Payload)
	m.inbox[ev.Key] = ev
	return true, nil
}

// Handled implements Inbox.
func (m *Memory) Handled(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.inbox, key)
	return nil
}

// Unhandled implements Inbox.
func (m *Memory) Unhandled(_ context.Context, before time.Time) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Event
	for _, ev := range m.inbox {
		if !ev.Received.Before(before) {
			continue
		}
		if m.held(EventLeaseKey(ev.Key), now) {
			continue
		}
		ev.Payload = slices.Clone(ev.Payload)
		out = append(out, ev)
	}
	SortEvents(out)
	return out, nil
}

// Retry implements Inbox.
func (m *Memory) Retry(_ context.Context, key string) (Event, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev, ok := m.inbox[key]
	if !ok {
		return Event{}, false, nil
	}
	ev.Retries++
	m.inbox[key] = ev
	ev.Payload = slices.Clone(ev.Payload)
	return ev, true, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, inv Investigation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := threadKey(inv.Channel, inv.ThreadTS)
	if old, ok := m.invs[k]; ok {
		inv.Notes, inv.Feedback = old.Notes, old.Feedback
	} else {
		inv.Notes, inv.Feedback = nil, nil
	}
	m.invs[k] = &inv
	return nil
}

// Thread implements Store.
func (m *Memory) Thread(_ context.Context, channel, threadTS string) (Investigation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invs[threadKey(channel, threadTS)]
	if !ok {
		return Investigation{}, ErrNotFound
	}
	return clone(*inv), nil
}

// Recent implements Store.
func (m *Memory) Recent(_ context.Context, channel string, since time.Time) ([]Investigation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Investigation
	for _, inv := range m.invs {
		if inv.Channel == channel && !inv.Started.Before(since) {
			out = append(out, clone(*inv))
		}
	}
	slices.SortFunc(out, func(a, b Investigation) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return strings.Compare(b.ThreadTS, a.ThreadTS)
	})
	return out, nil
}

// AddNote implements Store.
func (m *Memory) AddNote(_ context.Context, channel, threadTS string, n investigate.Note) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invs[threadKey(channel, threadTS)]
	if !ok {
		return ErrNotFound
	}
	inv.Notes = append(inv.Notes, n)
	return nil
}

// SetFeedback implements Store.
func (m *Memory) SetFeedback(_ context.Context, channel, threadTS string, f Feedback) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invs[threadKey(channel, threadTS)]
	if !ok {
		return ErrNotFound
	}
	inv.Feedback = slices.DeleteFunc(inv.Feedback, func(o Feedback) bool { return o.Hypothesis == f.Hypothesis })
	inv.Feedback = append(inv.Feedback, f)
	slices.SortStableFunc(inv.Feedback, func(a, b Feedback) int { return a.Hypothesis - b.Hypothesis })
	return nil
}

// held reports whether someone holds lease key at now; m.mu is held.
func (m *Memory) held(key string, now time.Time) bool {
	l, ok := m.leases[key]
	return ok && now.Before(l.until)
}

// Acquire implements Leases.
func (m *Memory) Acquire(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.leases[key]; ok && l.owner != owner && now.Before(l.until) {
		return false, nil
	}
	m.leases[key] = memLease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Renew implements Leases.
func (m *Memory) Renew(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	l, ok := m.leases[key]
	if !ok || l.owner != owner || !now.Before(l.until) {
		return false, nil
	}
	m.leases[key] = memLease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Release implements Leases.
func (m *Memory) Release(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[key]; ok && l.owner == owner {
		delete(m.leases, key)
	}
	return nil
}

// Interrupted implements Store.
func (m *Memory) Interrupted(_ context.Context) ([]Investigation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Investigation
	for _, inv := range m.invs {
		if !inv.State.Active() {
			continue
		}
		if m.held(LeaseKey(inv.Channel, inv.ThreadTS), now) {
			continue
		}
		out = append(out, clone(*inv))
	}
	slices.SortFunc(out, func(a, b Investigation) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		if c := strings.Compare(a.Channel, b.Channel); c != 0 {
			return c
		}
		return strings.Compare(a.ThreadTS, b.ThreadTS)
	})
	return out, nil
}

// clone copies the slices a caller might append to.
func clone(inv Investigation) Investigation {
	inv.ReportTS = slices.Clone(inv.ReportTS)
	inv.Joined = slices.Clone(inv.Joined)
	inv.Notes = slices.Clone(inv.Notes)
	inv.Feedback = slices.Clone(inv.Feedback)
	return inv
}
