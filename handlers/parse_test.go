package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

func readFile(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCommand(t *testing.T) {
	now := time.Date(2024, 12, 3, 14, 4, 0, 0, time.UTC)
	tests := []struct {
		text    string
		want    Command
		wantErr string
	}{
		{"orders-api-5xx", Command{Target: "orders-api-5xx"}, ""},
		{"  orders-api-5xx  ", Command{Target: "orders-api-5xx"}, ""},
		{"help", Command{Help: true}, ""},
		{"--help", Command{Help: true}, ""},
		{"i-0abc123 --since 2h", Command{Target: "i-0abc123", Since: 2 * time.Hour}, ""},
		{"--since=30m orders-table", Command{Target: "orders-table", Since: 30 * time.Minute}, ""},
		{"orders-table --since 1d", Command{Target: "orders-table", Since: 24 * time.Hour}, ""},
		{"orders-table --at 10:32", Command{Target: "orders-table", At: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)}, ""},
		{"orders-table --at 23:10", Command{Target: "orders-table", At: time.Date(2024, 12, 2, 23, 10, 0, 0, time.UTC)}, ""},
		{"orders-table --at 2024-12-03T10:32Z", Command{Target: "orders-table", At: time.Date(2024, 12, 3, 10, 32, 0, 0, time.UTC)}, ""},
		{`orders-table --at "2024-12-02 10:32"`, Command{Target: "orders-table", At: time.Date(2024, 12, 2, 10, 32, 0, 0, time.UTC)}, ""},
		{`"my alarm with spaces" --region eu-west-1`, Command{Target: "my alarm with spaces", Region: "eu-west-1"}, ""},
		{"\u201cmy alarm\u201d", Command{Target: "my alarm"}, ""},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/orders-table", Command{Target: "arn:aws:dynamodb:us-east-1:123456789012:table/orders-table"}, ""},
		{"<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/web%20alarm|link>", Command{Target: "web alarm", Region: "eu-west-1"}, ""},
		{"", Command{}, "Which alarm"},
		{"--since 2h", Command{}, "Which alarm"},
		{"a b", Command{}, "One alarm at a time"},
		{"a --since", Command{}, "needs a value"},
		{"a --since 2", Command{}, "--since"},
		{"a --since 1m", Command{}, "--since"},
		{"a --since 30d", Command{}, "--since"},
		{"a --at 25:00", Command{}, "--at"},
		{"a --at 2030-01-01T00:00Z", Command{}, "future"},
		{`a --at "2024-12-03 14:30"`, Command{}, "future"},
		{"a --region mars", Command{}, "not a region"},
		{"a --force", Command{}, "I don't know --force"},
		{`"unclosed`, Command{}, "not closed"},
		{"a&lt;b", Command{}, "does not look like"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text, now)
		if tt.wantErr != "" {
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tt.wantErr) {
				t.Errorf("ParseCommand(%q) error = %v, want one with %q", tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.text, got, err, tt.want)
		}
	}
}

func TestParseIntent(t *testing.T) {
	tests := []struct {
		q    string
		want Intent
	}{
		{"what changed?", Intent{Kind: IntentChanges}},
		{"What changed on orders-table?", Intent{Kind: IntentChanges, Target: "orders-table"}},
		{"what has changed in payments", Intent{Kind: IntentChanges, Target: "payments"}},
		{"anything deployed?", Intent{Kind: IntentChanges}},
		{"changes i-0abc", Intent{Kind: IntentChanges, Target: "i-0abc"}},
		{"timeline", Intent{Kind: IntentChanges}},
		{"errors on i-0abc?", Intent{Kind: IntentErrors, Target: "i-0abc"}},
		{"what are the errors from orders", Intent{Kind: IntentErrors, Target: "orders"}},
		{"logs orders-fn", Intent{Kind: IntentErrors, Target: "orders-fn"}},
		{"check payments", Intent{Kind: IntentCheck, Target: "payments"}},
		{"how is orders-table doing", Intent{Kind: IntentCheck, Target: "orders-table"}},
		{"metrics for web-alb", Intent{Kind: IntentCheck, Target: "web-alb"}},
		{"traces to orders-table", Intent{Kind: IntentTraces, Target: "orders-table"}},
		{"resources", Intent{Kind: IntentScope}},
		{"summary", Intent{Kind: IntentSummary}},
		{"postmortem", Intent{Kind: IntentPostmortem}},
		{"draft a post-mortem", Intent{Kind: IntentPostmortem}},
		{"incident summary?", Intent{Kind: IntentPostmortem}},
		{"write-up", Intent{Kind: IntentPostmortem}},
		{"rerun", Intent{Kind: IntentRerun}},
		{"re-run please", Intent{Kind: IntentRerun}},
		{"notes", Intent{Kind: IntentNotes}},
		{"help", Intent{Kind: IntentHelpKind}},
		{"is it the database?", Intent{Kind: IntentAbout, Target: "database"}},
	}
	for _, tt := range tests {
		if got := ParseIntent(tt.q); got != tt.want {
			t.Errorf("ParseIntent(%q) = %+v, want %+v", tt.q, got, tt.want)
		}
	}
}

// The Slack payload samples parse with the bot's own types, including the
// block action that slack-go's types reject.
func TestPayloadFixtures(t *testing.T) {
	var cmd slashCommand
	if err := json.Unmarshal(readFile(t, "fixtures", "javasdk-sample-SlashCommandPayload.json"), &cmd); err != nil {
		t.Fatal(err)
	}
	b := New(nil, incident.NewMemory(0), nil, Config{}, Options{})
	ack, j := b.routeCommand(readFile(t, "fixtures", "javasdk-sample-SlashCommandPayload.json"))
	if m, _ := ack.(map[string]any); m["response_type"] != "ephemeral" || j.run != nil {
		t.Errorf("empty command: ack %v, work %v", ack, j.run != nil)
	}

	for _, f := range []string{"fixtures/javasdk-sample-BlockActionPayload.json", "variant-block-action.json"} {
		var p blockActions
		if err := json.Unmarshal(readFile(t, f), &p); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	var p blockActions
	_ = json.Unmarshal(readFile(t, "variant-block-action.json"), &p)
	if p.channel() != "C0INCIDENT" || p.messageTS() != "1733234650.000100" || p.threadTS() != "1733234640.000100" || p.Actions[0].ActionID != blockkit.ActionAccept {
		t.Errorf("block action = %+v", p)
	}
	if j := b.routeInteraction(readFile(t, "variant-block-action.json")); j.run == nil {
		t.Error("the block action starts no work")
	}
	if j := b.routeInteraction(readFile(t, "fixtures", "javasdk-sample-BlockActionPayload.json")); j.run != nil {
		t.Error("a block action of no type starts work")
	}

	for _, f := range []string{"fixtures/javasdk-sample-AppMentionPayload.json", "fixtures/javasdk-sample-MessageRepliedPayload.json", "variant-app-mention.json"} {
		var cb eventCallback
		var m message
		if err := json.Unmarshal(readFile(t, f), &cb); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if err := json.Unmarshal(cb.Event, &m); err != nil {
			t.Errorf("%s event: %v", f, err)
		}
	}
	if j := b.routeEvent(readFile(t, "variant-app-mention.json")); j.run == nil {
		t.Error("the mention starts no work")
	}
	if j := b.routeEvent(readFile(t, "fixtures", "javasdk-sample-MessageRepliedPayload.json")); j.run != nil {
		t.Error("a message_replied event starts work")
	}
}

// An alarm or resource not found says where it was looked for, as far as
// the source knows.
func TestNotFoundTextSaysWhere(t *testing.T) {
	tests := []struct {
		nf   investigate.NotFoundError
		want string
	}{
		{investigate.NotFoundError{Kind: "alarm", Name: "web-5xx", Region: "eu-west-1", Account: "123456789012", Candidates: []string{"web-5xx-alb"}},
			"I can't find an alarm or resource named *web-5xx* in eu-west-1 (account 123456789012). The closest I know: `web-5xx-alb`."},
		{investigate.NotFoundError{Kind: "alarm", Name: "web-5xx", Region: "eu-west-1"}, "I can't find an alarm or resource named *web-5xx* in eu-west-1."},
		{investigate.NotFoundError{Kind: "alarm", Name: "web-5xx"}, "I can't find an alarm or resource named *web-5xx*."},
	}
	for _, tt := range tests {
		nf := tt.nf
		if got := notFoundText(nf.Name, fmt.Errorf("find: %w", &nf)); got != tt.want {
			t.Errorf("notFoundText = %q, want %q", got, tt.want)
		}
	}
}
