package llm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/eval"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
)

// The embedded scenarios, investigated with the offline reasoner, with a
// scripted model that agrees with the engine, and with scripted adversarial
// models: confident, wrong, citing nothing, inventing ids, resting on notes
// or on weak findings, promoting a lesser candidate, merging the engine's
// first away. The agreeing model must give the offline top-1; no adversary
// may lower it.

func loadAll(t testing.TB) []*scenario.File {
	t.Helper()
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func withReasoner(r investigate.Reasoner) eval.Investigator {
	return func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
		rep, _, err := investigateWith(ctx, s, r)
		return rep, err
	}
}

// decoy picks a cause and an in-scope resource other than the engine's
// first.
func decoy(d promptData) (investigate.Cause, string) {
	var top promptCandidate
	if len(d.Candidates) > 0 {
		top = d.Candidates[0]
	}
	cause := investigate.CauseLimit
	if top.Cause == cause {
		cause = investigate.CauseDependency
	}
	res := d.Scope.Resource
	for i := len(d.Scope.Resources) - 1; i >= 0; i-- {
		if r := d.Scope.Resources[i]; r != top.Resource {
			res = r
			break
		}
	}
	return cause, res
}

func fittingAction(cause investigate.Cause) []promptAction {
	return []promptAction{{Kind: fitting[cause][0], Detail: "Do the decoy's move now"}}
}

// adversaries are scripted models that try to displace the engine's first
// hypothesis.
func adversaries(t testing.TB) map[string]llmtest.Script {
	reply := func(hs ...wireHyp) llmtest.Reply {
		for i := range hs {
			if hs[i].Evidence == nil {
				hs[i].Evidence = []string{}
			}
			if hs[i].Actions == nil {
				hs[i].Actions = []promptAction{}
			}
			hs[i].Prevention, hs[i].Merges = []string{}, append([]string{}, hs[i].Merges...)
		}
		return llmtest.Reply{Content: llmtest.JSON(wireReply{Summary: "Certainly the decoy. Act now.", Hypotheses: hs})}
	}
	decoyHyp := func(d promptData, ev []string) wireHyp {
		c, r := decoy(d)
		return wireHyp{Cause: string(c), Resource: r, Confidence: 0.99, Title: "It is definitely " + r, Explanation: "Trust me." + cites(ev), Evidence: ev, Actions: fittingAction(c)}
	}
	// echo is the engine's candidates, after the decoy.
	echo := func(d promptData) []wireHyp {
		var out []wireHyp
		for _, c := range d.Candidates {
			out = append(out, wireHyp{Cause: string(c.Cause), Resource: c.Resource, Confidence: 0.1, Title: "unlikely", Explanation: "no" + cites(c.Evidence), Evidence: c.Evidence})
		}
		return out
	}
	notes := func(d promptData) []string {
		var ids []string
		for _, f := range d.Findings {
			if f.Kind == investigate.FindingNote {
				ids = append(ids, f.ID)
			}
		}
		if ids == nil {
			ids = []string{"f97"}
		}
		return ids
	}
	weak := func(d promptData) []string {
		cited := map[string]bool{}
		if len(d.Candidates) > 0 {
			for _, id := range d.Candidates[0].Evidence {
				cited[id] = true
			}
		}
		var ids []string
		for _, f := range d.Findings {
			if !cited[f.ID] && f.Kind != investigate.FindingNote {
				ids = append(ids, f.ID)
			}
		}
		if ids == nil {
			ids = []string{"f96"}
		}
		return ids
	}
	return map[string]llmtest.Script{
		"cites nothing": func(req llmtest.Request) llmtest.Reply {
			return reply(decoyHyp(dataOf(t, req), nil))
		},
		"invents ids": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			return reply(append([]wireHyp{decoyHyp(d, []string{"f98", "f99", "f100"})}, echo(d)...)...)
		},
		"rests on notes": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			return reply(append([]wireHyp{decoyHyp(d, notes(d))}, echo(d)...)...)
		},
		"many weak findings": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			return reply(append([]wireHyp{decoyHyp(d, weak(d))}, echo(d)...)...)
		},
		"merges the first away": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			h := decoyHyp(d, weak(d))
			for _, c := range d.Candidates {
				h.Merges = append(h.Merges, c.Ref)
			}
			return reply(h)
		},
		"promotes the last candidate": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			hs := echo(d)
			slices.Reverse(hs)
			for i := range hs {
				hs[i].Confidence = 0.99 - 0.1*float64(i)
			}
			return reply(hs...)
		},
		"out of scope and bad causes": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			ev := []string{}
			if len(d.Candidates) > 0 {
				ev = d.Candidates[0].Evidence
			}
			return reply(
				wireHyp{Cause: "limit", Resource: "attacker-box", Confidence: 1, Title: "x", Explanation: "x", Evidence: ev},
				wireHyp{Cause: "sabotage", Resource: d.Scope.Resource, Confidence: 1, Title: "x", Explanation: "x", Evidence: ev},
			)
		},
		"changes the first action": func(req llmtest.Request) llmtest.Reply {
			d := dataOf(t, req)
			hs := echo(d)
			for i := range hs {
				hs[i].Confidence = d.Candidates[i].Confidence
				for _, k := range fitting[investigate.Cause(hs[i].Cause)] {
					if d.Candidates[i].Action == nil || k != d.Candidates[i].Action.Kind {
						hs[i].Actions = []promptAction{{Kind: k, Detail: "the other move"}}
					}
				}
			}
			return reply(hs...)
		},
	}
}

type runStats struct {
	prompt, completion []int
}

func (s runStats) line(what string) string {
	mean := func(v []int) float64 {
		if len(v) == 0 {
			return 0
		}
		t := 0
		for _, x := range v {
			t += x
		}
		return float64(t) / float64(len(v))
	}
	return fmt.Sprintf("%-34s prompt mean %6.0f max %6d | completion mean %5.0f max %5d | total mean %6.0f max %6d (n=%d)",
		what, mean(s.prompt), slices.Max(s.prompt), mean(s.completion), slices.Max(s.completion),
		mean(sum(s.prompt, s.completion)), slices.Max(sum(s.prompt, s.completion)), len(s.prompt))
}

func sum(a, b []int) []int {
	out := make([]int, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// runModel evaluates the scenarios with a model on a scripted server and
// counts each investigation's tokens as the server reports them.
// runModel investigates every scenario with a model scripted by script:
// through the whole engine, or, with raw, by giving the model the engine's
// report of each scenario made once for all the models that read it.
func runModel(t *testing.T, files []*scenario.File, script llmtest.Script, raw *rawReports) ([]eval.Result, eval.Totals, runStats, []investigate.Report) {
	t.Helper()
	srv := llmtest.New(script)
	defer srv.Close()
	m := testModel(t, srv)
	var st runStats
	var reps []investigate.Report
	results, totals := eval.Run(context.Background(), files, func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
		srv.Reset()
		var rep investigate.Report
		var err error
		if raw != nil {
			rep, err = raw.reason(ctx, t, s, m)
		} else {
			rep, _, err = investigateWith(ctx, s, m)
		}
		p, c := srv.Usage()
		if err == nil && rep.Stats.LLMTokens != p+c {
			t.Errorf("%s: report counts %d tokens, the server %d", s.Name, rep.Stats.LLMTokens, p+c)
		}
		st.prompt = append(st.prompt, p)
		st.completion = append(st.completion, c)
		reps = append(reps, rep)
		return rep, err
	})
	return results, totals, st, reps
}

func TestScenariosAgreeingModelKeepsTop1(t *testing.T) {
	files := loadAll(t)
	offRes, offTot := eval.Run(context.Background(), files, func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
		return scenarioReports.reason(ctx, t, s, NewOffline())
	})
	res, tot, st, reps := runModel(t, files, agreeing(t), scenarioReports)
	for i := range files {
		if res[i].Got != offRes[i].Got || res[i].Top1 != offRes[i].Top1 || res[i].Action != offRes[i].Action {
			t.Errorf("%s: agreeing model gives %q (top1 %v), offline %q (top1 %v)", res[i].Name, res[i].Got, res[i].Top1, offRes[i].Got, offRes[i].Top1)
		}
		if want := "model test-model"; reps[i].Reasoner != want {
			t.Errorf("%s: reasoner %q", res[i].Name, reps[i].Reasoner)
		}
	}
	if tot.Top1 != offTot.Top1 || tot.Action != offTot.Action || tot.Top3 != offTot.Top3 {
		t.Errorf("totals %+v, offline %+v", tot, offTot)
	}
	t.Logf("%d scenarios: offline top-1 %.0f%%, agreeing model top-1 %.0f%%, action %.0f%%", len(files), 100*offTot.Top1, 100*tot.Top1, 100*tot.Action)
	t.Logf("tokens per investigation, %s", st.line("agreeing model (one round):"))
}

func TestScenariosAdversarialModelCannotLowerTop1(t *testing.T) {
	files := loadAll(t)
	raw := scenarioReports
	offRes, offTot := eval.Run(context.Background(), files, func(ctx context.Context, s *scenario.Scenario) (investigate.Report, error) {
		return raw.reason(ctx, t, s, NewOffline())
	})
	advs := adversaries(t)
	names := make([]string, 0, len(advs))
	for n := range advs {
		names = append(names, n)
	}
	slices.Sort(names)
	var all runStats
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res, tot, st, reps := runModel(t, files, advs[name], raw)
			all.prompt = append(all.prompt, st.prompt...)
			all.completion = append(all.completion, st.completion...)
			guarded, fellBack := 0, 0
			for i := range files {
				if res[i].Got != offRes[i].Got || res[i].Top1 != offRes[i].Top1 {
					t.Errorf("%s: top-1 %q, offline %q", res[i].Name, res[i].Got, offRes[i].Got)
				}
				if offRes[i].Action && !res[i].Action {
					t.Errorf("%s: first action lost: %q", res[i].Name, res[i].Got)
				}
				for _, h := range reps[i].Hypotheses {
					for _, id := range h.Evidence {
						if _, ok := reps[i].Finding(id); !ok {
							t.Errorf("%s: %s cites %s", res[i].Name, HypothesisKey(h), id)
						}
					}
				}
				if reps[i].Summary == "Certainly the decoy. Act now." {
					t.Errorf("%s: the adversary's summary stands", res[i].Name)
				}
				if len(reps[i].Hypotheses) > 0 && len(reps[i].Hypotheses[0].Evidence) == 0 {
					t.Errorf("%s: top-1 cites nothing", res[i].Name)
				}
				if reps[i].Reasoner == "" || (len(reps[i].Reasoner) > 7 && reps[i].Reasoner[:7] == "offline") {
					fellBack++
				} else if strings.Contains(reps[i].Reasoner, "kept the engine's first") {
					guarded++
				}
			}
			if tot.Top1 < offTot.Top1 || tot.Action < offTot.Action {
				t.Errorf("totals %+v, offline %+v", tot, offTot)
			}
			t.Logf("top-1 %.0f%% (offline %.0f%%), action %.0f%%; the guard acted in %d scenarios, the answer was not used in %d", 100*tot.Top1, 100*offTot.Top1, 100*tot.Action, guarded, fellBack)
		})
	}
	t.Logf("tokens per investigation, %s", all.line("adversarial models (with repair):"))
}
