package investigate

import (
	"strings"
	"testing"
	"time"
)

// A Health event AWS posted after the onset, dated from before it, is
// weighed by when it could be known, and its finding says both times.
func TestHealthEventBackdated(t *testing.T) {
	confidence := func(posted time.Time) (float64, Finding) {
		f := webEnv()
		f.traces = tracesOf(alter(webEdges(), into("table"), failing(0.4, "InternalServerError"))...)
		f.health = []HealthEvent{{ARN: "arn:aws:health:us-east-1::event/DYNAMODB/X", Service: "DYNAMODB", Type: "AWS_DYNAMODB_OPERATIONAL_ISSUE",
			Status: "open", Start: t0.Add(-45 * time.Minute), Posted: posted, Description: "Increased error rates. We are investigating."}}
		rep := investigateFake(t, f)
		var fd Finding
		for _, x := range rep.Findings {
			if x.Kind == FindingHealth {
				fd = x
			}
		}
		for _, h := range rep.Hypotheses {
			if h.Cause == CauseDependency && h.Resource == "table" {
				return h.Confidence, fd
			}
		}
		t.Fatalf("no dependency on table: %+v", rep.Hypotheses)
		return 0, fd
	}
	posted, fPosted := confidence(t0.Add(2 * time.Minute))
	known, fKnown := confidence(t0.Add(-44 * time.Minute))
	if posted <= known {
		t.Errorf("confidence %v posted after the onset, %v posted 44 min before; want the first higher", posted, known)
	}
	if !fPosted.Time.Equal(t0.Add(2*time.Minute)) || !strings.Contains(fPosted.Summary, "dated by AWS from 09:45 UTC (45 min before the onset) but posted at 10:32 UTC (2 min after the onset)") {
		t.Errorf("finding at %v: %q; want it placed and dated by its posting", fPosted.Time, fPosted.Summary)
	}
	if !strings.Contains(fKnown.Summary, "posted at 09:46 UTC (44 min before the onset)") {
		t.Errorf("finding: %q", fKnown.Summary)
	}
}
