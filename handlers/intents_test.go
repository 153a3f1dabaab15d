package handlers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

// recordingQuerier answers follow-ups from fixed data and records what it
// was asked.
type recordingQuerier struct {
	topo    investigate.Topology
	series  investigate.Series
	changes []investigate.Change

	mu         sync.Mutex
	topoReads  int
	metricSpan [2]time.Time
}

func (q *recordingQuerier) Topology(context.Context, investigate.Alarm) (investigate.Topology, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.topoReads++
	return q.topo, nil
}

func (q *recordingQuerier) Changes(context.Context, *investigate.Resource, time.Time, time.Time) ([]investigate.Change, error) {
	return q.changes, nil
}

func (q *recordingQuerier) Metric(_ context.Context, _ investigate.Resource, name string, start, end time.Time, _ time.Duration) (investigate.Series, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.metricSpan = [2]time.Time{start, end}
	if name != "ThrottledRequests" {
		return investigate.Series{}, nil
	}
	return q.series, nil
}

func (q *recordingQuerier) Logs(context.Context, string, time.Time, time.Time) (investigate.LogStats, error) {
	return investigate.LogStats{}, nil
}

func (q *recordingQuerier) Traces(context.Context, string, time.Time, time.Time) ([]investigate.TraceGroup, error) {
	return nil, nil
}

func TestFollowUpQuery(t *testing.T) {
	onset := time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)
	start, end := onset.Add(-time.Hour), onset.Add(10*time.Minute)
	topo := investigate.Topology{Resources: []investigate.Resource{
		{ID: "orders-api", Type: investigate.TypeAPIGateway},
		{ID: "orders-fn", Type: investigate.TypeLambda},
		{ID: "orders-table", Type: investigate.TypeDynamoDB},
	}}
	// Throttles: 1 a minute before the onset, 20 since; the point stamped
	// at the window's end counts.
	var series investigate.Series
	for t := start; !t.After(end); t = t.Add(time.Minute) {
		v := 1.0
		if !t.Before(onset) {
			v = 20
		}
		series.Times, series.Values = append(series.Times, t), append(series.Values, v)
	}
	stored := topo
	tests := []struct {
		name      string
		kept      *investigate.Topology
		question  string
		want      []string
		wantReads int
	}{
		{"the report's topology", &stored, "check orders-table", []string{"*orders-table* (dynamodb)", "ThrottledRequests: 1.0 → 20.0 :warning:", "(10:30 UTC)"}, 0},
		{"a report stored before it kept its topology", nil, "check orders-table", []string{"ThrottledRequests: 1.0 → 20.0 :warning:"}, 1},
		{"any case", &stored, "check Orders-Table", []string{"*orders-table* (dynamodb)"}, 0},
		{"a unique part", &stored, "check table", []string{"*orders-table* (dynamodb)"}, 0},
		{"unknown: the closest names", &stored, "check orders-tabel", []string{"I don't know *orders-tabel*", "`orders-table`, `orders-api`"}, 0},
		{"ambiguous: the names it is part of", &stored, "check orders-", []string{"I don't know *orders-*", "`orders-fn`, `orders-api`, `orders-table`"}, 0},
		{"resources", &stored, "resources", []string{"*Resources around the alarm* (3)", "`orders-fn`"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingQuerier{topo: topo, series: series}
			b := &Bot{opts: Options{Clock: func() time.Time { return end }}}
			inv := incident.Investigation{
				Alarm:  investigate.Alarm{Name: "orders-5xx", Resource: "orders-api"},
				Report: &investigate.Report{Scope: investigate.Scope{Start: start, End: end}, Onset: onset, Topology: tt.kept},
			}
			got, err := b.query(context.Background(), q, inv, ParseIntent(tt.question))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q:\n%s", w, got)
				}
			}
			if q.topoReads != tt.wantReads {
				t.Errorf("topology read %d times, want %d", q.topoReads, tt.wantReads)
			}
			if strings.HasPrefix(tt.question, "check") && !strings.Contains(got, "I don't know") {
				if want := [2]time.Time{start, end.Add(time.Minute)}; q.metricSpan != want {
					t.Errorf("metrics read over %v, want %v", q.metricSpan, want)
				}
			}
		})
	}
}

// Before the report is done, a follow-up reads the request's window and the
// topology once.
func TestFollowUpQueryBeforeTheReport(t *testing.T) {
	now := time.Date(2024, 12, 3, 12, 0, 0, 0, time.UTC)
	q := &recordingQuerier{topo: investigate.Topology{Resources: []investigate.Resource{{ID: "orders-table", Type: investigate.TypeDynamoDB}}}}
	b := &Bot{opts: Options{Clock: func() time.Time { return now.Add(time.Hour) }}}
	inv := incident.Investigation{Alarm: investigate.Alarm{Name: "orders-5xx"}, Now: now, Lookback: 2 * time.Hour, State: incident.StateRunning}
	got, err := b.query(context.Background(), q, inv, ParseIntent("check orders-table"))
	if err != nil {
		t.Fatal(err)
	}
	if q.topoReads != 1 || !strings.Contains(got, "(11:50 UTC)") {
		t.Errorf("topology read %d times; answer:\n%s", q.topoReads, got)
	}
	if want := [2]time.Time{now.Add(-2 * time.Hour), now.Add(time.Minute)}; q.metricSpan != want {
		t.Errorf("metrics read over %v, want %v", q.metricSpan, want)
	}
}

func TestFollowUpQueryWithoutQuerier(t *testing.T) {
	b := &Bot{opts: Options{Clock: time.Now}}
	_, err := b.query(context.Background(), nil, incident.Investigation{}, ParseIntent("check x"))
	if err == nil || !strings.Contains(err.Error(), "no telemetry source") {
		t.Errorf("err = %v, want no telemetry source", err)
	}
}

// "What changed" lists what people and AWS changed, and only counts the
// routine writes of agents and services.
func TestChangesAnswerLeavesOutRoutineWrites(t *testing.T) {
	onset := time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)
	q := &recordingQuerier{changes: []investigate.Change{
		{Time: onset.Add(-2 * time.Minute), Event: "PutResourcePolicy", Resource: "orders-table", Actor: "arn:aws:iam::123456789012:user/alice"},
		{Time: onset.Add(-time.Minute), Event: "CreateLogStream", Resource: "/app/orders", Actor: "i-0abc", Routine: true},
		{Time: onset.Add(-30 * time.Second), Event: "RotateKey", Resource: "orders-key", Actor: "kms.amazonaws.com", ByService: true},
	}}
	w := investigate.FollowUpWindow{Start: onset.Add(-time.Hour), Onset: onset, End: onset.Add(10 * time.Minute)}
	b := New(nil, nil, nil, Config{}, Options{})
	got, err := b.changesAnswer(context.Background(), q, incident.Investigation{}, nil, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PutResourcePolicy", "RotateKey", "(made by AWS)", "1 routine write"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "CreateLogStream") {
		t.Errorf("a routine write is listed as a change:\n%s", got)
	}
}
