package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
)

// This file is the automatic resume of interrupted investigations: once,
// a few at a time, and never blindly a second time. The replicas share
// one store and one clock, which the test advances to expire a crashed
// replica's leases and to bring the next recovery pass.

// resumeLeaseTTL is the replicas' lease life in these tests; their
// recovery pass runs every minute (the default), which is as long.
const resumeLeaseTTL = time.Minute

// expireAndRecover advances the clock a lease's life, which expires the
// leases a crashed replica held when the clock last moved and brings r's
// next recovery pass, and waits for that pass to be done.
func expireAndRecover(t *testing.T, srv *slacktest.Server, clk *manualClock, r *replica) {
	t.Helper()
	passes := r.metrics.recoveryPasses()
	clk.Advance(resumeLeaseTTL)
	if !srv.WaitFor(10*time.Second, func() bool { return r.metrics.recoveryPasses() > passes }) {
		t.Fatalf("replica %s: no recovery pass after the clock moved", r.name)
	}
}

// startedReplica starts a replica on st and waits for its first recovery
// pass (done before it takes work) and its connection.
func startedReplica(t *testing.T, name string, srv *slacktest.Server, st incident.Store, clk *manualClock, workers int) *replica {
	t.Helper()
	r := startReplica(t, name, srv, st, handlers.Config{}, handlers.Options{LeaseTTL: resumeLeaseTTL, Grace: 100 * time.Millisecond, WallClock: clk, Workers: workers})
	if !srv.WaitFor(10*time.Second, func() bool { return r.metrics.recoveryPasses() > 0 && srv.Connected() }) {
		t.Fatalf("replica %s did not start", name)
	}
	return r
}

// held waits for an investigation to reach r's closed gate.
func held(t *testing.T, r *replica) {
	t.Helper()
	select {
	case <-r.gate.running:
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s: no investigation reached the gate", r.name)
	}
}

// An investigation cut off by a crash is resumed once, by itself; cut off
// again, it is not run a third time: it is marked failed, its thread says
// why, and the Re-run button is there for a person, whose click runs it.
func TestResumeOnceThenPoison(t *testing.T) {
	ctx := context.Background()
	clk := newManualClock()
	st := incident.NewMemory(0)
	st.WithClock(clk.Now)
	srv := slacktest.NewServer()
	defer srv.Close()

	a := startedReplica(t, "A", srv, st, clk, 0)
	a.gate.close()
	thread := slash(t, srv, "U0CUT", "orders-api-5xx")
	held(t, a)
	a.kill()

	// B resumes it without a click, and crashes in the middle of it too.
	b := startedReplica(t, "B", srv, st, clk, 0)
	b.gate.close()
	expireAndRecover(t, srv, clk, b)
	held(t, b)
	resumed := botThreadMessages(srv, channel, thread, "so I'm resuming it")
	if len(resumed) != 1 || strings.Contains(string(resumed[0].Blocks), blockkit.ActionRerun) {
		t.Fatalf("the thread was not told once that the investigation is resumed: %+v", srv.Thread(channel, thread))
	}
	if inv, err := st.Thread(ctx, channel, thread); err != nil || inv.Resumes != 1 || !inv.State.Active() {
		t.Fatalf("stored %q with %d resumes, %v; want active, resumed once", inv.State, inv.Resumes, err)
	}
	b.kill()

	// C does not run it again.
	c := startedReplica(t, "C", srv, st, clk, 0)
	expireAndRecover(t, srv, clk, c)
	if !srv.WaitFor(10*time.Second, func() bool { return c.bot.InFlight() == 0 }) {
		t.Fatal("C did not go idle")
	}
	if n := c.gate.runs.Load(); n != 0 {
		t.Fatalf("C ran %d investigations; want none", n)
	}
	inv, err := st.Thread(ctx, channel, thread)
	if err != nil || inv.State != incident.StateFailed || !strings.Contains(inv.Error, "twice") {
		t.Fatalf("stored %q (%q), %v; want failed, saying it was cut off twice", inv.State, inv.Error, err)
	}
	poison := botThreadMessages(srv, channel, thread, "after I had already resumed it once")
	if len(poison) != 1 || !strings.Contains(poison[0].BlocksText(), "may be what brought me down") || !strings.Contains(string(poison[0].Blocks), blockkit.ActionRerun) {
		t.Fatalf("the thread was not told once why it is not retried, with a Re-run button: %+v", srv.Thread(channel, thread))
	}
	if m, _ := srv.Message(channel, thread); !strings.Contains(m.BlocksText(), "Could not investigate") {
		t.Errorf("the status message does not say it failed: %s", m.BlocksText())
	}
	if n := len(botThreadMessages(srv, channel, thread, "so I'm resuming it")); n != 1 {
		t.Errorf("the thread was told %d times that it is resumed; want once", n)
	}

	// A person's Re-run runs it, as a new investigation.
	srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, poison[0].TS, thread, blockkit.ActionRerun, thread+"/-1"))
	if !srv.WaitFor(10*time.Second, func() bool { return len(botThreadMessages(srv, channel, thread, "ask me in this thread")) == 1 }) {
		t.Fatalf("Re-run gave no report: %+v", srv.Thread(channel, thread))
	}
	if inv, err := st.Thread(ctx, channel, thread); err != nil || inv.Resumes != 0 {
		t.Errorf("the Re-run's investigation has %d resumes, %v; want 0", inv.Resumes, err)
	}
}

// A replica resumes no more interrupted investigations at once than it has
// workers; each one that ends lets the next one be resumed, without waiting
// for the next period, until all have their reports.
func TestResumesBoundedByWorkers(t *testing.T) {
	clk := newManualClock()
	st := incident.NewMemory(0)
	st.WithClock(clk.Now)
	srv := slacktest.NewServer()
	defer srv.Close()

	a := startedReplica(t, "A", srv, st, clk, 4)
	a.gate.close()
	var threads []string
	for _, u := range []string{"U0ONE", "U0TWO", "U0THREE"} {
		threads = append(threads, slash(t, srv, u, "orders-api-5xx"))
		held(t, a)
	}
	a.kill()

	b := startedReplica(t, "B", srv, st, clk, 1)
	b.gate.close()
	expireAndRecover(t, srv, clk, b)
	held(t, b)
	resumed := func() (n int) {
		for _, th := range threads {
			n += len(botThreadMessages(srv, channel, th, "so I'm resuming it"))
		}
		return n
	}
	if n := resumed(); n != 1 {
		t.Fatalf("%d investigations resumed at once by a replica with one worker; want 1", n)
	}
	left, err := st.Interrupted(context.Background())
	if err != nil || len(left) != 2 {
		t.Fatalf("%d interrupted investigations left for later, %v; want 2", len(left), err)
	}

	// The clock stands still from here: what is left is resumed as the
	// resumed ones end.
	b.gate.open()
	for _, th := range threads {
		if !srv.WaitFor(20*time.Second, func() bool { return len(botThreadMessages(srv, channel, th, "ask me in this thread")) == 1 }) {
			t.Fatalf("thread %s has no report: %+v", th, srv.Thread(channel, th))
		}
	}
	b.stop()
	for _, th := range threads {
		if n := len(botThreadMessages(srv, channel, th, "so I'm resuming it")); n != 1 {
			t.Errorf("thread %s was told %d times that it is resumed; want once", th, n)
		}
		if n := len(botThreadMessages(srv, channel, th, "ask me in this thread")); n != 1 {
			t.Errorf("thread %s has %d reports; want one", th, n)
		}
	}
}
