package alarmmsg

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture reads one of the shared alarm fixtures copied into
// testdata/fixtures.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures reads the fixtures whose names match glob.
func fixtures(t testing.TB, glob string) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "fixtures", glob))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures %s: %v", glob, err)
	}
	var out [][]byte
	for _, n := range names {
		out = append(out, fixture(t, filepath.Base(n)))
	}
	return out
}

func TestRecognizeAlarmFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Message
		ok   bool
	}{
		{"lambdago-sns-cloudwatch-alarm-sns-payload-single-metric.json", Message{Name: "EXAMPLE", State: "ALARM", Account: "123456789012"}, true},
		{"lambdago-sns-cloudwatch-alarm-sns-payload-multiple-metrics.json", Message{Name: "EXAMPLE", State: "ALARM"}, true}, // its account is "EXAMPLE"
		{"awsdocs-eventbridge-state-change-single-metric.json", Message{Name: "ServerCpuTooHigh", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-metric-math.json", Message{Name: "TotalNetworkTrafficTooHigh", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-anomaly-detection.json", Message{Name: "EC2 CPU Utilization Anomaly", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-state-change-composite-suppressor.json", Message{Name: "ServiceAggregatedAlarm", State: "ALARM", Region: "us-east-1", Account: "123456789012"}, true},
		{"powertools-lambda-action-composite.json", Message{Name: "CompositeDemo.Main", State: "ALARM", Region: "us-east-1", Account: "111122223333"}, true},
		{"powertools-lambda-action-metric-math.json", Message{Name: "Test alert", State: "ALARM", Region: "eu-west-1", Account: "123456789012"}, true},
		{"awsdocs-eventbridge-config-change-update-metric-alarm.json", Message{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := string(fixture(t, tt.file))
			// An SNS-to-Slack webhook posts the notification as the
			// message's text, sometimes in a code block.
			for _, text := range []string{raw, "```" + raw + "```"} {
				got, ok := Recognize(text, nil)
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

func TestRecognizeMessages(t *testing.T) {
	link := "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/web-alb-target-5xx"
	attachments := func(v any) []string {
		b, _ := json.Marshal(v)
		return Texts(b)
	}
	tests := []struct {
		name  string
		text  string
		parts []string
		want  Message
		ok    bool
	}{
		{"sns email subject", `ALARM: "web-alb-target-5xx" in EU (Ireland)`, nil,
			Message{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1"}, true},
		{"sns subject, OK", `OK: "web-alb-target-5xx" in US East (N. Virginia)`, nil,
			Message{Name: "web-alb-target-5xx", State: "OK", Region: "us-east-1"}, true},
		{"chatbot attachment", "", attachments([]map[string]any{{
			"fallback": "CloudWatch Alarm | web-alb-target-5xx | eu-west-1 | Account: 123456789012",
			"title":    "ALARM | web-alb-target-5xx | eu-west-1", "title_link": link,
			"text": "Threshold Crossed: 1 out of the last 1 datapoints was greater than the threshold (5.0).", "ts": "",
		}}), Message{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1", Account: "123456789012"}, true},
		{"console link in text", "<" + link + "|web-alb-target-5xx> is in ALARM", nil,
			Message{Name: "web-alb-target-5xx", State: "ALARM", Region: "eu-west-1"}, true},
		{"webhook fields", "", attachments([]map[string]any{{
			"title": "CloudWatch alarm", "color": "danger",
			"fields": []map[string]any{
				{"title": "Alarm Name", "value": "orders-api-5xx", "short": true},
				{"title": "Current State", "value": "ALARM", "short": true},
				{"title": "Region", "value": "us-east-2", "short": true},
				{"title": "Account", "value": "123456789012", "short": true},
			},
		}}), Message{Name: "orders-api-5xx", State: "ALARM", Region: "us-east-2", Account: "123456789012"}, true},
		{"blocks fields", "", attachments([]map[string]any{
			{"type": "header", "text": map[string]any{"type": "plain_text", "text": "CloudWatch alarm"}},
			{"type": "section", "fields": []map[string]any{
				{"type": "mrkdwn", "text": "*Alarm Name*\nlambda-throttles"},
				{"type": "mrkdwn", "text": "*State*\nALARM"},
			}},
		}), Message{Name: "lambda-throttles", State: "ALARM"}, true},
		{"alarm arn", "State changed to OK for arn:aws:cloudwatch:ap-southeast-2:111122223333:alarm:db-cpu", nil,
			Message{Name: "db-cpu", State: "OK", Region: "ap-southeast-2", Account: "111122223333"}, true},
		{"inline fields", "CloudWatch: Alarm Name: queue-age, New State: ALARM", nil,
			Message{Name: "queue-age", State: "ALARM"}, true},
		{"chatter", "the alarm is OK now, deploy went fine", nil, Message{}, false},
		{"deploy bot", "Deploy of orders-api finished: OK", nil, Message{}, false},
		{"config change json", `{"detail-type":"CloudWatch Alarm Configuration Change","detail":{"alarmName":"x"}}`, nil, Message{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Recognize(tt.text, tt.parts)
			got.Reason = ""
			if ok != tt.ok || got != tt.want {
				t.Errorf("RecognizeAlarm = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzRecognize(f *testing.F) {
	for _, b := range fixtures(f, "*alarm*.json") {
		f.Add(string(b), "", "")
		f.Add("", string(b), "")
	}
	for _, b := range fixtures(f, "*eventbridge*.json") {
		f.Add("", "", string(b))
	}
	f.Add(`ALARM: "payments-api-5xx" in EU (Ireland)`, "", "")
	f.Add("CloudWatch Alarm | orders-table-throttles | eu-west-1 | Account: 123456789012", "State: ALARM", "")
	f.Add("", "Alarm Name: *api-latency*\nNew State: ALARM", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/api-latency")
	f.Add("arn:aws:cloudwatch:us-east-1:123456789012:alarm:x is now ALARM", "", "")
	f.Fuzz(func(t *testing.T, text, part1, part2 string) {
		a, ok := Recognize(text, []string{part1, part2})
		if !ok {
			return
		}
		if strings.TrimSpace(a.Name) == "" {
			t.Fatalf("recognized an alarm with no name: %+v", a)
		}
		if !slices.Contains([]string{"", StateAlarm, StateOK, StateData}, a.State) {
			t.Fatalf("state %q", a.State)
		}
		if a.Account != "" && !accountIDRe.MatchString(a.Account) {
			t.Fatalf("account %q", a.Account)
		}
	})
}
