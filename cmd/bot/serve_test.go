package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	slackEnvFor(t, srv)

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
	if !srv.WaitFor(10*time.Second, func() bool { return strings.Contains(stdout.String(), "serving Slack over socket mode") }) {
		t.Errorf("connected, and stdout does not say it serves: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "no --channels file") {
		t.Errorf("no warning that no channel file limits where the bot works; stderr:\n%s", stderr.String())
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

// serveUntil runs bot serve with args until it exits by itself, or fails
// the test when it has not within a bound: a bot that should stop at start
// and does not is retrying what cannot succeed.
func serveUntil(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), &out, &errb) }()
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatalf("bot serve %v is still running; stderr:\n%s", args, errb.String())
	}
	return code, out.String(), errb.String()
}

// A token Slack refuses stops bot serve at start with what to fix: the bot
// token at auth.test, the app token at apps.connections.open (where the
// bot used to reconnect forever). It never says it serves.
func TestServeRefusedTokens(t *testing.T) {
	tests := []struct {
		name, app, bot string
		want           string
	}{
		{"bot token", slacktest.AppToken, "xoxb-revoked", "slack refused SLACK_BOT_TOKEN (invalid_auth at auth.test): copy the Bot User OAuth Token"},
		{"app token", "xapp-1-revoked", slacktest.BotToken, "slack refused SLACK_APP_TOKEN (invalid_auth at apps.connections.open): generate an app-level token with the connections:write scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := slacktest.NewServer()
			defer srv.Close()
			t.Setenv("SLACK_APP_TOKEN", tt.app)
			t.Setenv("SLACK_BOT_TOKEN", tt.bot)
			t.Setenv("SLACK_API_URL", strings.TrimSuffix(srv.URL, "/"))
			code, stdout, stderr := serveUntil(t, "--scenario", "dynamodb-policy-change", "--store", filepath.Join(t.TempDir(), "unstuck.db"))
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 with %q", code, stderr, tt.want)
			}
			if strings.Contains(stdout, "serving Slack") {
				t.Errorf("stdout says it serves: %q", stdout)
			}
		})
	}
}

// bot serve on AWS (no --scenario) stops at start, before reaching Slack,
// when no region or no credentials can be found; a channel file whose
// every channel names its regions needs no default region.
func TestServeNeedsAWS(t *testing.T) {
	dir := t.TempDir()
	regional := filepath.Join(dir, "channels.yaml")
	if err := os.WriteFile(regional, []byte("channels:\n  C0INCIDENT: {regions: [eu-west-1]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"no region", nil, nil, 1, "no AWS region: set --region, AWS_REGION or a profile's region (AWS_PROFILE), or name --scenario"},
		{"no credentials", map[string]string{"AWS_REGION": "us-east-1"}, nil, 1, "no AWS credentials: set AWS_PROFILE"},
		{"no credentials, region from the channels", nil, []string{"--channels", regional}, 1, "no AWS credentials"},
		{"region and credentials", map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"}, nil, 0, ""},
		{"credentials, region from the channels", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"}, []string{"--channels", regional}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hermeticAWS(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			srv := slacktest.NewServer()
			defer srv.Close()
			slackEnvFor(t, srv)
			args := append([]string{"--store", filepath.Join(t.TempDir(), "unstuck.db"), "--grace", "5s"}, tt.args...)
			if tt.code != 0 {
				code, _, stderr := serveUntil(t, args...)
				if code != tt.code || !strings.Contains(stderr, tt.stderr) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit %d with %q", code, stderr, tt.code, tt.stderr)
				}
				if n := len(srv.Calls("")); n != 0 {
					t.Errorf("%d calls to Slack before AWS was checked", n)
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, append([]string{"serve"}, args...), &stdout, &stderr) }()
			if !srv.WaitFor(10*time.Second, func() bool { return strings.Contains(stdout.String(), "serving Slack over socket mode") }) {
				t.Errorf("not serving; stderr:\n%s", stderr.String())
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
			}
		})
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

// On AWS, /readyz says whether the AWS credentials can be had.
func TestServeReadyzIncludesAWS(t *testing.T) {
	hermeticAWS(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	srv := slacktest.NewServer()
	defer srv.Close()
	slackEnvFor(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--store", filepath.Join(t.TempDir(), "unstuck.db"), "--grace", "5s", "--http-addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	addrRe := regexp.MustCompile(`/readyz" addr=(\S+)`)
	var base string
	if !srv.WaitFor(10*time.Second, func() bool {
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}) {
		t.Fatalf("no metrics address logged; stderr:\n%s", stderr.String())
	}
	var body string
	if !srv.WaitFor(10*time.Second, func() bool {
		var code int
		code, body = get(t, base+"/readyz")
		return code == http.StatusOK
	}) {
		t.Errorf("/readyz not ready: %s", body)
	}
	var status map[string]string
	if err := json.Unmarshal([]byte(body), &status); err != nil || status["aws"] != "ok" || status["slack"] != "ok" || status["store"] != "ok" {
		t.Errorf("/readyz = %s (%v), want aws, slack and store ok", body, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
	}
}

// cached answers from the check's last result until the time to live has
// passed.
func TestCachedCheck(t *testing.T) {
	now := time.Date(2024, 12, 3, 10, 0, 0, 0, time.UTC)
	calls := 0
	fail := errors.New("no credentials")
	results := []error{nil, fail, nil}
	check := cached(time.Minute, func() time.Time { return now }, func(context.Context) error {
		calls++
		return results[calls-1]
	})
	steps := []struct {
		advance   time.Duration
		want      error
		wantCalls int
	}{
		{0, nil, 1},
		{30 * time.Second, nil, 1},
		{30 * time.Second, fail, 2},
		{59 * time.Second, fail, 2},
		{time.Second, nil, 3},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		if got := check(context.Background()); got != st.want || calls != st.wantCalls {
			t.Errorf("step %d: %v after %d calls, want %v after %d", i, got, calls, st.want, st.wantCalls)
		}
	}
}
