package investigate

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func followUpTopo() Topology {
	return Topology{
		Resources: []Resource{
			{ID: "orders-alb", Type: TypeALB},
			{ID: "i-0abc", Type: TypeEC2, Name: "web-1"},
			{ID: "orders", Type: TypeService, LogGroup: "/svc/orders"},
			{ID: "orders-fn", Type: TypeLambda, LogGroup: "/aws/lambda/orders-fn"},
			{ID: "orders-table", Type: TypeDynamoDB, ARN: "arn:aws:dynamodb:us-east-1:1:table/orders-table"},
			{ID: "payments-api", Type: TypeExternal},
		},
		Relations: []Relation{
			{"orders-alb", "i-0abc", RelTargets},
			{"orders", "i-0abc", RelRunsOn},
			{"orders", "orders-table", RelCalls},
		},
	}
}

func TestResolve(t *testing.T) {
	topo := followUpTopo()
	tests := []struct {
		ref     string
		want    string // the id resolved; "" for an error
		wantErr *UnknownResourceError
	}{
		{ref: "orders", want: "orders"}, // exact, though part of three others
		{ref: "web-1", want: "i-0abc"},  // by name
		{ref: "arn:aws:dynamodb:us-east-1:1:table/orders-table", want: "orders-table"},
		{ref: "Orders-Table", want: "orders-table"}, // any case
		{ref: "WEB-1", want: "i-0abc"},
		{ref: "payments", want: "payments-api"}, // the only one containing it
		{ref: "TABLE", want: "orders-table"},
		{ref: "orders-", wantErr: &UnknownResourceError{Ref: "orders-", Ambiguous: true, Closest: []string{"orders-fn", "orders-alb", "orders-table"}}},
		{ref: "Orders-Tabel", wantErr: &UnknownResourceError{Ref: "Orders-Tabel", Closest: []string{"orders-table", "orders-alb", "orders-fn", "orders", "i-0abc", "payments-api"}}},
		{ref: "", wantErr: &UnknownResourceError{Ref: "", Closest: []string{"i-0abc", "orders", "orders-fn", "orders-alb", "orders-table", "payments-api"}}},
	}
	for _, tt := range tests {
		got, err := topo.Resolve(tt.ref)
		if tt.wantErr == nil {
			if err != nil || got.ID != tt.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tt.ref, got.ID, err, tt.want)
			}
			continue
		}
		var ue *UnknownResourceError
		if !errors.As(err, &ue) {
			t.Errorf("Resolve(%q) = %q, %v; want an *UnknownResourceError", tt.ref, got.ID, err)
			continue
		}
		if !reflect.DeepEqual(ue, tt.wantErr) {
			t.Errorf("Resolve(%q) error = %+v, want %+v", tt.ref, ue, tt.wantErr)
		}
	}
}

func TestUnknownResourceErrorText(t *testing.T) {
	tests := []struct {
		err  UnknownResourceError
		want string
	}{
		{UnknownResourceError{Ref: "x"}, `no resource "x" in scope`},
		{UnknownResourceError{Ref: "x", Closest: []string{"a", "b"}}, `no resource "x" in scope; the closest: a, b`},
		{UnknownResourceError{Ref: "o", Ambiguous: true, Closest: []string{"o1", "o2"}}, `"o" could be any of the resources o1, o2 in scope; name one`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestLogGroupsOf(t *testing.T) {
	topo := followUpTopo()
	tests := []struct {
		id   string
		want []string
	}{
		{"orders-fn", []string{"/aws/lambda/orders-fn"}},
		{"i-0abc", []string{"/svc/orders"}}, // what runs on it
		{"orders", []string{"/svc/orders"}}, // its own, once
		{"orders-table", nil},
	}
	for _, tt := range tests {
		r, _ := topo.Find(tt.id)
		if got := topo.LogGroupsOf(r); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LogGroupsOf(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestNewFollowUpWindow(t *testing.T) {
	start, end := t0.Add(-3*time.Hour), t0.Add(time.Hour)
	tests := []struct {
		name     string
		rep      *Report
		now      time.Time
		lookback time.Duration
		want     FollowUpWindow
	}{
		{"the report's onset", &Report{Scope: Scope{Start: start, End: end}, Onset: t0}, time.Time{}, 0,
			FollowUpWindow{Start: start, Onset: t0, End: end}},
		{"no onset found", &Report{Scope: Scope{Start: start, End: end}}, time.Time{}, 0,
			FollowUpWindow{Start: start, Onset: end.Add(-10 * time.Minute), End: end, OnsetAssumed: true}},
		{"an onset outside the window", &Report{Scope: Scope{Start: start, End: end}, Onset: end.Add(time.Hour)}, time.Time{}, 0,
			FollowUpWindow{Start: start, Onset: end.Add(-10 * time.Minute), End: end, OnsetAssumed: true}},
		{"a window shorter than the assumed onset", &Report{Scope: Scope{Start: end.Add(-5 * time.Minute), End: end}}, time.Time{}, 0,
			FollowUpWindow{Start: end.Add(-5 * time.Minute), Onset: end.Add(-5 * time.Minute), End: end, OnsetAssumed: true}},
		{"no report: the request's lookback", nil, t0, time.Hour,
			FollowUpWindow{Start: t0.Add(-time.Hour), Onset: t0.Add(-10 * time.Minute), End: t0, OnsetAssumed: true}},
		{"no report, no lookback: the engine's", nil, t0, 0,
			FollowUpWindow{Start: t0.Add(-3 * time.Hour), Onset: t0.Add(-10 * time.Minute), End: t0, OnsetAssumed: true}},
	}
	for _, tt := range tests {
		if got := NewFollowUpWindow(tt.rep, tt.now, tt.lookback); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestFollowUpWindowRanges(t *testing.T) {
	w := FollowUpWindow{Start: t0.Add(-time.Hour), Onset: t0, End: t0.Add(10 * time.Minute)}
	tests := []struct {
		name             string
		gotStart, gotEnd time.Time
		start, end       time.Time
	}{
		{"before", first(w.Before()), second(w.Before()), t0.Add(-time.Hour), t0},
		{"during", first(w.During()), second(w.During()), t0, t0.Add(11 * time.Minute)},
		{"all", first(w.All()), second(w.All()), t0.Add(-time.Hour), t0.Add(11 * time.Minute)},
	}
	for _, tt := range tests {
		if !tt.gotStart.Equal(tt.start) || !tt.gotEnd.Equal(tt.end) {
			t.Errorf("%s = [%s, %s), want [%s, %s)", tt.name, tt.gotStart, tt.gotEnd, tt.start, tt.end)
		}
	}
}

func first(a, _ time.Time) time.Time  { return a }
func second(_, b time.Time) time.Time { return b }

// minutes is a series of one point a minute from t0 on.
func minutes(vs ...float64) Series {
	s := Series{Values: vs}
	for i := range vs {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*time.Minute))
	}
	return s
}

func sameStats(a, b SeriesStats) bool {
	eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.Points == b.Points && eq(a.Min, b.Min) && eq(a.Max, b.Max) && eq(a.Mean, b.Mean) && eq(a.Last, b.Last)
}

func TestSummarizeSeries(t *testing.T) {
	nan := math.NaN()
	none := SeriesStats{Min: nan, Max: nan, Mean: nan, Last: nan}
	// Onset at the third point; the window ends at the fourth, and the
	// point stamped at its end is in.
	w := FollowUpWindow{Start: t0, Onset: t0.Add(2 * time.Minute), End: t0.Add(3 * time.Minute)}
	tests := []struct {
		name    string
		s       Series
		want    SeriesSummary
		changed bool
	}{
		{"a rise", minutes(2, 4, 30, 10, 99), SeriesSummary{
			Before: SeriesStats{Points: 2, Min: 2, Max: 4, Mean: 3, Last: 4},
			During: SeriesStats{Points: 2, Min: 10, Max: 30, Mean: 20, Last: 10}}, true},
		{"flat", minutes(5, 5, 5, 5), SeriesSummary{
			Before: SeriesStats{Points: 2, Min: 5, Max: 5, Mean: 5, Last: 5},
			During: SeriesStats{Points: 2, Min: 5, Max: 5, Mean: 5, Last: 5}}, false},
		{"from nothing to something", minutes(0, 0, 1, 1), SeriesSummary{
			Before: SeriesStats{Points: 2, Min: 0, Max: 0, Mean: 0, Last: 0},
			During: SeriesStats{Points: 2, Min: 1, Max: 1, Mean: 1, Last: 1}}, true},
		{"doubled but small", minutes(0.2, 0.2, 0.4, 0.4), SeriesSummary{
			Before: SeriesStats{Points: 2, Min: 0.2, Max: 0.2, Mean: 0.2, Last: 0.2},
			During: SeriesStats{Points: 2, Min: 0.4, Max: 0.4, Mean: 0.4, Last: 0.4}}, false},
		{"no data before", Series{Times: []time.Time{t0.Add(2 * time.Minute)}, Values: []float64{7}}, SeriesSummary{
			Before: none,
			During: SeriesStats{Points: 1, Min: 7, Max: 7, Mean: 7, Last: 7}}, false},
		{"no data", Series{}, SeriesSummary{Before: none, During: none}, false},
	}
	for _, tt := range tests {
		got := SummarizeSeries(tt.s, w)
		if !sameStats(got.Before, tt.want.Before) || !sameStats(got.During, tt.want.During) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
		if got.Changed() != tt.changed {
			t.Errorf("%s: Changed() = %v, want %v", tt.name, got.Changed(), tt.changed)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{math.NaN(), "–"},
		{1234.5, "1234"},
		{-250, "-250"},
		{42.25, "42.2"},
		{1, "1.0"},
		{0.5, "0.5"},
		{0.0012345, "0.00123"},
		{0, "0"},
	}
	for _, tt := range tests {
		if got := FormatNumber(tt.v); got != tt.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// countingTopology counts the topology reads.
type countingTopology struct {
	topo  Topology
	err   error
	reads int
}

func (c *countingTopology) Topology(context.Context, Alarm) (Topology, error) {
	c.reads++
	return c.topo, c.err
}

func TestFollowUpTopology(t *testing.T) {
	kept := followUpTopo()
	read := Topology{Resources: []Resource{{ID: "read"}}}
	tests := []struct {
		name      string
		rep       *Report
		err       error
		want      string // the first resource's id; "" for an error
		wantReads int
	}{
		{"kept with the report", &Report{Topology: &kept}, nil, "orders-alb", 0},
		{"a report from before it was kept", &Report{}, nil, "read", 1},
		{"no report yet", nil, nil, "read", 1},
		{"the read fails", nil, errors.New("AccessDenied"), "", 1},
	}
	for _, tt := range tests {
		src := &countingTopology{topo: read, err: tt.err}
		got, err := FollowUpTopology(context.Background(), src, tt.rep, Alarm{Name: "a"})
		id := ""
		if err == nil && len(got.Resources) > 0 {
			id = got.Resources[0].ID
		}
		if id != tt.want || src.reads != tt.wantReads || (err != nil) != (tt.err != nil) || !errors.Is(err, tt.err) {
			t.Errorf("%s: got %q, %v after %d reads; want %q after %d", tt.name, id, err, src.reads, tt.want, tt.wantReads)
		}
	}
	if _, err := FollowUpTopology(context.Background(), nil, nil, Alarm{}); !errors.Is(err, ErrNoSource) {
		t.Errorf("no source: %v, want ErrNoSource", err)
	}
}

func TestKeptTopology(t *testing.T) {
	topo := Topology{
		Resources: []Resource{{ID: "db", Type: TypeRDS, ARN: "arn:db", Tags: map[string]string{"team": "x"}, Config: map[string]string{"max_connections": "100"}, Dims: map[string]string{"DBInstanceIdentifier": "db"}, LogGroup: "/rds/db"}},
		Relations: []Relation{{"app", "db", RelCalls}},
	}
	want := &Topology{
		Resources: []Resource{{ID: "db", Type: TypeRDS, ARN: "arn:db", Dims: map[string]string{"DBInstanceIdentifier": "db"}, LogGroup: "/rds/db"}},
		Relations: []Relation{{"app", "db", RelCalls}},
	}
	if got := keptTopology(topo); !reflect.DeepEqual(got, want) {
		t.Errorf("keptTopology = %+v, want %+v", got, want)
	}
	if topo.Resources[0].Tags == nil {
		t.Error("keptTopology changed the topology it was given")
	}
	big := Topology{Resources: make([]Resource, maxKeptResources+1)}
	if got := keptTopology(big); got != nil {
		t.Errorf("a topology of %d resources was kept", len(big.Resources))
	}
}

func TestReportKeepsTheTopology(t *testing.T) {
	tests := []struct {
		name string
		fail error
		want int // resources kept; -1 for none
	}{
		{"read", nil, 7},
		{"unreadable", errors.New("AccessDenied"), -1},
	}
	for _, tt := range tests {
		f := webEnv()
		f.topo.Resources[1].Tags = map[string]string{"Name": "web-1"}
		if tt.fail != nil {
			f.fail["topology"] = tt.fail
		}
		rep := investigateFake(t, f)
		got := -1
		if rep.Topology != nil {
			got = len(rep.Topology.Resources)
			if rep.Topology.Resources[1].Tags != nil {
				t.Errorf("%s: tags kept: %+v", tt.name, rep.Topology.Resources[1])
			}
		}
		if got != tt.want {
			t.Errorf("%s: %d resources kept, want %d", tt.name, got, tt.want)
		}
	}
}
