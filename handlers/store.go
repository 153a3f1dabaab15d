package handlers

import (
	"context"
	"errors"
	"slices"
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
// threads, and the keys of the events already handled. It is small on
// purpose: a persistent implementation replaces Memory later.
type Store interface {
	// Claim records key and reports whether this is its first claim; a
	// second delivery of the same event gets false.
	Claim(ctx context.Context, key string) (bool, error)
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
}

// Memory is a Store in memory: what a single replica needs, lost on restart.
// Claimed keys are forgotten after a TTL.
type Memory struct {
	mu     sync.Mutex
	ttl    time.Duration
	now    func() time.Time
	claims map[string]time.Time
	swept  time.Time
	invs   map[string]*Investigation // by channel/thread
}

// NewMemory returns an empty in-memory store that remembers claimed keys
// for ttl (an hour when ttl is zero; Slack retries within minutes).
func NewMemory(ttl time.Duration) *Memory {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Memory{ttl: ttl, now: time.Now, claims: map[string]time.Time{}, invs: map[string]*Investigation{}}
}

func threadKey(channel, ts string) string { return channel + "/" + ts }

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if now.Sub(m.swept) > m.ttl/4 {
		for k, t := range m.claims {
			if now.Sub(t) > m.ttl {
				delete(m.claims, k)
			}
		}
		m.swept = now
	}
	if t, ok := m.claims[key]; ok && now.Sub(t) <= m.ttl {
		return false, nil
	}
	m.claims[key] = now
	return true, nil
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
	slices.SortFunc(out, func(a, b Investigation) int { return b.Started.Compare(a.Started) })
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
	return nil
}

// clone copies the slices a caller might append to.
func clone(inv Investigation) Investigation {
	inv.ReportTS = slices.Clone(inv.ReportTS)
	inv.Joined = slices.Clone(inv.Joined)
	inv.Notes = slices.Clone(inv.Notes)
	inv.Feedback = slices.Clone(inv.Feedback)
	return inv
}
