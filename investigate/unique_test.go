package investigate_test

import (
	"context"
	"testing"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// Every report names each cause on each resource once: a model that echoes
// the engine's hypotheses would otherwise see one dropped as a repeat.
func TestHypothesesAreUnique(t *testing.T) {
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		s := f.Scenario
		backend := sim.New(s, sim.Options{})
		rep, err := investigate.New(backend.Sources(), investigate.Options{Lookback: backend.Now().Sub(s.Start())}).
			Run(context.Background(), investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		seen := map[string]bool{}
		for _, h := range rep.Hypotheses {
			key := string(h.Cause) + " " + h.Resource
			if seen[key] {
				t.Errorf("%s: %s twice", s.Name, key)
			}
			seen[key] = true
		}
	}
}
