package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/store"
	"github.com/unstuck/unstuck/store/storetest"
)

// botArgsEnv makes the test binary run as `bot` with these arguments
// (separated by newlines): a child process a test can kill.
const botArgsEnv = "UNSTUCK_TEST_BOT_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(botArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\n"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// botProcess is `bot ARGS...` in a process of its own, talking to srv.
type botProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

func startBot(t *testing.T, srv *slacktest.Server, args ...string) *botProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		botArgsEnv+"="+strings.Join(args, "\n"),
		"SLACK_APP_TOKEN="+slacktest.AppToken,
		"SLACK_BOT_TOKEN="+slacktest.BotToken,
		"SLACK_API_URL="+srv.URL,
	)
	p := &botProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill ends the process with SIGKILL, as a crash (or the OOM killer) would:
// nothing of it runs after.
func (p *botProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.exited <- nil // for a second kill
}

// investigateAs sends /investigate as asker and returns the thread: the bot's
// first message, which names the asker.
func investigateAs(t *testing.T, srv *slacktest.Server, p *botProcess, asker string) string {
	t.Helper()
	env := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", asker, "orders-api-5xx"))
	if _, ok := srv.WaitAck(env, 5*time.Second); !ok {
		t.Fatalf("no ack; stderr:\n%s", p.stderr.String())
	}
	var root string
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS == "" && m.User == slacktest.BotUserID && strings.Contains(blockTexts(m.Blocks), "<@"+asker+">") {
				root = m.TS
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no first message; stderr:\n%s", p.stderr.String())
	}
	return root
}

// blockTexts is the text of a message's blocks, JSON-unescaped.
func blockTexts(raw json.RawMessage) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	var sb strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case string:
			sb.WriteString(x)
			sb.WriteString("\n")
		}
	}
	walk(v)
	return sb.String()
}

// threadHas waits for a bot message in a thread (the root left out) whose
// blocks contain text, and returns how many there are.
func threadHas(srv *slacktest.Server, thread, text string, timeout time.Duration) int {
	n := 0
	srv.WaitFor(timeout, func() bool {
		n = 0
		for _, m := range srv.Thread("C0INCIDENT", thread) {
			if m.TS != thread && m.User == slacktest.BotUserID && strings.Contains(blockTexts(m.Blocks), text) {
				n++
			}
		}
		return n > 0
	})
	return n
}

// bot serve --store PATH, killed with SIGKILL mid-investigation and started
// again on the same file: the investigation it was working on is resumed
// and its thread told (and, cut off by a kill again, not run a third
// time), a command
// acknowledged just before a kill is answered, and a follow-up in an
// earlier thread is answered from the file.
func TestServeStoreSurvivesKill(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "state", "unstuck.db")
	serve := func(extra ...string) *botProcess {
		args := append([]string{"serve", "--scenario", "dynamodb-policy-change", "--charts=false", "--grace", "5s", "--store", path}, extra...)
		p := startBot(t, srv, args...)
		if !srv.WaitFor(20*time.Second, srv.Connected) {
			t.Fatalf("no connection; stderr:\n%s", p.stderr.String())
		}
		return p
	}

	first := serve()
	done := investigateAs(t, srv, first, "U0DONE")
	if threadHas(srv, done, "ask me in this thread", 15*time.Second) != 1 {
		t.Fatalf("no report; stderr:\n%s", first.stderr.String())
	}
	first.kill()
	if !srv.WaitFor(10*time.Second, func() bool { return !srv.Connected() }) {
		t.Fatal("the killed bot's socket stayed open")
	}

	// A slow one, killed while it reads the logs.
	slow := serve("--sim-logs-latency", "10m")
	cut := investigateAs(t, srv, slow, "U0CUT")
	if !srv.WaitFor(15*time.Second, func() bool {
		m, _ := srv.Message("C0INCIDENT", cut)
		return len(m.Updates) > 0 && strings.Contains(blockTexts(m.Blocks), "steps done")
	}) {
		t.Fatalf("the investigation did not start; stderr:\n%s", slow.stderr.String())
	}
	slow.kill()
	if !srv.WaitFor(10*time.Second, func() bool { return !srv.Connected() }) {
		t.Fatal("the killed bot's socket stayed open")
	}
	if n := threadHas(srv, cut, "restarted", 0); n != 0 {
		t.Fatal("the thread was told before the bot came back")
	}

	// One that acknowledges a command and is killed before it has even
	// found the alarm: Slack will not deliver the command again, so the
	// next bot must find it in the file. The ack is the moment: the bot
	// keeps an event before it acknowledges it, and with every simulated
	// call taking 10 minutes it finds no alarm before the kill, whenever
	// after the ack the kill comes.
	stuck := serve("--sim-latency", "10m")
	acked := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ACKED", "orders-api-5xx"))
	if _, ok := srv.WaitAck(acked, 5*time.Second); !ok {
		t.Fatalf("no ack; stderr:\n%s", stuck.stderr.String())
	}
	stuck.kill()
	if !srv.WaitFor(10*time.Second, func() bool { return !srv.Connected() }) {
		t.Fatal("the killed bot's socket stayed open")
	}
	answers := func() []string {
		var roots []string
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS == "" && m.User == slacktest.BotUserID && strings.Contains(blockTexts(m.Blocks), "<@U0ACKED>") {
				roots = append(roots, m.TS)
			}
		}
		return roots
	}
	if n := len(answers()); n != 0 {
		t.Fatalf("the stuck bot answered %d times", n)
	}

	again := serve()
	if !srv.WaitFor(15*time.Second, func() bool { return len(answers()) > 0 }) {
		t.Fatalf("the command acknowledged before the kill was not answered; stderr:\n%s", again.stderr.String())
	}
	if threadHas(srv, answers()[0], "ask me in this thread", 15*time.Second) != 1 {
		t.Fatalf("no report for the command acknowledged before the kill; stderr:\n%s", again.stderr.String())
	}
	if n := len(answers()); n != 1 {
		t.Fatalf("the command acknowledged before the kill was answered %d times", n)
	}
	// The stuck bot resumed the interrupted investigation as it started,
	// and was killed in the middle of it too: the next one does not run it
	// a third time, and says why, with a Re-run button.
	if threadHas(srv, cut, "so I'm resuming it", 0) != 1 {
		t.Errorf("the thread was not told once it is resumed: %+v", srv.Thread("C0INCIDENT", cut))
	}
	if threadHas(srv, cut, "after I had already resumed it once", 15*time.Second) != 1 {
		t.Fatalf("the thread cut off twice was not told once why it is not retried: %+v\nstderr:\n%s", srv.Thread("C0INCIDENT", cut), again.stderr.String())
	}
	if threadHas(srv, cut, "ask me in this thread", 0) != 0 {
		t.Errorf("the investigation cut off twice was run a third time")
	}
	if m, _ := srv.Message("C0INCIDENT", cut); !strings.Contains(blockTexts(m.Blocks), "Could not investigate") {
		t.Errorf("the status message still says: %s", blockTexts(m.Blocks))
	}
	q := "<@" + slacktest.BotUserID + "> what changed?"
	ts := srv.Post(slacktest.Message{Channel: "C0INCIDENT", User: "U0ALICE", ThreadTS: done, Text: q})
	srv.Send(slacktest.TypeEvents, slacktest.EventCallback("", slacktest.Mention("C0INCIDENT", "U0ALICE", q, ts, done)))
	if !srv.WaitFor(15*time.Second, func() bool {
		for _, m := range srv.Thread("C0INCIDENT", done) {
			if m.User == slacktest.BotUserID && !strings.Contains(blockTexts(m.Blocks), "ask me in this thread") && strings.Contains(blockTexts(m.Blocks), "PutResourcePolicy") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the follow-up after the restart was not answered; stderr:\n%s", again.stderr.String())
	}
	// SIGTERM: a clean stop, and the file is closed.
	_ = again.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-again.exited:
		again.exited <- err
		if err != nil {
			t.Errorf("bot serve exited with %v; stderr:\n%s", err, again.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("bot serve did not stop on SIGTERM")
	}
}

// bot serve --store dynamodb://TABLE on dynalite: with --store-create the
// table is created and the bot serves; without it a missing table is an
// error that says how to make it.
func TestServeStoreDynamoDB(t *testing.T) {
	dyn, err := storetest.Start()
	if err != nil {
		if storetest.Required() {
			t.Fatalf("no DynamoDB-compatible server (CI is set, so this must run): %v", err)
		}
		t.Skipf("no DynamoDB-compatible server: %v", err)
	}
	defer dyn.Stop()
	env, err := dyn.Env()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	srv := slacktest.NewServer()
	defer srv.Close()
	slackEnvFor(t, srv)
	table := fmt.Sprintf("serve-%d", time.Now().UnixNano())

	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"serve", "--scenario", "dynamodb-policy-change", "--store", "dynamodb://" + table}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "does not exist") {
		t.Fatalf("a missing table: exit %d, stderr %s", code, stderr.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--scenario", "dynamodb-policy-change", "--charts=false", "--grace", "5s", "--store", "dynamodb://" + table, "--store-create"}, &stdout, &stderr)
	}()
	if !srv.WaitFor(20*time.Second, srv.Connected) {
		t.Fatalf("no connection; stderr:\n%s", stderr.String())
	}
	env2 := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ALICE", "orders-api-5xx"))
	if _, ok := srv.WaitAck(env2, 5*time.Second); !ok {
		t.Fatal("no ack")
	}
	var thread string
	if !srv.WaitFor(15*time.Second, func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS != "" && strings.Contains(string(m.Blocks), "ask me in this thread") {
				thread = m.ThreadTS
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no report; stderr:\n%s", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The investigation is in the table.
	st, err := store.Open(context.Background(), "dynamodb://"+table, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := st.Thread(context.Background(), "C0INCIDENT", thread)
	if err != nil || inv.State != incident.StateDone || inv.Report == nil {
		t.Fatalf("stored: %+v, %v", inv.State, err)
	}
}
