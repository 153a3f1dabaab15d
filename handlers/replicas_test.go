package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
	"github.com/unstuck/unstuck/store"
	"github.com/unstuck/unstuck/store/storetest"
)

// This file runs the bot as replicas and across restarts, on the
// persistent stores: a process that crashes mid-investigation, another that
// comes back on the same store, two replicas behind one Slack app.

var dynamo struct {
	once sync.Once
	srv  *storetest.Server
	err  error
	seq  atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dynamo.srv != nil {
		dynamo.srv.Stop()
	}
	os.Exit(code)
}

// openStore opens a store the way `bot serve --store` does: "bolt" is a
// file in dir, "dynamodb" a new table (one per call of newTable) on
// dynalite, started once for the package. Without node the DynamoDB
// variant skips, unless CI is set.
func openStore(t *testing.T, kind, where string) store.Store {
	t.Helper()
	return openStoreAt(t, kind, where, nil)
}

// openStoreAt is openStore with a clock, by which the store judges leases
// (time.Now when nil).
func openStoreAt(t *testing.T, kind, where string, now func() time.Time) store.Store {
	t.Helper()
	spec := where
	if kind == "dynamodb" {
		dynamo.once.Do(func() {
			dynamo.srv, dynamo.err = storetest.Start()
			if dynamo.err == nil {
				dynamo.err = dynamo.srv.Setenv()
			}
		})
		if dynamo.err != nil {
			if storetest.Required() {
				t.Fatalf("no DynamoDB-compatible server (CI is set, so this must run): %v", dynamo.err)
			}
			t.Skipf("no DynamoDB-compatible server: %v", dynamo.err)
		}
		spec = "dynamodb://" + where
	}
	st, err := store.Open(context.Background(), spec, store.Options{CreateTable: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newTable names a new DynamoDB table for a test.
// sharedStores opens two handles on one store, as two replicas would: one
// Memory, or two clients of one DynamoDB table, closed when the test ends.
// They judge leases by now (time.Now when nil).
func sharedStores(t *testing.T, kind string, now func() time.Time) (incident.Store, incident.Store) {
	t.Helper()
	if kind == "memory" {
		m := incident.NewMemory(0)
		if now != nil {
			m.WithClock(now)
		}
		return m, m
	}
	table := newTable(t)
	a, b := openStoreAt(t, kind, table, now), openStoreAt(t, kind, table, now)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func newTable(t *testing.T) string {
	return fmt.Sprintf("handlers-%s-%d", strings.ReplaceAll(strings.ReplaceAll(t.Name(), "/", "-"), "_", "-"), dynamo.seq.Add(1))
}

// errCrashed is what a crashed process's calls return.
var errCrashed = errors.New("the process crashed")

// crash is a switch that makes a replica behave as a crashed process: once
// set, its Slack Web API calls and store calls fail and have no effect, so
// whatever it was doing is left as it was.
type crash struct{ on atomic.Bool }

func (c *crash) err() error {
	if c.on.Load() {
		return errCrashed
	}
	return nil
}

// crashingSlack is a SlackAPI that stops when its crash switch is set.
type crashingSlack struct {
	handlers.SlackAPI
	c *crash
}

func (s crashingSlack) PostMessageContext(ctx context.Context, ch string, o ...slack.MsgOption) (string, string, error) {
	if err := s.c.err(); err != nil {
		return "", "", err
	}
	return s.SlackAPI.PostMessageContext(ctx, ch, o...)
}

func (s crashingSlack) UpdateMessageContext(ctx context.Context, ch, ts string, o ...slack.MsgOption) (string, string, string, error) {
	if err := s.c.err(); err != nil {
		return "", "", "", err
	}
	return s.SlackAPI.UpdateMessageContext(ctx, ch, ts, o...)
}

func (s crashingSlack) PostEphemeralContext(ctx context.Context, ch, user string, o ...slack.MsgOption) (string, error) {
	if err := s.c.err(); err != nil {
		return "", err
	}
	return s.SlackAPI.PostEphemeralContext(ctx, ch, user, o...)
}

func (s crashingSlack) UploadFileContext(ctx context.Context, p slack.UploadFileParameters) (*slack.FileSummary, error) {
	if err := s.c.err(); err != nil {
		return nil, err
	}
	return s.SlackAPI.UploadFileContext(ctx, p)
}

// crashingStore is a Store that stops when its crash switch is set, and
// counts the leases it renewed.
type crashingStore struct {
	incident.Store
	c      *crash
	renews *counts
}

// counts counts things by name.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[k]++
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (s crashingStore) Receive(ctx context.Context, ev incident.Event) (bool, error) {
	if err := s.c.err(); err != nil {
		return false, err
	}
	return s.Store.Receive(ctx, ev)
}

func (s crashingStore) Handled(ctx context.Context, key string) error {
	if err := s.c.err(); err != nil {
		return err
	}
	return s.Store.Handled(ctx, key)
}

func (s crashingStore) Put(ctx context.Context, inv incident.Investigation) error {
	if err := s.c.err(); err != nil {
		return err
	}
	return s.Store.Put(ctx, inv)
}

func (s crashingStore) AddNote(ctx context.Context, ch, ts string, n investigate.Note) error {
	if err := s.c.err(); err != nil {
		return err
	}
	return s.Store.AddNote(ctx, ch, ts, n)
}

func (s crashingStore) SetFeedback(ctx context.Context, ch, ts string, f incident.Feedback) error {
	if err := s.c.err(); err != nil {
		return err
	}
	return s.Store.SetFeedback(ctx, ch, ts, f)
}

func (s crashingStore) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := s.c.err(); err != nil {
		return false, err
	}
	return s.Store.Acquire(ctx, key, owner, ttl)
}

func (s crashingStore) Renew(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := s.c.err(); err != nil {
		return false, err
	}
	ok, err := s.Store.Renew(ctx, key, owner, ttl)
	if ok && err == nil {
		s.renews.add(key)
	}
	return ok, err
}

func (s crashingStore) Release(ctx context.Context, key, owner string) error {
	if err := s.c.err(); err != nil {
		return err
	}
	return s.Store.Release(ctx, key, owner)
}

// gate holds investigations mid-run while it is closed: a slow
// investigation, cut off by whatever ends its context, or let through when
// the gate opens.
type gate struct {
	handlers.Investigator
	closed  atomic.Bool
	running chan string  // the alarm of each investigation the gate holds
	runs    atomic.Int64 // the investigations run, held or not

	mu     sync.Mutex
	opened chan struct{}
}

// close holds the investigations that start from now on.
func (g *gate) close() {
	g.mu.Lock()
	g.opened = make(chan struct{})
	g.mu.Unlock()
	g.closed.Store(true)
}

// open lets the held investigations through.
func (g *gate) open() {
	g.closed.Store(false)
	g.mu.Lock()
	if g.opened != nil {
		close(g.opened)
		g.opened = nil
	}
	g.mu.Unlock()
}

func (g *gate) Run(ctx context.Context, req investigate.Request, progress func(investigate.Event)) (investigate.Report, error) {
	g.runs.Add(1)
	g.mu.Lock()
	opened := g.opened
	g.mu.Unlock()
	if g.closed.Load() && opened != nil {
		progress(investigate.Event{Check: "topology", Stage: investigate.StageStarted})
		g.running <- req.Alarm
		select {
		case <-ctx.Done():
			return investigate.Report{}, ctx.Err()
		case <-opened:
		}
	}
	return g.Investigator.Run(ctx, req, progress)
}

// replica is one bot process: its own Slack client and socket, its own
// simulator, a store (shared with others or not) and a crash switch.
type replica struct {
	name  string
	bot   *handlers.Bot
	gate  *gate
	crash *crash
	// renews counts the leases it renewed, by key; metrics is what it
	// measured of itself (its recovery passes).
	renews  *counts
	metrics *recorder
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
}

func startReplica(t *testing.T, name string, srv *slacktest.Server, st incident.Store, cfg handlers.Config, opts handlers.Options) *replica {
	t.Helper()
	f, err := scenario.Load(scenarios.FS, "dynamodb-policy-change.yaml")
	if err != nil {
		t.Fatal(err)
	}
	backend := sim.New(f.Scenario, sim.Options{})
	be := handlers.SourcesBackend(backend.Sources(), investigate.Options{
		Reasoner: llm.NewOffline(),
		Lookback: backend.Now().Sub(f.Scenario.Start()),
		Clock:    backend.Now,
	}, []string{f.Scenario.Alarm.Name})
	r := &replica{name: name, crash: &crash{}, done: make(chan error, 1), renews: &counts{n: map[string]int{}}, metrics: newRecorder()}
	r.gate = &gate{Investigator: be.Investigator, running: make(chan string, 16)}
	be.Investigator = r.gate

	client := slack.New(slacktest.BotToken, slack.OptionAPIURL(srv.URL), slack.OptionAppLevelToken(slacktest.AppToken))
	opts.Clock = backend.Now
	opts.ReplicaID = name
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = 20 * time.Millisecond
	}
	if opts.APIRates == nil {
		// No rate of the bot's own (Slack's would have the tests wait on
		// it); the fake's rate limits, when a test sets them, still apply.
		opts.APIRates = map[string]handlers.APIRate{}
	}
	if opts.Grace == 0 {
		opts.Grace = 10 * time.Second
	}
	opts.Logger = slog.New(slog.NewTextHandler(testWriter(), nil)).With("replica", name)
	opts.Metrics = r.metrics
	r.bot = handlers.New(crashingSlack{client, r.crash}, crashingStore{st, r.crash, r.renews}, handlers.OneBackend(be), cfg, opts)
	sm := r.bot.SocketMode(client, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.bot.Serve(ctx, sm) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends Serve and waits for it.
func (r *replica) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			panic("replica " + r.name + ": Serve did not return")
		}
	})
}

// kill crashes the replica: from now on nothing it does reaches Slack or
// the store, and its socket closes.
func (r *replica) kill() {
	r.crash.on.Store(true)
	r.stop()
}

// botThreadMessages are the bot's messages in a thread (the root left
// out) whose blocks contain text.
func botThreadMessages(srv *slacktest.Server, ch, thread, text string) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range srv.Thread(ch, thread) {
		if m.TS != thread && m.User == slacktest.BotUserID && strings.Contains(m.BlocksText(), text) {
			out = append(out, m)
		}
	}
	return out
}

// callText is the text of a chat.postMessage call: its blocks' texts and
// its fallback.
func callText(c slacktest.Call) string {
	return slacktest.Message{Blocks: json.RawMessage(c.Args["blocks"])}.BlocksText() + "\n" + c.Args["text"]
}

// slash runs /investigate as user and returns its thread, the bot's first
// message (found by the requester it names).
func slash(t *testing.T, srv *slacktest.Server, asker, text string) string {
	t.Helper()
	env := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, asker, text))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatalf("/investigate %s: no ack within 3 s", text)
	}
	var root string
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, c := range srv.Calls("chat.postMessage") {
			// TS is set once the message is posted.
			if c.TS != "" && c.Args["channel"] == channel && c.Args["thread_ts"] == "" && strings.Contains(callText(c), "<@"+asker+">") {
				root = c.TS
				return true
			}
		}
		return false
	}) {
		t.Fatalf("/investigate %s: no first message", text)
	}
	return root
}

// mention asks a question in a thread and returns the answer's text.
func mention(t *testing.T, srv *slacktest.Server, thread, question string) string {
	t.Helper()
	before := len(srv.Thread(channel, thread))
	text := "<@" + slacktest.BotUserID + "> " + question
	ts := srv.Post(slacktest.Message{Channel: channel, User: user, ThreadTS: thread, Text: text})
	srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.Mention(channel, user, text, ts, thread)))
	var got string
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, m := range srv.Thread(channel, thread)[before:] {
			if m.User == slacktest.BotUserID {
				got = m.BlocksText()
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%q: no answer in the thread", question)
	}
	return got
}

// A bot that crashes mid-investigation and comes back on the same store:
// it resumes the investigation by itself, without a click, tells the
// thread so and posts the report there; the resume is counted in the
// store. A follow-up and a button in an earlier thread are answered from
// the stored investigation.
func TestRestartTellsInterruptedThread(t *testing.T) {
	for _, kind := range []string{"bolt", "dynamodb"} {
		t.Run(kind, func(t *testing.T) {
			where := filepath.Join(t.TempDir(), "unstuck.db")
			if kind == "dynamodb" {
				where = newTable(t)
			}
			testRestart(t, kind, where)
		})
	}
}

func testRestart(t *testing.T, kind, where string) {
	ctx := context.Background()
	srv := slacktest.NewServer()
	defer srv.Close()
	// The replicas and their stores keep leases by one clock, which the
	// test advances.
	clk := newManualClock()
	leaseTTL := time.Minute
	opts := handlers.Options{LeaseTTL: leaseTTL, Grace: 200 * time.Millisecond, WallClock: clk}

	stA := openStoreAt(t, kind, where, clk.Now)
	a := startReplica(t, "A", srv, stA, handlers.Config{}, opts)
	if !srv.WaitFor(5*time.Second, srv.Connected) {
		t.Fatal("A did not connect")
	}
	// One investigation finishes before the crash...
	done := slash(t, srv, "U0DONE", "orders-api-5xx")
	if !srv.WaitFor(10*time.Second, func() bool { return len(botThreadMessages(srv, channel, done, "ask me in this thread")) == 1 }) {
		t.Fatal("no report before the crash")
	}
	// ...another is cut off by it.
	a.gate.close()
	cut := slash(t, srv, "U0CUT", "orders-api-5xx")
	select {
	case <-a.gate.running:
	case <-time.After(10 * time.Second):
		t.Fatal("the second investigation did not start")
	}
	a.kill()
	if err := stA.Close(); err != nil {
		t.Fatal(err)
	}
	posts := len(srv.Calls("chat.postMessage"))
	if inv, err := openAndRead(t, kind, where, cut); err != nil || inv.State != incident.StateRunning {
		t.Fatalf("after the crash the store has %+v, %v; want it running", inv.State, err)
	}
	if n := len(botThreadMessages(srv, channel, cut, "restart")); n != 0 {
		t.Fatalf("the crashed bot told the thread itself (%d messages)", n)
	}

	// The bot comes back and, before it takes work, resumes the
	// investigation and tells the thread: on a file at once (the file was
	// the crashed process's alone, so its leases went with it); on
	// DynamoDB once the crashed process's lease has expired. The clock has
	// not moved since A took its leases. Nobody clicks anything.
	if kind == "dynamodb" {
		clk.Advance(leaseTTL)
	}
	stB := openStoreAt(t, kind, where, clk.Now)
	defer stB.Close()
	b := startReplica(t, "B", srv, stB, handlers.Config{}, handlers.Options{LeaseTTL: leaseTTL, WallClock: clk})
	var notice slacktest.Message
	if !srv.WaitFor(10*time.Second, func() bool {
		ms := botThreadMessages(srv, channel, cut, "I restarted while I was investigating")
		if len(ms) > 0 {
			notice = ms[0]
		}
		return len(ms) > 0
	}) {
		t.Fatalf("the interrupted thread was not told: %+v", srv.Thread(channel, cut))
	}
	if !strings.Contains(notice.BlocksText(), "resuming") || strings.Contains(string(notice.Blocks), blockkit.ActionRerun) {
		t.Errorf("the notice does not say the investigation is resumed, or asks for a click: %s", notice.Blocks)
	}
	if !srv.WaitFor(10*time.Second, func() bool { return len(botThreadMessages(srv, channel, cut, "ask me in this thread")) == 1 }) {
		t.Fatalf("the resumed investigation gave no report: %+v", srv.Thread(channel, cut))
	}
	if m, _ := srv.Message(channel, cut); strings.Contains(m.BlocksText(), "Could not investigate") {
		t.Errorf("the status message says it failed: %s", m.BlocksText())
	}
	if !srv.WaitFor(5*time.Second, func() bool {
		inv, err := stB.Thread(ctx, channel, cut)
		return err == nil && inv.State == incident.StateDone
	}) {
		inv, err := stB.Thread(ctx, channel, cut)
		t.Errorf("stored state %q, %v; want done", inv.State, err)
	}
	// The resume is counted in the store, for whoever comes next.
	if inv, err := stB.Thread(ctx, channel, cut); err != nil || inv.Resumes != 1 {
		t.Errorf("stored resumes %d, %v; want 1", inv.Resumes, err)
	}
	if len(srv.Calls("chat.postMessage")) <= posts {
		t.Fatal("no new messages")
	}

	// A follow-up in the finished thread is answered from the store.
	if got := mention(t, srv, done, "what changed?"); !strings.Contains(got, "PutResourcePolicy") {
		t.Errorf("follow-up after the restart: %s", got)
	}
	// A button on the report from before the restart is recorded.
	rep := botThreadMessages(srv, channel, done, "ask me in this thread")[0]
	srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, "U0CAROL", rep.TS, done, blockkit.ActionAccept, done+"/0"))
	if !srv.WaitFor(10*time.Second, func() bool {
		inv, err := stB.Thread(ctx, channel, done)
		return err == nil && len(inv.Feedback) == 1 && inv.Feedback[0].User == "U0CAROL"
	}) {
		t.Error("the verdict on the old report was not recorded")
	}
	b.stop()
	if n := len(botThreadMessages(srv, channel, cut, "I restarted while I was investigating")); n != 1 {
		t.Errorf("the thread was told %d times; want once", n)
	}
	if n := len(botThreadMessages(srv, channel, cut, "ask me in this thread")); n != 1 {
		t.Errorf("the thread has %d reports; want one", n)
	}
}

// openAndRead reads a thread's investigation with a store of its own (the
// file is free once its process stopped).
func openAndRead(t *testing.T, kind, where, thread string) (incident.Investigation, error) {
	st := openStore(t, kind, where)
	defer st.Close()
	return st.Thread(context.Background(), channel, thread)
}

// Two replicas share a store; one crashes mid-investigation; the other,
// which kept running, takes the investigation over once its lease expires
// (not before) and tells its thread once. The replicas and the store keep
// leases by one clock, which the test advances a step at a time: a third
// of the lease's life, when the holder renews it and the other looks for
// interrupted work; each step ends when the replicas have done so.
func TestReplicaTakesOverCrashedReplica(t *testing.T) {
	for _, kind := range []string{"dynamodb", "memory"} {
		t.Run(kind, func(t *testing.T) {
			clk := newManualClock()
			stA, stB := sharedStores(t, kind, clk.Now)
			srv := slacktest.NewServer()
			defer srv.Close()
			const leaseTTL, step = 30 * time.Second, 10 * time.Second
			a := startReplica(t, "A", srv, stA, handlers.Config{}, handlers.Options{LeaseTTL: leaseTTL, Grace: 100 * time.Millisecond, WallClock: clk})
			if !srv.WaitFor(5*time.Second, func() bool { return srv.Open() == 1 }) {
				t.Fatal("A did not connect")
			}
			a.gate.close()
			thread := slash(t, srv, "U0CUT", "orders-api-5xx")
			select {
			case <-a.gate.running:
			case <-time.After(10 * time.Second):
				t.Fatal("the investigation did not start")
			}
			lease := incident.LeaseKey(channel, thread)
			b := startReplica(t, "B", srv, stB, handlers.Config{}, handlers.Options{LeaseTTL: leaseTTL, RecoverEvery: step, WallClock: clk})
			if !srv.WaitFor(5*time.Second, func() bool { return srv.Open() == 2 }) {
				t.Fatal("B did not connect")
			}
			told := func() int {
				return len(botThreadMessages(srv, channel, thread, "I restarted while I was investigating"))
			}
			// advance moves the clock a step and waits for B's recovery
			// pass, and for A's renewal of its lease while A runs.
			advance := func(d time.Duration, renewed bool) {
				t.Helper()
				renews, passes := a.renews.get(lease), b.metrics.recoveryPasses()
				clk.Advance(d)
				if !srv.WaitFor(10*time.Second, func() bool {
					return b.metrics.recoveryPasses() > passes && (!renewed || a.renews.get(lease) > renews)
				}) {
					t.Fatalf("after %s on the clock: B's passes %d (was %d), A's renewals %d (was %d)", d, b.metrics.recoveryPasses(), passes, a.renews.get(lease), renews)
				}
			}
			// B starts while A works: A's renewals keep B away from the
			// investigation across B's passes, for twice the lease's life.
			for range 2 * leaseTTL / step {
				advance(step, true)
				if n := told(); n != 0 {
					t.Fatalf("B took over an investigation A was working on (%d messages)", n)
				}
			}
			// A crashes: its lease, renewed at the clock's now, runs out a
			// lease's life from now. Not before...
			a.kill()
			for range leaseTTL/step - 1 {
				advance(step, false)
				if n := told(); n != 0 {
					t.Fatalf("B took over before A's lease expired (%d messages)", n)
				}
			}
			// ...and then, in the pass after it expired.
			advance(step, false)
			if told() == 0 {
				t.Fatalf("B did not take over: %+v", srv.Thread(channel, thread))
			}
			// Several more of B's passes tell it no more.
			for range 3 {
				advance(step, false)
			}
			if n := told(); n != 1 {
				t.Errorf("the thread was told %d times; want once", n)
			}
		})
	}
}

// Two replicas on one store behind one Slack app whose envelopes go to a
// random connection, some twice: every command is answered exactly once,
// every alarm message handled once, every investigation posted once,
// every question answered once.
func TestTwoReplicas(t *testing.T) {
	for _, kind := range []string{"dynamodb", "memory"} {
		t.Run(kind, func(t *testing.T) {
			stA, stB := sharedStores(t, kind, nil)
			testTwoReplicas(t, stA, stB)
		})
	}
}

func testTwoReplicas(t *testing.T, stA, stB incident.Store) {
	const commands, alarms, questions = 20, 6, 6
	srv := slacktest.NewServerWith(slacktest.Options{Duplicates: 0.4, Seed: 6})
	defer srv.Close()
	opts := handlers.Options{Workers: 2}
	a := startReplica(t, "A", srv, stA, watching, opts)
	b := startReplica(t, "B", srv, stB, watching, opts)
	if !srv.WaitFor(5*time.Second, func() bool { return srv.Open() == 2 }) {
		t.Fatalf("%d connections open; want 2", srv.Open())
	}

	asker := func(i int) string { return fmt.Sprintf("U0ASK%03d", i) }
	for i := range commands {
		srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, asker(i), "orders-api-5xx"))
	}
	var alarmTS []string
	for range alarms {
		ts := srv.Post(slacktest.Message{Channel: alarmsCh, BotID: "B0AWS"})
		srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.BotMessage(alarmsCh, "B0AWS", "AWS Chatbot", "", ts, chatbotAlarm("orders-api-5xx"), nil)))
		alarmTS = append(alarmTS, ts)
	}

	posts := func() []slacktest.Call { return srv.Calls("chat.postMessage") }
	// roots are the first messages of the commands' investigations, by
	// asker; reports the report posts, by thread.
	count := func() (roots map[string][]string, reports, joins map[string]int) {
		roots, reports, joins = map[string][]string{}, map[string]int{}, map[string]int{}
		for _, c := range posts() {
			switch {
			case c.TS == "":
				// Not posted yet.
			case c.Args["thread_ts"] == "" && c.Args["channel"] == channel:
				for i := range commands {
					if strings.Contains(callText(c), "<@"+asker(i)+">") {
						roots[asker(i)] = append(roots[asker(i)], c.TS)
					}
				}
			case strings.Contains(c.Args["blocks"], "ask me in this thread"):
				reports[c.Args["thread_ts"]]++
			case strings.Contains(c.Args["text"], "already investigating"):
				joins[c.Args["thread_ts"]]++
			}
		}
		return roots, reports, joins
	}
	if !srv.WaitFor(60*time.Second, func() bool {
		roots, reports, joins := count()
		if len(roots) < commands {
			return false
		}
		for _, ts := range roots {
			if reports[ts[0]] == 0 {
				return false
			}
		}
		for _, ts := range alarmTS {
			if reports[ts]+joins[ts] == 0 {
				return false
			}
		}
		return true
	}) {
		roots, reports, joins := count()
		t.Fatalf("not every command and alarm was handled: roots %v, reports %v, joins %v", roots, reports, joins)
	}

	// Questions in the threads, each delivered like the rest.
	roots, _, _ := count()
	var threads []string
	for i := range questions {
		thread := roots[asker(i)][0]
		threads = append(threads, thread)
		text := "<@" + slacktest.BotUserID + "> what changed?"
		ts := srv.Post(slacktest.Message{Channel: channel, User: user, ThreadTS: thread, Text: text})
		srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.Mention(channel, user, text, ts, thread)))
	}
	answers := func(thread string) int {
		n := 0
		for _, c := range posts() {
			if c.Args["thread_ts"] == thread && strings.Contains(c.Args["blocks"], "PutResourcePolicy") && !strings.Contains(c.Args["blocks"], "ask me in this thread") {
				n++
			}
		}
		return n
	}
	if !srv.WaitFor(30*time.Second, func() bool {
		for _, th := range threads {
			if answers(th) == 0 {
				return false
			}
		}
		return true
	}) {
		t.Fatal("not every question was answered")
	}

	// Two clicks on Re-run in one thread (two clicks, not one delivered
	// twice) while the first re-run is held: the lease lets one replica
	// run it and the other says so.
	rerun := roots[asker(commands-1)][0]
	a.gate.close()
	b.gate.close()
	for range 2 {
		srv.Send(slacktest.TypeInteractive, slacktest.BlockAction(channel, user, rerun, rerun, blockkit.ActionRerun, rerun+"/-1"))
	}
	busy := func() int {
		n := 0
		for _, m := range srv.Messages(channel) {
			if m.Ephemeral && strings.Contains(m.Text, "already being investigated") {
				n++
			}
		}
		return n
	}
	if !srv.WaitFor(10*time.Second, func() bool { return busy() == 1 }) {
		t.Fatalf("the second Re-run was not refused: %d refusals", busy())
	}
	select {
	case <-a.gate.running:
	case <-b.gate.running:
	case <-time.After(10 * time.Second):
		t.Fatal("no re-run started")
	}
	a.gate.open()
	b.gate.open()
	if !srv.WaitFor(10*time.Second, func() bool {
		_, reports, _ := count()
		return reports[rerun] == 2
	}) {
		t.Fatal("the re-run gave no report")
	}

	// Every envelope is acknowledged; stopping both replicas lets what is
	// in flight finish, so the counts below are final.
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, d := range srv.Deliveries() {
			if !d.Acked {
				return false
			}
		}
		return true
	}) {
		t.Errorf("envelopes not acknowledged: %+v", srv.Deliveries())
	}
	a.stop()
	b.stop()

	byConn, dups := map[int]int{}, 0
	for _, d := range srv.Deliveries() {
		byConn[d.Connection]++
		if d.Duplicate {
			dups++
		}
	}
	t.Logf("envelopes per connection %v, %d duplicates", byConn, dups)
	if len(byConn) < 2 || dups == 0 {
		t.Fatalf("the server did not exercise the replicas: per connection %v, %d duplicates", byConn, dups)
	}

	roots, reports, joins := count()
	for i := range commands {
		if n := len(roots[asker(i)]); n != 1 {
			t.Errorf("command %d answered %d times; want once", i, n)
			continue
		}
		want := 1
		if roots[asker(i)][0] == rerun {
			want = 2 // and the re-run's
		}
		if n := reports[roots[asker(i)][0]]; n != want {
			t.Errorf("command %d: %d reports in its thread; want %d", i, n, want)
		}
	}
	for i, ts := range alarmTS {
		if reports[ts]+joins[ts] != 1 {
			t.Errorf("alarm message %d: %d reports and %d join notes; want one of them, once", i, reports[ts], joins[ts])
		}
	}
	for _, th := range threads {
		if n := answers(th); n != 1 {
			t.Errorf("question in %s answered %d times; want once", th, n)
		}
	}
	if n := busy(); n != 1 {
		t.Errorf("%d refusals of a second Re-run; want 1", n)
	}
	for _, m := range srv.Messages(channel) {
		if m.Ephemeral && !strings.Contains(m.Text, "already being investigated") {
			t.Errorf("unexpected ephemeral message: %s", m.Text)
		}
	}
}
