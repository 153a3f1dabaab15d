package incident

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

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

// SortEvents sorts events oldest first, then by key.
func SortEvents(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}
