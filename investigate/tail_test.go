package investigate

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// tailEnv is webEnv paged on the load balancer's p99 latency: one call in
// fifty to the payments API hangs, so the average response time barely
// moves while p99 jumps from 0.09 s to 1.3 s. The payments calls' mean
// latency rises with them.
func tailEnv() *fake {
	f := webEnv()
	f.alarm.Metric.Name = "TargetResponseTime"
	f.alarm.Stat, f.alarm.Threshold = "p99", 1
	delete(f.series, "web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count")
	wave := func(v float64) func(time.Time) float64 {
		return func(t time.Time) float64 { return v * (1 + 0.04*math.Sin(float64(t.Unix()/60)*1.3)) }
	}
	shift := func(before, after func(time.Time) float64) func(time.Time) float64 {
		return func(t time.Time) float64 {
			if t.Before(t0) {
				return before(t)
			}
			return after(t)
		}
	}
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime"] = shift(wave(0.045), wave(0.0465))
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime|p99"] = shift(wave(0.09), wave(1.3))
	f.traces = tracesOf(alter(webEdges(), into("payments"), func(e *edge) { e.latencyAfter, e.from = 160*time.Millisecond, t0 })...)
	return f
}

// TestTailLatencyIsJudgedAtP99: the load balancer's latency is read at
// p99 where it is published, so a slow tail the average hides passes the
// fault down to the payments API instead of blocking the path; without
// the p99 the average stands, and says nothing.
func TestTailLatencyIsJudgedAtP99(t *testing.T) {
	rep := investigateFake(t, tailEnv())
	h := top(t, rep)
	if h.Cause != CauseDependency || h.Resource != "payments" {
		t.Fatalf("top = %s %s, want dependency payments; all: %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
	// Read at its average, the load balancer shows nothing and blocks the
	// path: the lead falls under ClearCause, where nothing stands out.
	if h.Confidence < ClearCause {
		t.Errorf("confidence %.2f, want at least %v: a cause the report names", h.Confidence, ClearCause)
	}
	var p99 bool
	for _, f := range rep.Findings {
		if f.Resource == "web-alb" && strings.Contains(f.Summary, "TargetResponseTime p99 rose") {
			p99 = true
			if !strings.Contains(f.Link, "~stat~'p99") {
				t.Errorf("the p99 finding links to %s, want the p99 graph", f.Link)
			}
		}
	}
	if !p99 {
		t.Errorf("no finding on web-alb's p99; findings: %+v", rep.Findings)
	}

	// Without percentiles (a source that has none), the average is read.
	f := tailEnv()
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime|p99"] = func(time.Time) float64 { return noData }
	f.alarm.Stat = "Average"
	rep = investigateFake(t, f)
	for _, fd := range rep.Findings {
		if strings.Contains(fd.Summary, "p99") {
			t.Errorf("a p99 finding without p99 data: %s", fd.Summary)
		}
	}
}

// TestTailQueries: the engine asks for p99 beside the average of the
// latencies AWS publishes percentiles of, once each, and of nothing else.
func TestTailQueries(t *testing.T) {
	f := tailEnv()
	investigateFake(t, f)
	var tails []string
	for _, q := range f.queries {
		if q.Stat == "p99" && q.ID != "alarm" {
			tails = append(tails, q.ID)
		}
	}
	if want := []string{"web-alb|AWS/ApplicationELB|TargetResponseTime|p99"}; strings.Join(tails, " ") != strings.Join(want, " ") {
		t.Errorf("p99 queries %v, want %v", tails, want)
	}

	for _, c := range []struct {
		typ  ResourceType
		name string
		want bool
	}{
		{TypeALB, "TargetResponseTime", true},
		{TypeAPIGateway, "Latency", true},
		{TypeAPIGateway, "IntegrationLatency", true},
		{TypeLambda, "Duration", true},
		{TypeDynamoDB, "SuccessfulRequestLatency", false},
		{TypeRDS, "ReadLatency", false},
		{TypeALB, "RequestCount", false},
	} {
		var spec metricSpec
		for _, s := range catalog[c.typ] {
			if s.Name == c.name {
				spec = s
			}
		}
		if spec.Name == "" {
			t.Fatalf("no %s %s in the catalogue", c.typ, c.name)
		}
		if got := hasTail(spec); got != c.want {
			t.Errorf("%s %s: p99 asked %v, want %v", c.typ, c.name, got, c.want)
		}
	}
}

// noPercentiles is a metric source that refuses percentiles, as an
// emulator may.
type noPercentiles struct{ *fake }

func (n noPercentiles) Metrics(ctx context.Context, qs []MetricQuery, start, end time.Time) ([]Series, error) {
	for _, q := range qs {
		if q.ID != "alarm" && strings.HasPrefix(q.Stat, "p") {
			return nil, errors.New("InternalFailure: unknown statistic " + q.Stat)
		}
	}
	return n.fake.Metrics(ctx, qs, start, end)
}

// TestSourceWithoutPercentiles: a source that fails the p99 queries loses
// them alone: the report says so, and the averages are read as before.
func TestSourceWithoutPercentiles(t *testing.T) {
	f := tailEnv()
	src := f.sources()
	src.Metrics = noPercentiles{f}
	rep, err := New(src, Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(3 * time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, u := range rep.Unavailable {
		lines = append(lines, u.Source+": "+u.Error)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "metrics p99: InternalFailure") {
		t.Errorf("unavailable = %q, want the p99 metrics only", lines)
	}
	if len(rep.Hypotheses) == 0 || rep.Hypotheses[0].Resource != "payments" {
		t.Errorf("hypotheses %+v: want payments still first, read on the averages and traces", rep.Hypotheses)
	}
	for _, fd := range rep.Findings {
		if strings.Contains(fd.Summary, "p99 rose") {
			t.Errorf("a p99 finding without p99: %s", fd.Summary)
		}
	}
}
