package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// Bolt is a Store in one file (go.etcd.io/bbolt): pure Go, ACID
// transactions, one writer at a time. Writes from many goroutines are
// coalesced into shared transactions (bbolt's Batch), so a burst costs one
// fsync per batch, not per write.
//
// The file holds these buckets (keys are byte strings; "\x00" separates
// their parts):
//
//	inv       channel \x00 thread_ts                     → Investigation as JSON, with its notes and feedback
//	chan      channel \x00 timeKey(started) \x00 thread_ts → empty (Recent's index)
//	active    channel \x00 thread_ts                     → empty (queued or running: Interrupted's index)
//	claims    event key                                  → until (Unix ns, 8 bytes big-endian)
//	claimexp  until (8 bytes) event key                  → empty (expiry order, for sweeping)
//	leases    lease key                                  → until (8 bytes) owner
//	inbox     event key                                  → incident.Event as JSON (kept until Handled)
//
// A second process that opens the same file waits a few seconds for its
// lock and then fails: a file is for one bot; several replicas share a
// Dynamo store. Hence the leases found in the file when it is opened are a
// stopped process's, and OpenBolt drops them: a bot that restarts on its
// file finds what it was working on Interrupted at once.
type Bolt struct {
	db   *bolt.DB
	ttl  time.Duration
	now  func() time.Time
	path string

	mu    sync.Mutex
	swept time.Time // the last sweep of expired claims

	// broken is set once the file is found damaged (a panic inside bbolt).
	broken atomic.Pointer[DamagedError]
}

var (
	bInv      = []byte("inv")
	bChan     = []byte("chan")
	bActive   = []byte("active")
	bClaims   = []byte("claims")
	bClaimExp = []byte("claimexp")
	bLeases   = []byte("leases")
	bInbox    = []byte("inbox")
)

// sweepMax bounds the expired claims one write transaction deletes.
const sweepMax = 1000

var _ Store = (*Bolt)(nil)

// OpenBolt opens the store in the file at path, creating the file (and its
// directory) when missing. An existing file is checked first (bbolt's
// consistency check, bolt.Tx.Check): a damaged one is an error, a
// *DamagedError that names the file and says how to recover; with
// Options.MoveAsideDamaged it is moved aside instead, beside path (see
// MoveAsideDamaged), with a warning on Options.Logger, and a new, empty
// store is created in its place. A panic inside bbolt is such an error too,
// never a panic of the caller's.
func OpenBolt(path string, opts Options) (*Bolt, error) {
	opts = opts.withDefaults()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
	}
	db, err := openChecked(path)
	var dmg *DamagedError
	if errors.As(err, &dmg) && opts.MoveAsideDamaged {
		aside := fmt.Sprintf("%s.damaged-%s", path, opts.Now().UTC().Format("20060102T150405.000000000Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("%w; moving it aside failed: %w", err, rerr)
		}
		opts.Logger.Warn("STORE FILE DAMAGED: moved aside, starting with an EMPTY store; "+
			"investigations, threads, notes and feedback kept in it are not known to the bot any more "+
			"(try `bbolt compact` on the damaged file to copy what it can still read; see docs/store.md)",
			"store", path, "damaged_file", aside, "err", dmg.Err)
		db, err = openChecked(path)
	}
	if err != nil {
		return nil, err
	}
	// A write waits at most this long for others to share its transaction.
	db.MaxBatchDelay = 1 * time.Millisecond
	s := &Bolt{db: db, ttl: opts.ClaimTTL, now: opts.Now, path: path}
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bInv, bChan, bActive, bClaims, bClaimExp, bLeases, bInbox} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		// The file is locked by one process at a time, so the leases in it
		// belong to a process that stopped: they are dropped, and what that
		// process was working on is Interrupted now, not when its leases
		// expire.
		if err := tx.DeleteBucket(bLeases); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bLeases)
		return err
	})
	if err != nil {
		db.Close()
		if errors.As(err, &dmg) {
			return nil, err
		}
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

// openChecked opens the bbolt file at path and checks it, before anything
// writes to it (a write would extend a truncated file with zeros). A file
// that fails the check, or that bbolt panics on, is a *DamagedError. A
// panic inside bolt.Open leaves the file open (bbolt does not close it):
// one descriptor, and a lock on a file that is moved aside or left alone.
func openChecked(path string) (*bolt.DB, error) {
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 3 * time.Second})
		return err
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("store %s: the file is in use by another process (a file is for one bot; run several replicas on dynamodb://TABLE)", path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), isPanic(err):
		return nil, &DamagedError{Path: path, Err: err}
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := verify(db); err != nil {
		db.Close()
		return nil, &DamagedError{Path: path, Err: err}
	}
	return db, nil
}

// checkErrors is how many of the consistency check's findings an error
// keeps.
const checkErrors = 3

// verify checks the whole file: its size first (a file shorter than the
// pages in use is truncated, and reading past its end would fault), then
// bbolt's consistency check. Nil when both find nothing, else what they
// found: the check's first findings and their count.
func verify(db *bolt.DB) error {
	if err := checkSize(db); err != nil {
		return err
	}
	return guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			var errs []error
			n := 0
			for err := range tx.Check() {
				if n++; n <= checkErrors {
					errs = append(errs, err)
				}
			}
			if n > checkErrors {
				errs = append(errs, fmt.Errorf("and %d more", n-checkErrors))
			}
			if len(errs) > 0 {
				return fmt.Errorf("consistency check: %w", errors.Join(errs...))
			}
			return nil
		})
	})
}

// checkSize reports a file shorter than the pages its meta page says are in
// use: it was truncated. It reads no page but the meta.
func checkSize(db *bolt.DB) error {
	return guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			fi, err := os.Stat(db.Path())
			if err != nil {
				return err
			}
			if fi.Size() < tx.Size() {
				return fmt.Errorf("truncated: the file has %d bytes, its pages in use take %d", fi.Size(), tx.Size())
			}
			return nil
		})
	})
}

func isPanic(err error) bool {
	var p *PanicError
	return errors.As(err, &p)
}

// damaged returns the error of a store found damaged, nil while it is
// not: from then on nothing reads or writes its file.
func (s *Bolt) damaged() error {
	if d := s.broken.Load(); d != nil {
		return d
	}
	return nil
}

// noteDamage turns a panic inside bbolt into a *DamagedError, says whether
// the file was truncated, and marks the store damaged; other errors it
// returns as they are. (bbolt's consistency check is not run here: on a
// file cut short under the store's mapping, its reads would fault where no
// recover reaches.)
func (s *Bolt) noteDamage(err error) error {
	if !isPanic(err) {
		return err
	}
	if serr := checkSize(s.db); serr != nil {
		err = errors.Join(serr, err)
	}
	s.broken.CompareAndSwap(nil, &DamagedError{Path: s.path, Err: err})
	return s.broken.Load()
}

// view runs fn in a read transaction, unless the store is damaged; a panic
// inside bbolt is an error that marks it damaged.
func (s *Bolt) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.damaged(); err != nil {
		return err
	}
	return s.noteDamage(guard(func() error { return s.db.View(fn) }))
}

// Path is the store's file.
func (s *Bolt) Path() string { return s.path }

// Close closes the file.
func (s *Bolt) Close() error { return s.db.Close() }

func key(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func u64(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())) }

func fromU64(b []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(b))) }

// update runs fn in a write transaction shared with concurrent writers,
// unless the store is damaged. fn may run more than once and must report
// through variables it sets on every run; an error it returns fails the
// call. A panic inside bbolt is an error that marks the store damaged.
func (s *Bolt) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.damaged(); err != nil {
		return err
	}
	// fn may run on another goroutine (the batch's): it is guarded there.
	err := guard(func() error {
		return s.db.Batch(func(tx *bolt.Tx) error { return guard(func() error { return fn(tx) }) })
	})
	return s.noteDamage(err)
}

// Claim implements Store.
func (s *Bolt) Claim(ctx context.Context, k string) (bool, error) {
	claim := s.claimer()
	var first bool
	err := s.update(ctx, func(tx *bolt.Tx) (err error) {
		first, err = claim(tx, k)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: claim: %w", err)
	}
	return first, nil
}

// claimer returns a function that claims a key in a write transaction,
// sweeping expired claims now and then.
func (s *Bolt) claimer() func(tx *bolt.Tx, k string) (bool, error) {
	now := s.now()
	sweep := false
	s.mu.Lock()
	if now.Sub(s.swept) > min(s.ttl/4, time.Minute) {
		sweep, s.swept = true, now
	}
	s.mu.Unlock()
	return func(tx *bolt.Tx, k string) (bool, error) {
		claims, exp := tx.Bucket(bClaims), tx.Bucket(bClaimExp)
		if sweep {
			if err := sweepClaims(claims, exp, now); err != nil {
				return false, err
			}
		}
		old := claims.Get([]byte(k))
		if old != nil {
			if now.Before(fromU64(old)) {
				return false, nil
			}
			if err := exp.Delete(append(slices.Clone(old), k...)); err != nil {
				return false, err
			}
		}
		until := u64(now.Add(s.ttl))
		if err := claims.Put([]byte(k), until); err != nil {
			return false, err
		}
		return true, exp.Put(append(until, k...), nil)
	}
}

// Receive implements incident.Inbox: the claim and the kept event are one
// transaction.
func (s *Bolt) Receive(ctx context.Context, ev incident.Event) (bool, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, fmt.Errorf("store: receive %s: %w", ev.Key, err)
	}
	claim := s.claimer()
	var first bool
	err = s.update(ctx, func(tx *bolt.Tx) (err error) {
		first, err = claim(tx, ev.Key)
		if err != nil || !first {
			return err
		}
		return tx.Bucket(bInbox).Put([]byte(ev.Key), data)
	})
	if err != nil {
		return false, fmt.Errorf("store: receive %s: %w", ev.Key, err)
	}
	return first, nil
}

// Handled implements incident.Inbox.
func (s *Bolt) Handled(ctx context.Context, k string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bInbox).Delete([]byte(k))
	})
	if err != nil {
		return fmt.Errorf("store: handled %s: %w", k, err)
	}
	return nil
}

// Unhandled implements incident.Inbox.
func (s *Bolt) Unhandled(ctx context.Context, before time.Time) ([]incident.Event, error) {
	now := s.now()
	var out []incident.Event
	err := s.view(ctx, func(tx *bolt.Tx) error {
		leases := tx.Bucket(bLeases)
		return tx.Bucket(bInbox).ForEach(func(k, v []byte) error {
			var ev incident.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("event %q: %w", k, err)
			}
			if !ev.Received.Before(before) {
				return nil
			}
			if leaseHeld(leases, incident.EventLeaseKey(ev.Key), now) {
				return nil
			}
			out = append(out, ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: unhandled: %w", err)
	}
	incident.SortEvents(out)
	return out, nil
}

// Retry implements incident.Inbox.
func (s *Bolt) Retry(ctx context.Context, k string) (incident.Event, bool, error) {
	var ev incident.Event
	var kept bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ev, kept = incident.Event{}, false
		b := tx.Bucket(bInbox)
		v := b.Get([]byte(k))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &ev); err != nil {
			return err
		}
		ev.Retries++
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		kept = true
		return b.Put([]byte(k), data)
	})
	if err != nil {
		return incident.Event{}, false, fmt.Errorf("store: retry %s: %w", k, err)
	}
	return ev, kept, nil
}

// sweepClaims deletes up to sweepMax claims expired by now.
func sweepClaims(claims, exp *bolt.Bucket, now time.Time) error {
	c := exp.Cursor()
	var dead [][]byte
	for k, _ := c.First(); k != nil && len(dead) < sweepMax; k, _ = c.Next() {
		if len(k) < 8 || now.Before(fromU64(k[:8])) {
			break
		}
		dead = append(dead, slices.Clone(k))
	}
	for _, k := range dead {
		if v := claims.Get(k[8:]); v != nil && bytes.Equal(v, k[:8]) {
			if err := claims.Delete(k[8:]); err != nil {
				return err
			}
		}
		if err := exp.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Put implements incident.Store: it keeps the thread's notes and feedback.
func (s *Bolt) Put(ctx context.Context, inv incident.Investigation) error {
	tk := key(inv.Channel, inv.ThreadTS)
	err := s.update(ctx, func(tx *bolt.Tx) error {
		invs, chans, act := tx.Bucket(bInv), tx.Bucket(bChan), tx.Bucket(bActive)
		inv := inv
		inv.Notes, inv.Feedback = nil, nil
		if v := invs.Get(tk); v != nil {
			var old incident.Investigation
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("thread %s/%s: %w", inv.Channel, inv.ThreadTS, err)
			}
			inv.Notes, inv.Feedback = old.Notes, old.Feedback
			if !old.Started.Equal(inv.Started) {
				if err := chans.Delete(key(old.Channel, timeKey(old.Started), old.ThreadTS)); err != nil {
					return err
				}
			}
		}
		b, err := marshalInv(inv)
		if err != nil {
			return err
		}
		if err := invs.Put(tk, b); err != nil {
			return err
		}
		if err := chans.Put(key(inv.Channel, timeKey(inv.Started), inv.ThreadTS), nil); err != nil {
			return err
		}
		if inv.State.Active() {
			return act.Put(tk, nil)
		}
		return act.Delete(tk)
	})
	if err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	return nil
}

func getInv(tx *bolt.Tx, tk []byte) (incident.Investigation, bool, error) {
	var inv incident.Investigation
	v := tx.Bucket(bInv).Get(tk)
	if v == nil {
		return inv, false, nil
	}
	if err := json.Unmarshal(v, &inv); err != nil {
		return inv, false, err
	}
	return inv, true, nil
}

// Thread implements incident.Store.
func (s *Bolt) Thread(ctx context.Context, channel, threadTS string) (incident.Investigation, error) {
	var inv incident.Investigation
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		inv, ok, err = getInv(tx, key(channel, threadTS))
		return err
	})
	if err != nil {
		return inv, fmt.Errorf("store: thread %s/%s: %w", channel, threadTS, err)
	}
	if !ok {
		return inv, fmt.Errorf("store: thread %s/%s: %w", channel, threadTS, incident.ErrNotFound)
	}
	return inv, nil
}

// Recent implements incident.Store.
func (s *Bolt) Recent(ctx context.Context, channel string, since time.Time) ([]incident.Investigation, error) {
	var out []incident.Investigation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := key(channel, "")
		c := tx.Bucket(bChan).Cursor()
		for k, _ := c.Seek(key(channel, timeKey(since))); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			rest := k[len(prefix):]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				continue
			}
			inv, ok, err := getInv(tx, key(channel, string(rest[i+1:])))
			if err != nil {
				return err
			}
			if ok && !inv.Started.Before(since) {
				out = append(out, inv)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: recent %s: %w", channel, err)
	}
	sortRecent(out)
	return out, nil
}

// modify applies fn to a thread's investigation in a write transaction.
func (s *Bolt) modify(ctx context.Context, channel, threadTS string, fn func(*incident.Investigation)) error {
	tk := key(channel, threadTS)
	var found bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		inv, ok, err := getInv(tx, tk)
		found = ok
		if err != nil || !ok {
			return err
		}
		fn(&inv)
		b, err := marshalInv(inv)
		if err != nil {
			return err
		}
		return tx.Bucket(bInv).Put(tk, b)
	})
	if err == nil && !found {
		err = incident.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: thread %s/%s: %w", channel, threadTS, err)
	}
	return nil
}

// AddNote implements incident.Store.
func (s *Bolt) AddNote(ctx context.Context, channel, threadTS string, n investigate.Note) error {
	return s.modify(ctx, channel, threadTS, func(inv *incident.Investigation) {
		inv.Notes = append(inv.Notes, n)
	})
}

// SetFeedback implements incident.Store. A thread's feedback comes ordered
// by hypothesis.
func (s *Bolt) SetFeedback(ctx context.Context, channel, threadTS string, f incident.Feedback) error {
	return s.modify(ctx, channel, threadTS, func(inv *incident.Investigation) {
		inv.Feedback = slices.DeleteFunc(inv.Feedback, func(o incident.Feedback) bool { return o.Hypothesis == f.Hypothesis })
		inv.Feedback = append(inv.Feedback, f)
		sortFeedback(inv.Feedback)
	})
}

type lease struct {
	until time.Time
	owner string
}

func getLease(b *bolt.Bucket, k string) (lease, bool) {
	v := b.Get([]byte(k))
	if len(v) < 8 {
		return lease{}, false
	}
	return lease{until: fromU64(v[:8]), owner: string(v[8:])}, true
}

// leaseHeld reports whether someone holds lease k at now.
func leaseHeld(b *bolt.Bucket, k string, now time.Time) bool {
	l, ok := getLease(b, k)
	return ok && now.Before(l.until)
}

func putLease(b *bolt.Bucket, k string, l lease) error {
	return b.Put([]byte(k), append(u64(l.until), l.owner...))
}

// Acquire implements Leases.
func (s *Bolt) Acquire(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	var got bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bLeases)
		l, ok := getLease(b, k)
		got = !ok || !now.Before(l.until) || l.owner == owner
		if !got {
			return nil
		}
		return putLease(b, k, lease{until: now.Add(ttl), owner: owner})
	})
	if err != nil {
		return false, fmt.Errorf("store: acquire %s: %w", k, err)
	}
	return got, nil
}

// Renew implements Leases.
func (s *Bolt) Renew(ctx context.Context, k, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	var held bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bLeases)
		l, ok := getLease(b, k)
		held = ok && l.owner == owner && now.Before(l.until)
		if !held {
			return nil
		}
		return putLease(b, k, lease{until: now.Add(ttl), owner: owner})
	})
	if err != nil {
		return false, fmt.Errorf("store: renew %s: %w", k, err)
	}
	return held, nil
}

// Release implements Leases.
func (s *Bolt) Release(ctx context.Context, k, owner string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bLeases)
		if l, ok := getLease(b, k); ok && l.owner == owner {
			return b.Delete([]byte(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: release %s: %w", k, err)
	}
	return nil
}

// Interrupted implements Store.
func (s *Bolt) Interrupted(ctx context.Context) ([]incident.Investigation, error) {
	now := s.now()
	var out []incident.Investigation
	err := s.view(ctx, func(tx *bolt.Tx) error {
		leases := tx.Bucket(bLeases)
		return tx.Bucket(bActive).ForEach(func(k, _ []byte) error {
			inv, ok, err := getInv(tx, k)
			if err != nil || !ok || !inv.State.Active() {
				return err
			}
			if leaseHeld(leases, LeaseKey(inv.Channel, inv.ThreadTS), now) {
				return nil
			}
			out = append(out, inv)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: interrupted: %w", err)
	}
	sortOldest(out)
	return out, nil
}
