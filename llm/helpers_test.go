package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// loadScenario reads an embedded scenario.
func loadScenario(t testing.TB, name string) *scenario.Scenario {
	t.Helper()
	f, err := scenario.Load(scenarios.FS, name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f.Scenario
}

// investigateWith runs the engine on a simulated scenario with a reasoner
// (none: the engine's raw report).
func investigateWith(ctx context.Context, s *scenario.Scenario, reasoner investigate.Reasoner, extraNotes ...investigate.Note) (investigate.Report, *sim.Sim, error) {
	backend := sim.New(s, sim.Options{})
	e := investigate.New(backend.Sources(), investigate.Options{Reasoner: reasoner, Lookback: backend.Now().Sub(s.Start())})
	var notes []investigate.Note
	for _, n := range s.Notes {
		notes = append(notes, investigate.Note{Time: n.At, Author: n.Author, Text: n.Text})
	}
	notes = append(notes, extraNotes...)
	rep, err := e.Run(ctx, investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now(), Notes: notes}, nil)
	return rep, backend, err
}

// engineReport is the engine's raw report of an embedded scenario, as a
// reasoner receives it.
func engineReport(t testing.TB, name string, extraNotes ...investigate.Note) investigate.Report {
	t.Helper()
	rep, _, err := investigateWith(context.Background(), loadScenario(t, name), nil, extraNotes...)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// testModel is a model pointed at a scripted server, with fast retries.
func testModel(t testing.TB, srv *llmtest.Server, mod ...func(*Config)) *Model {
	t.Helper()
	cfg := Config{APIKey: "sk-test-0123456789abcdefghij", BaseURL: srv.BaseURL(), Model: "test-model", Backoff: 5 * time.Millisecond, Timeout: 10 * time.Second}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var markerRE = regexp.MustCompile(`(?s)<(DATA-[0-9a-f]+)>\n(.*)\n</DATA-[0-9a-f]+>`)

// dataOf reads the data block of a reasoning request, as a model would.
func dataOf(t testing.TB, req llmtest.Request) promptData {
	t.Helper()
	m := markerRE.FindStringSubmatch(req.FirstUser())
	if m == nil {
		t.Errorf("request %d has no data block", req.N)
		return promptData{}
	}
	var d promptData
	if err := json.Unmarshal([]byte(m[2]), &d); err != nil {
		t.Errorf("data block: %v", err)
	}
	return d
}

// wireHyp is a hypothesis as a scripted model writes it.
type wireHyp struct {
	Cause       string         `json:"cause"`
	Resource    string         `json:"resource"`
	Confidence  float64        `json:"confidence"`
	Title       string         `json:"title"`
	Explanation string         `json:"explanation"`
	Evidence    []string       `json:"evidence"`
	Actions     []promptAction `json:"actions"`
	Prevention  []string       `json:"prevention"`
	Merges      []string       `json:"merges"`
}

type wireReply struct {
	Summary    string    `json:"summary"`
	Hypotheses []wireHyp `json:"hypotheses"`
}

func cites(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, " [%s]", id)
	}
	return b.String()
}

// agreeing is a model that agrees with the engine and words it.
func agreeing(t testing.TB) llmtest.Script {
	return func(req llmtest.Request) llmtest.Reply {
		d := dataOf(t, req)
		var out wireReply
		for _, c := range d.Candidates {
			out.Hypotheses = append(out.Hypotheses, wireHyp{
				Cause: string(c.Cause), Resource: c.Resource, Confidence: c.Confidence,
				Title:       fmt.Sprintf("Model: %s at %s", c.Cause, c.Resource),
				Explanation: "The findings point at " + c.Resource + "." + cites(c.Evidence),
				Evidence:    c.Evidence, Actions: []promptAction{}, Prevention: []string{}, Merges: []string{},
			})
		}
		if len(d.Candidates) > 0 {
			out.Summary = fmt.Sprintf("Most likely %s on %s.", d.Candidates[0].Cause, d.Candidates[0].Resource)
		} else {
			out.Summary = "Nothing stands out."
		}
		return llmtest.Reply{Content: llmtest.JSON(out)}
	}
}

func top1(r investigate.Report) string {
	if len(r.Hypotheses) == 0 {
		return "none"
	}
	return HypothesisKey(r.Hypotheses[0])
}

// scenarioReports are the engine's reports of the embedded scenarios,
// made once for every test of the package that words them.
var scenarioReports = &rawReports{}

// rawReports keeps the engine's report of each scenario before any
// reasoner, so that many reasoners can word the same reports without
// running the engine again for each (the engine is what costs time under
// -race, and it does not change with the reasoner).
type rawReports struct {
	mu   sync.Mutex
	reps map[string]investigate.Report
}

// reason gives reasoner the engine's report of s, as Engine.Run does: the
// report without the topology kept for follow-ups, and a reasoner that
// fails leaves the report as it was with a line in unavailable.
func (r *rawReports) reason(ctx context.Context, t testing.TB, s *scenario.Scenario, reasoner investigate.Reasoner) (investigate.Report, error) {
	r.mu.Lock()
	rep, ok := r.reps[s.Name]
	r.mu.Unlock()
	if !ok {
		var err error
		if rep, _, err = investigateWith(ctx, s, nil); err != nil {
			return rep, err
		}
		r.mu.Lock()
		if r.reps == nil {
			r.reps = map[string]investigate.Report{}
		}
		r.reps[s.Name] = rep
		r.mu.Unlock()
	}
	rep.Topology = nil
	worded, err := reasoner.Reason(ctx, rep)
	if err != nil {
		rep.Unavailable = append(rep.Unavailable, investigate.Unavailable{Source: "reasoner", Error: err.Error()})
		return rep, nil
	}
	return worded, nil
}
