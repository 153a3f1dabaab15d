package investigate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// One client's scrape behind an API: the first action blocks that client
// by its key and address, not "find who sends the load"; without the
// breakdown by client the same telemetry reads as a concurrency limit to
// raise, which would serve the scraper more.
func TestClientNamedInFirstAction(t *testing.T) {
	f, err := scenario.Load(scenarios.FS, "listings-search-5xx-frankfurt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	backend := sim.New(s, sim.Options{})
	run := func(src investigate.Sources) investigate.Report {
		e := investigate.New(src, investigate.Options{Lookback: backend.Now().Sub(s.Start())})
		rep, err := e.Run(context.Background(), investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run(backend.Sources())
	if len(rep.Hypotheses) == 0 {
		t.Fatal("no hypothesis")
	}
	h := rep.Hypotheses[0]
	if h.Cause != investigate.CauseSystemChange || h.Resource != "listings-api" || len(h.Actions) == 0 || h.Actions[0].Kind != investigate.ActionBlock {
		t.Fatalf("first hypothesis %s %s, actions %+v; want system-change on listings-api, block first", h.Cause, h.Resource, h.Actions)
	}
	for _, want := range []string{"API key w8f3kq1zpn", "address 203.0.113.7", "python-requests/2.31.0"} {
		if !strings.Contains(h.Actions[0].Detail, want) {
			t.Errorf("first action %q does not name %s", h.Actions[0].Detail, want)
		}
	}
	named := false
	for _, f := range rep.Findings {
		named = named || (f.Resource == "listings-api" && strings.Contains(f.Summary, "one client sends") && strings.Contains(f.Summary, "w8f3kq1zpn"))
	}
	if !named {
		t.Errorf("no finding names the client: %+v", rep.Findings)
	}

	src := backend.Sources()
	src.Clients = nil
	blind := run(src)
	if h := blind.Hypotheses[0]; h.Cause == investigate.CauseSystemChange || strings.Contains(h.Actions[0].Detail, "w8f3kq1zpn") {
		t.Errorf("without the breakdown by client: %s %s %q; the test no longer shows what the breakdown adds", h.Cause, h.Resource, h.Actions[0].Detail)
	}
}

// withChange adds one change to what a change source reads.
type withChange struct {
	investigate.ChangeSource
	ch investigate.Change
}

func (w withChange) Changes(ctx context.Context, start, end time.Time) ([]investigate.Change, error) {
	chs, err := w.ChangeSource.Changes(ctx, start, end)
	if err == nil && !w.ch.Time.Before(start) && w.ch.Time.Before(end) {
		chs = append(chs, w.ch)
	}
	return chs, err
}

// A person's change to the entry shortly before one client took it over
// does not explain the client's surge: a change does not make an outside
// client send more, so the surge stays the cause and the client is named.
func TestClientSurgeIsNotAChangeOnItsEntry(t *testing.T) {
	f, err := scenario.Load(scenarios.FS, "listings-search-5xx-frankfurt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	backend := sim.New(s, sim.Options{})
	src := backend.Sources()
	src.Changes = withChange{ChangeSource: src.Changes, ch: investigate.Change{
		ID: "stage-1", Time: s.Onset.Add(-6 * time.Minute), Event: "UpdateStage", Source: "apigateway.amazonaws.com",
		Resource: "listings-api", Actor: "arn:aws:sts::1:assumed-role/Admin/tom", Params: map[string]string{"stageName": "prod"},
	}}
	e := investigate.New(src, investigate.Options{Lookback: backend.Now().Sub(s.Start())})
	rep, err := e.Run(context.Background(), investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := rep.Hypotheses[0]
	if h.Cause != investigate.CauseSystemChange || h.Actions[0].Kind != investigate.ActionBlock || !strings.Contains(h.Actions[0].Detail, "w8f3kq1zpn") {
		t.Errorf("first hypothesis %s %s %q; want the client's surge, blocked", h.Cause, h.Resource, h.Actions[0].Detail)
	}
}
