package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
	"github.com/unstuck/unstuck/sim"
)

// defaultScenario is what `bot investigate` investigates when told nothing:
// the incident from the design session, an ALB returning 5XX because one of
// three instances fails.
const defaultScenario = "alb-5xx-one-bad-instance"

// loadScenario reads an embedded scenario by name, or a scenario file by path.
func loadScenario(ref string) (*scenario.File, error) {
	if ref == "" {
		return nil, usageError{"--scenario needs a name or a file"}
	}
	if !strings.ContainsAny(ref, `/\`) && !strings.HasSuffix(ref, ".yaml") && !strings.HasSuffix(ref, ".yml") {
		f, err := scenario.Load(scenarios.FS, ref+".yaml")
		if errors.Is(err, fs.ErrNotExist) {
			names, _ := embeddedNames()
			return nil, fmt.Errorf("no embedded scenario %q (embedded: %s)", ref, strings.Join(names, ", "))
		}
		return f, err
	}
	return loadFile(ref)
}

// loadFile reads a scenario file from disk; its csv files are read from the
// same folder.
func loadFile(path string) (*scenario.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("scenario path: %w", err)
	}
	f, err := scenario.Load(os.DirFS(filepath.Dir(abs)), filepath.Base(abs))
	if err != nil {
		return nil, err
	}
	f.Path = path
	return f, nil
}

// loadPaths reads scenario files and folders; no path means the embedded set.
func loadPaths(paths []string) ([]*scenario.File, error) {
	if len(paths) == 0 {
		return scenario.LoadAll(scenarios.FS, ".")
	}
	var files []*scenario.File
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("scenario path: %w", err)
		}
		if !st.IsDir() {
			f, err := loadFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			continue
		}
		dir, err := scenario.LoadAll(os.DirFS(p), ".")
		if err != nil {
			return nil, err
		}
		for _, f := range dir {
			f.Path = filepath.Join(p, f.Path)
		}
		files = append(files, dir...)
	}
	return files, nil
}

func embeddedNames() ([]string, error) {
	entries, err := fs.ReadDir(scenarios.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("embedded scenarios: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
		}
	}
	sort.Strings(names)
	return names, nil
}

// simSettings are the simulator's service behaviour from the command line.
type simSettings struct {
	latency     time.Duration // per API call
	logsLatency time.Duration // per logs query
}

func (s simSettings) options() sim.Options {
	lat := map[string]time.Duration{}
	if s.latency > 0 {
		for _, k := range sim.Kinds {
			lat[k] = s.latency
		}
	}
	if s.logsLatency > 0 {
		lat[sim.KindLogs] = s.logsLatency
	}
	return sim.Options{Latency: lat}
}

// modelFor resolves --llm: auto uses a model when OPENAI_API_KEY or
// OPENAI_BASE_URL is set (a local server needs no key), openai insists on
// one; nil means the offline reasoner.
func modelFor(mode string) (*llm.Model, error) {
	switch mode {
	case "", llm.ModeAuto, llm.ModeOffline, llm.ModeOpenAI:
	default:
		return nil, usageError{fmt.Sprintf("--llm %q: want auto, offline or openai", mode)}
	}
	m, err := llm.Select(mode, llm.EnvConfig(os.Getenv))
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// reasonerFor is the reasoner --llm asks for.
func reasonerFor(mode string) (investigate.Reasoner, error) {
	m, err := modelFor(mode)
	if err != nil {
		return nil, err
	}
	return m.Reasoner(), nil
}

// investigateScenario runs one investigation against a simulated scenario,
// at the scenario's "now" (the alarm's fire time).
func investigateScenario(ctx context.Context, s *scenario.Scenario, st simSettings, reasoner investigate.Reasoner) (investigate.Report, error) {
	engine, req := simEngine(s, st, reasoner)
	for _, n := range s.Notes {
		req.Notes = append(req.Notes, investigate.Note{Time: n.At, Author: n.Author, Text: n.Text})
	}
	return engine.Run(ctx, req, nil)
}

// simEngine is an engine over a scenario's simulated account, with the
// request that investigates its alarm at the scenario's "now".
func simEngine(s *scenario.Scenario, st simSettings, reasoner investigate.Reasoner) (*investigate.Engine, investigate.Request) {
	backend := sim.New(s, st.options())
	engine := investigate.New(backend.Sources(), investigate.Options{
		Reasoner: reasoner,
		Lookback: backend.Now().Sub(s.Start()),
	})
	return engine, investigate.Request{Alarm: s.Alarm.Name, Now: backend.Now()}
}

// baselineScenario ranks a simulated scenario's resources by the trivial
// baseline, through the same simulated sources an investigation reads.
func baselineScenario(ctx context.Context, s *scenario.Scenario) ([]string, error) {
	engine, req := simEngine(s, simSettings{}, nil)
	shifts, err := engine.Baseline(ctx, req)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(shifts))
	for i, sh := range shifts {
		ids[i] = sh.Resource
	}
	return ids, nil
}
