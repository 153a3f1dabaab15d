package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// keptEvent is an event a stopped bot acknowledged and kept, and never
// handled.
func keptEvent(t *testing.T, key, typ string, payload map[string]any, retries int) incident.Event {
	t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return incident.Event{Key: key, Type: typ, Payload: raw, Received: time.Now().Add(-time.Minute), Retries: retries}
}

// A bot that died after acknowledging a command and an alarm message, and
// before handling them, left them kept in the store: the next bot handles
// both once, as if Slack had delivered them again, and forgets them.
func TestKeptEventsAreHandledAfterARestart(t *testing.T) {
	store := incident.NewMemory(0)
	ctx := context.Background()
	cmd := slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx")
	alarmTS := "1700000000.000100"
	alarm := slacktest.EventCallback("Ev0KEPT", slacktest.BotMessage(alarmsCh, "B0AWS", "AWS Chatbot", "", alarmTS, chatbotAlarm("orders-api-5xx"), nil))
	for _, ev := range []incident.Event{
		keptEvent(t, "command:"+cmd["trigger_id"].(string), "slash_commands", cmd, 0),
		keptEvent(t, "event:Ev0KEPT", "events_api", alarm, 0),
	} {
		if first, err := store.Receive(ctx, ev); !first || err != nil {
			t.Fatalf("seeding the store: %v %v", first, err)
		}
	}

	h := newHarness(t, setup{cfg: watching, store: store})
	var root string
	if !h.srv.WaitFor(10*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && m.ThreadTS == "" && strings.Contains(m.BlocksText(), "<@"+user+">") {
				root = m.TS
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the kept command was not answered: %+v", h.srv.Messages(channel))
	}
	if _, ok := h.report(channel, root, 15*time.Second); !ok {
		t.Fatalf("no report for the kept command: %+v", h.srv.Thread(channel, root))
	}
	if _, ok := h.report(alarmsCh, alarmTS, 15*time.Second); !ok {
		t.Fatalf("no report for the kept alarm message: %+v", h.srv.Thread(alarmsCh, alarmTS))
	}
	// Once each, and forgotten.
	roots := 0
	for _, m := range h.srv.Messages(channel) {
		if m.User == slacktest.BotUserID && m.ThreadTS == "" && !m.Ephemeral {
			roots++
		}
	}
	if roots != 1 {
		t.Errorf("%d answers to the kept command; want 1", roots)
	}
	if evs, err := store.Unhandled(ctx, time.Now().Add(time.Hour)); err != nil || len(evs) != 0 {
		t.Errorf("still kept after they were handled: %+v %v", evs, err)
	}
	// A delivery of the same command now is a duplicate.
	h.settle(h.srv.Send(slacktest.TypeSlash, cmd))
	for _, m := range h.srv.Messages(channel) {
		if m.User == slacktest.BotUserID && m.ThreadTS == "" && !m.Ephemeral && m.TS != root {
			t.Fatalf("a duplicate delivery was answered again: %s", m.BlocksText())
		}
	}
}

// An event whose handling was cut off twice is not tried a third time:
// its sender is told, and it is forgotten.
func TestKeptEventGivenUpAfterRetries(t *testing.T) {
	store := incident.NewMemory(0)
	ctx := context.Background()
	cmd := slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx")
	if _, err := store.Receive(ctx, keptEvent(t, "command:"+cmd["trigger_id"].(string), "slash_commands", cmd, 1)); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, setup{cfg: watching, store: store})
	if !h.toldPrivately(user, "cut off twice", 10*time.Second) {
		t.Fatalf("the sender was not told: %+v", h.srv.Messages(channel))
	}
	h.settle()
	for _, m := range h.srv.Messages(channel) {
		if m.User == slacktest.BotUserID && !m.Ephemeral {
			t.Errorf("an event given up on was handled: %s", m.BlocksText())
		}
	}
	if evs, _ := store.Unhandled(ctx, time.Now().Add(time.Hour)); len(evs) != 0 {
		t.Errorf("still kept: %+v", evs)
	}
}

// receipts is a Memory store that notes when each event was kept, and how
// many times it was marked handled.
type receipts struct {
	*incident.Memory
	mu      sync.Mutex
	kept    map[string]time.Time
	handled map[string]int
}

func (r *receipts) Receive(ctx context.Context, ev incident.Event) (bool, error) {
	first, err := r.Memory.Receive(ctx, ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.kept[ev.Key]; !ok {
		r.kept[ev.Key] = time.Now()
	}
	return first, err
}

func (r *receipts) Handled(ctx context.Context, key string) error {
	r.mu.Lock()
	r.handled[key]++
	r.mu.Unlock()
	return r.Memory.Handled(ctx, key)
}

// Every envelope with work is kept before it is acknowledged, and
// forgotten once handled.
func TestEventsKeptUntilHandled(t *testing.T) {
	store := &receipts{Memory: incident.NewMemory(0), kept: map[string]time.Time{}, handled: map[string]int{}}
	h := newHarness(t, setup{cfg: watching, store: store})
	cmd := slacktest.SlashCommand("/investigate", channel, user, "orders-api-5xx")
	key := "command:" + cmd["trigger_id"].(string)
	ack, ok := h.srv.WaitAck(h.srv.Send(slacktest.TypeSlash, cmd), 3*time.Second)
	if !ok {
		t.Fatal("no ack")
	}
	store.mu.Lock()
	kept, wasKept := store.kept[key]
	store.mu.Unlock()
	if !wasKept || kept.After(ack.At) {
		t.Fatalf("the command was not kept before its ack: kept %v (%v), acked %v", wasKept, kept, ack.At)
	}
	// Handled once the investigation is kept instead, long before the
	// report.
	if !h.srv.WaitFor(15*time.Second, func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.handled[key] > 0
	}) {
		t.Fatal("the command was never marked handled")
	}
	if _, kept, err := store.Memory.Retry(context.Background(), key); kept || err != nil {
		t.Fatal("the command is still kept after it was handled")
	}
	// Once: the work that stored its investigation ends without another
	// write.
	if !h.srv.WaitFor(15*time.Second, func() bool {
		for _, m := range h.srv.Messages(channel) {
			if m.User == slacktest.BotUserID && m.ThreadTS != "" && strings.Contains(m.BlocksText(), "ask me in this thread") {
				return true
			}
		}
		return false
	}) {
		t.Fatal("no report")
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if n := store.handled[key]; n != 1 {
		t.Errorf("the command was marked handled %d times; want 1", n)
	}
}

// witness is a Memory store that checks, whenever an investigation is
// stored finished, that its thread was told: a crash right after that
// write must not leave a thread nobody tells.
type witness struct {
	*incident.Memory
	srv      atomic.Pointer[slacktest.Server]
	mu       sync.Mutex
	finished []incident.State
	untold   []incident.State
}

func (w *witness) Put(ctx context.Context, inv incident.Investigation) error {
	if srv := w.srv.Load(); srv != nil && (inv.State == incident.StateDone || inv.State == incident.StateFailed) {
		status, _ := srv.Message(inv.Channel, inv.StatusTS)
		told := inv.State == incident.StateFailed && strings.Contains(status.BlocksText(), "Could not investigate")
		for _, m := range srv.Thread(inv.Channel, inv.ThreadTS) {
			told = told || (inv.State == incident.StateDone && strings.Contains(m.BlocksText(), "ask me in this thread"))
		}
		w.mu.Lock()
		w.finished = append(w.finished, inv.State)
		if !told {
			w.untold = append(w.untold, inv.State)
		}
		w.mu.Unlock()
	}
	return w.Memory.Put(ctx, inv)
}

// failingRun is an engine whose every run fails.
type failingRun struct{ err error }

func (f failingRun) Run(context.Context, investigate.Request, func(investigate.Event)) (investigate.Report, error) {
	return investigate.Report{}, f.err
}

// An investigation is stored done or failed only once its thread has the
// report or the failure.
func TestOutcomeToldBeforeStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		inv  handlers.Investigator
		want incident.State
	}{
		{"done", nil, incident.StateDone},
		{"failed", failingRun{errors.New("read alarm: AccessDeniedException: not authorized")}, incident.StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &witness{Memory: incident.NewMemory(0)}
			h := newHarness(t, setup{cfg: watching, store: w, investigator: tc.inv})
			w.srv.Store(h.srv)
			thread := h.investigate("orders-api-5xx")
			if !h.srv.WaitFor(15*time.Second, func() bool {
				inv, err := w.Thread(context.Background(), channel, thread)
				return err == nil && inv.State == tc.want
			}) {
				inv, _ := w.Thread(context.Background(), channel, thread)
				t.Fatalf("stored %s; want %s", inv.State, tc.want)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.untold) > 0 {
				t.Errorf("stored finished (%v) before the thread was told: %v", w.finished, w.untold)
			}
		})
	}
}

// Two messages of the same alarm at once (two notifiers posting it): one
// investigation, which the other joins.
func TestSimultaneousAlarmMessagesJoin(t *testing.T) {
	h := newHarness(t, setup{cfg: watching})
	var tss []string
	for i := range 4 {
		tss = append(tss, h.postAlarm("orders-api-5xx", fmt.Sprintf("Ev0SAME%d", i)))
	}
	reports, joins := 0, 0
	if !h.srv.WaitFor(15*time.Second, func() bool {
		reports, joins = 0, 0
		for _, ts := range tss {
			for _, m := range h.srv.Thread(alarmsCh, ts) {
				switch t := m.BlocksText(); {
				case m.User != slacktest.BotUserID:
				case strings.Contains(t, "ask me in this thread"):
					reports++
				case strings.Contains(t, "I follow it there"):
					joins++
				}
			}
		}
		return reports+joins >= len(tss)
	}) {
		t.Fatalf("%d reports and %d joins for %d alarm messages", reports, joins, len(tss))
	}
	if reports != 1 || joins != len(tss)-1 {
		t.Errorf("%d reports and %d joins; want 1 and %d", reports, joins, len(tss)-1)
	}
}
