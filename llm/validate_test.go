package llm

import (
	"strings"
	"testing"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
)

func syntheticBase() investigate.Report {
	act := func(k investigate.ActionKind, d string) []investigate.Action {
		return []investigate.Action{{Kind: k, Detail: d}}
	}
	return investigate.Report{
		Scope: investigate.Scope{Alarm: "a", Resource: "api", Resources: []string{"api", "orders-table", "i-1"}},
		Findings: []investigate.Finding{
			{ID: "f1", Kind: "onset", Resource: "api", Summary: "onset"},
			{ID: "f2", Kind: "change", Resource: "orders-table", Summary: "policy change"},
			{ID: "f3", Kind: "trace", Resource: "i-1", Summary: "i-1 slower"},
			{ID: "f4", Kind: "trace", Resource: "orders-table", Summary: "calls fail"},
			{ID: "f5", Kind: "note", Summary: "bob said"},
		},
		Hypotheses: []investigate.Hypothesis{
			{Cause: "own-change", Resource: "orders-table", Confidence: 0.9, Title: "E", Evidence: []string{"f2", "f4"}, Actions: act("rollback", "revert"), Prevention: []string{"review"}},
			{Cause: "dependency", Resource: "orders-table", Confidence: 0.6, Title: "H2", Evidence: []string{"f4"}, Actions: act("exclude", "fail away"), Prevention: []string{"failover"}},
			{Cause: "component", Resource: "i-1", Confidence: 0.1, Title: "H3", Evidence: []string{"f3"}, Actions: act("exclude", "deregister i-1"), Prevention: []string{}},
		},
	}
}

func TestTopRule(t *testing.T) {
	g := newGrounds(syntheticBase())
	h := func(cause investigate.Cause, res string, ev ...string) investigate.Hypothesis {
		return investigate.Hypothesis{Cause: cause, Resource: res, Evidence: ev}
	}
	for _, c := range []struct {
		name string
		h    investigate.Hypothesis
		ok   bool
	}{
		{"new, reads E's evidence differently", h("limit", "orders-table", "f2", "f4"), true},
		{"new, E's evidence and more", h("limit", "orders-table", "f1", "f2", "f3", "f4"), true},
		{"new, part of E's evidence", h("limit", "orders-table", "f2"), false},
		{"new, many other findings", h("limit", "orders-table", "f1", "f3", "f5"), false},
		{"new, nothing", h("limit", "orders-table"), false},
		{"close call promoted on E's evidence", h("dependency", "orders-table", "f2", "f4"), true},
		{"close call promoted on its own evidence", h("dependency", "orders-table", "f4"), false},
		{"long shot promoted on E's evidence", h("component", "i-1", "f2", "f3", "f4"), false},
	} {
		if ok, why := topRule(c.h, g); ok != c.ok {
			t.Errorf("%s: allowed %v (%s), want %v", c.name, ok, why, c.ok)
		}
	}
}

func TestCombine(t *testing.T) {
	base := syntheticBase()
	g := newGrounds(base)
	reply, err := parseReply(llmtest.JSON(wireReply{Summary: "s", Hypotheses: []wireHyp{
		{Cause: "component", Resource: "i-1", Confidence: 0.99, Title: "long shot", Explanation: "[f3]", Evidence: []string{"f3"}},
		{Cause: "own-change", Resource: "orders-table", Confidence: 0.2, Title: "E worded", Explanation: "[f2] [f4]", Evidence: []string{"f2", "f4"},
			Actions: []promptAction{{Kind: "rollback", Detail: "restore the policy"}}},
		{Cause: "limit", Resource: "api", Confidence: 0.7, Title: "new", Explanation: "[f1] [f3]", Evidence: []string{"f3", "f1"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	valid, problems := validate(reply, g)
	if len(valid) != 3 || len(problems) != 0 {
		t.Fatalf("valid %d problems %v", len(valid), problems)
	}
	m := combine(valid, g)
	var keys []string
	for _, h := range m.hyps {
		keys = append(keys, HypothesisKey(h))
	}
	want := "own-change|orders-table component|i-1 limit|api dependency|orders-table"
	if strings.Join(keys, " ") != want {
		t.Errorf("ranking %v, want %s", keys, want)
	}
	if m.guarded == "" {
		t.Error("guard did not act")
	}
	e := m.hyps[0]
	if e.Title != "E worded" || e.Actions[0].Detail != "restore the policy" || e.Prevention[0] != "review" {
		t.Errorf("E: %+v", e)
	}
	if e.Confidence != 0.9 {
		t.Errorf("E confidence %v: the model may not sink the engine's first below its own rating when the guard restores it", e.Confidence)
	}
	for i := 1; i < len(m.hyps); i++ {
		if m.hyps[i].Confidence > m.hyps[i-1].Confidence {
			t.Errorf("confidence rises at rank %d", i+1)
		}
	}
	if m.hyps[1].Confidence > 0.35 {
		t.Errorf("long shot confidence %v: the model moves an engine rating by at most 0.25", m.hyps[1].Confidence)
	}
	if n := m.hyps[2]; strings.Join(n.Evidence, ",") != "f1,f3" || n.Actions[0].Kind != "scale" {
		t.Errorf("new hypothesis: %+v", n)
	}
	if m.hyps[3].Title != "H2" || m.hyps[3].Actions[0].Detail != "fail away" {
		t.Errorf("omitted engine hypothesis not kept as it was: %+v", m.hyps[3])
	}
}

func TestValidateProblems(t *testing.T) {
	g := newGrounds(syntheticBase())
	reply, _ := parseReply(llmtest.JSON(wireReply{Hypotheses: []wireHyp{
		{Cause: "gremlins", Resource: "api", Evidence: []string{"f1"}},
		{Cause: "limit", Resource: "db-outside", Evidence: []string{"f1"}},
		{Cause: "limit", Resource: "api", Evidence: []string{"f1", "f77"}},
		{Cause: "limit", Resource: "api", Evidence: []string{"f5"}},
		{Cause: "limit", Resource: "api", Evidence: []string{}},
		{Cause: "limit", Resource: "api", Evidence: []string{"f1"}, Explanation: "see [f12]"},
		{Cause: "limit", Resource: "api", Evidence: []string{"f3"}, Actions: []promptAction{{Kind: "rollback", Detail: "x"}, {Kind: "nuke", Detail: "y"}}, Merges: []string{"c9"}},
		{Cause: "limit", Resource: "api", Evidence: []string{"f3"}},
	}}))
	valid, problems := validate(reply, g)
	if len(valid) != 1 || len(valid[0].actions) != 0 {
		t.Errorf("valid %+v", valid)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		`hypothesis 1 (gremlins api): cause "gremlins" is not one of`,
		`hypothesis 2 (limit db-outside): resource "db-outside" is not in scope`,
		`hypothesis 3 (limit api): evidence "f77" is not a finding id`,
		`hypothesis 4 (limit api): rests only on notes`,
		`hypothesis 5 (limit api): cites no finding`,
		`hypothesis 6 (limit api): its text cites "f12"`,
		`hypothesis 7 (limit api): action kind "rollback" is not a first move for limit`,
		`hypothesis 7 (limit api): action kind "nuke" is not one of`,
		`hypothesis 7 (limit api): merges "c9"`,
		`hypothesis 8 (limit api): repeats an earlier hypothesis`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, c := range []struct {
		name, in string
		hyps     int
		ok       bool
	}{
		{"plain", `{"summary":"s","hypotheses":[{"cause":"limit"}]}`, 1, true},
		{"fenced with prose", "Sure.\n```json\n{\"summary\":\"s\",\"hypotheses\":[]}\n```\nDone", 0, true},
		{"fence without info string", "```\n{\"hypotheses\":[{\"cause\":\"limit\"},{\"cause\":\"component\"}]}\n```", 2, true},
		{"braces in strings", `note {x} then {"summary":"a } b","hypotheses":[{"explanation":"{[f1]}"}]}`, 1, true},
		{"wrapped", `{"result":{"summary":"s","hypotheses":[{"cause":"limit"}]}}`, 1, true},
		{"bare list", `[{"cause":"limit","evidence":["f1"]}]`, 1, true},
		{"truncated", `{"summary":"s","hypotheses":[{"cause":"lim`, 0, false},
		{"no json", `I think it is the database.`, 0, false},
		{"unrelated json", `{"answer": 42}`, 0, false},
		{"empty", ``, 0, false},
	} {
		r, err := parseReply(c.in)
		if (err == nil) != c.ok || (err == nil && len(r.Hypotheses) != c.hyps) {
			t.Errorf("%s: %d hypotheses, err %v", c.name, len(r.Hypotheses), err)
		}
	}
}
