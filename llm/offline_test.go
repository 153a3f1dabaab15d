package llm

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

func report(hyps ...investigate.Hypothesis) investigate.Report {
	return investigate.Report{
		Scope: investigate.Scope{Alarm: "web-5xx", Resource: "web-alb"},
		Onset: time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC),
		Findings: []investigate.Finding{
			{ID: "f1", Kind: "onset", Summary: "5XX left its normal range at 10:30 UTC"},
			{ID: "f2", Kind: "trace", Summary: "100% of requests served by i-3 fail."},
			{ID: "f3", Kind: "log", Summary: "i-3 writes 800 error lines/min"},
		},
		Hypotheses: hyps,
	}
}

func TestOfflineWords(t *testing.T) {
	tests := []struct {
		name        string
		in          investigate.Report
		wantSummary []string
		wantExpl    []string
	}{
		{
			name: "a clear cause",
			in: report(investigate.Hypothesis{Cause: "component", Resource: "i-3", Confidence: 0.82, Evidence: []string{"f2", "f3"},
				Actions: []investigate.Action{{Kind: "exclude", Detail: "Deregister i-3 from web-tg."}}}),
			wantSummary: []string{"Likely (82%): i-3 is failing by itself", "one part failing (component)", "2 findings", "First action (exclude): Deregister i-3 from web-tg."},
			wantExpl:    []string{"[f2] 100% of requests served by i-3 fail.", "[f3] i-3 writes 800 error lines/min.", "First: Deregister i-3 from web-tg (exclude)."},
		},
		{
			name:        "a weak lead is not presented as the cause",
			in:          report(investigate.Hypothesis{Cause: "own-change", Resource: "sg-1", Confidence: 0.2, Evidence: []string{"f2"}}),
			wantSummary: []string{"Nothing stands out clearly", "a change the team made to sg-1 (20%)", "not an answer"},
			wantExpl:    []string{"A change made to sg-1 shortly before the onset", "[f2]"},
		},
		{
			name:        "nothing at all",
			in:          report(),
			wantSummary: []string{"Nothing stands out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewOffline().Reason(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantSummary {
				if !strings.Contains(got.Summary, w) {
					t.Errorf("summary %q lacks %q", got.Summary, w)
				}
			}
			if len(tt.wantExpl) > 0 {
				for _, w := range tt.wantExpl {
					if !strings.Contains(got.Hypotheses[0].Explanation, w) {
						t.Errorf("explanation %q lacks %q", got.Hypotheses[0].Explanation, w)
					}
				}
			}
			if got.Reasoner != "offline" {
				t.Errorf("reasoner = %q", got.Reasoner)
			}
			// The words never change the ranking, the evidence or the actions.
			for i, h := range got.Hypotheses {
				want := tt.in.Hypotheses[i]
				if h.Cause != want.Cause || h.Resource != want.Resource || h.Confidence != want.Confidence ||
					!reflect.DeepEqual(h.Evidence, want.Evidence) || !reflect.DeepEqual(h.Actions, want.Actions) {
					t.Errorf("hypothesis %d changed: %+v", i, h)
				}
			}
			again, _ := NewOffline().Reason(context.Background(), tt.in)
			if !reflect.DeepEqual(got, again) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestOfflineSaysWhatItCouldNotRead(t *testing.T) {
	in := report()
	in.Unavailable = []investigate.Unavailable{{Source: "traces", Error: "AccessDeniedException"}, {Source: "logs /app/x", Error: "timeout"}}
	got, _ := NewOffline().Reason(context.Background(), in)
	if !strings.Contains(got.Summary, "Could not read: logs /app/x, traces.") {
		t.Errorf("summary %q", got.Summary)
	}
}

// A zone that is the culprit is called a zone, not a part failing by
// itself.
func TestOfflineNamesAZone(t *testing.T) {
	rep := engineReport(t, "tracking-alb-5xx-one-zone")
	out, err := NewOffline().Reason(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	h := out.Hypotheses[0]
	if !out.IsZone(h.Resource) || h.Title != "Availability Zone "+h.Resource+" is failing" {
		t.Errorf("top = %q on %q (a zone: %v)", h.Title, h.Resource, out.IsZone(h.Resource))
	}
	if strings.Contains(h.Explanation, "by itself") {
		t.Errorf("explanation %q", h.Explanation)
	}
}
