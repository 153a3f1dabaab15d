package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

func TestSourcesAndNow(t *testing.T) {
	s := New(albScenario(), Options{})
	src := s.Sources()
	v := reflect.ValueOf(src)
	for i := 0; i < v.NumField(); i++ {
		// The simulator's calls are counted by the engine, one each: it
		// has no Meter of its own.
		if v.Type().Field(i).Name == "Meter" {
			continue
		}
		if v.Field(i).IsNil() {
			t.Errorf("Sources().%s is nil", v.Type().Field(i).Name)
		}
	}
	if got, want := s.Now(), albOnset.Add(3*time.Minute); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}

func TestAlarm(t *testing.T) {
	s := New(albScenario(), Options{})
	a, err := s.Alarm(bg, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	want := investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: albDims()}
	if !reflect.DeepEqual(a.Metric, want) {
		t.Errorf("Metric = %+v, want %+v", a.Metric, want)
	}
	if a.State != "ALARM" || a.Resource != "web-alb" || a.Stat != "Sum" || a.Period != time.Minute ||
		a.Threshold != 50 || a.Comparison != "GreaterThanThreshold" || a.Region != "us-east-1" || a.Account != "123456789012" {
		t.Errorf("alarm = %+v", a)
	}
	if len(a.History) != 2 {
		t.Fatalf("History = %+v, want 2 changes", a.History)
	}
	h0, h1 := a.History[0], a.History[1]
	if h0.From != "INSUFFICIENT_DATA" || h0.To != "OK" || !h0.Time.Equal(albOnset.Add(-3*time.Hour)) {
		t.Errorf("History[0] = %+v", h0)
	}
	if h1.From != "OK" || h1.To != "ALARM" || !h1.Time.Equal(albOnset.Add(3*time.Minute)) {
		t.Errorf("History[1] = %+v", h1)
	}
	// The reason quotes the simulated datapoint of 10:32.
	q := albQuery("x", "HTTPCode_Target_5XX_Count", "Sum", time.Minute)
	v := metrics(t, s, q, albOnset.Add(2*time.Minute), albOnset.Add(3*time.Minute)).Values[0]
	wantReason := fmt.Sprintf("Threshold Crossed: 1 datapoint [%s (03/12/24 10:32:00)] was greater than the threshold (50.0).", javaFloat(v))
	if h1.Reason != wantReason {
		t.Errorf("Reason = %q, want %q", h1.Reason, wantReason)
	}

	_, err = s.Alarm(bg, "nope")
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "alarm" || nf.Name != "nope" || !reflect.DeepEqual(nf.Candidates, []string{"web-alb-target-5xx"}) {
		t.Errorf("Alarm(nope) error = %#v, want NotFoundError with the alarm as candidate", err)
	}
}

func TestTopology(t *testing.T) {
	s := New(albScenario(), Options{})
	top, err := s.Topology(bg, investigate.Alarm{})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Resources) != 8 {
		t.Errorf("got %d resources, want 8", len(top.Resources))
	}
	byID := map[string]investigate.Resource{}
	for _, r := range top.Resources {
		byID[r.ID] = r
	}
	tests := []struct {
		id       string
		dims     map[string]string
		logGroup string
		config   map[string]string
	}{
		{"web-alb", albDims(), "", map[string]string{"rps": "40"}},
		{inst3, map[string]string{"InstanceId": inst3}, "", map[string]string{"instance_type": "m5.large", "asg": "web-asg"}},
		{"web-asg", map[string]string{"AutoScalingGroupName": "web-asg"}, "", map[string]string{"min": "3", "max": "6", "desired": "3"}},
		{"bot-forge", nil, "/app/bot-forge", nil},
		{"forge-templates", map[string]string{"TableName": "forge-templates"}, "", map[string]string{"mode": "on-demand"}},
		{"sg-0bastion", nil, "", nil},
	}
	for _, tt := range tests {
		r, ok := byID[tt.id]
		if !ok {
			t.Errorf("no resource %s", tt.id)
			continue
		}
		if !reflect.DeepEqual(r.Dims, tt.dims) || r.LogGroup != tt.logGroup || !reflect.DeepEqual(r.Config, tt.config) {
			t.Errorf("%s: dims %v log group %q config %v; want %v %q %v", tt.id, r.Dims, r.LogGroup, r.Config, tt.dims, tt.logGroup, tt.config)
		}
	}
	if got := byID["sg-0bastion"].ARN; got != "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0bastion" {
		t.Errorf("derived ARN = %q", got)
	}
	rels := map[investigate.Relation]bool{}
	for _, r := range top.Relations {
		rels[r] = true
	}
	for _, want := range []investigate.Relation{
		{From: "web-alb", To: inst1, Kind: investigate.RelTargets},
		{From: "web-alb", To: inst3, Kind: investigate.RelTargets},
		{From: "bot-forge", To: inst2, Kind: investigate.RelRunsOn},
		{From: "bot-forge", To: "forge-templates", Kind: investigate.RelCalls},
		{From: inst1, To: "web-asg", Kind: investigate.RelMemberOf},
	} {
		if !rels[want] {
			t.Errorf("missing relation %+v", want)
		}
	}
	if len(top.Relations) != 3+3+1+3 {
		t.Errorf("got %d relations, want 10: %+v", len(top.Relations), top.Relations)
	}
}

func TestAlarmMetricCrossesAtOnset(t *testing.T) {
	s := New(albScenario(), Options{})
	sc := s.sc
	ser := metrics(t, s, albQuery("m", "HTTPCode_Target_5XX_Count", "Sum", time.Minute), sc.Start(), s.Now())
	if got, want := len(ser.Values), 183; got != want {
		t.Fatalf("got %d datapoints, want %d", got, want)
	}
	for i, tm := range ser.Times {
		v := ser.Values[i]
		switch before := tm.Before(albOnset); {
		case before && v >= 50:
			t.Errorf("%v (before onset): %v >= 50", tm, v)
		case !before && (v < 700 || v > 900):
			t.Errorf("%v (after onset): %v, want about 800", tm, v)
		}
	}
	// Healthy: about 0.1% of about 2400 requests a minute.
	if m := mean(valuesIn(ser, sc.Start(), albOnset.Add(-time.Hour))); m < 1 || m > 5 {
		t.Errorf("healthy 5XX mean = %.2f, want about 2.4", m)
	}
}

func TestRequestCountFollowsRamp(t *testing.T) {
	s := New(albScenario(), Options{})
	ser := metrics(t, s, albQuery("rc", "RequestCount", "Sum", time.Minute), s.sc.Start(), s.Now())
	at := func(d time.Duration) time.Time { return albOnset.Add(d) }
	tests := []struct {
		name     string
		from, to time.Duration
		want     float64
	}{
		{"before the ramp", -100 * time.Minute, -40 * time.Minute, 2400},
		{"middle of the ramp", -30 * time.Minute, -20 * time.Minute, 2545},
		{"after the ramp", -10 * time.Minute, 3 * time.Minute, 2700},
	}
	for _, tt := range tests {
		got := mean(valuesIn(ser, at(tt.from), at(tt.to)))
		if math.Abs(got-tt.want)/tt.want > 0.02 {
			t.Errorf("%s: mean %.0f, want %.0f", tt.name, got, tt.want)
		}
	}
	// Traffic-derived signals follow: the DynamoDB table's reads and an
	// instance's network.
	q := investigate.MetricQuery{ID: "rcu", Metric: investigate.Metric{Namespace: "AWS/DynamoDB", Name: "ConsumedReadCapacityUnits", Dims: map[string]string{"TableName": "forge-templates"}}}
	rcu := metrics(t, s, q, s.sc.Start(), s.Now())
	before, after := mean(valuesIn(rcu, at(-100*time.Minute), at(-40*time.Minute))), mean(valuesIn(rcu, at(-10*time.Minute), at(0)))
	if r := after / before; r < 1.08 || r > 1.17 {
		t.Errorf("ConsumedReadCapacityUnits after/before = %.3f, want about 1.125", r)
	}
}

func TestPeriodsAggregateSteps(t *testing.T) {
	s := New(albScenario(), Options{})
	start, end := albOnset.Add(-time.Hour), albOnset
	one := metrics(t, s, albQuery("a", "RequestCount", "Sum", time.Minute), start, end)
	five := metrics(t, s, albQuery("b", "RequestCount", "Sum", 5*time.Minute), start, end)
	if len(five.Values) != 12 {
		t.Fatalf("got %d 5-minute datapoints, want 12", len(five.Values))
	}
	for i, tm := range five.Times {
		var sum float64
		for _, v := range valuesIn(one, tm, tm.Add(5*time.Minute)) {
			sum += v
		}
		if five.Values[i] != sum {
			t.Errorf("%v: 5-minute Sum %v, want the sum of the minutes %v", tm, five.Values[i], sum)
		}
	}
	tests := []struct {
		stat string
		want func(v []float64) float64
	}{
		{"Average", mean},
		{"Maximum", func(v []float64) float64 { return maxOf(v) }},
		{"Minimum", func(v []float64) float64 { return -maxOf(neg(v)) }},
		{"SampleCount", func(v []float64) float64 {
			var s float64
			for _, x := range v {
				s += x
			}
			return s
		}},
	}
	for _, tt := range tests {
		got := metrics(t, s, albQuery("c", "RequestCount", tt.stat, 5*time.Minute), start, end)
		for i, tm := range got.Times {
			if want := tt.want(valuesIn(one, tm, tm.Add(5*time.Minute))); math.Abs(got.Values[i]-want) > 1e-9 {
				t.Errorf("%s at %v = %v, want %v", tt.stat, tm, got.Values[i], want)
			}
		}
	}
	avg := metrics(t, s, albQuery("d", "TargetResponseTime", "Average", 5*time.Minute), start, end)
	p99 := metrics(t, s, albQuery("e", "TargetResponseTime", "p99", 5*time.Minute), start, end)
	for i := range avg.Values {
		if r := p99.Values[i] / avg.Values[i]; r < 1.3 || r > 2.5 {
			t.Errorf("p99/avg = %.2f, want a modest tail", r)
		}
	}
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func neg(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}

func TestHealthyMetrics(t *testing.T) {
	s := New(albScenario(), Options{})
	start, end := albOnset.Add(-2*time.Hour), albOnset.Add(-time.Hour)
	q := func(ns, name string, dims map[string]string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: name, Metric: investigate.Metric{Namespace: ns, Name: name, Dims: dims}}
	}
	inst := map[string]string{"InstanceId": inst1}
	tests := []struct {
		q      investigate.MetricQuery
		lo, hi float64
	}{
		{q("AWS/ApplicationELB", "HealthyHostCount", albDims()), 3, 3},
		{q("AWS/ApplicationELB", "UnHealthyHostCount", albDims()), 0, 0},
		{q("AWS/ApplicationELB", "TargetResponseTime", albDims()), 0.03, 0.07},
		{q("AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", albDims()), 10, 40},
		{q("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", albDims()), 0, 1.5},
		{q("AWS/EC2", "CPUUtilization", inst), 15, 35},
		{q("AWS/EC2", "StatusCheckFailed", inst), 0, 0},
		{q("CWAgent", "mem_used_percent", inst), 38, 52},
		{q("CWAgent", "disk_used_percent", inst), 28, 52},
		{q("AWS/AutoScaling", "GroupInServiceInstances", map[string]string{"AutoScalingGroupName": "web-asg"}), 3, 3},
		{q("AWS/DynamoDB", "SuccessfulRequestLatency", map[string]string{"TableName": "forge-templates"}), 3, 8},
		{q("AWS/DynamoDB", "ThrottledRequests", map[string]string{"TableName": "forge-templates"}), 0, 0},
	}
	for _, tt := range tests {
		ser := metrics(t, s, tt.q, start, end)
		if len(ser.Values) != 60 {
			t.Errorf("%s: %d datapoints, want 60", tt.q.ID, len(ser.Values))
			continue
		}
		if m := mean(ser.Values); m < tt.lo || m > tt.hi {
			t.Errorf("%s: mean %v, want in [%v, %v]", tt.q.ID, m, tt.lo, tt.hi)
		}
	}
	// Unknown metrics and dimensions: a series with the ID and no points.
	for _, mq := range []investigate.MetricQuery{
		q("AWS/ApplicationELB", "NoSuchMetric", albDims()),
		q("AWS/ApplicationELB", "RequestCount", map[string]string{"LoadBalancer": "app/other/0000000000000000"}),
		q("AWS/ApplicationELB", "RequestCount", nil),
	} {
		mq.ID = "unknown"
		if ser := metrics(t, s, mq, start, end); len(ser.Times) != 0 || len(ser.Values) != 0 {
			t.Errorf("%+v: got %d points, want none", mq.Metric, len(ser.Values))
		}
	}
}

func TestErrorLogsByInstance(t *testing.T) {
	s := New(albScenario(), Options{})
	const group = "/app/bot-forge"
	before := logs(t, s, group, albOnset.Add(-time.Hour), albOnset)
	after := logs(t, s, group, albOnset, s.Now())
	tests := []struct {
		name   string
		st     investigate.LogStats
		stream string
		lo, hi int
	}{
		{"healthy instance before onset", before, inst1, 0, 40},
		{"bad instance before onset", before, inst3, 0, 40},
		{"healthy instance after onset", after, inst1, 0, 6},
		{"other healthy instance after onset", after, inst2, 0, 6},
		{"bad instance after onset", after, inst3, 3 * 740, 3 * 860},
	}
	for _, tt := range tests {
		if got := errorLines(tt.st, tt.stream); got < tt.lo || got > tt.hi {
			t.Errorf("%s: %d error lines, want in [%d, %d]", tt.name, got, tt.lo, tt.hi)
		}
	}
	// The item's pattern, with its placeholder, and a filled sample.
	p := after.Patterns[0]
	for _, x := range after.Patterns {
		if strings.Contains(x.Pattern, "reply.tmpl") {
			p = x
		}
	}
	if p.Pattern != "ERROR request <*> failed: render reply: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory" {
		t.Errorf("pattern = %q", p.Pattern)
	}
	if len(p.ByStream) != 1 || p.ByStream[inst3] != p.Count || strings.Contains(p.Sample, "{id}") || !strings.HasPrefix(p.Sample, "ERROR request ") {
		t.Errorf("pattern %+v: want only %s and a filled sample", p, inst3)
	}
	// Healthy INFO lines follow the traffic: about one a request.
	if r := float64(before.Lines) / (60 * 2500); r < 0.9 || r > 1.15 {
		t.Errorf("lines in an hour before onset = %d, want about one per request (%.2f)", before.Lines, r)
	}
	sum := 0
	for _, n := range before.ByStream {
		sum += n
	}
	if sum != before.Lines || len(before.ByStream) != 3 {
		t.Errorf("ByStream %v does not add up to %d over 3 streams", before.ByStream, before.Lines)
	}
	if before.BytesScanned < int64(before.Lines)*30 {
		t.Errorf("BytesScanned = %d for %d lines", before.BytesScanned, before.Lines)
	}
	warn := 0
	for _, p := range before.Patterns {
		if strings.HasPrefix(p.Pattern, "WARN") {
			warn += p.Count
		}
	}
	if warn == 0 {
		t.Errorf("no benign WARN lines before onset: %+v", before.Patterns)
	}

	_, err := s.Logs(bg, investigate.LogQuery{Group: "/app/bot-forje", Start: albOnset, End: s.Now()})
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "log group" || len(nf.Candidates) == 0 || nf.Candidates[0] != group {
		t.Errorf("unknown group: error %#v, want NotFoundError suggesting %s", err, group)
	}
}

func TestLogWindowsAreAdditive(t *testing.T) {
	s := New(albScenario(), Options{})
	a, c := albOnset.Add(-20*time.Minute), albOnset.Add(2*time.Minute)
	for _, cut := range []time.Duration{0, 17 * time.Second, 10*time.Minute + 31*time.Second, 21*time.Minute + 59*time.Second} {
		b := a.Add(cut)
		whole := logs(t, s, "/app/bot-forge", a, c)
		left, right := logs(t, s, "/app/bot-forge", a, b), logs(t, s, "/app/bot-forge", b, c)
		if left.Lines+right.Lines != whole.Lines {
			t.Errorf("cut at %v: %d + %d != %d", cut, left.Lines, right.Lines, whole.Lines)
		}
		for stream, n := range whole.ByStream {
			if left.ByStream[stream]+right.ByStream[stream] != n {
				t.Errorf("cut at %v, stream %s: %d + %d != %d", cut, stream, left.ByStream[stream], right.ByStream[stream], n)
			}
		}
	}
}

func TestTracesOneBadInstance(t *testing.T) {
	s := New(albScenario(), Options{})
	before := traces(t, s, albOnset.Add(-30*time.Minute), albOnset)
	after := traces(t, s, albOnset, s.Now())
	const exc = "TemplateError: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory"
	tests := []struct {
		name     string
		gs       []investigate.TraceGroup
		instance string
		all      bool // every request faults
	}{
		{"i1 before", before, inst1, false},
		{"i2 before", before, inst2, false},
		{"i3 before", before, inst3, false},
		{"i1 after", after, inst1, false},
		{"i2 after", after, inst2, false},
		{"i3 after", after, inst3, true},
	}
	for _, tt := range tests {
		g, ok := findGroup(tt.gs, "web-alb", "bot-forge", tt.instance)
		if !ok {
			t.Errorf("%s: no web-alb>bot-forge group", tt.name)
			continue
		}
		if g.Requests == 0 {
			t.Errorf("%s: no requests", tt.name)
			continue
		}
		if tt.all {
			if g.Faults != g.Requests || len(g.Exceptions) == 0 || g.Exceptions[0].Message != exc || g.Exceptions[0].Count != g.Faults {
				t.Errorf("%s: %d faults of %d, exceptions %+v; want all faults with the item's exception", tt.name, g.Faults, g.Requests, g.Exceptions)
			}
		} else if share := float64(g.Faults) / float64(g.Requests); share > 0.01 {
			t.Errorf("%s: fault share %.3f, want healthy", tt.name, share)
		}
		if len(g.TraceIDs) == 0 || !traceIDRe(g.TraceIDs[0]) {
			t.Errorf("%s: trace ids %v", tt.name, g.TraceIDs)
		}
	}
	// The entry's faults are its targets' faults: about a third after onset.
	c, ok := findGroup(after, "client", "web-alb", "")
	if !ok {
		t.Fatal("no client>web-alb group")
	}
	if share := float64(c.Faults) / float64(c.Requests); share < 0.25 || share > 0.42 {
		t.Errorf("client>web-alb fault share %.2f, want about 1/3", share)
	}
	if c.Exceptions[0].Message != exc {
		t.Errorf("client>web-alb top exception %q", c.Exceptions[0].Message)
	}
	// Calls to the table, from each host, with a DynamoDB latency.
	for _, in := range []string{inst1, inst2, inst3} {
		g, ok := findGroup(before, "bot-forge", "forge-templates", in)
		if !ok || g.Latency < 4*time.Millisecond || g.Latency > 9*time.Millisecond {
			t.Errorf("bot-forge>forge-templates on %s: %+v", in, g)
		}
	}
	// Sampled counts: 1/s per host and 5% of the rest, about 15 rps a host.
	g, _ := findGroup(before, "web-alb", "bot-forge", inst1)
	if perMin := float64(g.Requests) / 30; perMin < 85 || perMin > 120 {
		t.Errorf("sampled requests per minute on a host = %.1f, want about 102", perMin)
	}
	if g.Latency < 30*time.Millisecond || g.Latency > 60*time.Millisecond {
		t.Errorf("web-alb>bot-forge latency %v, want about 41ms", g.Latency)
	}
	if len(after) != 7 {
		t.Errorf("got %d trace groups, want 7", len(after))
	}
}

func traceIDRe(id string) bool {
	parts := strings.Split(id, "-")
	return len(parts) == 3 && parts[0] == "1" && len(parts[1]) == 8 && len(parts[2]) == 24
}

func TestChanges(t *testing.T) {
	s := New(albScenario(), Options{})
	start := s.sc.Start()
	ch, err := s.Changes(bg, start, s.Now())
	if err != nil {
		t.Fatal(err)
	}
	var own []investigate.Change
	readOnly := 0
	for i, c := range ch {
		if i > 0 && c.Time.Before(ch[i-1].Time) {
			t.Errorf("changes not sorted at %d", i)
		}
		if c.Time.Before(start) || c.Time.After(s.Now()) {
			t.Errorf("change at %v outside telemetry", c.Time)
		}
		if c.ReadOnly {
			readOnly++
			if !readOnlyEvent(c.Event) {
				t.Errorf("read-only background event %q", c.Event)
			}
		} else {
			own = append(own, c)
		}
		if len(c.ID) != 36 {
			t.Errorf("id %q is not a UUID", c.ID)
		}
	}
	if len(own) != 1 || own[0].Event != "AuthorizeSecurityGroupIngress" || own[0].Resource != "sg-0bastion" ||
		!own[0].Time.Equal(albOnset.Add(-2*time.Hour)) || own[0].Actor != "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/kenji" {
		t.Errorf("scenario changes = %+v", own)
	}
	// A few an hour over 3h3m.
	if readOnly < 9 || readOnly > 30 {
		t.Errorf("%d background events, want a few an hour", readOnly)
	}
	// A window gives the same events as the whole.
	part, _ := s.Changes(bg, albOnset.Add(-150*time.Minute), albOnset.Add(-90*time.Minute))
	var want []investigate.Change
	for _, c := range ch {
		if !c.Time.Before(albOnset.Add(-150*time.Minute)) && c.Time.Before(albOnset.Add(-90*time.Minute)) {
			want = append(want, c)
		}
	}
	if !reflect.DeepEqual(part, want) {
		t.Errorf("windowed changes differ:\n got %+v\nwant %+v", part, want)
	}
	tests := []struct {
		event string
		want  bool
	}{{"DescribeInstances", true}, {"GetParameter", true}, {"ListFunctions", true}, {"LookupEvents", true},
		{"HeadObject", true}, {"AssumeRole", true}, {"PutResourcePolicy", false}, {"UpdateFunctionCode20150331v2", false}}
	for _, tt := range tests {
		if got := readOnlyEvent(tt.event); got != tt.want {
			t.Errorf("readOnlyEvent(%q) = %v, want %v", tt.event, got, tt.want)
		}
	}
}

func TestNothingOutsideTelemetry(t *testing.T) {
	s := New(albScenario(), Options{})
	start, now := s.sc.Start(), s.Now()
	wide0, wide1 := start.Add(-6*time.Hour), s.sc.End().Add(6*time.Hour)
	for _, period := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
		ser := metrics(t, s, albQuery("rc", "RequestCount", "Sum", period), wide0, wide1)
		if len(ser.Times) == 0 {
			t.Fatalf("period %v: no data", period)
		}
		if ser.Times[0].Before(start) {
			t.Errorf("period %v: first datapoint %v before start %v", period, ser.Times[0], start)
		}
		if !ser.Times[len(ser.Times)-1].Before(now) {
			t.Errorf("period %v: last datapoint %v not before now %v", period, ser.Times[len(ser.Times)-1], now)
		}
	}
	one := metrics(t, s, albQuery("rc", "RequestCount", "Sum", time.Minute), wide0, wide1)
	if last := one.Times[len(one.Times)-1]; !last.Equal(now.Add(-time.Minute)) {
		t.Errorf("last 1-minute datapoint %v, want %v", last, now.Add(-time.Minute))
	}
	if got := len(one.Times); got != 183 {
		t.Errorf("%d datapoints, want 183", got)
	}
	for _, w := range [][2]time.Time{{wide0, start}, {now, wide1}} {
		if ser := metrics(t, s, albQuery("rc", "RequestCount", "Sum", time.Minute), w[0], w[1]); len(ser.Values) != 0 {
			t.Errorf("metrics in %v: %d points", w, len(ser.Values))
		}
		if st := logs(t, s, "/app/bot-forge", w[0], w[1]); st.Lines != 0 {
			t.Errorf("logs in %v: %d lines", w, st.Lines)
		}
		if gs := traces(t, s, w[0], w[1]); len(gs) != 0 {
			t.Errorf("traces in %v: %d groups", w, len(gs))
		}
		if ch, _ := s.Changes(bg, w[0], w[1]); len(ch) != 0 {
			t.Errorf("changes in %v: %+v", w, ch)
		}
	}
	all := logs(t, s, "/app/bot-forge", wide0, wide1)
	inside := logs(t, s, "/app/bot-forge", start, now)
	if !reflect.DeepEqual(all, inside) {
		t.Errorf("logs over a wide window differ from logs over telemetry")
	}
}

func TestLaterNow(t *testing.T) {
	sc := albScenario()
	s := New(sc, Options{Now: albOnset.Add(20 * time.Minute)})
	ser := metrics(t, s, albQuery("x", "HTTPCode_Target_5XX_Count", "Sum", time.Minute), albOnset, albOnset.Add(time.Hour))
	if len(ser.Values) != 20 {
		t.Errorf("with now at +20m: %d datapoints after onset, want 20", len(ser.Values))
	}
	if s2 := New(sc, Options{Now: sc.End().Add(time.Hour)}); !s2.Now().Equal(sc.End()) {
		t.Errorf("Now() = %v, want it kept at the end of telemetry %v", s2.Now(), sc.End())
	}
}

// snapshot is every answer of s to a fixed set of questions.
func snapshot(t testing.TB, s *Sim, order []int) []any {
	sc := s.sc
	type q func() any
	mq := []investigate.MetricQuery{
		albQuery("rc", "RequestCount", "Sum", time.Minute),
		albQuery("5xx", "HTTPCode_Target_5XX_Count", "Sum", 5*time.Minute),
		albQuery("trt", "TargetResponseTime", "p90", time.Minute),
		{ID: "cpu", Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": inst2}}},
	}
	qs := []q{
		func() any { v, _ := s.Metrics(bg, mq, sc.Start(), s.Now()); return v },
		func() any { v, _ := s.Metrics(bg, mq[1:3], albOnset.Add(-time.Hour), s.Now()); return v },
		func() any { return logs(t, s, "/app/bot-forge", sc.Start(), s.Now()) },
		func() any { return logs(t, s, "/app/bot-forge", albOnset.Add(-7*time.Minute-13*time.Second), s.Now()) },
		func() any { return traces(t, s, albOnset.Add(-time.Hour), s.Now()) },
		func() any { v, _ := s.Changes(bg, sc.Start(), s.Now()); return v },
		func() any { v, _ := s.Alarm(bg, sc.Alarm.Name); return v },
		func() any { v, _ := s.Topology(bg, investigate.Alarm{}); return v },
	}
	out := make([]any, len(qs))
	for _, i := range order {
		out[i] = qs[i]()
	}
	return out
}

func TestDeterminism(t *testing.T) {
	fwd := []int{0, 1, 2, 3, 4, 5, 6, 7}
	rev := []int{7, 6, 5, 4, 3, 2, 1, 0}
	want := snapshot(t, New(albScenario(), Options{}), fwd)

	s := New(albScenario(), Options{})
	if got := snapshot(t, s, rev); !reflect.DeepEqual(got, want) {
		t.Error("answers differ when asked in another order")
	}
	if got := snapshot(t, s, fwd); !reflect.DeepEqual(got, want) {
		t.Error("answers differ when asked twice")
	}
	var wg sync.WaitGroup
	results := make([][]any, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = snapshot(t, s, fwd)
		}()
	}
	wg.Wait()
	for i, got := range results {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("concurrent run %d differs", i)
		}
	}

	// Windows: overlapping queries agree on every datapoint they share.
	q := albQuery("rc", "RequestCount", "Sum", time.Minute)
	a := metrics(t, s, q, albOnset.Add(-90*time.Minute), albOnset)
	b := metrics(t, s, q, albOnset.Add(-30*time.Minute), s.Now())
	at := map[time.Time]float64{}
	for i, tm := range a.Times {
		at[tm] = a.Values[i]
	}
	shared := 0
	for i, tm := range b.Times {
		if v, ok := at[tm]; ok {
			shared++
			if v != b.Values[i] {
				t.Errorf("%v: %v in one window, %v in another", tm, v, b.Values[i])
			}
		}
	}
	if shared != 30 {
		t.Errorf("%d shared datapoints, want 30", shared)
	}

	// Another seed gives other noise.
	sc := albScenario()
	sc.Seed++
	other := snapshot(t, New(sc, Options{}), fwd)
	if reflect.DeepEqual(other[0], want[0]) {
		t.Error("a different seed gives the same metrics")
	}
}

func TestOptions(t *testing.T) {
	boom := errors.New("throttled")
	tests := []struct {
		name    string
		opts    Options
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
		minTime time.Duration
	}{
		{"no options", Options{}, nil, nil, 0},
		{"latency", Options{Latency: map[string]time.Duration{KindMetrics: 30 * time.Millisecond}}, nil, nil, 30 * time.Millisecond},
		{"fail", Options{Fail: map[string]error{KindMetrics: boom}}, nil, boom, 0},
		{"latency then fail", Options{Latency: map[string]time.Duration{KindMetrics: 20 * time.Millisecond}, Fail: map[string]error{KindMetrics: boom}}, nil, boom, 20 * time.Millisecond},
		{"context ends first", Options{Latency: map[string]time.Duration{KindMetrics: 10 * time.Second}},
			func() (context.Context, context.CancelFunc) { return context.WithTimeout(bg, 20*time.Millisecond) }, context.DeadlineExceeded, 0},
		{"context already cancelled", Options{},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(bg)
				cancel()
				return ctx, cancel
			}, context.Canceled, 0},
		{"other kinds unaffected", Options{Fail: map[string]error{KindLogs: boom}, Latency: map[string]time.Duration{KindTraces: time.Hour}}, nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(albScenario(), tt.opts)
			ctx := bg
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx()
				defer cancel()
			}
			t0 := time.Now()
			out, err := s.Metrics(ctx, []investigate.MetricQuery{albQuery("rc", "RequestCount", "Sum", time.Minute)}, albOnset.Add(-time.Hour), albOnset)
			if el := time.Since(t0); el < tt.minTime {
				t.Errorf("took %v, want at least %v", el, tt.minTime)
			}
			if tt.wantErr == nil {
				if err != nil || len(out) != 1 || len(out[0].Values) != 60 {
					t.Errorf("got %d series, err %v", len(out), err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.HasPrefix(err.Error(), "sim metrics: ") {
				t.Errorf("error %v, want one wrapping %v as sim metrics", err, tt.wantErr)
			}
			if s.Calls()[KindMetrics] != 1 {
				t.Errorf("Calls = %v, want the failed call counted", s.Calls())
			}
		})
	}
	// Every kind fails with its own name.
	fail := map[string]error{}
	for _, k := range Kinds {
		fail[k] = boom
	}
	s := New(albScenario(), Options{Fail: fail})
	src := s.Sources()
	errs := map[string]error{}
	_, errs[KindAlarm] = src.Alarms.Alarm(bg, "web-alb-target-5xx")
	_, errs[KindTopology] = src.Topology.Topology(bg, investigate.Alarm{})
	_, errs[KindMetrics] = src.Metrics.Metrics(bg, nil, albOnset, s.Now())
	_, errs[KindLogs] = src.Logs.Logs(bg, investigate.LogQuery{Group: "/app/bot-forge"})
	_, errs[KindTraces] = src.Traces.Traces(bg, investigate.TraceQuery{})
	_, errs[KindChanges] = src.Changes.Changes(bg, albOnset, s.Now())
	_, errs[KindHealth] = src.Health.Health(bg, albOnset, s.Now())
	_, errs[KindQuotas] = src.Quotas.Quotas(bg, nil)
	_, errs[KindClients] = src.Clients.Clients(bg, investigate.ClientQuery{Entry: investigate.Resource{ID: "web-alb"}})
	for _, k := range Kinds {
		if err := errs[k]; !errors.Is(err, boom) || err.Error() != "sim "+k+": throttled" {
			t.Errorf("%s: error %v", k, err)
		}
	}
}

func TestCallCountsUnderConcurrency(t *testing.T) {
	s := New(albScenario(), Options{})
	src := s.Sources()
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.Alarms.Alarm(bg, "web-alb-target-5xx")
			src.Topology.Topology(bg, investigate.Alarm{})
			src.Metrics.Metrics(bg, []investigate.MetricQuery{albQuery("rc", "RequestCount", "Sum", time.Minute)}, albOnset.Add(-10*time.Minute), albOnset)
			src.Logs.Logs(bg, investigate.LogQuery{Group: "/app/bot-forge", Start: albOnset.Add(-10 * time.Minute), End: albOnset})
			src.Traces.Traces(bg, investigate.TraceQuery{Start: albOnset.Add(-10 * time.Minute), End: albOnset})
			src.Changes.Changes(bg, albOnset.Add(-10*time.Minute), albOnset)
			src.Health.Health(bg, albOnset.Add(-10*time.Minute), albOnset)
			src.Quotas.Quotas(bg, nil)
			src.Clients.Clients(bg, investigate.ClientQuery{Entry: investigate.Resource{ID: "web-alb"}, Start: albOnset.Add(-10 * time.Minute), End: albOnset})
			_ = s.Calls()
			_ = s.TotalCalls()
		}()
	}
	wg.Wait()
	calls := s.Calls()
	for _, k := range Kinds {
		if calls[k] != n {
			t.Errorf("Calls()[%s] = %d, want %d", k, calls[k], n)
		}
	}
	if got := s.TotalCalls(); got != n*len(Kinds) {
		t.Errorf("TotalCalls() = %d, want %d", got, n*len(Kinds))
	}
	calls[KindAlarm] = -1
	if s.Calls()[KindAlarm] != n {
		t.Error("Calls() is not a copy")
	}
}

func TestLambdaConcurrencyLimit(t *testing.T) {
	sc := load(t, "lambda-concurrency-limit.yaml")
	s := New(sc, Options{})
	fn := map[string]string{"FunctionName": "ingest-fn"}
	q := func(id, name string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: id, Metric: investigate.Metric{Namespace: "AWS/Lambda", Name: name, Dims: fn}}
	}
	conc := metrics(t, s, q("c", "ConcurrentExecutions"), sc.Start(), s.Now())
	healthy := valuesIn(conc, sc.Start(), sc.Onset.Add(-5*time.Minute))
	if m := maxOf(healthy); m > 80 || m < 10 {
		t.Errorf("healthy ConcurrentExecutions max %v, want about rps x duration (30 to 50)", m)
	}
	plateau := valuesIn(conc, sc.Onset, s.Now())
	if len(plateau) != 2 || maxOf(plateau) != 1000 {
		t.Errorf("ConcurrentExecutions after onset = %v, want it to reach the item's 1000", plateau)
	}
	if maxOf(conc.Values) > 1000 {
		t.Errorf("ConcurrentExecutions above the limit: %v", maxOf(conc.Values))
	}
	// Invocations follow the entry's Count ramp (3x), Throttles appear at
	// the onset.
	inv := metrics(t, s, q("i", "Invocations"), sc.Start(), s.Now())
	r := mean(valuesIn(inv, sc.Onset, s.Now())) / mean(valuesIn(inv, sc.Start(), sc.Onset.Add(-10*time.Minute)))
	if r < 2.8 || r > 3.2 {
		t.Errorf("Invocations after/before = %.2f, want about 3", r)
	}
	thr := metrics(t, s, q("t", "Throttles"), sc.Start(), s.Now())
	if m := maxOf(valuesIn(thr, sc.Start(), sc.Onset)); m != 0 {
		t.Errorf("Throttles before onset: %v", m)
	}
	// The account-level series sums the functions.
	acct := metrics(t, s, investigate.MetricQuery{ID: "a", Metric: investigate.Metric{Namespace: "AWS/Lambda", Name: "ConcurrentExecutions"}}, sc.Start(), s.Now())
	if !reflect.DeepEqual(acct.Values, conc.Values) {
		t.Error("account ConcurrentExecutions differs from the only function's")
	}
	qs, err := s.Quotas(bg, []investigate.Resource{{ID: "ingest-fn"}, {ID: "events-queue"}})
	if err != nil || len(qs) != 1 || qs[0].Value != 1000 || qs[0].Code != "L-B99A9384" {
		t.Errorf("Quotas = %+v, %v", qs, err)
	}
	if qs, _ := s.Quotas(bg, []investigate.Resource{{ID: "events-queue"}}); len(qs) != 0 {
		t.Errorf("Quotas(events-queue) = %+v", qs)
	}
	// The client edge carries the item's throttles.
	gs := traces(t, s, sc.Onset, s.Now())
	c, ok := findGroup(gs, "client", "ingest-api", "")
	if !ok || c.Throttles == 0 {
		t.Fatalf("client>ingest-api = %+v", c)
	}
	if share := float64(c.Throttles) / float64(c.Requests); share < 0.12 || share > 0.22 {
		t.Errorf("throttle share %.2f, want about 0.17", share)
	}
	lg := logs(t, s, "/aws/lambda/ingest-fn", sc.Onset.Add(-time.Hour), sc.Onset.Add(-50*time.Minute))
	found := false
	for _, p := range lg.Patterns {
		if strings.HasPrefix(p.Pattern, "REPORT RequestId: <*>") {
			found = true
		}
	}
	if !found || lg.Lines < 10*18000*3 {
		t.Errorf("lambda log group: %d lines, patterns %+v", lg.Lines, lg.Patterns)
	}
}

func TestHealth(t *testing.T) {
	sc := albScenario()
	sc.Health = []scenario.HealthItem{
		{Window: scenario.Window{At: albOnset.Add(-10 * time.Minute), Until: albOnset.Add(-5 * time.Minute)}, Service: "EC2", Type: "AWS_EC2_OPERATIONAL_ISSUE", Status: "closed", AZ: "us-east-1c", Resources: []string{inst3}, Description: "degraded"},
		{Window: scenario.Window{At: albOnset.Add(time.Minute), Until: sc.End()}, Service: "DYNAMODB", Type: "AWS_DYNAMODB_OPERATIONAL_ISSUE", Status: "open"},
		{Window: scenario.Window{At: albOnset.Add(10 * time.Minute), Until: sc.End()}, Service: "EC2", Type: "AWS_EC2_LATER", Status: "open"},
	}
	s := New(sc, Options{})
	evs, err := s.Health(bg, sc.Start(), s.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2 (the third starts after now): %+v", len(evs), evs)
	}
	e := evs[0]
	if !strings.HasPrefix(e.ARN, "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/") || e.Service != "EC2" ||
		!e.Start.Equal(albOnset.Add(-10*time.Minute)) || !e.End.Equal(albOnset.Add(-5*time.Minute)) || e.AZ != "us-east-1c" ||
		!reflect.DeepEqual(e.Resources, []string{inst3}) || e.Region != "us-east-1" || e.Status != "closed" {
		t.Errorf("event = %+v", e)
	}
	if !evs[1].End.IsZero() {
		t.Errorf("an event open to the end has End %v", evs[1].End)
	}
	if evs, _ := s.Health(bg, albOnset.Add(-4*time.Minute), s.Now()); len(evs) != 1 || evs[0].Service != "DYNAMODB" {
		t.Errorf("window after the first event: %+v", evs)
	}
}

// TestExamples runs every source over every example scenario.
func TestExamples(t *testing.T) {
	files, err := scenario.LoadAll(os.DirFS("../scenarios"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("loaded %d scenarios", len(files))
	}
	for _, f := range files {
		sc := f.Scenario
		t.Run(sc.Name, func(t *testing.T) {
			s := New(sc, Options{})
			a, err := s.Alarm(bg, sc.Alarm.Name)
			if err != nil {
				t.Fatal(err)
			}
			// The alarm's metric crosses its threshold at the fire time.
			q := investigate.MetricQuery{ID: "alarm", Metric: a.Metric, Stat: a.Stat, Period: a.Period}
			ser := metrics(t, s, q, sc.Start(), s.Now())
			if len(ser.Values) == 0 {
				t.Fatalf("no data for the alarm's metric %+v", a.Metric)
			}
			last := ser.Values[len(ser.Values)-1]
			crossed := map[string]bool{
				"GreaterThanThreshold":          last > a.Threshold,
				"GreaterThanOrEqualToThreshold": last >= a.Threshold,
				"LessThanThreshold":             last < a.Threshold,
				"LessThanOrEqualToThreshold":    last <= a.Threshold,
			}[a.Comparison]
			if !crossed {
				t.Errorf("alarm metric at fire time = %v, threshold %v %s", last, a.Threshold, a.Comparison)
			}
			top, err := s.Topology(bg, a)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range top.Resources {
				if r.LogGroup != "" {
					if _, err := s.Logs(bg, investigate.LogQuery{Group: r.LogGroup, Start: sc.Start(), End: s.Now()}); err != nil {
						t.Errorf("%s's log group: %v", r.ID, err)
					}
				}
				if len(r.Dims) == 0 {
					continue
				}
				// Every resource with dimensions has data for its type's
				// first metric.
				for k, se := range s.series {
					if se.node != nil && se.node.r.ID == r.ID && se.def != nil && reflect.DeepEqual(se.node.dims, r.Dims) && strings.HasSuffix(k, dimsKey(r.Dims)) {
						got := metrics(t, s, investigate.MetricQuery{ID: k, Metric: investigate.Metric{Namespace: se.def.ns, Name: se.def.name, Dims: r.Dims}}, sc.Start(), s.Now())
						if len(got.Values) == 0 {
							t.Errorf("%s: no data", k)
						}
						break
					}
				}
			}
			if gs := traces(t, s, sc.Start(), s.Now()); len(gs) == 0 {
				t.Error("no traces")
			}
			ch, err := s.Changes(bg, sc.Start(), s.Now())
			if err != nil || len(ch) == 0 {
				t.Errorf("changes: %d, %v", len(ch), err)
			}
			for _, c := range sc.Changes {
				// The window is half-open: a change at now itself is not in it.
				if !c.At.Before(s.Now()) || c.At.Before(sc.Start()) {
					continue
				}
				found := false
				for _, x := range ch {
					found = found || (x.Event == c.Event && x.Time.Equal(c.At) && x.Resource == c.Resource)
				}
				if !found {
					t.Errorf("change %s at %v missing", c.Event, c.At)
				}
			}
		})
	}
}

func BenchmarkMetrics(b *testing.B) {
	s := New(albScenario(), Options{})
	names := []string{"RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_Target_4XX_Count", "HTTPCode_ELB_5XX_Count", "TargetResponseTime", "HealthyHostCount"}
	var qs []investigate.MetricQuery
	for i := 0; len(qs) < 30; i++ {
		switch i % 3 {
		case 0:
			qs = append(qs, albQuery(fmt.Sprint(i), names[i%len(names)], "Sum", time.Minute))
		case 1:
			in := []string{inst1, inst2, inst3}[i%3]
			qs = append(qs, investigate.MetricQuery{ID: fmt.Sprint(i), Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": in}}, Stat: "Average", Period: time.Minute})
		default:
			qs = append(qs, investigate.MetricQuery{ID: fmt.Sprint(i), Metric: investigate.Metric{Namespace: "AWS/DynamoDB", Name: "ConsumedReadCapacityUnits", Dims: map[string]string{"TableName": "forge-templates"}}, Stat: "Sum", Period: 5 * time.Minute})
		}
	}
	start, end := s.Now().Add(-3*time.Hour), s.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Metrics(bg, qs, start, end); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogs(b *testing.B) {
	s := New(albScenario(), Options{})
	q := investigate.LogQuery{Group: "/app/bot-forge", Start: s.Now().Add(-3 * time.Hour), End: s.Now()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Logs(bg, q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTraces(b *testing.B) {
	s := New(albScenario(), Options{})
	q := investigate.TraceQuery{Start: s.Now().Add(-3 * time.Hour), End: s.Now()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Traces(bg, q); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMetricItems(t *testing.T) {
	sc := albScenario()
	start, end := sc.Start(), sc.End()
	all := scenario.Window{At: start, Until: end}
	tg := map[string]string{"LoadBalancer": "app/web-alb/c65b7ab4efb9f4cf", "TargetGroup": "targetgroup/web/0123456789abcdef"}
	var csv []scenario.Point
	for i := 0; i < 200; i++ {
		csv = append(csv, scenario.Point{Time: start.Add(time.Duration(i) * time.Minute), Value: float64(i)})
	}
	sc.Metrics = append(sc.Metrics,
		scenario.MetricItem{Window: all, Resource: inst1, Namespace: "AWS/EC2", MetricName: "CPUUtilization", Baseline: fp(60)},
		scenario.MetricItem{Window: scenario.Window{At: albOnset.Add(-time.Hour), Until: albOnset.Add(-30 * time.Minute)}, Resource: inst1, Namespace: "AWS/EC2", MetricName: "CPUUtilization", Value: fp(95), Noise: fp(0)},
		scenario.MetricItem{Window: all, Resource: inst2, Namespace: "CWAgent", MetricName: "mem_used_percent", CSV: csv},
		scenario.MetricItem{Window: all, Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Dims: tg, Value: fp(100), Noise: fp(0)},
		scenario.MetricItem{Window: all, Resource: "web-alb", Namespace: "Custom/App", MetricName: "QueueDepth", Value: fp(7), Noise: fp(0)},
	)
	s := New(sc, Options{})
	q := func(ns, name string, dims map[string]string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: name, Metric: investigate.Metric{Namespace: ns, Name: name, Dims: dims}}
	}
	cpu := metrics(t, s, q("AWS/EC2", "CPUUtilization", map[string]string{"InstanceId": inst1}), start, s.Now())
	if m := mean(valuesIn(cpu, start, albOnset.Add(-time.Hour))); math.Abs(m-60) > 2 {
		t.Errorf("baseline: mean CPU %.1f, want 60", m)
	}
	for _, v := range valuesIn(cpu, albOnset.Add(-time.Hour), albOnset.Add(-30*time.Minute)) {
		if v != 95 {
			t.Errorf("a later item with noise 0: %v, want a flat 95", v)
			break
		}
	}
	if m := mean(valuesIn(cpu, albOnset.Add(-30*time.Minute), albOnset)); math.Abs(m-60) > 3 {
		t.Errorf("after the later item ends: mean %.1f, want the baseline 60", m)
	}
	mem := metrics(t, s, q("CWAgent", "mem_used_percent", map[string]string{"InstanceId": inst2}), start, start.Add(10*time.Minute))
	if want := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !reflect.DeepEqual(mem.Values, want) {
		t.Errorf("csv: %v, want %v", mem.Values, want)
	}
	own := metrics(t, s, q("AWS/ApplicationELB", "RequestCount", tg), start, s.Now())
	if len(own.Values) != 183 || maxOf(own.Values) != 100 || -maxOf(neg(own.Values)) != 100 {
		t.Errorf("explicit dims: %d values, want a flat 100", len(own.Values))
	}
	lb := metrics(t, s, albQuery("rc", "RequestCount", "Sum", time.Minute), start, albOnset.Add(-time.Hour))
	if m := mean(lb.Values); m < 2300 {
		t.Errorf("the default series changed: mean %v", m)
	}
	custom := metrics(t, s, q("Custom/App", "QueueDepth", albDims()), start, s.Now())
	if len(custom.Values) != 183 || custom.Values[0] != 7 {
		t.Errorf("a metric only an item defines: %d values", len(custom.Values))
	}
}

func TestTraceWindowsAreAdditive(t *testing.T) {
	s := New(albScenario(), Options{})
	a, c := albOnset.Add(-10*time.Minute), s.Now()
	whole := traces(t, s, a, c)
	for _, cut := range []time.Duration{10 * time.Minute, 10*time.Minute + 29*time.Second, 7*time.Minute + 3*time.Second} {
		b := a.Add(cut)
		left, right := traces(t, s, a, b), traces(t, s, b, c)
		for _, g := range whole {
			l, _ := findGroup(left, g.Caller, g.Callee, g.Instance)
			r, _ := findGroup(right, g.Caller, g.Callee, g.Instance)
			if l.Requests+r.Requests != g.Requests || l.Faults+r.Faults != g.Faults || l.Errors+r.Errors != g.Errors {
				t.Errorf("cut at %v, %s>%s on %s: %d+%d requests, %d+%d faults; whole %d, %d",
					cut, g.Caller, g.Callee, g.Instance, l.Requests, r.Requests, l.Faults, r.Faults, g.Requests, g.Faults)
			}
		}
	}
}

func TestCallsTraceTheSameRequests(t *testing.T) {
	sc := load(t, "dynamodb-policy-change.yaml")
	s := New(sc, Options{})
	gs := traces(t, s, sc.Onset.Add(-time.Hour), s.Now())
	in, _ := findGroup(gs, "orders-api", "orders", "orders-fn")
	for _, callee := range []string{"orders-table", "payments-api"} {
		out, _ := findGroup(gs, "orders", callee, "orders-fn")
		if in.Requests == 0 || out.Requests != in.Requests {
			t.Errorf("orders>%s traced %d requests, orders-api>orders %d: want the same", callee, out.Requests, in.Requests)
		}
	}
	c, _ := findGroup(gs, "client", "orders-api", "")
	if c.Requests != in.Requests {
		t.Errorf("client>orders-api %d requests, its only target %d", c.Requests, in.Requests)
	}
}
