package llm

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/unstuck/unstuck/llm/llmtest"
)

// FuzzParseReply feeds arbitrary model replies through the tolerant parser
// and the validation against the engine's findings:
//
//	go test -run '^$' -fuzz FuzzParseReply -fuzztime 60s -fuzzminimizetime 3s ./llm/
//
// Whatever the model writes, a hypothesis that passes validation names a
// known cause and an in-scope resource and cites only finding ids of the
// data, and the engine's first hypothesis is either still first or lost
// rank 1 under the top-1 rule.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		goodReply(),
		"```json\n" + goodReply() + "\n```",
		"Sure! Here is the analysis: " + goodReply() + " Hope this helps.",
		`[{"cause":"own-change","resource":"orders-table","evidence":"f2, f4","confidence":"0.8","actions":["rollback: revert the policy"]}]`,
		`{"result":{"hypotheses":[{"cause":"LIMIT","resource":"api","evidence":["[F1]"],"confidence":1e309}]}}`,
		`{"hypotheses":[{"cause":"component","resource":"i-1","evidence":["f3","f5"],"merges":["c2","dependency|orders-table"],"title":"see f9"}]}`,
		`{"summary":"no"}`, "", "{", `{"hypotheses":null}`, `{"hypotheses":[null,1,"x",{}]}`,
		llmtest.JSON(wireReply{Summary: "x", Hypotheses: []wireHyp{{Cause: "limit", Resource: "api", Evidence: []string{"f1", "f5"}, Explanation: injection}}}),
	} {
		f.Add(s)
	}
	base := syntheticBase()
	g := newGrounds(base)
	f.Fuzz(func(t *testing.T, content string) {
		rep, err := parseReply(content)
		if err != nil {
			return
		}
		valid, _ := validate(rep, g)
		for _, c := range valid {
			if !slices.Contains(causes, c.Cause) || !g.resources[c.Resource] {
				t.Fatalf("validated %q on %q", c.Cause, c.Resource)
			}
			if len(c.Evidence) == 0 {
				t.Fatal("validated a hypothesis with no evidence")
			}
			for _, id := range c.Evidence {
				if _, ok := g.findings[id]; !ok {
					t.Fatalf("validated evidence %q", id)
				}
			}
			if !utf8.ValidString(c.Title) || !utf8.ValidString(c.Explanation) {
				t.Fatal("cleaned text is not UTF-8")
			}
			if c.confidence < 0 || c.confidence > 1 {
				t.Fatalf("confidence %v", c.confidence)
			}
		}
		m := combine(valid, g)
		if len(m.hyps) < len(base.Hypotheses) && len(valid) == 0 {
			t.Fatalf("the engine's hypotheses were lost: %d", len(m.hyps))
		}
		if len(m.hyps) > 0 && string(m.hyps[0].Cause)+"|"+m.hyps[0].Resource != HypothesisKey(base.Hypotheses[0]) {
			if ok, _ := topRule(m.hyps[0], g); !ok {
				t.Fatalf("rank 1 went to %s %s without passing the top-1 rule", m.hyps[0].Cause, m.hyps[0].Resource)
			}
		}
		for i := 1; i < len(m.hyps); i++ {
			if m.hyps[i].Confidence > m.hyps[i-1].Confidence+1e-9 {
				t.Fatalf("confidence rises down the list at %d", i)
			}
		}
	})
}
