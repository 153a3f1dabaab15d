package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/slacktest"
)

// Secrets the test hands the bot, in its environment and in what Slack
// sends it; none may reach a log line.
const (
	testOpenAIKey  = "sk-test-0bservab1lityKeyThatMustNotLeak"
	testAWSKeyID   = "AKIAIOSFODNN7EXAMPLE"
	testAWSSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testSlackToken = "xoxp-1234567890-0987654321-abcdefABCDEF"
)

// bot serve with --log-format json, --debug (every socket message, payloads
// included, is logged) and --http-addr: every log line is JSON, no token or
// secret reaches one, /healthz and /readyz answer, and /metrics counts the
// investigation and the acknowledgements.
func TestServeObservability(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	slackEnvFor(t, srv)
	t.Setenv("OPENAI_API_KEY", testOpenAIKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testAWSSecret)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--scenario", "dynamodb-policy-change", "--llm", "offline", "--grace", "5s", "--charts=false",
			"--store", filepath.Join(t.TempDir(), "unstuck.db"), "--debug", "--log-format", "json", "--log-level", "debug", "--http-addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	if !srv.WaitFor(10*time.Second, srv.Connected) {
		t.Fatalf("no connection; stderr:\n%s", stderr.String())
	}
	var base string
	addrRe := regexp.MustCompile(`"addr":"([^"]+)"`)
	if !srv.WaitFor(5*time.Second, func() bool {
		m := addrRe.FindStringSubmatch(stderr.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}) {
		t.Fatalf("no metrics address logged; stderr:\n%s", stderr.String())
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if !srv.WaitFor(5*time.Second, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }) {
		_, body := get(t, base+"/readyz")
		t.Errorf("/readyz not ready while connected: %s", body)
	}

	// Secrets in what Slack sends: a command and a message in the channel.
	secretText := "orders-api-5xx aws_secret_access_key=" + testAWSSecret + " " + testAWSKeyID + " " + testSlackToken
	env := srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ALICE", secretText))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack within 3 s")
	}
	env = srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", "C0INCIDENT", "U0ALICE", "orders-api-5xx"))
	if _, ok := srv.WaitAck(env, 3*time.Second); !ok {
		t.Fatal("no ack within 3 s")
	}
	if !srv.WaitFor(10*time.Second, func() bool {
		for _, m := range srv.Messages("C0INCIDENT") {
			if m.ThreadTS != "" && strings.Contains(string(m.Blocks), "ask me in this thread") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no report; stderr:\n%s", stderr.String())
	}
	var metrics string
	if !srv.WaitFor(5*time.Second, func() bool {
		_, metrics = get(t, base+"/metrics")
		// The count, then the duration: wait for both.
		return strings.Contains(metrics, `unstuck_investigations_finished_total{outcome="done"} 1`) &&
			strings.Contains(metrics, `unstuck_investigation_duration_seconds_count{outcome="done"} 1`)
	}) {
		t.Errorf("no finished investigation in /metrics:\n%s", metrics)
	}
	for _, want := range []string{
		"unstuck_investigations_started_total 1",
		`unstuck_investigation_duration_seconds_count{outcome="done"} 1`,
		`unstuck_envelopes_acked_total{result="ok",type="slash_commands"} 2`,
		`unstuck_ack_latency_seconds_count{type="slash_commands"} 2`,
		`unstuck_ack_latency_seconds_bucket{type="slash_commands",le="3"} 2`,
		"# TYPE unstuck_source_errors_total counter",
		"# TYPE unstuck_model_tokens_total counter",
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
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

	logs := stderr.String()
	if !strings.Contains(logs, "socketmode: ") || !strings.Contains(logs, "investigated") {
		t.Errorf("the logs lack socket-mode debug lines or the investigation:\n%s", logs)
	}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("log line %d is not JSON: %s", lines, sc.Text())
		}
	}
	for _, secret := range []string{slacktest.AppToken, slacktest.BotToken, testOpenAIKey, testAWSKeyID, testAWSSecret, testSlackToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("a log line carries %q", secret)
		}
	}
	// The secrets were there to leak: the debug lines carry the payloads.
	for _, tag := range []string{"[REDACTED:aws-access-key-id]", "[REDACTED:slack-token]", "[REDACTED:secret]"} {
		if !strings.Contains(logs, tag) {
			t.Errorf("no %s in the logs: was the payload with secrets logged?", tag)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeObservabilityFlags(t *testing.T) {
	t.Setenv("SLACK_APP_TOKEN", slacktest.AppToken)
	t.Setenv("SLACK_BOT_TOKEN", slacktest.BotToken)
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}} {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), append([]string{"serve", "--llm", "offline"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr:\n%s", args, code, stderr.String())
		}
	}
}
