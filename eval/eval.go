// Package eval scores investigations of scenarios against their sealed
// answers: top-1, top-3 and first-action accuracy, as FORMAT.md defines them.
package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Investigator runs one investigation of a simulated scenario. It receives
// the scenario only; the answer stays here.
type Investigator func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error)

// Result is one scenario's score.
type Result struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
	// Rank is the 1-based rank of the first matching hypothesis; 0 when none
	// matches.
	Rank    int  `json:"rank"`
	Top1    bool `json:"top1"`
	Top3    bool `json:"top3"`
	Action  bool `json:"action"`
	OnsetOK bool `json:"onset_ok"`
	// OnsetError is the reported onset minus the true one, in seconds.
	OnsetError float64 `json:"onset_error_s"`
	Error      string  `json:"error,omitempty"`
}

// Totals are the accuracies over a set of scenarios, 0 to 1.
type Totals struct {
	Scenarios int     `json:"scenarios"`
	Top1      float64 `json:"top1"`
	Top3      float64 `json:"top3"`
	Action    float64 `json:"action"`
	Onset     float64 `json:"onset"`
	Errors    int     `json:"errors"`
}

// Run investigates each file and scores it. A file without an expect block,
// or whose investigation fails, scores as a miss with its reason.
func Run(ctx context.Context, files []*scenario.File, inv Investigator) ([]Result, Totals) {
	var results []Result
	for _, f := range files {
		results = append(results, score(ctx, f, inv))
	}
	return results, total(results)
}

func score(ctx context.Context, f *scenario.File, inv Investigator) Result {
	s := f.Scenario
	res := Result{Name: s.Name, Path: f.Path}
	if f.Expect == nil {
		res.Error = "no expect block"
		return res
	}
	e := f.Expect
	res.Expected = fmt.Sprintf("%s %s → %s", strings.Join(e.Causes, "|"), strings.Join(e.Resources, "|"), strings.Join(e.Actions, "|"))
	rep, err := inv(ctx, s)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if len(rep.Hypotheses) > 0 {
		h := rep.Hypotheses[0]
		res.Got = fmt.Sprintf("%s %s → %s", h.Cause, h.Resource, firstAction(h))
	} else {
		res.Got = "no hypothesis"
	}
	for i, h := range rep.Hypotheses {
		if !matches(s, e, h) {
			continue
		}
		res.Rank = i + 1
		res.Top1 = i == 0
		res.Top3 = i < 3
		res.Action = slices.Contains(e.Actions, firstAction(h))
		break
	}
	if !rep.Onset.IsZero() {
		d := rep.Onset.Sub(s.Onset)
		res.OnsetError = d.Seconds()
		res.OnsetOK = d.Abs() <= e.OnsetWithin
	}
	return res
}

func firstAction(h investigate.Hypothesis) string {
	if len(h.Actions) == 0 {
		return ""
	}
	return h.Actions[0].Kind
}

// matches reports whether a hypothesis names an accepted cause and culprit;
// the culprit may be named by id, name or ARN.
func matches(s *scenario.Scenario, e *scenario.Expect, h investigate.Hypothesis) bool {
	if !slices.Contains(e.Causes, h.Cause) {
		return false
	}
	for _, id := range e.Resources {
		if h.Resource == id {
			return true
		}
		if r, ok := s.Resource(id); ok && (h.Resource == r.Name || h.Resource == r.ARN) {
			return true
		}
	}
	return false
}

func total(results []Result) Totals {
	t := Totals{Scenarios: len(results)}
	if len(results) == 0 {
		return t
	}
	var top1, top3, action, onset int
	for _, r := range results {
		if r.Error != "" {
			t.Errors++
		}
		if r.Top1 {
			top1++
		}
		if r.Top3 {
			top3++
		}
		if r.Action {
			action++
		}
		if r.OnsetOK {
			onset++
		}
	}
	n := float64(len(results))
	t.Top1, t.Top3, t.Action, t.Onset = float64(top1)/n, float64(top3)/n, float64(action)/n, float64(onset)/n
	return t
}

// Passed reports whether every scenario's right answer came first with a
// right first action.
func (t Totals) Passed() bool {
	return t.Scenarios > 0 && t.Errors == 0 && t.Top1 == 1 && t.Action == 1
}

// Seconds formats an onset error for a table.
func Seconds(s float64) string {
	return (time.Duration(s) * time.Second).String()
}
