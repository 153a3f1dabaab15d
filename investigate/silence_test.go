package investigate

import (
	"math"
	"strings"
	"testing"
	"time"
)

// deadHostEnv is webEnv where i-3 stops at the onset: its CPU has no
// datapoints since (AWS returns none, not zeros), it writes and traces
// nothing more, and the load balancer answers 502 for the requests it
// still sends there until its health check takes it out.
func deadHostEnv() *fake {
	f := webEnv()
	f.alarm.Metric.Name = "HTTPCode_ELB_5XX_Count"
	delete(f.series, "web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count")
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_ELB_5XX_Count"] = level(1, 300, t0)
	f.series["i-3|AWS/EC2|CPUUtilization"] = stops(level(25, 25, t0), t0)
	live := logsOf(
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-1", 800, time.Time{}},
		logLine{"INFO request <*> GET /api/items 200 <*>ms", "i-2", 800, time.Time{}},
	)
	f.logs["/app/app"] = func(w window) LogStats {
		st := live(w)
		if n := int(800 * minutesIn(w, w.start, t0)); n > 0 {
			st.Patterns[0].Count += n
			st.Patterns[0].ByStream["i-3"] = n
			st.ByStream["i-3"] = n
			st.Lines += n
		}
		return st
	}
	var es []edge
	for _, e := range webEdges() {
		if e.instance != "i-3" {
			es = append(es, e)
		}
	}
	alive := tracesOf(es...)
	dead := tracesOf(alter(webEdges(), func(e edge) bool { return e.instance != "i-3" }, func(e *edge) { e.perMin = 0 })...)
	f.traces = func(w window) []TraceGroup {
		// i-3's requests until the onset only.
		return append(alive(w), dead(window{w.start, minTime(w.end, t0)})...)
	}
	return f
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// TestSilentPeerIsTheComponent: the instance that stopped reporting while
// its peers go on is the failed component, taken out first, and the finding
// says it stopped rather than calling its level zero.
func TestSilentPeerIsTheComponent(t *testing.T) {
	rep := investigateFake(t, deadHostEnv())
	h := top(t, rep)
	if h.Cause != CauseComponent || h.Resource != "i-3" {
		t.Fatalf("top = %s %s, want component i-3; all: %+v\nfindings: %+v", h.Cause, h.Resource, rep.Hypotheses, rep.Findings)
	}
	if got := h.Actions[0].Kind; got != ActionExclude && got != ActionRestart {
		t.Errorf("first action = %s, want exclude or restart", got)
	}
	found := false
	for _, id := range h.Evidence {
		if f, ok := rep.Finding(id); ok && strings.Contains(f.Summary, "i-3 stopped reporting") {
			found = true
			if f.During == nil || *f.During != 0 || f.Before == nil || *f.Before != 100 {
				t.Errorf("finding %q: before %v, during %v; want 100%% and 0%% of periods reported", f.Summary, f.Before, f.During)
			}
		}
	}
	if !found {
		t.Errorf("no 'stopped reporting' finding in the evidence of %+v", h)
	}
}

// TestSilenceThatIsNoNews: what the silence check must not flag.
func TestSilenceThatIsNoNews(t *testing.T) {
	every := func(k int, fn func(time.Time) float64) func(time.Time) float64 {
		return func(t time.Time) float64 {
			if (t.Unix()/60)%int64(k) != 0 {
				return noData
			}
			return fn(t)
		}
	}
	for _, c := range []struct {
		name string
		set  func(f *fake)
	}{
		// A host that reports one period in four, before and since.
		{"sparse all along", func(f *fake) {
			f.series["i-3|AWS/EC2|CPUUtilization"] = every(4, level(25, 25, t0))
		}},
		// Every host stops: the source, not one part.
		{"the whole group", func(f *fake) {
			for _, i := range []string{"i-1", "i-2", "i-3"} {
				f.series[i+"|AWS/EC2|CPUUtilization"] = stops(level(25, 25, t0), t0)
			}
		}},
		// Two of three stop: most of the group is no one part.
		{"most of the group", func(f *fake) {
			for _, i := range []string{"i-2", "i-3"} {
				f.series[i+"|AWS/EC2|CPUUtilization"] = stops(level(25, 25, t0), t0)
			}
		}},
		// Only the newest period is missing, on one host: a publishing delay.
		{"one period late", func(f *fake) {
			f.series["i-3|AWS/EC2|CPUUtilization"] = stops(level(25, 25, t0), t0.Add(3*time.Minute))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := webEnv()
			c.set(f)
			rep := investigateFake(t, f)
			for _, fd := range rep.Findings {
				if strings.Contains(fd.Summary, "stopped reporting") {
					t.Errorf("flagged: %s", fd.Summary)
				}
			}
		})
	}
}

func TestSilenceZ(t *testing.T) {
	for _, c := range []struct {
		name                          string
		seenBefore, nBefore, seen, of int
		atLeast, below                float64
	}{
		{"every period, then none of five", 180, 180, 0, 5, 6, maxZ + 1},
		{"every period, then none of two", 180, 180, 0, 2, anomalyZ, maxZ + 1},
		{"every period, then none of one", 180, 180, 0, 1, 0, anomalyZ},
		{"one in four, then none of five", 45, 180, 0, 5, 0, anomalyZ},
		{"half, then none of five", 90, 180, 0, 5, 0, anomalyZ},
		{"every period, then four of five", 180, 180, 4, 5, 0, anomalyZ},
		{"as usual", 180, 180, 5, 5, 0, 1e-9},
		{"no baseline", 0, 0, 0, 5, 0, 1e-9},
		{"no peer reported", 180, 180, 0, 0, 0, 1e-9},
	} {
		z := silenceZ(c.seenBefore, c.nBefore, c.seen, c.of)
		if z < c.atLeast || z >= c.below {
			t.Errorf("%s: z = %.2f, want in [%v, %v)", c.name, z, c.atLeast, c.below)
		}
	}
}

func TestBinomialCDF(t *testing.T) {
	for _, c := range []struct {
		k, n int
		p    float64
		want float64
	}{
		{0, 5, 0.5, 1.0 / 32},
		{1, 3, 0.5, 0.5},
		{2, 2, 0.3, 1},
		{0, 4, 0.9, 1e-4},
	} {
		if got := binomialCDF(c.k, c.n, c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("P(X ≤ %d | n=%d, p=%v) = %v, want %v", c.k, c.n, c.p, got, c.want)
		}
	}
}

func TestCoverage(t *testing.T) {
	s := Series{}
	for m := 0; m < 60; m++ {
		if m >= 20 && m%2 == 1 {
			continue // launched at minute 0; from minute 20 every other period is missing
		}
		s.Times = append(s.Times, t0.Add(time.Duration(m)*time.Minute))
		s.Values = append(s.Values, 1)
	}
	late := Series{Times: []time.Time{t0.Add(30 * time.Minute), t0.Add(59 * time.Minute)}, Values: []float64{1, math.NaN()}}
	for _, c := range []struct {
		name string
		got  coverage
		want coverage
	}{
		{"gaps", coverageIn(s, window{t0, t0.Add(time.Hour)}, time.Minute), coverage{seen: 40, of: 60, last: t0.Add(58 * time.Minute)}},
		{"from its first datapoint; NaN is none", coverageIn(late, window{t0, t0.Add(time.Hour)}, time.Minute), coverage{seen: 1, of: 30, last: t0.Add(30 * time.Minute)}},
		{"nothing", coverageIn(Series{}, window{t0, t0.Add(time.Hour)}, time.Minute), coverage{}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}
