package handlers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/sim"
)

// recorder is a Metrics that remembers what it was told.
type recorder struct {
	mu       sync.Mutex
	acked    map[string]int
	ackErrs  int
	maxAck   time.Duration
	started  int
	finished map[string]int
	sources  map[string]int
	// passes counts the recovery passes done.
	passes    int
	recovered int
}

func newRecorder() *recorder {
	return &recorder{acked: map[string]int{}, finished: map[string]int{}, sources: map[string]int{}}
}

func (r *recorder) Acked(typ string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked[typ]++
	r.maxAck = max(r.maxAck, d)
	if err != nil {
		r.ackErrs++
	}
}

func (r *recorder) InvestigationStarted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
}

func (r *recorder) InvestigationFinished(outcome string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished[outcome]++
}

func (r *recorder) SourceError(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources[s]++
}

func (r *recorder) Recovered(investigations, events int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passes++
	r.recovered += investigations + events
}

// recoveryPasses is how many recovery passes are done.
func (r *recorder) recoveryPasses() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passes
}

func (r *recorder) get(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// The bot tells its Metrics of the acknowledgement and of the
// investigation, and answers readiness while connected with its store.
func TestE2EMetrics(t *testing.T) {
	rec := newRecorder()
	h := newHarness(t, setup{opts: handlers.Options{Metrics: rec}})
	if !h.srv.WaitFor(5*time.Second, h.bot.Connected) {
		t.Error("connected to the fake Slack, but Connected is false")
	}
	if err := h.bot.SocketConnected(context.Background()); err != nil {
		t.Error(err)
	}
	if err := h.bot.StoreReachable(context.Background()); err != nil {
		t.Error(err)
	}
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report")
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		done := 0
		rec.get(func() { done = rec.finished[handlers.OutcomeDone] })
		return done == 1
	}) {
		t.Error("the investigation did not finish as done")
	}
	rec.get(func() {
		if rec.started != 1 || rec.acked[socketmode.RequestTypeSlashCommands] != 1 || rec.ackErrs != 0 || rec.maxAck <= 0 || rec.maxAck > 3*time.Second {
			t.Errorf("recorded %+v", rec)
		}
	})
	h.stop()
	if h.bot.Connected() {
		t.Error("still connected after Serve returned")
	}
}

// A source the investigation cannot read is counted by its kind.
func TestE2EMetricsSourceErrors(t *testing.T) {
	rec := newRecorder()
	h := newHarness(t, setup{opts: handlers.Options{Metrics: rec, Deadline: 300 * time.Millisecond}, sim: sim.Options{Latency: map[string]time.Duration{sim.KindTopology: 2 * time.Second}}})
	thread := h.investigate("orders-api-5xx")
	if _, ok := h.report(channel, thread, 10*time.Second); !ok {
		t.Fatal("no report")
	}
	if !h.srv.WaitFor(5*time.Second, func() bool {
		n := 0
		rec.get(func() { n = rec.finished[handlers.OutcomeCutShort] })
		return n == 1
	}) {
		rec.get(func() { t.Errorf("not cut short: %+v", rec) })
	}
	rec.get(func() {
		if rec.sources["deadline"] != 1 {
			t.Errorf("sources %v", rec.sources)
		}
	})
}
