package handlers

import (
	"bytes"
	"encoding/json"
	"flag"
	"github.com/unstuck/unstuck/incident"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

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
		t.Fatalf("%v (run go test ./handlers/ -run %s -update)", err, t.Name())
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
		view   reportView
	}{
		{"report-dynamodb.golden.json", "report-dynamodb.json", reportView{ThreadTS: "1733234640.000100"}},
		{"report-dynamodb-accepted.golden.json", "report-dynamodb.json", reportView{ThreadTS: "1733234640.000100", Feedback: []incident.Feedback{
			{Hypothesis: 0, Cause: string(investigate.CauseOwnChange), Resource: "orders-table", Verdict: incident.VerdictAccepted, User: "U0CAROL", Time: at},
			{Hypothesis: 1, Cause: string(investigate.CauseDependency), Resource: "orders-table", Verdict: incident.VerdictDiscarded, User: "U0DAVE", Time: at},
		}, Joined: []string{"orders-fn-errors"}}},
		{"report-alb.golden.json", "report-alb.json", reportView{ThreadTS: "1733234640.000200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, fallback := reportMessages(loadReport(t, tt.report), tt.view)
			golden(t, tt.name, map[string]any{"text": fallback, "messages": msgs})
		})
	}
}

func TestStatusGolden(t *testing.T) {
	rep := loadReport(t, "report-dynamodb.json")
	steps := map[string]step{
		investigate.CheckScope:   {Stage: investigate.StageFinished, Detail: "7 resources around orders-api"},
		investigate.CheckOnset:   {Stage: investigate.StageFinished, Findings: 1, Detail: "onset at 14:00 UTC"},
		investigate.CheckChanges: {Stage: investigate.StageStarted},
		investigate.CheckTraffic: {Stage: investigate.StageFailed, Detail: "sim metrics: throttled"},
	}
	views := map[string]statusView{
		"running": {Alarm: "orders-api-5xx", Requester: "U0ALICE", State: incident.StateRunning, Steps: steps},
		"queued":  {Alarm: "orders-api-5xx", State: incident.StateQueued},
		"done":    {Alarm: "orders-api-5xx", Requester: "U0ALICE", State: incident.StateDone, Steps: steps, Report: &rep, Elapsed: 1234 * time.Millisecond},
		"failed":  {Alarm: "orders-api-5xx", State: incident.StateFailed, Error: "it took longer than its 5m0s deadline"},
	}
	out := map[string]any{}
	for name, v := range views {
		blocks, fallback := statusMessage(v)
		out[name] = map[string]any{"text": fallback, "blocks": blocks}
	}
	golden(t, "status.golden.json", out)
}

// TestBlockKitLimits renders a report far over Slack's limits and checks
// every message keeps to them.
func TestBlockKitLimits(t *testing.T) {
	rep := loadReport(t, "report-dynamodb.json")
	long := strings.Repeat("a very long log line with many words ", 200)
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
	msgs, fallback := reportMessages(rep, reportView{ThreadTS: "1.2"})
	if len(msgs) < 2 {
		t.Errorf("messages = %d, want the report split", len(msgs))
	}
	if n := len([]rune(fallback)); n > maxFallbackText {
		t.Errorf("fallback has %d characters", n)
	}
	for i, m := range msgs {
		if len(m) > maxBlocks {
			t.Errorf("message %d has %d blocks", i, len(m))
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

func injectionCorpus(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "injection.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
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

// texts collects every text in rendered blocks, with the type of its text
// object ("" for strings outside one).
type textObj struct{ typ, text string }

func texts(t *testing.T, v any) []textObj {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	_ = json.Unmarshal(b, &doc)
	var out []textObj
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				typ, _ := x["type"].(string)
				if typ == "mrkdwn" && x["verbatim"] != true {
					t.Errorf("mrkdwn text without verbatim: %q", s)
				}
				out = append(out, textObj{typ, s})
			}
			for _, e := range x {
				walk(e)
			}
		case string:
		}
	}
	walk(doc)
	return out
}

var (
	// The only angle-bracket forms allowed: links the bot built to an AWS
	// console, and mentions of users Slack itself named.
	allowedAngle = regexp.MustCompile(`^<(https://[a-z0-9-]+\.console\.aws\.amazon\.com/[^|<>\s]*\|[^<>|]*|@U0[A-Z0-9]+)>$`)
	angle        = regexp.MustCompile(`<[^>]*>?`)
)

// harmless checks one rendered text; plain_text is not checked for
// formatting, which it does not have.
func harmless(t *testing.T, where string, s string) {
	t.Helper()
	harmlessText(t, where, s, false)
}

func harmlessText(t *testing.T, where string, s string, plain bool) {
	t.Helper()
	for _, m := range angle.FindAllString(s, -1) {
		if !allowedAngle.MatchString(m) {
			t.Errorf("%s: %q forms a mention or link: %q", where, m, s)
		}
	}
	low := strings.ToLower(s)
	if !plain {
		for _, bad := range []string{"*bold*", "_italic_", "~strike~", "`code`", "```"} {
			if strings.Contains(low, bad) {
				t.Errorf("%s: contains %q: %q", where, bad, s)
			}
		}
	}
	for _, bad := range []string{
		"@channel", "@here", "@everyone", "evil.example.com", "https://evil", "javascript:alert", "mailto:attacker", "mailto:a@",
		"akiaiosfodnn7example", "wjalrxutnfemi", "xoxb-", "hunter2", "miieowibaakcaqea", "eyjhbgcioijiuzi1nij9",
		"\u202e",
	} {
		if strings.Contains(low, bad) {
			t.Errorf("%s: contains %q: %q", where, bad, s)
		}
	}
}

// TestInjectionCorpus renders hostile text in every untrusted field of the
// report, the status message, the answers and the alarm offer, and checks
// that nothing pings, links or formats.
func TestInjectionCorpus(t *testing.T) {
	lines := injectionCorpus(t)
	rep := hostileReport(lines)
	msgs, fallback := reportMessages(rep, reportView{ThreadTS: "1.2", Joined: lines, Feedback: []incident.Feedback{{Cause: lines[0], Resource: lines[0], Verdict: incident.VerdictAccepted, User: "U0CAROL"}}})
	harmless(t, "fallback", fallback)
	for _, tx := range texts(t, msgs) {
		harmlessText(t, "report "+tx.typ, tx.text, tx.typ == "plain_text")
	}
	for _, st := range []incident.State{incident.StateRunning, incident.StateDone, incident.StateFailed, incident.StateQueued} {
		steps := map[string]step{}
		for _, c := range checkOrder {
			steps[c.Name] = step{Stage: investigate.StageFailed, Detail: strings.Join(lines, " ")}
		}
		blocks, fb := statusMessage(statusView{Alarm: strings.Join(lines, " "), Requester: lines[4], State: st, Steps: steps, Report: &rep, Error: strings.Join(lines, " ")})
		harmless(t, "status fallback", fb)
		for _, tx := range texts(t, blocks) {
			harmlessText(t, "status "+string(st), tx.text, tx.typ == "plain_text")
		}
	}
	for _, l := range lines {
		harmless(t, "Escape", Escape(l))
		harmless(t, "EscapeLine", EscapeLine(l))
		harmlessText(t, "PlainText", PlainText(l), true)
		harmless(t, "usage", usageText(&UsageError{l}))
		harmless(t, "not found", notFoundText(l, &investigate.NotFoundError{Name: l, Candidates: []string{l}}))
		harmless(t, "trace", traceLine(investigate.TraceGroup{Caller: l, Callee: l, Instance: l, Exceptions: []investigate.TraceException{{Message: l}}}))
		harmless(t, "scope", scopeAnswer(investigate.Topology{Resources: []investigate.Resource{{ID: l, Type: investigate.ResourceType(l)}}, Relations: []investigate.Relation{{From: l, To: l, Kind: l}}}))
	}
}

func TestEscape(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain text", "plain text"},
		{"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"hi @here", "hi @\u2060here"},
		{"*bold*", "\u2217bold\u2217"},
		{"`x`", "\u02cbx\u02cb"},
		{"~x~", "\u223cx\u223c"},
		{"_x_", "\u02cdx\u02cd"},
		{"orders_table and my_fn_v2", "orders_table and my_fn_v2"},
		{"see example.com", "see example.\u200bcom"},
		{"https://a.example.com/x", "https:\u200b//a.\u200bexample.\u200bcom/x"},
		{"0.35 before, 544 after", "0.35 before, 544 after"},
		{"i-0abc123 at 14:00", "i-0abc123 at 14:00"},
		{"line\nbreak", "line\nbreak"},
		{"key AKIAIOSFODNN7EXAMPLE", "key [REDACTED:aws-access-key-id]"},
		{"password=hunter2 ok", "password=[REDACTED:password] ok"},
		{"https://u:p4ss@h/x", "https:\u200b//u:[REDACTED:password]@h/x"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl here", "jwt [REDACTED:jwt] here"},
		{"bell\a", "bell"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := EscapeLine("a\n\tb  c"), "a b c"; got != want {
		t.Errorf("EscapeLine = %q, want %q", got, want)
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		url, label, want string
	}{
		{"https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/abc", "CloudTrail", "<https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/abc|CloudTrail>"},
		{"https://evil.example.com/", "CloudTrail", "CloudTrail"},
		{"http://us-east-1.console.aws.amazon.com/x", "x", "x"},
		{"https://us-east-1.console.aws.amazon.com/x|<!channel>", "x", "x"},
		{"https://console.aws.amazon.com.evil.example.com/", "x", "x"},
		{"https://user@us-east-1.console.aws.amazon.com/", "x", "x"},
		{"https://us-east-1.console.aws.amazon.com/x", "<!here>", "<https://us-east-1.console.aws.amazon.com/x|&lt;!here&gt;>"},
	}
	for _, tt := range tests {
		if got := link(tt.url, tt.label); got != tt.want {
			t.Errorf("link(%q, %q) = %q, want %q", tt.url, tt.label, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"ab &amp; cd", 6, "ab…"},
		{"x <https://a|b> y", 8, "x…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
