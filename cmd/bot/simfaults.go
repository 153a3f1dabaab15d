package main

import (
	"flag"

	"github.com/unstuck/unstuck/sim"
)

// simFaults are the simulator's random faults (--sim-fault-rate,
// --sim-fault-seed): sources throttled, denied or slow at random, for the
// load driver's fault run (bench/load -faults).
type simFaults struct {
	rate float64
	seed int64
}

// simFaultFlags registers the fault flags on fs; the result is read after
// parsing.
func simFaultFlags(fs *flag.FlagSet) *simFaults {
	f := &simFaults{}
	fs.Float64Var(&f.rate, "sim-fault-rate", 0, "with --scenario: share of API calls (0 to 1) that are throttled, denied or slow at random")
	fs.Int64Var(&f.seed, "sim-fault-seed", 0, "with --scenario: seed of the random faults (default: a random one)")
	return f
}

// apply adds the faults to the simulator's options.
func (f *simFaults) apply(o sim.Options) sim.Options {
	if f != nil {
		o.FaultRate, o.FaultSeed = f.rate, f.seed
	}
	return o
}
