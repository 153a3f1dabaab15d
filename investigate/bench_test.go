package investigate_test

import (
	"context"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

func loadEmbedded(b *testing.B) []*scenario.File {
	b.Helper()
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		b.Fatal(err)
	}
	return files
}

func investigateOnce(b *testing.B, s *scenario.Scenario, opts sim.Options) (investigate.Report, *sim.Sim) {
	backend := sim.New(s, opts)
	e := investigate.New(backend.Sources(), investigate.Options{Lookback: backend.Now().Sub(s.Start())})
	rep, err := e.Run(context.Background(), investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return rep, backend
}

// BenchmarkEngine is the engine's own time per scenario: the simulator
// answers at once, so what is measured is the checks, the ranking and the
// simulator's computing.
//
//	go test -run '^$' -bench BenchmarkEngine -benchmem ./investigate/
func BenchmarkEngine(b *testing.B) {
	for _, f := range loadEmbedded(b) {
		b.Run(f.Scenario.Name, func(b *testing.B) {
			for b.Loop() {
				investigateOnce(b, f.Scenario, sim.Options{})
			}
		})
	}
}

// BenchmarkWallVsSlowestCall runs one investigation with AWS-like latency
// (150 ms per API call, 2 s per logs query) and reports its wall time as a
// multiple of the slowest single call: the aim is at most 1.3, which takes
// the calls being made concurrently rather than one after another. It also
// reports what the calls would take one after another.
//
//	go test -run '^$' -bench BenchmarkWallVsSlowestCall -benchtime 2x ./investigate/
func BenchmarkWallVsSlowestCall(b *testing.B) {
	const api, logs = 150 * time.Millisecond, 2 * time.Second
	lat := map[string]time.Duration{}
	for _, k := range sim.Kinds {
		lat[k] = api
	}
	lat[sim.KindLogs] = logs
	for _, name := range []string{"alb-5xx-one-bad-instance", "dynamodb-policy-change", "orders-api-5xx-peak-sale"} {
		f, err := scenario.Load(scenarios.FS, name+".yaml")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			var wall time.Duration
			var serial time.Duration
			for b.Loop() {
				start := time.Now()
				_, backend := investigateOnce(b, f.Scenario, sim.Options{Latency: lat})
				wall += time.Since(start)
				serial = 0
				for kind, n := range backend.Calls() {
					serial += time.Duration(n) * lat[kind]
				}
			}
			per := wall / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(logs), "x-slowest-call")
			b.ReportMetric(float64(serial)/float64(time.Millisecond), "ms-if-serial")
		})
	}
}
