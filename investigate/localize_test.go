package investigate

import (
	"context"
	"math"
	"testing"
	"time"
)

// fiveMinute builds a 5-minute series over three hours before t0 and ten
// minutes after it.
func fiveMinute(fn func(t time.Time) float64) Series {
	var s Series
	for t := t0.Add(-3 * time.Hour); t.Before(t0.Add(10 * time.Minute)); t = t.Add(5 * time.Minute) {
		s.Times = append(s.Times, t)
		s.Values = append(s.Values, fn(t))
	}
	return s
}

// wobble is noise of a relative size that repeats every seven points.
func wobble(base, rel float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		return base * (1 + rel*math.Sin(float64(t.Unix()/300)*2.3))
	}
}

func after(at time.Time, before, then func(time.Time) float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		if t.Before(at) {
			return before(t)
		}
		return then(t)
	}
}

func TestSeriesAnomalyIsScaleFree(t *testing.T) {
	base := window{t0.Add(-3 * time.Hour), t0}
	during := window{t0, t0.Add(10 * time.Minute)}
	errorsSpec := metricSpec{Stat: "Sum", Role: roleErrors}
	latencySpec := metricSpec{Stat: "Average", Role: roleLatency, Unit: "ms"}
	alternate := func(a, b float64) func(time.Time) float64 {
		return func(t time.Time) float64 {
			if (t.Unix()/300)%2 == 0 {
				return a
			}
			return b
		}
	}
	tests := []struct {
		name      string
		spec      metricSpec
		fn        func(time.Time) float64
		anomalous bool
	}{
		// 180 requests per 5 minutes, 0 or 1 failing; then 3% fail.
		{"a 3% error rate on a quiet service", errorsSpec, after(t0, alternate(0, 1), func(time.Time) float64 { return 6 }), true},
		// 10,000 requests per 5 minutes, about 30 failing; then 30% fail.
		{"a 30% error rate on a loud service", errorsSpec, after(t0, wobble(30, 0.2), func(time.Time) float64 { return 3000 }), true},
		{"a count that stays in its noise", errorsSpec, after(t0, alternate(0, 1), func(time.Time) float64 { return 2 }), false},
		{"a loud count that wobbles as usual", errorsSpec, wobble(3000, 0.02), false},
		{"6 ms to 20 ms", latencySpec, after(t0, wobble(6, 0.05), func(time.Time) float64 { return 20 }), true},
		{"a latency 3% up", latencySpec, after(t0, wobble(80, 0.05), func(time.Time) float64 { return 82.4 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := seriesAnomaly(fiveMinute(tt.fn), tt.spec, base, during)
			if !ok {
				t.Fatal("no anomaly computed")
			}
			if got := a.z >= anomalyZ; got != tt.anomalous {
				t.Errorf("z = %.1f (before %.3g, during %.3g, spread %.3g): anomalous %v, want %v", a.z, a.before, a.during, a.spread, got, tt.anomalous)
			}
		})
	}
}

func TestShortBaselinesWidenTheNoise(t *testing.T) {
	long, short := make([]float64, 36), []float64{100, 100}
	for i := range long {
		long[i] = 100
	}
	if got, want := noiseOf(short, false), noiseOf(long, false); got <= want {
		t.Errorf("spread of two points %.2f, of 36 points %.2f: two points must be less sure", got, want)
	}
}

func TestShareAnomalyWeighsTheCallsSeen(t *testing.T) {
	tests := []struct {
		name             string
		nBefore, nDuring int
		before, during   float64
		anomalous        bool
	}{
		{"one failure in three calls", 300, 3, 0, 1.0 / 3, false},
		{"a third of 300 calls", 3000, 300, 0, 1.0 / 3, true},
		{"2% of 20,000 calls against 1%", 100000, 20000, 0.01, 0.02, true},
		{"1.1% of 2,000 calls against 1%", 10000, 2000, 0.01, 0.011, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := shareAnomaly(tt.before, tt.nBefore, tt.during, tt.nDuring)
			if got := a.z >= anomalyZ; got != tt.anomalous {
				t.Errorf("z = %.1f: anomalous %v, want %v", a.z, got, tt.anomalous)
			}
		})
	}
}

// chainEnv is an ALB in front of a service that calls a function that reads
// a table: alb → web → fn (fn-code on it) → table.
func chainEnv() *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "web-latency", Resource: "alb", Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Dims: map[string]string{"LoadBalancer": "alb"}},
		Stat: "Average", Period: time.Minute, Threshold: 0.5, Comparison: "GreaterThanThreshold",
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "alb"}},
			{ID: "web", Type: TypeService},
			{ID: "fn", Type: TypeLambda, Dims: map[string]string{"FunctionName": "fn"}},
			{ID: "fn-code", Type: TypeService},
			{ID: "table", Type: TypeDynamoDB, Dims: map[string]string{"TableName": "table"}},
			{ID: "cache", Type: TypeDynamoDB, Dims: map[string]string{"TableName": "cache"}},
		},
		Relations: []Relation{
			{"alb", "web", RelTargets}, {"web", "fn", RelCalls}, {"web", "cache", RelCalls},
			{"fn-code", "fn", RelRunsOn}, {"fn-code", "table", RelCalls},
		},
	}
	f.series["alb|AWS/ApplicationELB|RequestCount"] = level(1200, 1200, t0)
	f.series["fn|AWS/Lambda|Invocations"] = level(1200, 1200, t0)
	f.series["cache|AWS/DynamoDB|SuccessfulRequestLatency"] = level(4, 4, t0)
	return f
}

func TestTheWalkBlamesTheDeepestSlowResource(t *testing.T) {
	t.Run("only the table is slow", func(t *testing.T) {
		f := chainEnv()
		// Each hop above the table is slower by what the table adds.
		f.series["alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.120, 0.420, t0)
		f.series["fn|AWS/Lambda|Duration"] = level(60, 360, t0)
		f.series["table|AWS/DynamoDB|SuccessfulRequestLatency"] = level(6, 306, t0)
		rep := investigateFake(t, f)
		if h := top(t, rep); h.Resource != "table" || h.Cause != CauseDependency {
			t.Fatalf("top = %s %s, want dependency table; all %+v", h.Cause, h.Resource, rep.Hypotheses)
		}
	})
	t.Run("the function is slow, not the table it reads", func(t *testing.T) {
		f := chainEnv()
		f.series["alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.120, 0.420, t0)
		f.series["fn|AWS/Lambda|Duration"] = level(60, 360, t0)
		f.series["table|AWS/DynamoDB|SuccessfulRequestLatency"] = level(6, 6, t0)
		rep := investigateFake(t, f)
		if h := top(t, rep); h.Resource != "fn" {
			t.Fatalf("top = %s %s, want fn; all %+v", h.Cause, h.Resource, rep.Hypotheses)
		}
	})
	t.Run("two slow callees, one explaining the other", func(t *testing.T) {
		// web calls both cache and fn; fn-code reads cache too. Only cache
		// is slow: fn is slower because it waits on cache.
		f := chainEnv()
		f.topo.Relations = append(f.topo.Relations, Relation{"fn-code", "cache", RelCalls})
		f.series["alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.120, 0.520, t0)
		f.series["fn|AWS/Lambda|Duration"] = level(60, 260, t0)
		f.series["cache|AWS/DynamoDB|SuccessfulRequestLatency"] = level(4, 204, t0)
		f.series["table|AWS/DynamoDB|SuccessfulRequestLatency"] = level(6, 6, t0)
		rep := investigateFake(t, f)
		if h := top(t, rep); h.Resource != "cache" {
			t.Fatalf("top = %s %s, want cache; all %+v", h.Cause, h.Resource, rep.Hypotheses)
		}
	})
}

func TestAQuietPeerIsTheFailedPart(t *testing.T) {
	f := webEnv()
	f.traces = nil
	f.series["i-1|AWS/EC2|CPUUtilization"] = level(55, 80, t0)
	f.series["i-2|AWS/EC2|CPUUtilization"] = level(55, 1, t0)
	f.series["i-3|AWS/EC2|CPUUtilization"] = level(55, 82, t0)
	rep := investigateFake(t, f)
	if h := top(t, rep); h.Resource != "i-2" || h.Cause != CauseComponent {
		t.Fatalf("top = %s %s, want component i-2; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestOnsetOnFiveMinuteData(t *testing.T) {
	fire := t0.Add(5 * time.Minute)
	tests := []struct {
		name string
		fn   func(time.Time) float64
	}{
		{"a step", after(t0, wobble(2, 0.5), func(time.Time) float64 { return 30 })},
		{"one noisy count just before the step", func(t time.Time) float64 {
			switch {
			case t.Equal(t0.Add(-10 * time.Minute)):
				return 3
			case t.Before(t0):
				return wobble(1, 1)(t)
			}
			return 25
		}},
		{"an old blip, and a smaller rise that is on now", func(t time.Time) float64 {
			switch {
			case t.Equal(t0.Add(-85 * time.Minute)):
				return 60
			case t.Before(t0):
				return wobble(20, 0.05)(t)
			}
			return 38
		}},
		{"one outlier an hour before", func(t time.Time) float64 {
			if t.Equal(t0.Add(-time.Hour)) {
				return 40
			}
			return after(t0, wobble(2, 0.5), func(time.Time) float64 { return 30 })(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _, found := onsetOf(fiveMinute(tt.fn), fire, 5*time.Minute, 30, false, true)
			if !found || !got.Equal(t0) {
				t.Errorf("onset %v (found %v), want %v", got.Format("15:04"), found, t0.Format("15:04"))
			}
		})
	}
}

func TestPlausibility(t *testing.T) {
	f := webEnv()
	f.series["web-asg|AWS/AutoScaling|GroupDesiredCapacity"] = level(3, 3, t0)
	r := &run{src: f.sources(), timeout: time.Second, now: t0, telemetry: window{t0.Add(-3 * time.Hour), t0.Add(time.Minute)}}
	ctx := context.Background()
	var err error
	if r.alarmDef, err = r.alarm(ctx, f.alarm.Name); err != nil {
		t.Fatal(err)
	}
	r.startBackground(ctx)
	r.scope(ctx)
	at := t0.Add(-10 * time.Minute)
	tests := []struct {
		name    string
		change  Change
		earlier []Change
		latency bool // the alarm is on latency, not errors
		want    float64
	}{
		{"a code deploy", Change{Time: at, Event: "UpdateFunctionCode20150331v2", Resource: "fn", Params: map[string]string{"functionName": "fn"}}, nil, false, 1},
		{"a resource policy", Change{Time: at, Event: "PutResourcePolicy", Resource: "table", Params: map[string]string{"resourceArn": "arn:aws:dynamodb:us-east-1:1:table/table"}}, nil, false, 1},
		{"a backup retention change", Change{Time: at, Event: "ModifyDBInstance", Resource: "db", Params: map[string]string{"dBInstanceIdentifier": "db", "backupRetentionPeriod": "14", "applyImmediately": "true"}}, nil, false, 0.1},
		{"a scale-out by automation", Change{Time: at, Event: "UpdateService", Resource: "svc", Params: map[string]string{"desiredCount": "20"}},
			[]Change{{Time: at.Add(-15 * time.Minute), Event: "UpdateService", Resource: "svc", Params: map[string]string{"desiredCount": "16"}}}, false, 0.15},
		{"a scale-in", Change{Time: at, Event: "UpdateService", Resource: "svc", Params: map[string]string{"desiredCount": "4"}},
			[]Change{{Time: at.Add(-15 * time.Minute), Event: "UpdateService", Resource: "svc", Params: map[string]string{"desiredCount": "16"}}}, false, 1},
		{"a policy, for errors", Change{Time: at, Event: "PutRolePolicy", Source: "iam.amazonaws.com", Resource: "role"}, nil, false, 1},
		{"a policy, for latency", Change{Time: at, Event: "PutRolePolicy", Source: "iam.amazonaws.com", Resource: "role"}, nil, true, 0.3},
		{"a key disabled, for latency", Change{Time: at, Event: "DisableKey", Source: "kms.amazonaws.com", Resource: "key"}, nil, true, 0.3},
		{"a deploy, for latency", Change{Time: at, Event: "UpdateFunctionCode20150331v2", Resource: "fn"}, nil, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.symptom.Role = roleErrors
			if tt.latency {
				r.symptom.Role = roleLatency
			}
			if got := r.plausibility(ctx, tt.change, tt.earlier); got != tt.want {
				t.Errorf("plausibility = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAPatternThatStopsIsEvidence(t *testing.T) {
	f := newFake()
	f.alarm = Alarm{
		Name: "api-5xx", Resource: "api", Metric: Metric{Namespace: "AWS/ApiGateway", Name: "5XXError", Dims: map[string]string{"ApiName": "api"}},
		Stat: "Sum", Period: time.Minute, Threshold: 50, Comparison: "GreaterThanThreshold",
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "api", Type: TypeAPIGateway, Dims: map[string]string{"ApiName": "api"}},
			{ID: "web", Type: TypeService},
			{ID: "sync", Type: TypeService, LogGroup: "/app/sync"},
			{ID: "pricing", Type: TypeService, LogGroup: "/app/pricing"},
		},
		Relations: []Relation{{"api", "web", RelTargets}, {"web", "sync", RelCalls}, {"web", "pricing", RelCalls}},
	}
	f.series["api|AWS/ApiGateway|5XXError"] = level(1, 300, t0)
	f.series["api|AWS/ApiGateway|Count"] = level(6000, 6000, t0)
	// sync stops syncing and says nothing of it; pricing carries on.
	f.logs["/app/sync"] = func(w window) LogStats {
		st := logsOf(logLine{"INFO heartbeat ok", "task-1", 60, time.Time{}})(w)
		if w.start.Before(t0) {
			end := w.end
			if end.After(t0) {
				end = t0
			}
			synced := logsOf(logLine{"INFO synced <*> records from the ledger", "task-1", 60, time.Time{}})(window{w.start, end})
			st.Patterns = append(st.Patterns, synced.Patterns...)
			st.Lines += synced.Lines
		}
		return st
	}
	f.logs["/app/pricing"] = logsOf(logLine{"INFO priced <*> items", "task-1", 60, time.Time{}})
	rep := investigateFake(t, f)
	if h := top(t, rep); h.Resource != "sync" {
		t.Fatalf("top = %s %s, want sync; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestPinnedCPUWithoutMoreTrafficIsThePart(t *testing.T) {
	busy := func(traffic float64) *fake {
		f := newFake()
		f.alarm = Alarm{
			Name: "api-latency", Resource: "alb", Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Dims: map[string]string{"LoadBalancer": "alb"}},
			Stat: "Average", Period: time.Minute, Threshold: 0.5, Comparison: "GreaterThanThreshold",
		}
		f.topo = Topology{
			Resources: []Resource{
				{ID: "alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "alb"}},
				{ID: "quotes-tasks", Type: TypeECS, Dims: map[string]string{"ServiceName": "quotes-tasks"}},
				{ID: "quotes", Type: TypeService},
			},
			Relations: []Relation{{"alb", "quotes-tasks", RelTargets}, {"quotes", "quotes-tasks", RelRunsOn}},
		}
		f.series["alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.08, 0.9, t0)
		f.series["alb|AWS/ApplicationELB|RequestCount"] = level(3000, 3000*traffic, t0)
		f.series["quotes-tasks|AWS/ECS|CPUUtilization"] = level(30, 99, t0)
		return f
	}
	rep := investigateFake(t, busy(1))
	if h := top(t, rep); h.Cause != CauseComponent || h.Resource != "quotes-tasks" || h.Actions[0].Kind != ActionRestart {
		t.Errorf("flat traffic: top = %s %s %s, want component quotes-tasks restart; all %+v", h.Cause, h.Resource, h.Actions[0].Kind, rep.Hypotheses)
	}
	rep = investigateFake(t, busy(2.5))
	if h := top(t, rep); h.Cause == CauseComponent {
		t.Errorf("traffic up 2.5×: top = %s %s, want the traffic or the limit; all %+v", h.Cause, h.Resource, rep.Hypotheses)
	}
}

func TestAFewMoreLinesOnOneHostAreNoise(t *testing.T) {
	f := webEnv()
	f.traces = nil
	f.alarm.History = nil
	var lines []logLine
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		lines = append(lines, logLine{"INFO request <*> GET /api/items 200 <*>ms", i, 800, time.Time{}})
	}
	// i-2 logs its usual trickle of timeouts, and a couple more since t0.
	lines = append(lines,
		logLine{"ERROR upstream request timed out after <*>ms, retrying", "i-2", 0.2, time.Time{}},
		logLine{"ERROR upstream request timed out after <*>ms, retrying", "i-2", 2, t0})
	f.logs["/app/app"] = logsOf(lines...)
	// A minute into it, two lines are all there is to see.
	rep, err := New(f.sources(), Options{}).Run(context.Background(), Request{Alarm: f.alarm.Name, Now: t0.Add(time.Minute)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range rep.Hypotheses {
		if h.Resource == "i-2" && h.Confidence >= ClearCause {
			t.Errorf("%s on i-2 at %.2f from two error lines in a minute", h.Cause, h.Confidence)
		}
	}
}
