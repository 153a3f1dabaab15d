package eval_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/unstuck/unstuck/eval"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

func investigateSim(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
	backend := sim.New(s, sim.Options{})
	e := investigate.New(backend.Sources(), investigate.Options{Reasoner: llm.NewOffline(), Lookback: backend.Now().Sub(s.Start())})
	return e.Run(ctx, investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}, nil)
}

func TestScoring(t *testing.T) {
	s := &scenario.Scenario{Name: "x", Onset: time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
		Resources: []scenario.Resource{{ID: "orders-table", Name: "orders", ARN: "arn:aws:dynamodb:us-east-1:1:table/orders"}}}
	expect := &scenario.Expect{Causes: []string{"own-change"}, Resources: []string{"orders-table"}, Actions: []string{"rollback"}, OnsetWithin: 5 * time.Minute}
	hyp := func(cause investigate.Cause, res string, action investigate.ActionKind) investigate.Hypothesis {
		return investigate.Hypothesis{Cause: cause, Resource: res, Actions: []investigate.Action{{Kind: action}}}
	}
	tests := []struct {
		name       string
		hyps       []investigate.Hypothesis
		onset      time.Duration
		wantRank   int
		wantAction bool
		wantOnset  bool
	}{
		{"right first by id", []investigate.Hypothesis{hyp("own-change", "orders-table", "rollback")}, time.Minute, 1, true, true},
		{"right by ARN, second", []investigate.Hypothesis{hyp("dependency", "orders-table", "exclude"), hyp("own-change", "arn:aws:dynamodb:us-east-1:1:table/orders", "rollback")}, 0, 2, true, true},
		{"right by name, wrong action", []investigate.Hypothesis{hyp("own-change", "orders", "scale")}, 0, 1, false, true},
		{"wrong cause", []investigate.Hypothesis{hyp("limit", "orders-table", "scale")}, 0, 0, false, true},
		{"fourth is not top-3", []investigate.Hypothesis{hyp("limit", "a", "scale"), hyp("limit", "b", "scale"), hyp("limit", "c", "scale"), hyp("own-change", "orders-table", "rollback")}, 0, 4, true, true},
		{"onset too far", []investigate.Hypothesis{hyp("own-change", "orders-table", "rollback")}, 6 * time.Minute, 1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := &scenario.File{Scenario: s, Expect: expect}
			results, totals := eval.Run(context.Background(), []*scenario.File{file}, func(context.Context, *scenario.Scenario) (investigate.Report, error) {
				return investigate.Report{Hypotheses: tt.hyps, Onset: s.Onset.Add(tt.onset)}, nil
			})
			got := results[0]
			if got.Rank != tt.wantRank || got.Action != tt.wantAction || got.OnsetOK != tt.wantOnset {
				t.Errorf("got rank %d action %v onset %v, want %d %v %v", got.Rank, got.Action, got.OnsetOK, tt.wantRank, tt.wantAction, tt.wantOnset)
			}
			if got.Top1 != (tt.wantRank == 1) || got.Top3 != (tt.wantRank >= 1 && tt.wantRank <= 3) {
				t.Errorf("top1 %v top3 %v for rank %d", got.Top1, got.Top3, tt.wantRank)
			}
			if totals.Passed() != (tt.wantRank == 1 && tt.wantAction) {
				t.Errorf("Passed() = %v", totals.Passed())
			}
		})
	}
}

// TestScenarioHoldsNoPathToExpect proves by the types that nothing reachable
// from a Scenario — all that the simulator and so the engine receive — is the
// answer.
func TestScenarioHoldsNoPathToExpect(t *testing.T) {
	expect := reflect.TypeOf(scenario.Expect{})
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if ty == expect {
			t.Fatalf("%s reaches scenario.Expect", path)
		}
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(ty.Elem(), path+"[]")
		case reflect.Struct:
			for i := 0; i < ty.NumField(); i++ {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		case reflect.Interface:
			t.Fatalf("%s is an interface: it could hold anything", path)
		}
	}
	walk(reflect.TypeOf(scenario.Scenario{}), "Scenario")
}

// TestEngineNeverSeesExpect changes every scenario's answer and checks that
// the reports do not change at all.
func TestEngineNeverSeesExpect(t *testing.T) {
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(f.Scenario.Name, func(t *testing.T) {
			a, err := investigateSim(context.Background(), f.Scenario)
			if err != nil {
				t.Fatal(err)
			}
			f.Expect = &scenario.Expect{Causes: []string{"system-change"}, Resources: []string{"nothing"}, Actions: []string{"block"}}
			b, err := investigateSim(context.Background(), f.Scenario)
			if err != nil {
				t.Fatal(err)
			}
			a.Stats.WallMS, b.Stats.WallMS = 0, 0
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Errorf("the report changed with the answer")
			}
		})
	}
}

// TestEmbeddedScenarios is the evaluation as a test: every embedded
// scenario's answer ranks first, with a right first action.
func TestEmbeddedScenarios(t *testing.T) {
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	results, totals := eval.Run(context.Background(), files, investigateSim)
	for _, r := range results {
		if !r.Top1 || !r.Action || r.Error != "" {
			t.Errorf("%s: expected %s, got %s (rank %d, action ok %v) %s", r.Name, r.Expected, r.Got, r.Rank, r.Action, r.Error)
		}
	}
	t.Logf("%d scenarios: top-1 %.0f%%, top-3 %.0f%%, action %.0f%%, onset %.0f%%", totals.Scenarios, 100*totals.Top1, 100*totals.Top3, 100*totals.Action, 100*totals.Onset)
}

func TestQuietEndsBeforeTheIncident(t *testing.T) {
	onset := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	long := &scenario.Scenario{Name: "long", Onset: onset, History: 3 * time.Hour, Alarm: scenario.Alarm{Fires: onset.Add(3 * time.Minute)}}
	short := &scenario.Scenario{Name: "short", Onset: onset, History: 20 * time.Minute, Alarm: scenario.Alarm{Fires: onset.Add(3 * time.Minute)}}
	var seen []*scenario.Scenario
	got := eval.Quiet(context.Background(), []*scenario.File{{Scenario: long}, {Scenario: short}}, func(_ context.Context, s *scenario.Scenario) (investigate.Report, error) {
		seen = append(seen, s)
		return investigate.Report{Hypotheses: []investigate.Hypothesis{{Cause: "limit", Resource: "t", Confidence: 0.3, Actions: []investigate.Action{{Kind: "scale"}}}}}, nil
	}, time.Hour)
	if len(seen) != 1 {
		t.Fatalf("investigated %d scenarios, want the one with the history for it", len(seen))
	}
	s := seen[0]
	if !s.Alarm.Fires.Equal(onset.Add(-57*time.Minute)) || !s.Onset.Equal(onset.Add(-time.Hour)) || !s.Start().Equal(long.Start()) {
		t.Errorf("quiet window fires %v, onset %v, starts %v", s.Alarm.Fires, s.Onset, s.Start())
	}
	if !long.Onset.Equal(onset) {
		t.Error("the scenario itself was changed")
	}
	want := []eval.QuietResult{
		{Name: "long", Got: "limit t → scale", Confidence: 0.3},
		{Name: "short", Skipped: "20m0s of history, 1h30m0s needed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
