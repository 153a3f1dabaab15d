package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
)

// syncBuffer is a buffer several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bot serve --scenario, against the fake Slack: /investigate gets its
// report in a thread, and the command stops cleanly when its context ends.
func TestServeScenario(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	t.Setenv("SLACK_APP_TOKEN", slacktest.AppToken)
	t.Setenv("SLACK_BOT_TOKEN", slacktest.BotToken)
	t.Setenv("SLACK_API_URL", strings.TrimSuffix(srv.URL, "/"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--scenario", "dynamodb-policy-change", "--grace", "5s", "--charts=false", "--store", filepath.Join(t.TempDir(), "unstuck.db")}, &stdout, &stderr)
	}()
	if !srv.WaitFor(10*time.Second, srv.Connected) {
		t.Fatalf("no connection; stderr:\n%s", stderr.String())
	}
	env := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ALICE", "orders-api-5xx"))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack within 3 s")
	}
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS != "" && strings.Contains(string(m.Blocks), "ask me in this thread") && strings.Contains(string(m.Blocks), "A change the team made to orders-table") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no report naming orders-table; stderr:\n%s", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("channels:\n  C1: {alarms: sometimes}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		app, bot string
		args     []string
		code     int
		stderr   string
	}{
		{"no tokens", "", "", nil, 2, "SLACK_APP_TOKEN"},
		{"bot token as app token", "xoxb-1", "xoxb-2", nil, 2, "app-level token"},
		{"user token as bot token", "xapp-1", "xoxp-2", nil, 2, "bot token"},
		{"bad channels", "xapp-1", "xoxb-2", []string{"--channels", bad}, 1, "alarms \"sometimes\""},
		{"no channels file", "xapp-1", "xoxb-2", []string{"--channels", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"unknown scenario", "xapp-1", "xoxb-2", []string{"--scenario", "nope"}, 1, "no embedded scenario"},
		{"bad workers", "xapp-1", "xoxb-2", []string{"--workers", "0"}, 2, "--workers"},
		{"stray argument", "xapp-1", "xoxb-2", []string{"extra"}, 2, "unexpected argument"},
		{"unknown store scheme", "xapp-1", "xoxb-2", []string{"--store", "redis://x"}, 2, "dynamodb://TABLE"},
		{"bad table name", "xapp-1", "xoxb-2", []string{"--store", "dynamodb://a"}, 2, "table name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLACK_APP_TOKEN", tt.app)
			t.Setenv("SLACK_BOT_TOKEN", tt.bot)
			var stdout, stderr syncBuffer
			code := run(context.Background(), append([]string{"serve"}, tt.args...), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}

func TestLoadChannels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body, wantErr string
	}{
		{"example", string(mustRead(t, "../../slack/channels.example.yaml")), ""},
		{"empty", "", ""},
		{"unknown field", "channels:\n  C1: {alarm: auto}\n", "field alarm not found"},
		{"auto without senders", "channels:\n  C1: {alarms: auto}\n", "needs alarm_senders"},
		{"bad region", "channels:\n  C1: {regions: [mars-1]}\n", "not a region"},
		{"bad account", "channels:\n  C1: {account: '42'}\n", "12-digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadChannels(write(tt.name+".yaml", tt.body))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("loadChannels = %v, want %q", err, tt.wantErr)
			}
		})
	}
	cfg, err := loadChannels("../../slack/channels.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := cfg.Channel("C0123ALARMS"); !ok || ch.Alarms != handlers.AlarmsAuto || len(ch.AlarmSenders) == 0 {
		t.Errorf("example alarms channel = %+v, %v", ch, ok)
	}
	if _, ok := cfg.Channel("C0NOTLISTED"); ok {
		t.Error("the example allows channels it does not list")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
