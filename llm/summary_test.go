package llm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
)

func worded(t *testing.T) investigate.Report {
	rep, err := NewOffline().Reason(context.Background(), engineReport(t, scen))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

var threadNotes = []investigate.Note{
	{Time: time.Date(2024, 12, 3, 14, 12, 0, 0, time.UTC), Author: "alice", Text: "rolled back the policy on orders-table with token=abcdef0123456789"},
	{Time: time.Date(2024, 12, 3, 14, 15, 0, 0, time.UTC), Author: "bob", Text: "errors are back to normal"},
}

func TestOfflineSummary(t *testing.T) {
	rep := worded(t)
	got := OfflineSummary(rep, []string{"own-change|orders-table"}, threadNotes, nil)
	t.Logf("\n%s", got)
	for _, want := range []string{
		"Incident summary (draft): orders-api-5xx on orders-api",
		"\nTimeline (UTC)\n", "• 13:59 replaced the resource policy (PutResourcePolicy) on orders-table", "[f2]", "• 14:00 5XXError on orders-api left its normal range",
		"• 14:12 alice in the thread: \"rolled back the policy on orders-table with token=[REDACTED:secret]\"",
		"\nImpact\n", "At least 4 min from the onset",
		"\nRoot cause\n", "• Accepted: A change the team made to orders-table (own-change, 95%), resting on [f2], [f4].",
		"\nActions taken\n", "Revert the policy on orders-table", "(rollback) — proposed by unstuck and accepted",
		"\nPrevention\n", "Ship changes to orders-table through a pipeline",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(got, "abcdef0123456789") {
		t.Error("secret in the summary")
	}
	if again := OfflineSummary(rep, []string{"own-change|orders-table"}, threadNotes, nil); again != got {
		t.Error("not deterministic")
	}
	// Timeline in time order.
	i1, i2 := strings.Index(got, "13:20"), strings.Index(got, "14:15")
	if i1 < 0 || i2 < 0 || i1 > i2 {
		t.Error("timeline out of order")
	}
	// By rank, and nothing accepted.
	if byRank := OfflineSummary(rep, []string{"1"}, nil, nil); !strings.Contains(byRank, "Accepted: A change the team made to orders-table") {
		t.Errorf("accepted by rank:\n%s", byRank)
	}
	none := OfflineSummary(rep, nil, nil, nil)
	if !strings.Contains(none, "Not confirmed yet. Leading hypothesis: A change the team made to orders-table") || !strings.Contains(none, "None recorded. Proposed first action") {
		t.Errorf("nothing accepted:\n%s", none)
	}
}

func TestSummaryWithModel(t *testing.T) {
	rep := worded(t)
	draft := "Timeline (UTC)\n• 13:59 alice changed the policy [f2]\nImpact\n• 5XX from 14:00 [f1]\nRoot cause\n• The policy [f2] [f4]\nActions taken\n• Rolled back at 14:12 (alice)\nPrevention\n• Review policies"
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: draft}))
	defer srv.Close()
	got, err := testModel(t, srv).Summary(context.Background(), rep, []string{"1"}, threadNotes)
	if err != nil || got != draft {
		t.Errorf("got %q, %v", got, err)
	}
	body := string(srv.Requests()[0].Body)
	if strings.Contains(body, "abcdef0123456789") {
		t.Error("secret sent")
	}
	user := srv.Requests()[0].FirstUser()
	if !strings.Contains(user, `"accepted": [`) || !strings.Contains(user, "own-change|orders-table") || !strings.Contains(user, `"draft":`) {
		t.Errorf("prompt lacks the accepted hypotheses or the draft")
	}
}

func TestSummaryFallsBack(t *testing.T) {
	rep := worded(t)
	offline := OfflineSummary(rep, nil, nil, nil)
	for _, c := range []struct {
		name  string
		reply llmtest.Reply
		why   string
	}{
		{"missing sections", llmtest.Reply{Content: "It was the policy. Roll it back."}, "malformed reply"},
		{"unknown finding", llmtest.Reply{Content: "Timeline Impact Root cause [f77] Actions taken Prevention"}, "malformed reply"},
		{"server error", llmtest.Reply{Status: 500, Error: "boom"}, "server error (HTTP 500)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := llmtest.New(llmtest.Sequence(c.reply))
			defer srv.Close()
			got, err := testModel(t, srv, func(cfg *Config) { cfg.Retries = 1 }).Summary(context.Background(), rep, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, offline) || !strings.HasSuffix(got, "(Drafted offline: model failed: "+c.why+".)") {
				t.Errorf("got\n%s", got)
			}
		})
	}
	var m *Model
	if got, err := m.Summary(context.Background(), rep, nil, nil); err != nil || got != offline {
		t.Errorf("nil model: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Summary(ctx, rep, nil, nil); err == nil {
		t.Error("cancelled context: no error")
	}
}
