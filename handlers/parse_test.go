package handlers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/incident"
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

func TestRecognizeAlarmFixtures(t *testing.T) {
	tests := []struct {
		file string
		want AlarmMessage
		ok   bool
	}{
		{"lambdago-sns-cloudwatch-alarm-sns-payload-single-metric.json", AlarmMessage{Name: "EXAMPLE", State: "ALARM", Account: "123456789012"}, true},
		{"lambdago-sns-cloudwatch-alarm-sns-payload-multiple-metrics.json", AlarmMessage{Name: "EXAMPLE", State: "ALARM"}, true}, // its account is "EXAMPLE"
		{"awsdocs-eventbridge-state-change-single-metric.json", AlarmMessage{Name: "ServerCpuTooHigh", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-metric-math.json", AlarmMessage{Name: "TotalNetworkTrafficTooHigh", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-anomaly-detection.json", AlarmMessage{Name: "EC2 CPU Utilization Anomaly", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-composite-suppressor.json", AlarmMessage{Name: "ServiceAggregatedAlarm", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"powertools-lambda-action-composite.json", AlarmMessage{Name: "CompositeDemo.Main", State: "ALARM", Region: "us-east-1", Account: "111122223333"}, true},
		{"powertools-lambda-action-metric-math.json", AlarmMessage{Name: "Test alert", State: "ALARM", Region: "eu-west-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-config-change-update-metric-alarm.json", AlarmMessage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := string(readFile(t, "fixtures", tt.file))
			// An SNS-to-Slack webhook posts the notification as the
			// message's text, sometimes in a code block.
			for _, text := range []string{raw, "```" + raw + "```"} {
				got, ok := RecognizeAlarm(text, nil)
				if ok != tt.ok {
					t.Fatalf("recognised = %v, want %v (%+v)", ok, tt.ok, got)
				}
				if !ok {
					continue
				}
				got.Reason = ""
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func TestRecognizeAlarmMessages(t *testing.T) {
	link := "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/web-alb-target-5xx"
	attachments := func(v any) []string {
		b, _ := json.Marshal(v)
		return textsOf(b)
	}
	tests := []struct {
		name  string
		text  string
		parts []string
		want  AlarmMessage
		ok    bool
	}{
		{"sns email subject", `ALARM: "web-alb-target-5xx" in EU (Ireland)`, nil,
			AlarmMessage{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1"}, true},
		{"sns subject, OK", `OK: "web-alb-target-5xx" in US East (N. Virginia)`, nil,
			AlarmMessage{Name: "web-alb-target-5xx", State: "OK", Region: "us-east-1"}, true},
		{"chatbot attachment", "", attachments([]map[string]any{{
			"fallback": "CloudWatch Alarm | web-alb-target-5xx | eu-west-1 | Account: 123456789012",
			"title":    "ALARM | web-alb-target-5xx | eu-west-1", "title_link": link,
			"text": "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0).", "ts": "",
		}}), AlarmMessage{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1", Account: "123456789012"}, true},
		{"console link in text", "<" + link + "|web-alb-target-5xx> is in ALARM", nil,
			AlarmMessage{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1"}, true},
		{"webhook fields", "", attachments([]map[string]any{{
			"title": "CloudWatch alarm", "color": "danger",
			"fields": []map[string]any{
				{"title": "Alarm Name", "value": "orders-api-5xx", "short": true},
				{"title": "Current State", "value": "ALARM", "short": true},
				{"title": "Region", "value": "us-east-2", "short": true},
				{"title": "Account", "value": "123456789012", "short": true},
			},
		}}), AlarmMessage{Name: "orders-api-5xx", State: "ALARM", Region: "us-east-2", Account: "123456789012"}, true},
		{"blocks fields", "", attachments([]map[string]any{
			{"type": "header", "text": map[string]any{"type": "plain_text", "text": "CloudWatch alarm"}},
			{"type": "section", "fields": []map[string]any{
				{"type": "mrkdwn", "text": "*Alarm Name*\nlambda-throttles"},
				{"type": "mrkdwn", "text": "*State*\nALARM"},
			}},
		}), AlarmMessage{Name: "lambda-throttles", State: "ALARM"}, true},
		{"alarm arn", "State changed to OK for arn:aws:cloudwatch:ap-southeast-2:111122223333:alarm:db-cpu", nil,
			AlarmMessage{Name: "db-cpu", State: "OK", Region: "ap-southeast-2", Account: "111122223333"}, true},
		{"inline fields", "CloudWatch: Alarm Name: queue-age, New State: ALARM", nil,
			AlarmMessage{Name: "queue-age", State: "ALARM"}, true},
		{"chatter", "the alarm is OK now, deploy went fine", nil, AlarmMessage{}, false},
		{"deploy bot", "Deploy of orders-api finished: OK", nil, AlarmMessage{}, false},
		{"config change json", `{"detail-type":"CloudWatch Alarm Configuration Change","detail":{"alarmName":"x"}}`, nil, AlarmMessage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RecognizeAlarm(tt.text, tt.parts)
			got.Reason = ""
			if ok != tt.ok || got != tt.want {
				t.Errorf("RecognizeAlarm = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
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
		{"anything deployed?", Intent{}},
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
		{"is it the database?", Intent{}},
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
	if p.channel() != "C0INCIDENT" || p.messageTS() != "1733234650.000100" || p.threadTS() != "1733234640.000100" || p.Actions[0].ActionID != ActionAccept {
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
