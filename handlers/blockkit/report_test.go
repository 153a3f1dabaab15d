package blockkit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/unstuck/unstuck/handlers/mrkdwn/mrkdwntest"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func loadReport(t *testing.T, name string) investigate.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var r investigate.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// golden compares v, as indented JSON, with testdata/name.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./handlers/blockkit/ -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestReportGolden(t *testing.T) {
	at := time.Date(2024, 12, 3, 14, 12, 0, 0, time.UTC)
	tests := []struct {
		name   string
		report string
		view   ReportView
	}{
		{"report-dynamodb.golden.json", "report-dynamodb.json", ReportView{ThreadTS: "1733234640.000100"}},
		{"report-dynamodb-details.golden.json", "report-dynamodb.json", ReportView{ThreadTS: "1733234640.000100", Details: true}},
		{"report-dynamodb-accepted.golden.json", "report-dynamodb.json", ReportView{ThreadTS: "1733234640.000100", Details: true, Feedback: []incident.Feedback{
			{Hypothesis: 0, Cause: investigate.CauseOwnChange, Resource: "orders-table", Verdict: incident.VerdictAccepted, User: "U0CAROL", Time: at},
			{Hypothesis: 1, Cause: investigate.CauseDependency, Resource: "orders-table", Verdict: incident.VerdictDiscarded, User: "U0DAVE", Time: at},
		}, Joined: []string{"orders-fn-errors"}}},
		{"report-alb.golden.json", "report-alb.json", ReportView{ThreadTS: "1733234640.000200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, fallback := Report(loadReport(t, tt.report), tt.view)
			golden(t, tt.name, map[string]any{"text": fallback, "messages": msgs})
		})
	}
}

func TestStatusGolden(t *testing.T) {
	rep := loadReport(t, "report-dynamodb.json")
	steps := map[string]Step{
		investigate.CheckScope:   {Stage: investigate.StageFinished, Detail: "7 resources around orders-api"},
		investigate.CheckOnset:   {Stage: investigate.StageFinished, Findings: 1, Detail: "onset at 14:00 UTC"},
		investigate.CheckChanges: {Stage: investigate.StageStarted},
		investigate.CheckTraffic: {Stage: investigate.StageFailed, Detail: "sim metrics: throttled"},
	}
	views := map[string]StatusView{
		"running": {Alarm: "orders-api-5xx", Requester: "U0ALICE", State: incident.StateRunning, Steps: steps},
		"queued":  {Alarm: "orders-api-5xx", State: incident.StateQueued},
		"done":    {Alarm: "orders-api-5xx", Requester: "U0ALICE", State: incident.StateDone, Steps: steps, Report: &rep, Elapsed: 1234 * time.Millisecond},
		"failed":  {Alarm: "orders-api-5xx", State: incident.StateFailed, Error: "it took longer than its 5m0s deadline"},
	}
	out := map[string]any{}
	for name, v := range views {
		blocks, fallback := Status(v)
		out[name] = map[string]any{"text": fallback, "blocks": blocks}
	}
	golden(t, "status.golden.json", out)
}

// TestBlockKitLimits renders a report far over Slack's limits and checks
// every message keeps to them.
func TestBlockKitLimits(t *testing.T) {
	rep := loadReport(t, "report-dynamodb.json")
	long := strings.Repeat("a very long log line with many words ", 100) // over every text limit
	for i := range 12 {
		rep.Hypotheses = append(rep.Hypotheses, investigate.Hypothesis{
			Cause: investigate.CauseComponent, Resource: "i-" + strings.Repeat("0", i), Confidence: 0.1,
			Title: long, Explanation: long, Evidence: []string{"f1", "f2", "f3", "f4"},
			Actions:    []investigate.Action{{Kind: "restart", Detail: long}},
			Prevention: []string{long, long},
		})
	}
	for i := range 40 {
		rep.Findings = append(rep.Findings, investigate.Finding{ID: "x" + strings.Repeat("1", i%9), Kind: "log", Summary: long})
	}
	msgs, fallback := Report(rep, ReportView{ThreadTS: "1.2", Details: true})
	if len(msgs) < 2 {
		t.Errorf("messages = %d, want the report split", len(msgs))
	}
	if n := len([]rune(fallback)); n > maxFallbackText {
		t.Errorf("fallback has %d characters", n)
	}
	for i, m := range msgs {
		if len(m) > MaxBlocks {
			t.Errorf("message %d has %d blocks", i, len(m))
		}
		if n := MessageText(m); n > MaxMessageText {
			t.Errorf("message %d carries %d characters, over %d", i, n, MaxMessageText)
		}
		blockIDs := map[string]bool{}
		for _, b := range m {
			if id := b.ID(); id != "" {
				if blockIDs[id] {
					t.Errorf("message %d: block_id %q twice", i, id)
				}
				blockIDs[id] = true
			}
			// An action_id is unique within its block.
			if a, ok := b.(*slack.ActionBlock); ok {
				actionIDs := map[string]bool{}
				for _, e := range a.Elements.ElementSet {
					if btn, ok := e.(*slack.ButtonBlockElement); ok {
						if actionIDs[btn.ActionID] {
							t.Errorf("message %d: action_id %q twice in block %q", i, btn.ActionID, a.BlockID)
						}
						actionIDs[btn.ActionID] = true
					}
				}
			}
		}
		for _, b := range m {
			switch b := b.(type) {
			case *slack.SectionBlock:
				if n := len([]rune(b.Text.Text)); n > maxSectionText {
					t.Errorf("message %d: section of %d characters", i, n)
				}
			case *slack.HeaderBlock:
				if n := len([]rune(b.Text.Text)); n > maxHeaderText {
					t.Errorf("message %d: header of %d characters", i, n)
				}
			case *slack.ContextBlock:
				if n := len(b.ContextElements.Elements); n > maxContextElems {
					t.Errorf("message %d: context of %d elements", i, n)
				}
			}
		}
	}
}

// hostileReport puts every line of the corpus into every untrusted field:
// log lines and event fields (finding summaries, resource ids), notes,
// model output (summary, titles, explanations, actions, prevention) and
// source errors.
func hostileReport(lines []string) investigate.Report {
	all := strings.Join(lines, "\n")
	one := strings.Join(lines, " ")
	rep := investigate.Report{
		Scope:    investigate.Scope{Alarm: one, Resource: one, Metric: one, Region: one, Resources: []string{one}},
		Onset:    time.Date(2024, 12, 3, 14, 0, 0, 0, time.UTC),
		Summary:  all,
		Reasoner: one,
	}
	for i, l := range lines {
		id := "f" + string(rune('a'+i%26))
		rep.Findings = append(rep.Findings, investigate.Finding{ID: id, Kind: investigate.FindingKind(l), Resource: l, Summary: l, Link: "https://evil.example.com/" + l})
		rep.Notes = append(rep.Notes, investigate.Note{Author: l, Text: l})
		rep.Unavailable = append(rep.Unavailable, investigate.Unavailable{Source: l, Error: l})
	}
	rep.Findings = append(rep.Findings, investigate.Finding{ID: "<@U1>", Kind: "log", Summary: all, Link: "javascript:alert(1)"})
	for i, l := range lines[:5] {
		rep.Hypotheses = append(rep.Hypotheses, investigate.Hypothesis{
			Cause: investigate.Cause(l), Resource: l, Confidence: 0.5, Title: l, Explanation: all,
			Evidence: []string{"fa", "fb", "<@U1>"}, Actions: []investigate.Action{{Kind: investigate.ActionKind(l), Detail: all}},
			Prevention: []string{l, one},
		})
		_ = i
	}
	return rep
}

// TestInjectionCorpus renders hostile text in every untrusted field of the
// report, the status message, the answers and the alarm offer, and checks
// that nothing pings, links or formats.
func TestInjectionCorpus(t *testing.T) {
	lines := mrkdwntest.Corpus()
	rep := hostileReport(lines)
	msgs, fallback := Report(rep, ReportView{ThreadTS: "1.2", Joined: lines, Feedback: []incident.Feedback{{Cause: investigate.Cause(lines[0]), Resource: lines[0], Verdict: incident.VerdictAccepted, User: "U0CAROL"}}})
	mrkdwntest.Harmless(t, "fallback", fallback)
	for _, tx := range mrkdwntest.Texts(t, msgs) {
		mrkdwntest.HarmlessText(t, "report "+tx.Type, tx.Text, tx.Type == "plain_text")
	}
	for _, st := range []incident.State{incident.StateRunning, incident.StateDone, incident.StateFailed, incident.StateQueued} {
		steps := map[string]Step{}
		for _, c := range checkOrder {
			steps[c.Name] = Step{Stage: investigate.StageFailed, Detail: strings.Join(lines, " ")}
		}
		blocks, fb := Status(StatusView{Alarm: strings.Join(lines, " "), Requester: lines[4], State: st, Steps: steps, Report: &rep, Error: strings.Join(lines, " ")})
		mrkdwntest.Harmless(t, "status fallback", fb)
		for _, tx := range mrkdwntest.Texts(t, blocks) {
			mrkdwntest.HarmlessText(t, "status "+string(st), tx.Text, tx.Type == "plain_text")
		}
	}
}

// A weak top hypothesis (under investigate.ClearCause) is recommended on no
// surface: the channel message, its notification, the report and its
// notification all say that nothing stands out, in the same words, and
// none offers its first action.
func TestWeakLeadIsNotRecommended(t *testing.T) {
	rep := loadReport(t, "report-dynamodb.json")
	rep.Hypotheses = rep.Hypotheses[:1]
	rep.Hypotheses[0].Confidence = 0.07
	want := "Nothing stands out clearly"
	status, statusFallback := Status(StatusView{Alarm: rep.Scope.Alarm, State: incident.StateDone, Report: &rep})
	msgs, fallback := Report(rep, ReportView{ThreadTS: "1.2"})
	surfaces := map[string]string{
		"channel message":      strings.Join(textsOf(status), "\n"),
		"channel notification": statusFallback,
		"report":               strings.Join(textsOf(msgs[0]), "\n"),
		"report notification":  fallback,
	}
	for name, text := range surfaces {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q:\n%s", name, want, text)
		}
		for _, not := range []string{"First action", "most likely", "Most likely", "Roll back", "Revert the policy"} {
			if strings.Contains(text, not) {
				t.Errorf("%s recommends the weak lead (%q):\n%s", name, not, text)
			}
		}
	}
}

// textsOf returns the texts of blocks.
func textsOf(blocks []slack.Block) []string {
	var out []string
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			out = append(out, b.Text.Text)
		case *slack.HeaderBlock:
			out = append(out, b.Text.Text)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					out = append(out, t.Text)
				}
			}
		}
	}
	return out
}

// A report over a window that spans days says the date of its times: the
// window's and each finding's; one within a day keeps the time of day.
func TestReportWindowOverADaySaysDates(t *testing.T) {
	tests := []struct {
		name        string
		start, end  time.Time
		want, avoid []string
	}{
		{"within a day", time.Date(2024, 12, 3, 9, 0, 0, 0, time.UTC), time.Date(2024, 12, 3, 11, 0, 0, 0, time.UTC),
			[]string{"telemetry 09:00–11:00 UTC", "10:31 · metric"}, []string{"2024-12-03 10:31"}},
		{"over a day", time.Date(2024, 12, 1, 11, 0, 0, 0, time.UTC), time.Date(2024, 12, 3, 11, 0, 0, 0, time.UTC),
			[]string{"telemetry 2024-12-01 11:00 – 2024-12-03 11:00 UTC", "2024-12-03 10:31 · metric", "2024-12-02 22:15 · change"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := investigate.Report{
				Scope: investigate.Scope{Alarm: "a", Resource: "r", Start: tt.start, End: tt.end},
				Findings: []investigate.Finding{
					{ID: "f1", Kind: investigate.FindingMetric, Resource: "r", Time: time.Date(2024, 12, 3, 10, 31, 0, 0, time.UTC), Summary: "errors up"},
					{ID: "f2", Kind: investigate.FindingChange, Resource: "r", Time: time.Date(2024, 12, 2, 22, 15, 0, 0, time.UTC), Summary: "a deploy"},
				},
			}
			if tt.name == "within a day" {
				rep.Findings = rep.Findings[:1]
			}
			msgs, _ := Report(rep, ReportView{ThreadTS: "1", Details: true})
			b, err := json.Marshal(msgs)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("report lacks %q:\n%s", w, got)
				}
			}
			for _, a := range tt.avoid {
				if strings.Contains(got, a) {
					t.Errorf("report has %q:\n%s", a, got)
				}
			}
		})
	}
}
