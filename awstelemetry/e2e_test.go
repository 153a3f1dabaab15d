package awstelemetry

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// TestInvestigateALBIncidentEndToEnd runs the engine through the AWS
// sources against fake endpoints that serve the ALB scenario's incident,
// and expects it to name i-0c5e1a2b3d4f50003 as the failed component.
func TestInvestigateALBIncidentEndToEnd(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	eng := investigate.New(s.Sources(), investigate.Options{Clock: func() time.Time { return w.Fires }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := eng.Run(ctx, investigate.Request{Alarm: "web-alb-target-5xx", Now: w.Fires}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rep.Unavailable {
		t.Errorf("unavailable: %s: %s", u.Source, u.Error)
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	if len(rep.Hypotheses) == 0 {
		t.Fatalf("no hypotheses; findings: %+v", rep.Findings)
	}
	top := rep.Hypotheses[0]
	if top.Cause != investigate.CauseComponent || top.Resource != w.Bad {
		for i, h := range rep.Hypotheses {
			t.Logf("#%d %s %s %.2f %s", i+1, h.Cause, h.Resource, h.Confidence, h.Title)
		}
		for _, f := range rep.Findings {
			t.Logf("%s %s %s %s", f.ID, f.Kind, f.Resource, f.Summary)
		}
		t.Fatalf("top hypothesis = %s on %s, want component on %s", top.Cause, top.Resource, w.Bad)
	}
	if len(top.Actions) == 0 || (top.Actions[0].Kind != investigate.ActionExclude && top.Actions[0].Kind != investigate.ActionRestart) {
		t.Errorf("first action = %+v", top.Actions)
	}
	// The evidence includes the traces and the logs of the bad instance.
	kinds := map[investigate.FindingKind]bool{}
	for _, id := range top.Evidence {
		if f, ok := rep.Finding(id); ok {
			kinds[f.Kind] = true
		}
	}
	if !kinds[investigate.FindingTrace] || !kinds[investigate.FindingLog] {
		t.Errorf("evidence kinds = %v", kinds)
		for _, f := range rep.Findings {
			t.Logf("%s %s %s %s %s", f.ID, f.Check, f.Kind, f.Resource, f.Summary)
		}
	}
	if rep.Onset.Sub(w.Onset).Abs() > 5*time.Minute {
		t.Errorf("onset %s, want about %s", rep.Onset, w.Onset)
	}

	// What it cost, against a naive adapter that reads each series with
	// its own GetMetricStatistics call.
	series := 0
	for _, call := range srv.Calls() {
		if call.Op == "GetMetricData" {
			qs, _ := call.Params["MetricDataQueries"].([]any)
			series += len(qs)
		}
	}
	byOp := s.CallsByOperation()
	var ops []string
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		ops = append(ops, op+"="+strconv.FormatInt(byOp[op], 10))
	}
	t.Logf("AWS API calls: %d (%s); %d series in %d GetMetricData calls (a naive adapter: %d GetMetricStatistics calls); Logs Insights scanned %d bytes",
		s.APICalls(), strings.Join(ops, " "), series, byOp["CloudWatch.GetMetricData"], series, s.BytesScanned())
	if s.APICalls() > 60 {
		t.Errorf("%d API calls for one investigation", s.APICalls())
	}
	if byOp["CloudWatch.GetMetricData"] > 3 {
		t.Errorf("%d GetMetricData calls", byOp["CloudWatch.GetMetricData"])
	}
}
