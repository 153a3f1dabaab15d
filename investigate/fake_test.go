package investigate

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// fake is a hand-made telemetry backend for the checks' tests: each signal is
// a function of time, so a test states only what differs from flat.
type fake struct {
	alarm   Alarm
	topo    Topology
	series  map[string]func(t time.Time) float64 // by resource|namespace|name
	logs    map[string]func(w window) LogStats   // by group
	traces  func(w window) []TraceGroup
	changes []Change
	health  []HealthEvent
	quotas  []Quota
	fail    map[string]error         // by source kind
	delay   map[string]time.Duration // by source kind

	mu      sync.Mutex
	calls   map[string]int
	queries []MetricQuery // every metric query asked
}

var t0 = time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)

func newFake() *fake {
	return &fake{
		series: map[string]func(time.Time) float64{},
		logs:   map[string]func(window) LogStats{},
		fail:   map[string]error{},
		delay:  map[string]time.Duration{},
		calls:  map[string]int{},
	}
}

func (f *fake) sources() Sources {
	return Sources{Alarms: f, Topology: f, Metrics: f, Logs: f, Traces: f, Changes: f, Health: f, Quotas: f}
}

// count is how many calls a source kind has had.
func (f *fake) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[kind]
}

func (f *fake) enter(ctx context.Context, kind string) error {
	f.mu.Lock()
	f.calls[kind]++
	f.mu.Unlock()
	if d := f.delay[kind]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.fail[kind]
}

func (f *fake) Alarm(ctx context.Context, name string) (Alarm, error) {
	if err := f.enter(ctx, "alarm"); err != nil {
		return Alarm{}, err
	}
	if name != f.alarm.Name {
		return Alarm{}, &NotFoundError{Kind: "alarm", Name: name, Candidates: []string{f.alarm.Name}}
	}
	return f.alarm, nil
}

func (f *fake) Topology(ctx context.Context, _ Alarm) (Topology, error) {
	return f.topo, f.enter(ctx, "topology")
}

func (f *fake) Metrics(ctx context.Context, qs []MetricQuery, start, end time.Time) ([]Series, error) {
	if err := f.enter(ctx, "metrics"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.queries = append(f.queries, qs...)
	f.mu.Unlock()
	var out []Series
	for _, q := range qs {
		s := Series{ID: q.ID}
		fn := f.series[q.ID]
		if q.ID == "alarm" {
			key := f.alarm.Resource + "|" + q.Metric.Namespace + "|" + q.Metric.Name
			fn = f.series[key]
			if byStat := f.series[key+"|"+q.Stat]; byStat != nil {
				fn = byStat // an alarm on a percentile reads it
			}
		}
		if fn == nil {
			fn = f.series["*|"+q.Metric.Namespace+"|"+q.Metric.Name]
		}
		if fn != nil {
			for t := start.Truncate(time.Minute); t.Before(end); t = t.Add(time.Minute) {
				v := fn(t)
				if v == noData {
					continue // a period without data: no timestamp, as CloudWatch answers
				}
				s.Times = append(s.Times, t)
				s.Values = append(s.Values, v)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (f *fake) Logs(ctx context.Context, q LogQuery) (LogStats, error) {
	if err := f.enter(ctx, "logs"); err != nil {
		return LogStats{}, err
	}
	fn, ok := f.logs[q.Group]
	if !ok {
		return LogStats{Group: q.Group}, nil
	}
	st := fn(window{q.Start, q.End})
	st.Group = q.Group
	return st, nil
}

func (f *fake) Traces(ctx context.Context, q TraceQuery) ([]TraceGroup, error) {
	if err := f.enter(ctx, "traces"); err != nil {
		return nil, err
	}
	if f.traces == nil {
		return nil, nil
	}
	return f.traces(window{q.Start, q.End}), nil
}

func (f *fake) Changes(ctx context.Context, start, end time.Time) ([]Change, error) {
	return f.changes, f.enter(ctx, "changes")
}

func (f *fake) Health(ctx context.Context, start, end time.Time) ([]HealthEvent, error) {
	return f.health, f.enter(ctx, "health")
}

func (f *fake) Quotas(ctx context.Context, _ []Resource) ([]Quota, error) {
	return f.quotas, f.enter(ctx, "quotas")
}

// noData is what a series function returns for a period with no datapoint.
var noData = math.Inf(-1)

// stops is fn until at, and no datapoints from then on.
func stops(fn func(time.Time) float64, at time.Time) func(time.Time) float64 {
	return func(t time.Time) float64 {
		if !t.Before(at) {
			return noData
		}
		return fn(t)
	}
}

// jitter is small deterministic noise so that spreads are not zero.
func jitter(t time.Time) float64 {
	return math.Sin(float64(t.Unix()/60)*1.7) * 0.5
}

// level is a series at before until at, then after.
func level(before, after float64, at time.Time) func(time.Time) float64 {
	return func(t time.Time) float64 {
		v := before
		if !t.Before(at) {
			v = after
		}
		return math.Max(0, v+jitter(t)*math.Max(1, v*0.02))
	}
}

// minutesIn is the overlap of w and [from, to) in minutes.
func minutesIn(w window, from, to time.Time) float64 {
	s, e := w.start, w.end
	if from.After(s) {
		s = from
	}
	if to.Before(e) {
		e = to
	}
	if !e.After(s) {
		return 0
	}
	return e.Sub(s).Minutes()
}

// logLine is a pattern written at a rate per stream, from a time on.
type logLine struct {
	pattern string
	stream  string
	perMin  float64
	from    time.Time
}

// logsOf builds a log group's stats from its lines.
func logsOf(lines ...logLine) func(window) LogStats {
	return func(w window) LogStats {
		st := LogStats{ByStream: map[string]int{}}
		byPattern := map[string]*LogPattern{}
		for _, l := range lines {
			n := int(l.perMin * minutesIn(w, l.from, w.end.Add(time.Hour)))
			if n == 0 {
				continue
			}
			p, ok := byPattern[l.pattern]
			if !ok {
				p = &LogPattern{Pattern: l.pattern, Sample: l.pattern, ByStream: map[string]int{}}
				byPattern[l.pattern] = p
			}
			p.Count += n
			p.ByStream[l.stream] += n
			st.ByStream[l.stream] += n
			st.Lines += n
		}
		for _, p := range byPattern {
			st.Patterns = append(st.Patterns, *p)
		}
		sort.Slice(st.Patterns, func(i, j int) bool { return st.Patterns[i].Count > st.Patterns[j].Count })
		return st
	}
}

// edge is a traced edge's behaviour: a failure share and latency from a time.
type edge struct {
	caller, callee, instance string
	perMin                   float64
	fail, throttle           float64 // shares from `from` on
	latency, latencyAfter    time.Duration
	from                     time.Time
	exception                string
}

func tracesOf(edges ...edge) func(window) []TraceGroup {
	return func(w window) []TraceGroup {
		var out []TraceGroup
		for _, e := range edges {
			before := minutesIn(w, w.start, e.from)
			after := minutesIn(w, e.from, w.end)
			reqs := int(e.perMin * (before + after))
			if reqs == 0 {
				continue
			}
			failed := int(e.perMin * after * e.fail)
			throttled := int(e.perMin * after * e.throttle)
			lat := e.latency
			if e.latencyAfter > 0 && after > 0 {
				lat = time.Duration((before*float64(e.latency) + after*float64(e.latencyAfter)) / (before + after))
			}
			g := TraceGroup{Caller: e.caller, Callee: e.callee, Instance: e.instance, Requests: reqs,
				Faults: failed, Throttles: throttled, Latency: lat, TraceIDs: []string{fmt.Sprintf("1-%s-0001", e.callee)}}
			if failed+throttled > 0 && e.exception != "" {
				g.Exceptions = []TraceException{{Message: e.exception, Count: failed + throttled}}
			}
			out = append(out, g)
		}
		return out
	}
}

// alter changes the edges that match, in place, and returns them.
func alter(es []edge, match func(edge) bool, change func(*edge)) []edge {
	for i := range es {
		if match(es[i]) {
			change(&es[i])
		}
	}
	return es
}

// into matches the edges that call a callee.
func into(callee string) func(edge) bool {
	return func(e edge) bool { return e.callee == callee }
}

// failing makes an edge fail a share of its calls from t0 on, with an
// exception.
func failing(share float64, exception string) func(*edge) {
	return func(e *edge) { e.fail, e.from, e.exception = share, t0, exception }
}
