package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// ErrNotFound is returned by a Store for a thread it does not know.
var ErrNotFound = errors.New("not found")

// Investigation states.
const (
	StateQueued  = "queued"
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Investigation is one investigation and the Slack thread it lives in.
type Investigation struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// ThreadTS is the thread's root: the alarm message, or the bot's first
	// message for /investigate.
	ThreadTS string `json:"thread_ts"`
	// StatusTS is the message the bot updates while it works.
	StatusTS string `json:"status_ts"`
	// ReportTS are the report's messages, in order.
	ReportTS  []string          `json:"report_ts,omitempty"`
	Alarm     investigate.Alarm `json:"alarm"`
	Region    string            `json:"region,omitempty"`
	Requester string            `json:"requester,omitempty"`
	// Now and Lookback are the request's window; a zero Now is "when it ran".
	Now      time.Time     `json:"now,omitempty"`
	Lookback time.Duration `json:"lookback,omitempty"`
	State    string        `json:"state"`
	Error    string        `json:"error,omitempty"`
	Started  time.Time     `json:"started"`
	// Report is the latest report; nil until one is done.
	Report *investigate.Report `json:"report,omitempty"`
	// Joined are other alarms that fired with this one and joined it.
	Joined []string `json:"joined,omitempty"`

	// Notes and Feedback are kept by AddNote and SetFeedback; Put does not
	// change them.
	Notes    []investigate.Note `json:"notes,omitempty"`
	Feedback []Feedback         `json:"feedback,omitempty"`
}

// Feedback is a person's verdict on one hypothesis.
type Feedback struct {
	// Hypothesis is the hypothesis's index in the report (0 is the first).
	Hypothesis int       `json:"hypothesis"`
	Cause      string    `json:"cause"`
	Resource   string    `json:"resource"`
	Verdict    string    `json:"verdict"` // "accepted" or "discarded"
	User       string    `json:"user"`
	Time       time.Time `json:"time"`
}

// Store keeps investigations by thread, the notes and feedback of their
// threads, the events acknowledged (their keys, to drop second deliveries,
// and the events themselves until they are handled), and leases. Memory is one (a single process, lost on restart); package
// store has the file (bbolt) and DynamoDB ones, which survive restarts and
// are shared by replicas.
type Store interface {
	// Put saves an investigation under its channel and thread.
	Put(ctx context.Context, inv Investigation) error
	// Thread returns the investigation of a thread, with its notes and
	// feedback, or an error wrapping ErrNotFound.
	Thread(ctx context.Context, channel, threadTS string) (Investigation, error)
	// Recent returns a channel's investigations started at or after since,
	// newest first.
	Recent(ctx context.Context, channel string, since time.Time) ([]Investigation, error)
	// AddNote appends a note to a thread's investigation.
	AddNote(ctx context.Context, channel, threadTS string, n investigate.Note) error
	// SetFeedback records a verdict on a hypothesis, replacing an earlier
	// one on the same hypothesis.
	SetFeedback(ctx context.Context, channel, threadTS string, f Feedback) error

	// Leases guard investigations: whoever works on the investigation of
	// a thread holds the lease LeaseKey(channel, threadTS), from before it
	// Puts it queued until after it Puts it done or failed, renewing it
	// well within its ttl.
	Leases
	// Interrupted returns the investigations left queued or running whose
	// lease nobody holds: whoever worked on them stopped or crashed. They
	// come oldest first.
	//
	// To take one over, a replica Acquires its lease (only one wins),
	// reads it again, marks it failed (or resumes it), Puts it, tells its
	// thread and Releases the lease.
	Interrupted(ctx context.Context) ([]Investigation, error)
	// Inbox keeps the events acknowledged and not yet handled.
	Inbox
}

// Event is a Slack delivery the bot acknowledged, kept until it is handled:
// Slack does not deliver an acknowledged envelope again, so an event that a
// stop or a crash cut off is found in the store and handled by whoever
// comes next.
type Event struct {
	// Key identifies the event across its deliveries ("command:" and the
	// trigger id, "event:" and the event id, ...). It is also its claim.
	Key string `json:"key"`
	// Type is the socket-mode envelope type: slash_commands, events_api
	// or interactive.
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	// Received is when it arrived, by the receiving replica's clock.
	Received time.Time `json:"received"`
	// Retries counts the times it was taken over after whoever handled it
	// stopped.
	Retries int `json:"retries,omitempty"`
}

// Inbox keeps the events the bot acknowledged until it has handled them.
// Whoever handles an event holds the lease EventLeaseKey(key) from just
// after Receive until after Handled.
type Inbox interface {
	// Receive records ev.Key and reports whether this is its first
	// record (a second delivery of the same event gets false, for the
	// store's claim TTL); when it is, ev is kept until Handled.
	Receive(ctx context.Context, ev Event) (bool, error)
	// Handled forgets a kept event; its claim stays. Forgetting an event
	// that is not kept is a no-op.
	Handled(ctx context.Context, key string) error
	// Unhandled returns the kept events received before before whose
	// lease nobody holds, oldest first: whoever handled them stopped.
	//
	// To take one over, a replica Acquires its lease (only one wins),
	// calls Retry, handles it, calls Handled and Releases the lease.
	Unhandled(ctx context.Context, before time.Time) ([]Event, error)
	// Retry counts one more retry of a kept event and returns it, with
	// the count; false when it is no longer kept (it was handled since).
	Retry(ctx context.Context, key string) (Event, bool, error)
}

// EventLeaseKey is the key of the lease on handling the event key.
func EventLeaseKey(key string) string { return "event/" + key }

// Leases are named, expiring locks held by an owner. Expiry is decided by
// the clock of whoever asks.
type Leases interface {
	// Acquire takes the lease key for owner for ttl, and reports whether
	// owner holds it now: true when it was free, expired, or owner's
	// already (which extends it); false when another owner holds it.
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// Renew extends owner's lease key to ttl from now. It reports false,
	// and changes nothing, when owner does not hold the lease (any more):
	// it expired or another owner has it. Then owner must stop the work
	// the lease guards.
	Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// Release frees owner's lease key. Releasing a lease owner does not
	// hold is a no-op.
	Release(ctx context.Context, key, owner string) error
}

// LeaseKey is the key of the lease on the investigation of a thread.
func LeaseKey(channel, threadTS string) string {
	return "inv/" + channel + "/" + threadTS
}

// active reports whether an investigation in state is still to finish.
func active(state string) bool { return state == StateQueued || state == StateRunning }

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

// SortEvents sorts events oldest first, then by key.
func SortEvents(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
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
		if !active(inv.State) {
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
