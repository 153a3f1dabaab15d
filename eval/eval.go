// Package eval scores investigations of scenarios against their sealed
// answers: top-1, top-3 and first-action accuracy, as FORMAT.md defines them.
package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Investigator runs one investigation of a simulated scenario. It receives
// the scenario only; the answer stays here.
type Investigator func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error)

// Baseliner ranks a scenario's resources by a trivial statistic, most
// suspect first, so that the engine can be compared with it on the same
// telemetry.
type Baseliner func(ctx context.Context, s *scenario.Scenario) ([]string, error)

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
	// Confidence is the confidence of the first hypothesis; 0 without one.
	Confidence float64 `json:"confidence"`
	// ResourceRank is the 1-based rank of the first hypothesis that names
	// an accepted culprit, whatever its cause; 0 when none does.
	ResourceRank int `json:"resource_rank"`
	// BaselineRank is the 1-based rank of the first accepted culprit in the
	// baseline's ranking; 0 when it has none or no baseline ran.
	BaselineRank int `json:"baseline_rank,omitempty"`
}

// Totals are the accuracies over a set of scenarios, 0 to 1.
type Totals struct {
	Scenarios int     `json:"scenarios"`
	Top1      float64 `json:"top1"`
	Top3      float64 `json:"top3"`
	Action    float64 `json:"action"`
	Onset     float64 `json:"onset"`
	Errors    int     `json:"errors"`
	// ResourceTop1 is how often the first hypothesis names an accepted
	// culprit, whatever its cause: what the baseline is compared with.
	ResourceTop1 float64 `json:"resource_top1"`
	// BaselineTop1 and BaselineTop3 are the baseline's, when one ran.
	BaselineTop1 float64 `json:"baseline_top1,omitempty"`
	BaselineTop3 float64 `json:"baseline_top3,omitempty"`
	// Brier is the mean squared difference between the first hypothesis's
	// confidence and whether it was right (0 is perfect; always answering
	// 0.5 scores 0.25).
	Brier float64 `json:"brier"`
	// Reliability bins the first hypotheses by confidence: how often each
	// bin was right.
	Reliability []Bin `json:"reliability"`
}

// Bin is one confidence bin of a reliability table.
type Bin struct {
	// From and To bound the confidences in the bin, [From, To).
	From float64 `json:"from"`
	To   float64 `json:"to"`
	// Count is how many first hypotheses fell in it, Right how many of
	// them were right, and Mean their mean confidence.
	Count int     `json:"count"`
	Right int     `json:"right"`
	Mean  float64 `json:"mean"`
}

// binEdges bound the reliability table's bins; investigate.ClearCause is one
// of them, so the table shows what the "nothing stands out" threshold cuts.
var binEdges = []float64{0, 0.2, investigate.ClearCause, 0.5, 0.65, 0.8, 1.0001}

// Run investigates each file and scores it. A file without an expect block,
// or whose investigation fails, scores as a miss with its reason.
func Run(ctx context.Context, files []*scenario.File, inv Investigator) ([]Result, Totals) {
	return Compare(ctx, files, inv, nil)
}

// Compare is Run with the baseline ranked beside each investigation; a nil
// baseline runs none.
func Compare(ctx context.Context, files []*scenario.File, inv Investigator, base Baseliner) ([]Result, Totals) {
	var results []Result
	for _, f := range files {
		res := score(ctx, f, inv)
		if base != nil && f.Expect != nil {
			if ranked, err := base(ctx, f.Scenario); err == nil {
				for i, id := range ranked {
					if names(f.Scenario, f.Expect, id) {
						res.BaselineRank = i + 1
						break
					}
				}
			}
		}
		results = append(results, res)
	}
	t := total(results)
	if base != nil && len(results) > 0 {
		var top1, top3 int
		for _, r := range results {
			if r.BaselineRank == 1 {
				top1++
			}
			if r.BaselineRank >= 1 && r.BaselineRank <= 3 {
				top3++
			}
		}
		t.BaselineTop1 = float64(top1) / float64(len(results))
		t.BaselineTop3 = float64(top3) / float64(len(results))
	}
	return results, t
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
		res.Confidence = h.Confidence
	} else {
		res.Got = "no hypothesis"
	}
	for i, h := range rep.Hypotheses {
		if names(s, e, h.Resource) {
			res.ResourceRank = i + 1
			break
		}
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
	return string(h.Actions[0].Kind)
}

// matches reports whether a hypothesis names an accepted cause and culprit;
// the culprit may be named by id, name or ARN.
func matches(s *scenario.Scenario, e *scenario.Expect, h investigate.Hypothesis) bool {
	return slices.Contains(e.Causes, string(h.Cause)) && names(s, e, h.Resource)
}

// names reports whether a reference (id, name or ARN) names an accepted
// culprit.
func names(s *scenario.Scenario, e *scenario.Expect, ref string) bool {
	for _, id := range e.Resources {
		if ref == id {
			return true
		}
		if r, ok := s.Resource(id); ok && (ref == r.Name || ref == r.ARN) {
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
	var top1, top3, action, onset, located int
	var brier float64
	t.Reliability = make([]Bin, len(binEdges)-1)
	for i := range t.Reliability {
		t.Reliability[i].From, t.Reliability[i].To = binEdges[i], math.Min(1, binEdges[i+1])
	}
	for _, r := range results {
		if r.ResourceRank == 1 {
			located++
		}
		right := 0.0
		if r.Top1 {
			right = 1
		}
		brier += (r.Confidence - right) * (r.Confidence - right)
		for i := range t.Reliability {
			if b := &t.Reliability[i]; r.Confidence >= binEdges[i] && r.Confidence < binEdges[i+1] {
				b.Mean = (b.Mean*float64(b.Count) + r.Confidence) / float64(b.Count+1)
				b.Count++
				if r.Top1 {
					b.Right++
				}
			}
		}
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
	t.ResourceTop1, t.Brier = float64(located)/n, brier/n
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

// QuietResult is what an investigation claimed in a window before its
// scenario's incident, when nothing was wrong yet.
type QuietResult struct {
	Name string `json:"name"`
	// Got is the first hypothesis, or "no hypothesis".
	Got        string  `json:"got"`
	Confidence float64 `json:"confidence"`
	// Skipped says why the scenario had no such window.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// quietMargin is how much normal history a quiet window keeps before its
// alarm, so the baseline has something to compare with.
const quietMargin = 30 * time.Minute

// Quiet investigates each scenario as if its alarm had fired before each
// incident began: the onset, the fire time and the history end before that,
// by the given lead, so that everything the investigation sees is normal.
// Whatever it then claims is a false alarm; its confidence shows where the
// "nothing stands out" line must sit. A scenario with too little history
// for the lead is skipped.
func Quiet(ctx context.Context, files []*scenario.File, inv Investigator, lead time.Duration) []QuietResult {
	var out []QuietResult
	for _, f := range files {
		s := *f.Scenario
		res := QuietResult{Name: s.Name}
		if s.History < lead+quietMargin {
			res.Skipped = fmt.Sprintf("%s of history, %s needed", s.History, lead+quietMargin)
			out = append(out, res)
			continue
		}
		// The incident's telemetry starts where it did; the investigation
		// ends lead before its onset, and the fault is never reached.
		s.Onset = s.Onset.Add(-lead)
		s.History -= lead
		s.Alarm.Fires = s.Alarm.Fires.Add(-lead)
		rep, err := inv(ctx, &s)
		switch {
		case err != nil:
			res.Error = err.Error()
		case len(rep.Hypotheses) == 0:
			res.Got = "no hypothesis"
		default:
			h := rep.Hypotheses[0]
			res.Got, res.Confidence = fmt.Sprintf("%s %s → %s", h.Cause, h.Resource, firstAction(h)), h.Confidence
		}
		out = append(out, res)
	}
	return out
}
