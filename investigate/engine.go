// Package investigate is the domain and the method of unstuck: from an alarm
// to the resources around it, the onset of the fault, the checks for the five
// kinds of cause, and ranked hypotheses that cite the findings they rest on.
//
// It reads telemetry through the small interfaces in telemetry.go and imports
// no Slack, AWS or model package.
package investigate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// CheckTimeout bounds each check, and each source call it waits for.
	// Default 45s.
	CheckTimeout time.Duration
	// Lookback is how much telemetry before now an investigation reads.
	// Default 3h.
	Lookback time.Duration
	// Clock gives "now" when a request names none. Default time.Now.
	Clock func() time.Time
	// Reasoner writes the report's words. A failing reasoner leaves the
	// report as the engine ranked it, with the failure in Unavailable.
	Reasoner Reasoner
}

// defaultLookback is how much telemetry before now an investigation reads
// when its options name no lookback.
const defaultLookback = 3 * time.Hour

// Engine investigates alarms. It is safe for concurrent use.
type Engine struct {
	src  Sources
	opts Options
}

// New returns an engine that reads the given sources.
func New(src Sources, opts Options) *Engine {
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 45 * time.Second
	}
	if opts.Lookback <= 0 {
		opts.Lookback = defaultLookback
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Engine{src: src, opts: opts}
}

// Request is one investigation to run.
type Request struct {
	// Alarm is the alarm's name.
	Alarm string
	// AlarmDef is the alarm when the caller has already read it from the
	// engine's alarm source (its definition and state history): Run then
	// investigates it without reading it again, and Alarm is not used.
	// Nil: Run reads the alarm that Alarm names.
	AlarmDef *Alarm
	// Now is when the investigation happens; zero means the engine's clock.
	Now time.Time
	// Lookback overrides the engine's lookback when positive.
	Lookback time.Duration
	// Notes are what people said in the incident's thread so far.
	Notes []Note
}

// Event stages.
const (
	StageStarted  = "started"
	StageFinished = "finished"
	StageFailed   = "failed"
)

// Event reports the progress of one step of an investigation.
type Event struct {
	Check    string    `json:"check"`
	Stage    string    `json:"stage"`
	Time     time.Time `json:"time"`
	Findings int       `json:"findings,omitempty"`
	// Detail says what the step found, or why it failed.
	Detail string `json:"detail,omitempty"`
}

// Run investigates one alarm. progress, when not nil, is called from several
// goroutines as steps start and finish; it must not block for long.
//
// Run fails only when the alarm cannot be read; every other failing source
// becomes an entry of the report's Unavailable list.
func (e *Engine) Run(ctx context.Context, req Request, progress func(Event)) (Report, error) {
	began := time.Now()
	// Source calls still under way when the report is done are abandoned.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if progress == nil {
		progress = func(Event) {}
	}
	var mu sync.Mutex
	emit := func(ev Event) {
		ev.Time = time.Now()
		mu.Lock()
		defer mu.Unlock()
		progress(ev)
	}
	emit(Event{Check: CheckScope, Stage: StageStarted})
	r, err := e.begin(ctx, req)
	if err != nil {
		emit(Event{Check: CheckScope, Stage: StageFailed, Detail: err.Error()})
		return Report{}, err
	}
	alarm := r.alarmDef
	r.startBackground(ctx)
	r.scope(ctx)
	emit(Event{Check: CheckScope, Stage: StageFinished, Detail: fmt.Sprintf("%d resources around %s", len(r.g.dist), alarm.Resource)})

	emit(Event{Check: CheckOnset, Stage: StageStarted})
	onsetFindings := r.findOnset(ctx)
	detail := "no clear onset; using the alarm's fire time"
	if r.onsetFound {
		detail = "onset at " + r.onset.UTC().Format("15:04 UTC")
	}
	emit(Event{Check: CheckOnset, Stage: StageFinished, Findings: len(onsetFindings), Detail: detail})
	r.startWindowed(ctx)

	results := map[string]result{CheckOnset: {findings: onsetFindings}}
	var wg sync.WaitGroup
	var rmu sync.Mutex
	for _, c := range checks {
		if c.run == nil {
			continue
		}
		say := emit
		if c.quiet {
			say = func(Event) {}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			say(Event{Check: c.Name, Stage: StageStarted})
			cctx, cancel := context.WithTimeout(ctx, e.opts.CheckTimeout)
			defer cancel()
			res := safeCheck(cctx, r, c.Name, c.run)
			stage, d := StageFinished, res.detail()
			if res.failed != nil {
				stage, d = StageFailed, res.failed.Error()
			}
			say(Event{Check: c.Name, Stage: stage, Findings: len(res.findings), Detail: d})
			rmu.Lock()
			results[c.Name] = res
			rmu.Unlock()
		}()
	}
	wg.Wait()

	report := r.assemble(ctx, results)
	// The topology is kept for follow-ups, and the reasoner reads it to
	// tell a zone from a resource.
	var kept *Topology
	if r.topoRead {
		kept = keptTopology(r.topo)
	}
	report.Topology = kept
	if e.opts.Reasoner != nil {
		worded, err := e.opts.Reasoner.Reason(ctx, report)
		if err != nil {
			report.Unavailable = append(report.Unavailable, Unavailable{Source: "reasoner", Error: err.Error()})
		} else {
			report = worded
		}
	}
	report.Topology = kept
	if e.src.Meter != nil {
		// What the sources counted replaces the engine's count of its
		// calls, and the parts they could not read join the whole
		// sources that failed.
		u := e.src.Meter.Usage()
		report.Stats.APICalls = int(u.APICalls)
		report.Stats.BytesScanned = u.BytesScanned
		report.Unavailable = append(report.Unavailable, u.Unavailable...)
	}
	report.Stats.WallMS = time.Since(began).Milliseconds()
	return report, nil
}

// begin reads the alarm, unless the request carries it, and sets up the
// investigation of it: when it happens, and the window of telemetry it
// reads.
func (e *Engine) begin(ctx context.Context, req Request) (*run, error) {
	if req.AlarmDef == nil && e.src.Alarms == nil {
		return nil, fmt.Errorf("read alarm: %w", ErrNoSource)
	}
	now := req.Now
	if now.IsZero() {
		now = e.opts.Clock()
	}
	lookback := e.opts.Lookback
	if req.Lookback > 0 {
		lookback = req.Lookback
	}
	r := &run{
		src:       e.src,
		timeout:   e.opts.CheckTimeout,
		now:       now,
		telemetry: window{now.Add(-lookback), now.Add(time.Second)},
		notes:     req.Notes,
	}
	if req.AlarmDef != nil {
		r.alarmDef = *req.AlarmDef
	} else {
		alarm, err := r.alarm(ctx, req.Alarm)
		if err != nil {
			return nil, fmt.Errorf("read alarm: %w", err)
		}
		r.alarmDef = alarm
	}
	// An alarm that fired a while ago is investigated around its firing.
	if fire := r.fireTime(); fire.Before(now) {
		r.telemetry.start = fire.Add(-lookback)
	}
	return r, nil
}

// safeCheck runs a check and turns a panic into a failed check, so that one
// bad input cannot take the investigation down.
func safeCheck(ctx context.Context, r *run, name string, check func(context.Context, *run) result) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{failed: fmt.Errorf("check %s: panic: %v", name, p)}
			r.unavailable("check "+name, res.failed)
		}
	}()
	return check(ctx, r)
}

// result is what one check found.
type result struct {
	findings   []*finding
	candidates []*candidate
	failed     error
}

func (r result) detail() string {
	if len(r.candidates) == 0 {
		return fmt.Sprintf("%d findings, nothing that explains the alarm", len(r.findings))
	}
	best := r.candidates[0]
	for _, c := range r.candidates {
		if c.score > best.score {
			best = c
		}
	}
	return fmt.Sprintf("%d findings; strongest: %s on %s", len(r.findings), best.cause, best.resource)
}

// finding is a Finding before it is numbered.
type finding struct {
	Finding
	// weight orders findings of one check, most telling first.
	weight float64
	// series is the metric key of the series the finding reads, if any.
	series string
	spec   metricSpec
	// words are what the failure itself said (an exception, a log line,
	// AWS's description), when the finding quotes it.
	words string
	// since is when what the finding reads started to grow, for a limit
	// reached by a slow climb (memory, disk): a change then explains it.
	since time.Time
}

// candidate is a hypothesis before ranking and wording.
type candidate struct {
	cause      Cause
	resource   string
	score      float64
	evidence   []*finding
	actions    []Action
	prevention []string
	// change is the change a change hypothesis rests on.
	change *Change
	// plausible is how well the change's kind can produce a failure, 0 to 1
	// (check_changes.go's plausibility).
	plausible float64
	// saturation marks a limit that rests only on utilisation (CPU, memory,
	// disk), not on a hard limit that rejects work.
	saturation bool
	// busy marks a limit that rests on CPU or memory alone.
	busy bool
	// surge marks a system change that rests on more traffic.
	surge bool
	// drives is the resource on the alarm's path that a traffic candidate
	// from outside that path uses.
	drives string
	// via is the caller whose traced calls into the resource show the
	// fault, when the walk located it from traces.
	via string
	// apart marks a location that is one member of a group failing while
	// its peers show nothing: nothing they share explains it.
	apart bool
	// shed marks a surge that its entry throttles: load it cannot take.
	shed bool
	// client marks a system change that rests on one client's (or one
	// path's) traffic taking over its entry.
	client bool
	// strained marks a location the walk found slower, not only failing:
	// the sign that load, rather than a defect, is at work.
	strained bool
	// throttled marks a location whose failures are mostly throttles.
	throttled bool
	// health marks a candidate resting on an AWS Health event.
	health bool
	// located marks where the graph walk ended: the fault is there, and
	// what kind of cause it is comes from the typed candidates on it.
	located bool
	// members are, for a candidate on an availability zone, the peers in
	// it that fail together (zones.go).
	members []string
}

// run is the state of one investigation.
type run struct {
	src       Sources
	timeout   time.Duration
	now       time.Time
	telemetry window
	notes     []Note
	calls     atomic.Int64

	alarmDef Alarm
	topo     Topology
	// topoRead is true when topo is what the topology source answered.
	topoRead bool
	g        *graph

	onset      time.Time
	onsetFound bool
	step       time.Duration
	baseline   window // before the onset
	during     window // from the onset to now
	symptom    metricSpec

	alarmSeries  *pending[[]Series]
	metrics      *pending[map[string]Series]
	changes      *pending[[]Change]
	health       *pending[[]HealthEvent]
	quotas       *pending[[]Quota]
	tracesBefore *pending[[]TraceGroup]
	tracesDuring *pending[[]TraceGroup]
	logsBefore   map[string]*pending[LogStats]
	logsDuring   map[string]*pending[LogStats]
	// derived is what several checks need from logs, traces and metrics:
	// computed once, under the investigation's context.
	derived *pending[derived]
	// tailMetrics are the latencies' p99 (tail.go), by tailKey: a call of
	// their own, so that a source without percentiles loses only them.
	tailMetrics *pending[map[string]Series]

	umu   sync.Mutex
	unav  []Unavailable
	bytes atomic.Int64
}

// pending is a source call under way; wait returns its result.
type pending[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func start[T any](ctx context.Context, fn func(context.Context) (T, error)) *pending[T] {
	p := &pending[T]{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.val, p.err = fn(ctx)
	}()
	return p
}

func (p *pending[T]) wait(ctx context.Context) (T, error) {
	if p == nil {
		var zero T
		return zero, errors.New("not requested")
	}
	select {
	case <-p.done:
		return p.val, p.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// unavailable records a source that could not be read, once per source and
// message.
func (r *run) unavailable(source string, err error) {
	r.umu.Lock()
	defer r.umu.Unlock()
	msg := err.Error()
	for _, u := range r.unav {
		if u.Source == source && u.Error == msg {
			return
		}
	}
	r.unav = append(r.unav, Unavailable{Source: source, Error: msg})
}

// get waits for a source call and records its failure.
func get[T any](ctx context.Context, r *run, source string, p *pending[T]) (T, bool) {
	v, err := p.wait(ctx)
	if err != nil {
		r.unavailable(source, err)
		return v, false
	}
	return v, true
}

func (r *run) alarm(ctx context.Context, name string) (Alarm, error) {
	r.calls.Add(1)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.src.Alarms.Alarm(cctx, name)
}

// call runs one source call under the check deadline and counts it.
func call[T any](ctx context.Context, r *run, configured bool, fn func(context.Context) (T, error)) *pending[T] {
	return start(ctx, func(ctx context.Context) (T, error) {
		if !configured {
			var zero T
			return zero, ErrNoSource
		}
		r.calls.Add(1)
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		defer cancel()
		return fn(cctx)
	})
}

// startBackground starts the calls that need only the alarm: the alarm's own
// series (for the onset), the changes and the health events.
func (r *run) startBackground(ctx context.Context) {
	a := r.alarmDef
	r.step = a.Period
	if r.step <= 0 {
		r.step = time.Minute
	}
	r.symptom = specFor("", a.Metric)
	if a.Stat != "" {
		r.symptom.Stat = a.Stat
	}
	q := MetricQuery{ID: "alarm", Metric: a.Metric, Stat: r.symptom.Stat, Period: r.step}
	r.alarmSeries = call(ctx, r, r.src.Metrics != nil, func(ctx context.Context) ([]Series, error) {
		return r.src.Metrics.Metrics(ctx, []MetricQuery{q}, r.telemetry.start, r.telemetry.end)
	})
	r.changes = call(ctx, r, r.src.Changes != nil, func(ctx context.Context) ([]Change, error) {
		if fc, ok := r.src.Changes.(FocusedChangeSource); ok {
			return fc.ChangesAround(ctx, r.telemetry.start, r.telemetry.end, r.fireTime())
		}
		return r.src.Changes.Changes(ctx, r.telemetry.start, r.telemetry.end)
	})
	r.health = call(ctx, r, r.src.Health != nil, func(ctx context.Context) ([]HealthEvent, error) {
		return r.src.Health.Health(ctx, r.telemetry.start, r.telemetry.end)
	})
}

// scope reads the topology and starts the calls that need it: every metric
// of every resource in scope in one batch, and the quotas.
func (r *run) scope(ctx context.Context) {
	topo := call(ctx, r, r.src.Topology != nil, func(ctx context.Context) (Topology, error) {
		return r.src.Topology.Topology(ctx, r.alarmDef)
	})
	t, ok := get(ctx, r, "topology", topo)
	r.topoRead = ok && r.alarmDef.Resource != ""
	if !ok || r.alarmDef.Resource == "" {
		t = Topology{}
	}
	if _, found := t.Find(r.alarmDef.Resource); !found && r.alarmDef.Resource != "" {
		t.Resources = append(t.Resources, Resource{ID: r.alarmDef.Resource, Dims: r.alarmDef.Metric.Dims})
	}
	r.topo = t
	r.g = newGraph(t, r.alarmDef.Resource)
	if rs, ok := r.g.byID[r.alarmDef.Resource]; ok {
		r.symptom = specFor(rs.Type, r.alarmDef.Metric)
		if r.alarmDef.Stat != "" {
			r.symptom.Stat = r.alarmDef.Stat
		}
	}

	var queries, tailQueries []MetricQuery
	var inScope []Resource
	for _, id := range r.g.inScope() {
		res := r.g.byID[id]
		inScope = append(inScope, *res)
		if len(res.Dims) == 0 {
			continue
		}
		for _, s := range catalog[res.Type] {
			queries = append(queries, MetricQuery{
				ID:     metricKey(id, s),
				Metric: Metric{Namespace: s.Namespace, Name: s.Name, Dims: res.Dims},
				Stat:   s.Stat,
				Period: r.step,
			})
			if hasTail(s) {
				// A latency's p99 beside its average (tail.go).
				tailQueries = append(tailQueries, MetricQuery{
					ID:     tailKey(id, s),
					Metric: Metric{Namespace: s.Namespace, Name: s.Name, Dims: res.Dims},
					Stat:   tailStat,
					Period: r.step,
				})
			}
		}
	}
	queries = append(queries, r.zoneQueries()...)
	read := func(queries []MetricQuery) func(ctx context.Context) (map[string]Series, error) {
		return func(ctx context.Context) (map[string]Series, error) {
			series, err := r.src.Metrics.Metrics(ctx, queries, r.telemetry.start, r.telemetry.end)
			if err != nil {
				return nil, err
			}
			byID := make(map[string]Series, len(series))
			for _, s := range series {
				byID[s.ID] = s
			}
			return byID, nil
		}
	}
	r.metrics = call(ctx, r, r.src.Metrics != nil, read(queries))
	if len(tailQueries) > 0 {
		r.tailMetrics = call(ctx, r, r.src.Metrics != nil, read(tailQueries))
	}
	r.quotas = call(ctx, r, r.src.Quotas != nil, func(ctx context.Context) ([]Quota, error) {
		return r.src.Quotas.Quotas(ctx, inScope)
	})
}

// baselineLength is how long the window before the onset that logs and
// traces compare against is; baselineGap keeps a ramp into the onset out of
// it; minBaseline, or one period where that is shorter, is the least of it
// worth comparing with.
const (
	baselineLength = time.Hour
	baselineGap    = 5 * time.Minute
	minBaseline    = 10 * time.Minute
)

// startWindowed starts the calls that compare the onset window with the
// baseline: logs of every group in scope and traces, before and during.
func (r *run) startWindowed(ctx context.Context) {
	r.during = window{r.onset, r.telemetry.end}
	end := r.onset.Add(-r.rampGap())
	r.baseline = window{end.Add(-baselineLength), end}
	if r.baseline.start.Before(r.telemetry.start) {
		r.baseline.start = r.telemetry.start
	}
	// Less than a period before the onset says nothing about normal:
	// compare nothing rather than call everything new. A short baseline
	// is otherwise weighed by the scores' noise, not refused.
	if need := min(minBaseline, r.step); r.baseline.end.Sub(r.baseline.start) < need {
		err := fmt.Errorf("only %s of telemetry before the onset; at least %s is needed to compare with", ago(max(0, r.baseline.end.Sub(r.baseline.start))), ago(need))
		r.unavailable("logs", err)
		r.unavailable("traces", err)
		r.logsBefore, r.logsDuring = map[string]*pending[LogStats]{}, map[string]*pending[LogStats]{}
		r.derived = start(ctx, r.derive)
		return
	}
	r.logsBefore = map[string]*pending[LogStats]{}
	r.logsDuring = map[string]*pending[LogStats]{}
	for group := range r.g.logGroups() {
		for _, w := range []struct {
			into map[string]*pending[LogStats]
			win  window
		}{{r.logsBefore, r.baseline}, {r.logsDuring, r.during}} {
			q := LogQuery{Group: group, Start: w.win.start, End: w.win.end}
			w.into[group] = call(ctx, r, r.src.Logs != nil, func(ctx context.Context) (LogStats, error) {
				st, err := r.src.Logs.Logs(ctx, q)
				r.bytes.Add(st.BytesScanned)
				return st, err
			})
		}
	}
	traces := func(w window) *pending[[]TraceGroup] {
		return call(ctx, r, r.src.Traces != nil, func(ctx context.Context) ([]TraceGroup, error) {
			return r.src.Traces.Traces(ctx, TraceQuery{Start: w.start, End: w.end})
		})
	}
	r.tracesBefore = traces(r.baseline)
	r.tracesDuring = traces(r.during)
	r.derived = start(ctx, r.derive)
}

// logs returns a group's stats before and during the onset.
func (r *run) logs(ctx context.Context, group string) (before, during LogStats, ok bool) {
	if r.logsBefore[group] == nil {
		return LogStats{}, LogStats{}, false
	}
	b, okB := get(ctx, r, "logs "+group, r.logsBefore[group])
	d, okD := get(ctx, r, "logs "+group, r.logsDuring[group])
	return b, d, okB && okD
}

// traces returns the traced requests before and during the onset.
func (r *run) traces(ctx context.Context) (before, during []TraceGroup, ok bool) {
	if r.tracesBefore == nil {
		return nil, nil, false
	}
	b, okB := get(ctx, r, "traces", r.tracesBefore)
	d, okD := get(ctx, r, "traces", r.tracesDuring)
	return b, d, okB && okD
}

// series returns a resource's series for a catalogue metric.
func (r *run) series(ctx context.Context, resource string, s metricSpec) (Series, bool) {
	all, ok := get(ctx, r, "metrics", r.metrics)
	if !ok {
		return Series{}, false
	}
	ser, ok := all[metricKey(resource, s)]
	return ser, ok && len(ser.Values) > 0
}

// sortedGroups returns the log groups in scope in a stable order.
func (r *run) sortedGroups() []string {
	groups := r.g.logGroups()
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	return names
}
