package handlers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"
	"github.com/unstuck/unstuck/handlers/alarmmsg"
	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/investigate"
)

// Fuzz targets for every parser of what comes from outside: slash command
// arguments, alarm messages, follow-up questions, Slack's payloads, and the
// escaping that untrusted text goes through on its way back to Slack. Run
// one with
//
//	go test -run '^$' -fuzz FuzzParseCommand -fuzztime 60s -fuzzminimizetime 3s ./handlers/
//
// (-fuzzminimizetime: the default minimises each new input for up to 60s,
// which on the multi-kilobyte payload seeds stalls a short run.) The
// corpus and any crasher are kept in testdata/fuzz/ and run with go test.

// fixtures returns the bytes of the shared fixtures copied into
// testdata/fixtures whose names match glob.
func fixtures(f *testing.F, glob string) [][]byte {
	names, err := filepath.Glob(filepath.Join("testdata", "fixtures", glob))
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

var fuzzNow = time.Date(2024, 12, 3, 14, 30, 0, 0, time.UTC)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"", "help", "--help", "payments-api-5xx", `"orders table errors" --since 2h`,
		"orders-table --since=30m --at 10:32 --region eu-west-1",
		"<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/a%20b|a b>",
		"arn:aws:lambda:us-east-1:123456789012:function:pay --at 2024-12-03T10:32Z",
		"i-0abc --since 8d", "a b", "'unterminated", "--since", "&lt;@U1&gt;", "x --region nowhere",
	} {
		f.Add(s)
	}
	var slash struct {
		Text string `json:"text"`
	}
	for _, b := range fixtures(f, "*SlashCommand*.json") {
		if json.Unmarshal(b, &slash) == nil {
			f.Add(slash.Text)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text, fuzzNow)
		if err != nil {
			var ue *UsageError
			if !asUsage(err, &ue) || ue.Msg == "" {
				t.Fatalf("error %v (%T) is not a UsageError with a message", err, err)
			}
			return
		}
		if c.Help {
			return
		}
		if c.Target == "" || !alarmmsg.ValidName(c.Target) {
			t.Fatalf("accepted target %q", c.Target)
		}
		if c.Since != 0 && (c.Since < minSince || c.Since > maxSince) {
			t.Fatalf("since %v out of range", c.Since)
		}
		if c.Region != "" && !investigate.ValidRegion(c.Region) {
			t.Fatalf("region %q", c.Region)
		}
	})
}

func asUsage(err error, ue **UsageError) bool {
	u, ok := err.(*UsageError)
	*ue = u
	return ok
}

var intentKinds = IntentKinds

func FuzzParseIntent(f *testing.F) {
	for _, s := range []string{"what changed?", "what changed on orders-table?", "errors on i-0abc", "check payments", "traces orders-table",
		"resources", "summary", "postmortem", "draft a post-mortem", "rerun", "notes", "help", "how is it?", "the cache looks cold", ":, ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		it := ParseIntent(q)
		if !slices.Contains(intentKinds, it.Kind) {
			t.Fatalf("kind %q", it.Kind)
		}
		if it.Kind == IntentUnknown && it.Target != "" {
			t.Fatalf("unknown intent with target %q", it.Target)
		}
		if strings.ContainsFunc(it.Target, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }) {
			t.Fatalf("target %q has spaces", it.Target)
		}
		if it.Target != "" && !strings.Contains(q, it.Target) {
			t.Fatalf("target %q is not in the question", it.Target)
		}
	})
}

// FuzzPayloads feeds whole socket-mode messages through the bot's own
// parsing and routing (no I/O happens there): the envelope, then the slash
// command, event callback or block_actions payload it carries.
func FuzzPayloads(f *testing.F) {
	add := func(typ string, payload []byte) {
		env, _ := json.Marshal(envelope{EnvelopeID: "e1", Type: typ, Payload: payload})
		f.Add(env)
	}
	for _, b := range fixtures(f, "javasdk-sample-*Payload.json") {
		for _, typ := range []string{socketmode.RequestTypeSlashCommands, socketmode.RequestTypeEventsAPI, socketmode.RequestTypeInteractive} {
			add(typ, b)
		}
	}
	for _, n := range []string{"variant-app-mention.json", "variant-block-action.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		add(socketmode.RequestTypeEventsAPI, b)
		add(socketmode.RequestTypeInteractive, b)
	}
	add(socketmode.RequestTypeSlashCommands, []byte(`{"command":"/investigate","text":"payments-api-5xx --since 1h","channel_id":"C1","user_id":"U1","trigger_id":"T1"}`))
	add(socketmode.RequestTypeEventsAPI, []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message","bot_id":"B1","channel":"C1","ts":"1.2","text":"ALARM: \"x\" in EU (Ireland)","attachments":[{"text":"State: ALARM"}],"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Alarm Name: x"}}]}}`))
	f.Add([]byte(`{"envelope_id":"x","type":"events_api","payload":null}`))

	cfg := Config{Channels: map[string]Channel{"*": {Alarms: AlarmsAuto, AlarmSenders: []string{"*"}}}}
	b := New(nil, nil, nil, cfg, Options{Clock: func() time.Time { return fuzzNow }})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var env envelope
		if json.Unmarshal(raw, &env) != nil {
			return
		}
		ack, j := b.route(env)
		if env.Type == socketmode.RequestTypeSlashCommands && (ack == nil) == (j.run == nil) {
			t.Fatalf("a slash command gets either an answer in its ack or work, not both or neither (ack %v)", ack)
		}
		if env.Type != socketmode.RequestTypeSlashCommands && ack != nil {
			t.Fatalf("ack payload %v for %s", ack, env.Type)
		}
		// Work is kept, and its deliveries told apart, by its key: every
		// piece of work has one, the same on every delivery.
		if j.run != nil && j.key == "" {
			t.Fatal("work without an event key")
		}
		if _, again := b.route(env); again.key != j.key {
			t.Fatalf("event key %q, then %q for the same envelope", j.key, again.key)
		}
		// What routeEvent reads of a message.
		var cb eventCallback
		var m message
		if json.Unmarshal(env.Payload, &cb) == nil && json.Unmarshal(cb.Event, &m) == nil {
			if a, ok := alarmmsg.Recognize(m.Text, m.parts()); ok && a.Name == "" {
				t.Fatal("alarm with no name")
			}
		}
		var p blockActions
		if json.Unmarshal(env.Payload, &p) == nil && len(p.Actions) > 0 {
			if ts, _, err := blockkit.ParseButtonValue(p.Actions[0].Value); err == nil && ts == "" {
				t.Fatal("button value with no thread")
			}
			_ = p.threadTS()
		}
	})
}
