package investigate

import "testing"

func TestHeadline(t *testing.T) {
	h := func(title string, conf float64) Hypothesis {
		return Hypothesis{Cause: CauseOwnChange, Resource: "reports-fn", Title: title, Confidence: conf}
	}
	for _, tt := range []struct {
		name     string
		hyps     []Hypothesis
		want     string
		wantLead bool
	}{
		{"none", nil, "Nothing in the telemetry explains the alarm.", false},
		{"weak", []Hypothesis{h("A change the team made to reports-fn", 0.07)},
			"Nothing stands out clearly: the strongest lead, a change the team made to reports-fn (7%), is weak — a place to look, not an answer.", false},
		{"possible", []Hypothesis{h("A change the team made to reports-fn", 0.45)}, "Possible (45%): A change the team made to reports-fn.", true},
		{"likely", []Hypothesis{h("reports-fn is at its limit.", 0.9)}, "Likely (90%): reports-fn is at its limit.", true},
		{"edge", []Hypothesis{h("x", ClearCause)}, "Possible (40%): x.", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Hypotheses: tt.hyps}
			if got := r.Headline(); got != tt.want {
				t.Errorf("Headline() = %q, want %q", got, tt.want)
			}
			if _, got := r.Lead(); got != tt.wantLead {
				t.Errorf("Lead() ok = %v, want %v", got, tt.wantLead)
			}
		})
	}
}

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int
		word string
		want string
	}{
		{1, "finding", "1 finding"}, {0, "finding", "0 findings"}, {3, "API call", "3 API calls"},
		{1, "other hypothesis", "1 other hypothesis"}, {2, "other hypothesis", "2 other hypotheses"},
	} {
		if got := Count(tt.n, tt.word); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.word, got, tt.want)
		}
	}
}
