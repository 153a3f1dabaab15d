package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/store"
	"github.com/unstuck/unstuck/store/storetest"
)

// filledStore is a closed store file with investigations over several
// pages.
func filledStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "unstuck.db")
	s, err := store.OpenBolt(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		inv := incident.Investigation{Channel: "C0OLD", ThreadTS: fmt.Sprintf("%d.0001", 1700000000+i), State: incident.StateDone,
			Started: time.Unix(int64(1700000000+i), 0), Error: strings.Repeat("x", 400)}
		if err := s.Put(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// slackEnvFor points bot serve (and bot doctor) at the fake Slack srv, with
// the tokens it takes.
func slackEnvFor(t *testing.T, srv *slacktest.Server) {
	t.Setenv("SLACK_APP_TOKEN", slacktest.AppToken)
	t.Setenv("SLACK_BOT_TOKEN", slacktest.BotToken)
	t.Setenv("SLACK_API_URL", strings.TrimSuffix(srv.URL, "/"))
}

// bot serve on a damaged file stops with an error that names the file and
// says how to recover; with --store-move-damaged it moves the file aside,
// says so loudly, and serves on an empty store. Today a smashed freelist
// panics at start, every restart, and a truncated file panics too.
func TestServeDamagedStore(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	slackEnvFor(t, srv)
	for _, damage := range []string{storetest.SmashFreelist, storetest.Truncate} {
		t.Run(damage, func(t *testing.T) {
			path := filledStore(t)
			if err := storetest.Damage(path, damage); err != nil {
				t.Fatal(err)
			}
			// In a process of its own: a panic inside bolt.Open leaves the
			// file open and locked in the process, until it exits.
			p := startBot(t, srv, "serve", "--scenario", "dynamodb-policy-change", "--charts=false", "--store", path)
			var err error
			select {
			case err = <-p.exited:
				p.exited <- err
			case <-time.After(20 * time.Second):
				t.Fatalf("bot serve on a damaged file did not stop; stderr:\n%s", p.stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			out := p.stderr.String()
			for _, want := range []string{path, "damaged", "move the file aside", "bbolt check", "bbolt compact", "--store-move-damaged"} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "goroutine ") || srv.Connected() {
				t.Errorf("the bot panicked or went on:\n%s", out)
			}

			var stdout, stderr syncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"serve", "--scenario", "dynamodb-policy-change", "--charts=false", "--grace", "5s", "--store", path, "--store-move-damaged"}, &stdout, &stderr)
			}()
			if !srv.WaitFor(10*time.Second, srv.Connected) {
				t.Fatalf("no connection; stderr:\n%s", stderr.String())
			}
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("damaged files beside the store: %v", aside)
			}
			if err := storetest.Damage(aside[0], storetest.SmashFreelist); err != nil {
				t.Errorf("the file moved aside is not the store file it was: %v", err)
			}
			// The log's redaction takes a temporary directory's name for a
			// token: the file's suffix is what is left to look for.
			if l := stderr.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "EMPTY store") || !strings.Contains(l, strings.TrimPrefix(aside[0], path)) {
				t.Errorf("no warning naming %s:\n%s", aside[0], l)
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("bot serve did not stop")
			}
			srv.WaitFor(5*time.Second, func() bool { return !srv.Connected() })
		})
	}
}

// A file damaged under a serving bot: a user's /investigate is told the
// bot cannot reach its store, and /readyz says the store is unhealthy in a
// few words, the file and the error left to the log. Today every read
// panics inside bbolt, each handler's panic is recovered, the user hears
// nothing, and /readyz resets the connection.
func TestServeStoreDamagedWhileServing(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	slackEnvFor(t, srv)
	path := filepath.Join(t.TempDir(), "unstuck.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--scenario", "dynamodb-policy-change", "--llm", "offline", "--charts=false", "--grace", "5s",
			"--store", path, "--http-addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	if !srv.WaitFor(10*time.Second, srv.Connected) {
		t.Fatalf("no connection; stderr:\n%s", stderr.String())
	}
	var base string
	addrRe := regexp.MustCompile(`addr=(\S+)`)
	if !srv.WaitFor(5*time.Second, func() bool {
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}) {
		t.Fatalf("no metrics address logged; stderr:\n%s", stderr.String())
	}
	if !srv.WaitFor(5*time.Second, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }) {
		t.Fatal("/readyz not ready before the damage")
	}
	// A report first, so that the file holds pages to damage.
	env := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ALICE", "orders-api-5xx"))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack")
	}
	if !srv.WaitFor(15*time.Second, func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS != "" && strings.Contains(string(m.Blocks), "ask me in this thread") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no report; stderr:\n%s", stderr.String())
	}

	if err := storetest.Damage(path, storetest.SmashData); err != nil {
		t.Fatal(err)
	}
	env = srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0BOB", "orders-api-5xx"))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatalf("no ack after the damage; stderr:\n%s", stderr.String())
	}
	told := func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if strings.Contains(blockTexts(m.Blocks)+m.Text, "my store") {
				return true
			}
		}
		return false
	}
	if !srv.WaitFor(10*time.Second, told) {
		t.Errorf("the user was not told the store is unavailable; stderr:\n%s", stderr.String())
	}

	var code int
	var body string
	if !srv.WaitFor(5*time.Second, func() bool { code, body = get(t, base+"/readyz"); return code == http.StatusServiceUnavailable }) {
		t.Fatalf("/readyz after the damage: %d %s", code, body)
	}
	if !strings.Contains(body, `"store":"store damaged"`) {
		t.Errorf("/readyz does not say the store is damaged: %s", body)
	}
	for _, leak := range []string{path, filepath.Base(path), "bbolt", "panic", "page"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz serves %q: %s", leak, body)
		}
	}
	if l := stderr.String(); !strings.Contains(l, "readiness: store failing") || !strings.Contains(l, "bbolt panicked") || !strings.Contains(l, "move the file aside") {
		t.Errorf("the log lacks the store's error:\n%s", l)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("bot serve did not stop")
	}
}
