package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
)

// gatedReceive holds every event the bot keeps (Receive) until release is
// closed, or the call's context ends; entered is closed at the first.
type gatedReceive struct {
	*incident.Memory
	entered, release chan struct{}
	once             sync.Once
}

func newGatedReceive() *gatedReceive {
	return &gatedReceive{Memory: incident.NewMemory(0), entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedReceive) Receive(ctx context.Context, ev incident.Event) (bool, error) {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return g.Memory.Receive(ctx, ev)
}

func (g *gatedReceive) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not kept")
	}
}

// started reports whether the bot posted an investigation's first message
// for the alarm.
func started(srv *slacktest.Server, alarm string) bool {
	for _, m := range srv.Messages(channel) {
		if m.User == slacktest.BotUserID && m.ThreadTS == "" && !m.Ephemeral && strings.Contains(m.Text, alarm) {
			return true
		}
	}
	return false
}

// A command read from the socket and not yet acknowledged when the bot is
// told to stop is acknowledged before the socket closes (Slack would not
// deliver it again: the user would see it fail), and carried out.
func TestE2EShutdownAcknowledgesWhatItRead(t *testing.T) {
	store := newGatedReceive()
	h := newHarness(t, setup{store: store})
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx"))
	store.wait(t)
	h.cancel()
	close(store.release)
	h.stop()
	if d, _ := h.srv.Delivery(env); !d.Acked || d.Failed {
		t.Errorf("the command read before the stop: %+v; want acknowledged in time", d)
	}
	if !started(h.srv, "orders-api-5xx") {
		t.Error("the acknowledged command was not carried out")
	}
}

// A command whose acknowledgement could not reach Slack (the socket
// dropped before it was written) failed in front of the user: the bot does
// not carry it out later as though it had worked.
func TestE2EUnacknowledgedCommandIsDropped(t *testing.T) {
	store := newGatedReceive()
	h := newHarness(t, setup{store: store})
	env := h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx"))
	store.wait(t)
	h.srv.Drop()
	if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Connections() >= 2 && h.srv.Connected() }) {
		t.Fatal("the bot did not reconnect")
	}
	close(store.release)
	h.settle()
	if d, _ := h.srv.Delivery(env); !d.Failed {
		t.Errorf("the command whose socket dropped: %+v; want failed", d)
	}
	if started(h.srv, "orders-api-5xx") {
		t.Error("the bot carried out a command Slack told the user had failed")
	}
	// Nor does a later recovery pass: the event is not left kept.
	if evs, err := store.Unhandled(context.Background(), time.Now().Add(time.Hour)); err != nil || len(evs) != 0 {
		t.Errorf("kept events %+v, %v; want none", evs, err)
	}
}

// logRecorder records log records and wakes waiters on each.
type logRecorder struct {
	mu      sync.Mutex
	recs    []slog.Record
	changed chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, rec := range r.recs {
		fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
		rec.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s", a)
			return true
		})
		b.WriteString("\n")
	}
	return b.String()
}

// wait waits for a record at level whose message contains text.
func (r *logRecorder) wait(level slog.Level, text string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		ch := r.changed
		for _, rec := range r.recs {
			if rec.Level == level && strings.Contains(rec.Message, text) {
				r.mu.Unlock()
				return true
			}
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Slack's disconnect messages: the bot reconnects after each, and says in
// the log why Slack sent it, loudly when an operator must act (too many
// connections for the app, Socket Mode turned off).
func TestE2EDisconnectReasons(t *testing.T) {
	tests := []struct {
		reason string
		level  slog.Level
		log    string
	}{
		{slacktest.ReasonWarning, slog.LevelInfo, "Slack asked for a new connection"},
		{slacktest.ReasonRefresh, slog.LevelInfo, "Slack asked for a new connection"},
		{slacktest.ReasonTooMany, slog.LevelError, "more socket-mode connections than Slack allows"},
		{slacktest.ReasonLinkDisabled, slog.LevelError, "Socket Mode is turned off"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			rec := newLogRecorder()
			h := newHarness(t, setup{opts: handlers.Options{Logger: slog.New(rec)}})
			h.srv.Disconnect(tt.reason)
			if !rec.wait(tt.level, tt.log, 5*time.Second) {
				t.Errorf("no %s log saying %q in:\n%s", tt.level, tt.log, rec)
			}
			if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Connections() >= 2 && h.srv.Open() == 1 }) {
				t.Fatalf("the bot did not reconnect: %d connections, %d open", h.srv.Connections(), h.srv.Open())
			}
			h.settle(h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, user, "help")))
		})
	}
}

// Slack pings every connection; slack-go gives up on one that has not been
// pinged for its ping interval and connects again. A silent connection is
// replaced; a pinged one is kept past that interval.
func TestE2EPingTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name  string
		ping  time.Duration
		kept  bool
		pings int
	}{
		{"pinged", 30 * time.Millisecond, true, 3 * int(timeout/(30*time.Millisecond))},
		{"silent", -1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, setup{
				server: slacktest.Options{PingInterval: tt.ping},
				socket: []socketmode.Option{socketmode.OptionPingInterval(timeout)},
			})
			if tt.kept {
				// Three ping timeouts' worth of pings.
				if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Pings() >= tt.pings }) {
					t.Fatalf("%d pings", h.srv.Pings())
				}
				if n := h.srv.Connections(); n != 1 {
					t.Errorf("%d connections while pinged; want the first kept", n)
				}
				return
			}
			if !h.srv.WaitFor(10*time.Second, func() bool { return h.srv.Connections() >= 2 && h.srv.Connected() }) {
				t.Errorf("a silent connection was kept: %d connections", h.srv.Connections())
			}
		})
	}
}
