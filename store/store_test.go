package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// clock is a settable clock for expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A backend makes stores for the suite. open returns a new, empty store;
// replica returns another store on the same data, as a second process (or
// the same one after a restart) would have it: close the first before
// calling it where only one process may hold the data (a file).
type backend struct {
	name string
	open func(t testing.TB, opts Options) (s Store, replica func(Options) Store)
	// shared says whether two replicas may be open at once.
	shared bool
	// memory: incident.Memory, which every incident.Store is held to as
	// well; lost on restart, and it keeps values as they are.
	memory bool
}

func backends() []backend {
	return []backend{
		{name: "bolt", open: openBoltTest},
		{name: "dynamodb", open: openDynamoTest, shared: true},
		{name: "memory", open: openMemoryTest, memory: true},
	}
}

// memoryStore is incident.Memory as a Store.
type memoryStore struct{ *incident.Memory }

func (memoryStore) Close() error { return nil }

func openMemoryTest(t testing.TB, opts Options) (Store, func(Options) Store) {
	opts = opts.withDefaults()
	m := memoryStore{incident.NewMemory(opts.ClaimTTL).WithClock(opts.Now)}
	return m, func(Options) Store { t.Fatal("a memory store has no replica"); return nil }
}

func openBoltTest(t testing.TB, opts Options) (Store, func(Options) Store) {
	path := filepath.Join(t.TempDir(), "sub", "unstuck.db")
	open := func(opts Options) Store {
		s, err := OpenBolt(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(opts), open
}

var tableSeq atomic.Int64

var nonTable = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

func openDynamoTest(t testing.TB, opts Options) (Store, func(Options) Store) {
	if dynamoEndpoint == "" {
		t.Skip(dynamoSkip)
	}
	name := nonTable.ReplaceAllString(t.Name(), "-")
	if len(name) > 200 {
		name = name[:200]
	}
	table := fmt.Sprintf("%s-%d", name, tableSeq.Add(1))
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := func(o Options) Store {
		o.CreateTable = true
		s, err := OpenDynamo(ctx, dynamodb.NewFromConfig(cfg), table, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(opts), open
}

func sampleInv(channel, ts string, started time.Time) incident.Investigation {
	before, during := 0.4, 37.5
	return incident.Investigation{
		ID:        "7",
		Channel:   channel,
		ThreadTS:  ts,
		StatusTS:  ts + "1",
		ReportTS:  []string{"1.1", "1.2"},
		Alarm:     investigate.Alarm{Name: "orders-api-5xx", Resource: "orders-alb", Threshold: 5},
		Region:    "eu-west-1",
		Requester: "U0ALICE",
		Now:       started.Add(-time.Minute),
		Lookback:  3 * time.Hour,
		State:     incident.StateDone,
		Started:   started,
		Joined:    []string{"orders-api-latency"},
		Report: &investigate.Report{
			Scope:   investigate.Scope{Alarm: "orders-api-5xx", Resource: "orders-alb", Start: started.Add(-time.Hour), End: started},
			Onset:   started.Add(-20 * time.Minute),
			Summary: "one instance fails",
			Findings: []investigate.Finding{{
				ID: "f1", Kind: "metric", Check: "peers", Resource: "i-03", Time: started.Add(-19 * time.Minute),
				Summary: "i-03 returns 5xx", Before: &before, During: &during, Unit: "%",
			}},
			Hypotheses: []investigate.Hypothesis{{
				Cause: "component", Resource: "i-03", Confidence: 0.82, Title: "i-03 fails",
				Evidence: []string{"f1"}, Actions: []investigate.Action{{Kind: "exclude", Detail: "deregister i-03"}},
				Prevention: []string{"health checks"},
			}},
			Series: []investigate.NamedSeries{{Resource: "orders-alb", Metric: "HTTPCode_Target_5XX_Count", Series: investigate.Series{
				ID: "m1", Times: []time.Time{started.Add(-2 * time.Minute), started.Add(-time.Minute)}, Values: []float64{1, 40},
			}}},
			Reasoner: "offline",
			Stats:    investigate.Stats{APICalls: 23, WallMS: 410},
		},
	}
}

func noteAt(t time.Time, text string) investigate.Note {
	return investigate.Note{Time: t, Author: "U0BOB", Text: text}
}

// The suite: every behaviour, against every backend.
var suite = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"ClaimFirstSecondExpiry", func(t *testing.T, b backend) {
		ctx, clk := context.Background(), newClock()
		st, _ := b.open(t, Options{ClaimTTL: time.Hour, Now: clk.Now})
		want := func(key string, first bool) {
			t.Helper()
			got, err := st.Claim(ctx, key)
			if err != nil || got != first {
				t.Fatalf("Claim(%q) = %v, %v; want %v", key, got, err, first)
			}
		}
		want("Ev1/1.0", true)
		want("Ev1/1.0", false)
		want("Ev2/1.0", true)
		clk.Add(59 * time.Minute)
		want("Ev1/1.0", false)
		clk.Add(time.Minute) // an hour after the first claim
		want("Ev1/1.0", true)
		want("Ev1/1.0", false)
		clk.Add(30 * time.Minute)
		want("Ev2/1.0", true) // expired, and swept on the way
		want("Ev2/1.0", false)
	}},
	{"ClaimConcurrentOneWins", func(t *testing.T, b backend) {
		ctx := context.Background()
		stores := replicas(t, b)
		for round := range 5 {
			key := fmt.Sprintf("Ev%d", round)
			wins := race(t, stores, 48, func(st Store, _ int) (bool, error) { return st.Claim(ctx, key) })
			if wins != 1 {
				t.Fatalf("%s: %d goroutines won the claim; want exactly 1", key, wins)
			}
		}
	}},
	{"PutThreadRoundTrip", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		if _, err := st.Thread(ctx, "C1", "100.1"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("Thread of an unknown thread: %v; want ErrNotFound", err)
		}
		inv := sampleInv("C1", "100.1", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		inv.Notes = []investigate.Note{noteAt(inv.Started, "ignored by Put")}
		inv.Feedback = []incident.Feedback{{Hypothesis: 0, Verdict: "accepted"}}
		if err := st.Put(ctx, inv); err != nil {
			t.Fatal(err)
		}
		got, err := st.Thread(ctx, "C1", "100.1")
		if err != nil {
			t.Fatal(err)
		}
		want := inv
		want.Notes, want.Feedback = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if _, err := st.Thread(ctx, "C1", "100.2"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("Thread of another thread: %v; want ErrNotFound", err)
		}
		if _, err := st.Thread(ctx, "C2", "100.1"); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("Thread in another channel: %v; want ErrNotFound", err)
		}
		// A second Put replaces the investigation.
		inv.State, inv.Report, inv.Error = incident.StateFailed, nil, "deadline"
		if err := st.Put(ctx, inv); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Thread(ctx, "C1", "100.1")
		if got.State != incident.StateFailed || got.Report != nil || got.Error != "deadline" {
			t.Fatalf("after a second Put: %+v", got)
		}
	}},
	{"PutKeepsNotesAndFeedback", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		inv := sampleInv("C1", "100.1", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		must(t, st.Put(ctx, inv))
		must(t, st.AddNote(ctx, "C1", "100.1", noteAt(inv.Started, "deploy at 7:58")))
		must(t, st.SetFeedback(ctx, "C1", "100.1", incident.Feedback{Hypothesis: 0, Verdict: "accepted", User: "U1"}))
		inv.State = incident.StateRunning
		must(t, st.Put(ctx, inv))
		got, err := st.Thread(ctx, "C1", "100.1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Notes) != 1 || got.Notes[0].Text != "deploy at 7:58" || len(got.Feedback) != 1 || got.State != incident.StateRunning {
			t.Fatalf("after Put: notes %+v, feedback %+v, state %s", got.Notes, got.Feedback, got.State)
		}
	}},
	{"RecentNewestFirst", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		for i, ts := range []string{"1.0", "2.0", "3.0", "4.0"} {
			must(t, st.Put(ctx, sampleInv("C1", ts, t0.Add(time.Duration(i)*time.Minute))))
		}
		must(t, st.Put(ctx, sampleInv("C2", "9.0", t0.Add(10*time.Minute))))
		// A restarted investigation moves to its new start, once.
		moved := sampleInv("C1", "1.0", t0.Add(5*time.Minute))
		must(t, st.Put(ctx, moved))
		must(t, st.AddNote(ctx, "C1", "3.0", noteAt(t0, "n")))
		got, err := st.Recent(ctx, "C1", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if ts := threads(got); ts != "1.0 4.0 3.0 2.0" {
			t.Fatalf("Recent = %s; want 1.0 4.0 3.0 2.0", ts)
		}
		if len(got[2].Notes) != 1 {
			t.Fatalf("Recent leaves out notes: %+v", got[2])
		}
		got, _ = st.Recent(ctx, "C1", t0.Add(150*time.Second))
		if ts := threads(got); ts != "1.0 4.0" {
			t.Fatalf("Recent since 8:02:30 = %s; want 1.0 4.0", ts)
		}
		got, _ = st.Recent(ctx, "C3", t0)
		if len(got) != 0 {
			t.Fatalf("Recent of an empty channel = %s", threads(got))
		}
	}},
	{"AddNoteInOrder", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		if err := st.AddNote(ctx, "C1", "1.0", noteAt(time.Now(), "x")); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("AddNote to an unknown thread: %v; want ErrNotFound", err)
		}
		t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		must(t, st.Put(ctx, sampleInv("C1", "1.0", t0)))
		// Note times need not be in order: notes keep the order they came in.
		for i, text := range []string{"first", "second", "third"} {
			must(t, st.AddNote(ctx, "C1", "1.0", noteAt(t0.Add(-time.Duration(i)*time.Second), text)))
		}
		got, _ := st.Thread(ctx, "C1", "1.0")
		want := []investigate.Note{noteAt(t0, "first"), noteAt(t0.Add(-time.Second), "second"), noteAt(t0.Add(-2*time.Second), "third")}
		if !reflect.DeepEqual(got.Notes, want) {
			t.Fatalf("notes = %+v; want %+v", got.Notes, want)
		}
	}},
	{"AddNoteConcurrent", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		must(t, st.Put(ctx, sampleInv("C1", "1.0", time.Now())))
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() { must(t, st.AddNote(ctx, "C1", "1.0", noteAt(time.Now(), fmt.Sprint(i)))) })
		}
		wg.Wait()
		got, _ := st.Thread(ctx, "C1", "1.0")
		seen := map[string]bool{}
		for _, n := range got.Notes {
			seen[n.Text] = true
		}
		if len(got.Notes) != 24 || len(seen) != 24 {
			t.Fatalf("%d notes (%d distinct); want 24", len(got.Notes), len(seen))
		}
	}},
	{"SetFeedbackReplaces", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		t0 := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		fb := func(h int, verdict incident.Verdict, user string) incident.Feedback {
			return incident.Feedback{Hypothesis: h, Cause: "component", Resource: "i-03", Verdict: verdict, User: user, Time: t0.Add(time.Duration(h) * time.Second)}
		}
		if err := st.SetFeedback(ctx, "C1", "1.0", fb(0, "accepted", "U1")); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("SetFeedback on an unknown thread: %v; want ErrNotFound", err)
		}
		must(t, st.Put(ctx, sampleInv("C1", "1.0", t0)))
		must(t, st.SetFeedback(ctx, "C1", "1.0", fb(1, "discarded", "U1")))
		must(t, st.SetFeedback(ctx, "C1", "1.0", fb(0, "accepted", "U1")))
		must(t, st.SetFeedback(ctx, "C1", "1.0", fb(0, "discarded", "U2")))
		got, _ := st.Thread(ctx, "C1", "1.0")
		want := []incident.Feedback{fb(0, "discarded", "U2"), fb(1, "discarded", "U1")}
		if !reflect.DeepEqual(got.Feedback, want) {
			t.Fatalf("feedback = %+v; want %+v", got.Feedback, want)
		}
	}},
	{"Leases", func(t *testing.T, b backend) {
		ctx, clk := context.Background(), newClock()
		st, _ := b.open(t, Options{Now: clk.Now})
		check := func(what string, got bool, err error, want bool) {
			t.Helper()
			if err != nil || got != want {
				t.Fatalf("%s = %v, %v; want %v", what, got, err, want)
			}
		}
		ok, err := st.Acquire(ctx, "k", "A", time.Minute)
		check("A acquires a free lease", ok, err, true)
		ok, err = st.Acquire(ctx, "k", "B", time.Minute)
		check("B acquires A's lease", ok, err, false)
		ok, err = st.Renew(ctx, "k", "B", time.Minute)
		check("B renews A's lease", ok, err, false)
		ok, err = st.Acquire(ctx, "other", "B", time.Minute)
		check("B acquires another lease", ok, err, true)
		clk.Add(50 * time.Second)
		ok, err = st.Renew(ctx, "k", "A", time.Minute)
		check("A renews", ok, err, true)
		clk.Add(50 * time.Second) // 100s after the acquire, 50s after the renewal
		ok, err = st.Acquire(ctx, "k", "B", time.Minute)
		check("B acquires the renewed lease", ok, err, false)
		ok, err = st.Acquire(ctx, "k", "A", time.Minute)
		check("A acquires its own lease again", ok, err, true)
		clk.Add(time.Minute) // expired
		ok, err = st.Renew(ctx, "k", "A", time.Minute)
		check("A renews its expired lease", ok, err, false)
		ok, err = st.Acquire(ctx, "k", "B", time.Minute)
		check("B acquires the expired lease", ok, err, true)
		ok, err = st.Renew(ctx, "k", "A", time.Minute)
		check("A renews B's lease", ok, err, false)
		must(t, st.Release(ctx, "k", "A")) // not A's: nothing happens
		ok, err = st.Acquire(ctx, "k", "C", time.Minute)
		check("C acquires after A's release of B's lease", ok, err, false)
		must(t, st.Release(ctx, "k", "B"))
		ok, err = st.Acquire(ctx, "k", "C", time.Minute)
		check("C acquires after B's release", ok, err, true)
		must(t, st.Release(ctx, "never", "A"))
		ok, err = st.Renew(ctx, "never", "A", time.Minute)
		check("A renews a lease nobody took", ok, err, false)
		ok, err = st.Acquire(ctx, "never", "B", time.Minute)
		check("B acquires it after that", ok, err, true)
	}},
	{"LeaseConcurrentOneWins", func(t *testing.T, b backend) {
		ctx := context.Background()
		wins := race(t, replicas(t, b), 32, func(st Store, i int) (bool, error) {
			return st.Acquire(ctx, "inv", fmt.Sprintf("replica-%d", i), time.Minute)
		})
		if wins != 1 {
			t.Fatalf("%d owners acquired the lease; want exactly 1", wins)
		}
	}},
	{"Interrupted", func(t *testing.T, b backend) {
		ctx, clk := context.Background(), newClock()
		st, _ := b.open(t, Options{Now: clk.Now})
		t0 := clk.Now()
		put := func(ts string, state incident.State, started time.Duration) {
			inv := sampleInv("C1", ts, t0.Add(started))
			inv.State = state
			must(t, st.Put(ctx, inv))
		}
		leased := func(ts string, ttl time.Duration) {
			if ok, err := st.Acquire(ctx, LeaseKey("C1", ts), "A", ttl); !ok || err != nil {
				t.Fatalf("acquire %s: %v %v", ts, ok, err)
			}
		}
		leased("1.0", 10*time.Minute)
		put("1.0", incident.StateRunning, 0) // worked on: lease held
		put("2.0", incident.StateQueued, 2*time.Second)
		leased("3.0", time.Minute)
		put("3.0", incident.StateRunning, time.Second) // lease expires
		put("4.0", incident.StateDone, 0)
		put("5.0", incident.StateRunning, 3*time.Second)
		put("5.0", incident.StateFailed, 3*time.Second)
		clk.Add(2 * time.Minute)
		got, err := st.Interrupted(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ts := threads(got); ts != "3.0 2.0" {
			t.Fatalf("Interrupted = %s; want 3.0 2.0 (oldest first)", ts)
		}
		if got[0].Report == nil || got[0].Alarm.Name != "orders-api-5xx" {
			t.Fatalf("Interrupted returns the whole investigation: %+v", got[0])
		}
		// Taking one over: the lease, then the new state.
		leased("3.0", time.Minute)
		put("2.0", incident.StateFailed, 2*time.Second)
		got, _ = st.Interrupted(ctx)
		if ts := threads(got); ts != "" {
			t.Fatalf("Interrupted after taking over = %s; want none", ts)
		}
		clk.Add(20 * time.Minute) // every lease expires
		got, _ = st.Interrupted(ctx)
		if ts := threads(got); ts != "1.0 3.0" {
			t.Fatalf("Interrupted after the leases expired = %s; want 1.0 3.0", ts)
		}
	}},
	{"Inbox", func(t *testing.T, b backend) {
		ctx, clk := context.Background(), newClock()
		st, replica := b.open(t, Options{ClaimTTL: time.Hour, Now: clk.Now})
		t0 := clk.Now()
		receive := func(key string, at time.Duration, first bool) {
			t.Helper()
			ev := incident.Event{Key: key, Type: "events_api", Payload: json.RawMessage(`{"event_id":"` + key + `","text":"caf\u00e9 <@U1>"}`), Received: t0.Add(at)}
			got, err := st.Receive(ctx, ev)
			if err != nil || got != first {
				t.Fatalf("Receive(%q) = %v, %v; want %v", key, got, err, first)
			}
		}
		unhandled := func(before time.Time) string {
			t.Helper()
			evs, err := st.Unhandled(ctx, before)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, ev := range evs {
				keys = append(keys, fmt.Sprintf("%s:%d", ev.Key, ev.Retries))
			}
			return strings.Join(keys, " ")
		}
		receive("event:B", time.Second, true)
		receive("event:A", 2*time.Second, true)
		receive("event:C", 0, true)
		receive("event:A", 3*time.Second, false) // a duplicate delivery
		if got, _ := st.Claim(ctx, "event:C"); got {
			t.Fatal("Receive did not claim its key")
		}
		if got, want := unhandled(t0.Add(time.Hour)), "event:C:0 event:B:0 event:A:0"; got != want {
			t.Fatalf("Unhandled = %q; want %q (oldest first)", got, want)
		}
		if got, want := unhandled(t0.Add(1500*time.Millisecond)), "event:C:0 event:B:0"; got != want {
			t.Fatalf("Unhandled before 1.5s = %q; want %q", got, want)
		}
		// A leased event is in hand; a handled one is gone, its claim kept.
		if ok, err := st.Acquire(ctx, incident.EventLeaseKey("event:B"), "A", time.Minute); !ok || err != nil {
			t.Fatalf("acquire: %v %v", ok, err)
		}
		must(t, st.Handled(ctx, "event:C"))
		must(t, st.Handled(ctx, "event:nothing")) // no-op
		if got, want := unhandled(t0.Add(time.Hour)), "event:A:0"; got != want {
			t.Fatalf("Unhandled with B leased and C handled = %q; want %q", got, want)
		}
		receive("event:C", 4*time.Second, false)
		// Taking one over counts a retry, and returns the event whole.
		ev, ok, err := st.Retry(ctx, "event:A")
		if err != nil || !ok || ev.Retries != 1 || ev.Type != "events_api" || !ev.Received.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("Retry = %+v, %v, %v", ev, ok, err)
		}
		var payload map[string]string
		if err := json.Unmarshal(ev.Payload, &payload); err != nil || payload["text"] != "café <@U1>" {
			t.Fatalf("the payload did not survive: %s (%v)", ev.Payload, err)
		}
		if ev, _, _ = st.Retry(ctx, "event:A"); ev.Retries != 2 {
			t.Fatalf("a second Retry counts %d; want 2", ev.Retries)
		}
		if _, ok, err := st.Retry(ctx, "event:C"); ok || err != nil {
			t.Fatalf("Retry of a handled event = %v, %v; want false", ok, err)
		}
		clk.Add(2 * time.Minute) // B's lease expires
		if got, want := unhandled(t0.Add(time.Hour)), "event:B:0 event:A:2"; got != want {
			t.Fatalf("Unhandled after the lease expired = %q; want %q", got, want)
		}
		if b.shared {
			// Another replica sees them.
			c := replica(Options{ClaimTTL: time.Hour, Now: clk.Now})
			evs, err := c.Unhandled(ctx, t0.Add(time.Hour))
			if err != nil || len(evs) != 2 {
				t.Fatalf("another replica's Unhandled = %v, %v", evs, err)
			}
		}
	}},
	{"ReceiveConcurrentOneWins", func(t *testing.T, b backend) {
		ctx := context.Background()
		stores := replicas(t, b)
		wins := race(t, stores, 32, func(st Store, _ int) (bool, error) {
			return st.Receive(ctx, incident.Event{Key: "command:T1", Type: "slash_commands", Payload: json.RawMessage(`{}`), Received: time.Now()})
		})
		if wins != 1 {
			t.Fatalf("%d deliveries were first; want 1", wins)
		}
		if evs, err := stores[0].Unhandled(ctx, time.Now().Add(time.Second)); err != nil || len(evs) != 1 {
			t.Fatalf("Unhandled = %v, %v; want the one event", evs, err)
		}
	}},
	{"NonFiniteNumbers", func(t *testing.T, b backend) {
		if b.memory {
			t.Skip("memory keeps numbers as they are")
		}
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		inv := sampleInv("C1", "1.0", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		nan := math.NaN()
		inv.Report.Series[0].Values = []float64{nan, 40}
		inv.Report.Findings[0].During = &nan
		must(t, st.Put(ctx, inv))
		got, err := st.Thread(ctx, "C1", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		s := got.Report.Series[0]
		if len(s.Values) != 1 || s.Values[0] != 40 || len(s.Times) != 1 || !s.Times[0].Equal(inv.Report.Series[0].Times[1]) || got.Report.Findings[0].During != nil {
			t.Fatalf("a NaN point is dropped, a NaN level left out: %+v, %+v", s, got.Report.Findings[0])
		}
		if !math.IsNaN(inv.Report.Series[0].Values[0]) {
			t.Fatal("Put changed its argument")
		}
	}},
	{"LargeReport", func(t *testing.T, b backend) {
		ctx := context.Background()
		st, _ := b.open(t, Options{})
		inv := sampleInv("C1", "1.0", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
		var s investigate.Series
		for i := range 4000 {
			s.Times = append(s.Times, inv.Started.Add(time.Duration(i)*time.Second))
			s.Values = append(s.Values, float64(i)/7)
		}
		inv.Report.Series = append(inv.Report.Series, investigate.NamedSeries{Resource: "big", Metric: "m", Series: s})
		inv.Report.Summary = strings.Repeat("long summary ", 2000)
		must(t, st.Put(ctx, inv))
		got, err := st.Thread(ctx, "C1", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, inv) {
			t.Fatal("a large investigation does not round-trip")
		}
		// And back to a small one.
		inv.Report = nil
		must(t, st.Put(ctx, inv))
		got, _ = st.Thread(ctx, "C1", "1.0")
		if got.Report != nil {
			t.Fatal("the large report outlived a Put without it")
		}
	}},
	{"Restart", func(t *testing.T, b backend) {
		if b.memory {
			t.Skip("memory is lost on restart")
		}
		ctx, clk := context.Background(), newClock()
		st, replica := b.open(t, Options{Now: clk.Now})
		inv := sampleInv("C1", "1.0", clk.Now())
		inv.State = incident.StateRunning
		_, err := st.Acquire(ctx, LeaseKey("C1", "1.0"), "before", time.Minute)
		must(t, err)
		must(t, st.Put(ctx, inv))
		must(t, st.AddNote(ctx, "C1", "1.0", noteAt(clk.Now(), "n")))
		must(t, st.SetFeedback(ctx, "C1", "1.0", incident.Feedback{Hypothesis: 0, Verdict: "accepted"}))
		first, err := st.Claim(ctx, "Ev1")
		must(t, err)
		if !first {
			t.Fatal("first claim lost")
		}
		if _, err := st.Receive(ctx, incident.Event{Key: "event:kept", Type: "events_api", Payload: json.RawMessage(`{}`), Received: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		_, err = st.Acquire(ctx, incident.EventLeaseKey("event:kept"), "before", time.Minute)
		must(t, err)
		must(t, st.Close()) // the process stops
		clk.Add(2 * time.Minute)
		st = replica(Options{Now: clk.Now}) // and comes back
		got, err := st.Thread(ctx, "C1", "1.0")
		if err != nil || len(got.Notes) != 1 || len(got.Feedback) != 1 || got.Report == nil {
			t.Fatalf("after a restart: %+v, %v", got, err)
		}
		if again, err := st.Claim(ctx, "Ev1"); again || err != nil {
			t.Fatalf("a claim before the restart was forgotten: %v %v", again, err)
		}
		ints, err := st.Interrupted(ctx)
		if err != nil || threads(ints) != "1.0" {
			t.Fatalf("Interrupted after a restart = %s, %v; want 1.0", threads(ints), err)
		}
		if evs, err := st.Unhandled(ctx, clk.Now()); err != nil || len(evs) != 1 || evs[0].Key != "event:kept" {
			t.Fatalf("Unhandled after a restart = %v, %v; want event:kept", evs, err)
		}
		if rec, _ := st.Recent(ctx, "C1", time.Time{}); threads(rec) != "1.0" {
			t.Fatalf("Recent after a restart = %s", threads(rec))
		}
		if b.name == "bolt" {
			// The file was the stopped process's alone: its leases went
			// with it, even unexpired ones.
			_, err := st.Acquire(ctx, LeaseKey("C1", "2.0"), "before", time.Hour)
			must(t, err)
			inv := sampleInv("C1", "2.0", clk.Now())
			inv.State = incident.StateRunning
			must(t, st.Put(ctx, inv))
			must(t, st.Close())
			st = replica(Options{Now: clk.Now})
			if ints, err := st.Interrupted(ctx); err != nil || threads(ints) != "1.0 2.0" {
				t.Fatalf("Interrupted after a restart with a live lease = %s, %v; want 1.0 2.0", threads(ints), err)
			}
			if ok, err := st.Acquire(ctx, LeaseKey("C1", "2.0"), "after", time.Minute); !ok || err != nil {
				t.Fatalf("the stopped process's lease outlived it: %v %v", ok, err)
			}
		}
	}},
	{"Replicas", func(t *testing.T, b backend) {
		if !b.shared {
			t.Skip("a file is for one process")
		}
		ctx := context.Background()
		a, replica := b.open(t, Options{})
		c := replica(Options{})
		must(t, a.Put(ctx, sampleInv("C1", "1.0", time.Now())))
		must(t, c.AddNote(ctx, "C1", "1.0", noteAt(time.Now(), "from c")))
		got, err := a.Thread(ctx, "C1", "1.0")
		if err != nil || len(got.Notes) != 1 {
			t.Fatalf("a reads c's note: %+v %v", got.Notes, err)
		}
		if ok, _ := a.Acquire(ctx, "L", "a", time.Minute); !ok {
			t.Fatal("a lost a free lease")
		}
		if ok, _ := c.Acquire(ctx, "L", "c", time.Minute); ok {
			t.Fatal("c took a's lease")
		}
	}},
}

// replicas opens the backend's store and, when the backend is shared by
// replicas, a second replica of it.
func replicas(t *testing.T, b backend) []Store {
	st, replica := b.open(t, Options{})
	stores := []Store{st}
	if b.shared {
		stores = append(stores, replica(Options{}))
	}
	return stores
}

// race runs try from n goroutines at once, spread over stores, and returns
// how many it reported true for; an error fails the test.
func race(t *testing.T, stores []Store, n int, try func(st Store, i int) (bool, error)) int64 {
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ok, err := try(stores[i%len(stores)], i)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	return wins.Load()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func threads(invs []incident.Investigation) string {
	var ts []string
	for _, inv := range invs {
		ts = append(ts, inv.ThreadTS)
	}
	return strings.Join(ts, " ")
}

func TestStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, b)
				})
			}
		})
	}
}

func TestBoltOneProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "unstuck.db")
	s, err := OpenBolt(path, Options{})
	must(t, err)
	defer s.Close()
	_, err = OpenBolt(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("a second open of the file: %v; want in use", err)
	}
}

func TestParseSpec(t *testing.T) {
	for in, want := range map[string]Spec{
		"":                          {Path: DefaultPath},
		"state/unstuck.db":          {Path: "state/unstuck.db"},
		"/var/lib/unstuck/x.db":     {Path: "/var/lib/unstuck/x.db"},
		"dynamodb://unstuck-prod.1": {Table: "unstuck-prod.1"},
	} {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"dynamodb://", "dynamodb://a", "dynamodb://bad/name", "redis://x"} {
		if _, err := ParseSpec(in); err == nil {
			t.Errorf("ParseSpec(%q) has no error", in)
		}
	}
}

// TestOpen opens both kinds from a --store value, DynamoDB with the
// standard AWS configuration (its endpoint from AWS_ENDPOINT_URL_DYNAMODB).
func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := Open(ctx, path, Options{})
	must(t, err)
	if _, ok := s.(*Bolt); !ok {
		t.Fatalf("Open(%s) = %T", path, s)
	}
	must(t, s.Close())

	if dynamoEndpoint == "" {
		t.Skip(dynamoSkip)
	}
	if _, err := Open(ctx, "dynamodb://missing-table", Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a missing table without CreateTable: %v", err)
	}
	spec := fmt.Sprintf("dynamodb://open-test-%d", tableSeq.Add(1))
	s, err = Open(ctx, spec, Options{CreateTable: true})
	must(t, err)
	if ok, err := s.Claim(ctx, "k"); !ok || err != nil {
		t.Fatalf("Claim = %v %v", ok, err)
	}
	// Open again: the table is there, and so is the claim.
	s, err = Open(ctx, spec, Options{})
	must(t, err)
	if ok, err := s.Claim(ctx, "k"); ok || err != nil {
		t.Fatalf("Claim after reopening = %v %v", ok, err)
	}
}
