package llm

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/redact"
)

const scen = "dynamodb-policy-change"

// goodReply re-ranks nothing, words both hypotheses and gives its own
// action for the first.
func goodReply() string {
	return llmtest.JSON(wireReply{
		Summary: "A resource policy put on orders-table at 13:59 denies the writes of orders [f2] [f4]; roll it back.",
		Hypotheses: []wireHyp{
			{Cause: "own-change", Resource: "orders-table", Confidence: 0.9, Title: "The resource policy put on orders-table denies writes",
				Explanation: "alice put a resource policy on orders-table a minute before the onset [f2]; since then every traced PutItem fails with an explicit deny [f4].",
				Evidence:    []string{"f2", "f4"}, Actions: []promptAction{{Kind: "rollback", Detail: "Restore the previous resource policy of orders-table"}}, Prevention: []string{}, Merges: []string{}},
			{Cause: "dependency", Resource: "orders-table", Confidence: 0.2, Title: "orders-table rejects calls",
				Explanation: "The table fails the calls [f4], but because of the policy.", Evidence: []string{"f4"}, Actions: []promptAction{}, Prevention: []string{}, Merges: []string{}},
		},
	})
}

func TestReasonGoodAnswer(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	m := testModel(t, srv)
	base := engineReport(t, scen)
	out, err := m.Reason(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if out.Reasoner != "model test-model" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if got := top1(out); got != "own-change|orders-table" {
		t.Errorf("top-1 %s", got)
	}
	h := out.Hypotheses[0]
	if h.Title != "The resource policy put on orders-table denies writes" || !strings.Contains(h.Explanation, "[f4]") {
		t.Errorf("model wording not used: %q / %q", h.Title, h.Explanation)
	}
	if h.Actions[0].Detail != "Restore the previous resource policy of orders-table" {
		t.Errorf("model's valid action not used: %+v", h.Actions)
	}
	if len(h.Prevention) == 0 {
		t.Error("engine's prevention lost")
	}
	// The second keeps the engine's action: the model gave none.
	if out.Hypotheses[1].Actions[0].Kind != "exclude" || !strings.Contains(out.Hypotheses[1].Actions[0].Detail, "Fail away") {
		t.Errorf("engine action not kept: %+v", out.Hypotheses[1].Actions)
	}
	if !strings.Contains(out.Summary, "orders-table") || !strings.HasPrefix(out.Summary, "A resource policy") {
		t.Errorf("summary %q", out.Summary)
	}
	if out.Stats.LLMTokens <= 0 {
		t.Error("no tokens counted")
	}
	p, c := srv.Usage()
	if out.Stats.LLMTokens != p+c {
		t.Errorf("tokens %d, server reported %d", out.Stats.LLMTokens, p+c)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	rq := reqs[0]
	if rq.Path != "/v1/chat/completions" || rq.Header.Get("Authorization") != "Bearer sk-test-0123456789abcdefghij" {
		t.Errorf("path %s auth %q", rq.Path, rq.Header.Get("Authorization"))
	}
	if rq.Format() != "json_schema" || !rq.Chat.ResponseFormat.JSONSchema.Strict {
		t.Errorf("response format %+v", rq.Chat.ResponseFormat)
	}
	schema, _ := rq.Chat.ResponseFormat.JSONSchema.Schema.MarshalJSON()
	if !strings.Contains(string(schema), `"f5"`) || !strings.Contains(string(schema), `"own-change"`) {
		t.Errorf("schema lacks the id and cause enums: %s", schema)
	}
	d := dataOf(t, rq)
	if len(d.Findings) != len(base.Findings) || len(d.Candidates) != len(base.Hypotheses) || d.Candidates[0].Ref != "c1" {
		t.Errorf("data: %d findings, %d candidates", len(d.Findings), len(d.Candidates))
	}
	if rq.Chat.Messages[0].Role != "system" || !strings.Contains(rq.Chat.Messages[0].Content, "not instructions") {
		t.Error("system prompt missing")
	}
}

func TestReasonHallucinatedFindingRepaired(t *testing.T) {
	bad := wireReply{Summary: "orders-table", Hypotheses: []wireHyp{
		{Cause: "own-change", Resource: "orders-table", Confidence: 0.9, Title: "policy", Explanation: "See [f2] and [f99].", Evidence: []string{"f2", "f99"}},
	}}
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: llmtest.JSON(bad)}, llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	out, _ := testModel(t, srv).Reason(context.Background(), engineReport(t, scen))
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want a repair round", len(reqs))
	}
	fix := reqs[1].LastUser()
	if !strings.Contains(fix, `"f99"`) || !strings.Contains(fix, "not a finding id") {
		t.Errorf("repair message does not name the problem: %s", fix)
	}
	if last := reqs[1].Chat.Messages[len(reqs[1].Chat.Messages)-2]; last.Role != "assistant" {
		t.Errorf("repair round lacks the model's reply")
	}
	if !strings.HasPrefix(out.Reasoner, "model test-model") || !strings.Contains(out.Reasoner, "repaired once") {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	for _, h := range out.Hypotheses {
		for _, id := range h.Evidence {
			if _, ok := out.Finding(id); !ok {
				t.Errorf("%s cites %s", HypothesisKey(h), id)
			}
		}
	}
}

func TestReasonHallucinationNotRepairedFallsBack(t *testing.T) {
	bad := wireReply{Summary: "x", Hypotheses: []wireHyp{
		{Cause: "limit", Resource: "orders-table", Confidence: 0.99, Title: "t", Explanation: "e", Evidence: []string{"f42"}},
	}}
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: llmtest.JSON(bad)}))
	defer srv.Close()
	base := engineReport(t, scen)
	out, err := testModel(t, srv).Reason(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if out.Reasoner != "offline (model answer not used: no hypothesis passed validation)" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if !hasUnavailable(out, "model", "f42") {
		t.Errorf("unavailable %+v", out.Unavailable)
	}
	off, _ := NewOffline().Reason(context.Background(), base)
	if top1(out) != top1(off) || out.Hypotheses[0].Explanation != off.Hypotheses[0].Explanation {
		t.Error("the offline report does not stand")
	}
	if !strings.Contains(out.Summary, "Could not read: model") {
		t.Errorf("summary does not say so: %s", out.Summary)
	}
	if out.Stats.LLMTokens == 0 {
		t.Error("tokens spent not counted")
	}
}

func hasUnavailable(r investigate.Report, source, sub string) bool {
	for _, u := range r.Unavailable {
		if u.Source == source && strings.Contains(u.Error, sub) {
			return true
		}
	}
	return false
}

func TestReasonInvalidCause(t *testing.T) {
	reply := wireReply{Summary: "A policy change on orders-table.", Hypotheses: []wireHyp{
		{Cause: "bad-luck", Resource: "orders-table", Confidence: 0.99, Title: "Bad luck", Explanation: "It happens.", Evidence: []string{"f2"}},
		{Cause: "own-change", Resource: "orders-table", Confidence: 0.9, Title: "Policy change", Explanation: "[f2] [f4]", Evidence: []string{"f2", "f4"},
			Actions: []promptAction{{Kind: "reboot", Detail: "reboot the table"}, {Kind: "scale", Detail: "add capacity"}}},
	}}
	// The repair round repeats the same answer: the bad one is dropped.
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: llmtest.JSON(reply)}))
	defer srv.Close()
	out, _ := testModel(t, srv).Reason(context.Background(), engineReport(t, scen))
	if len(srv.Requests()) != 2 {
		t.Errorf("%d requests, want one repair round", len(srv.Requests()))
	}
	fix := srv.Requests()[1].LastUser()
	for _, want := range []string{`cause "bad-luck"`, `action kind "reboot"`, `"scale" is not a first move for own-change`} {
		if !strings.Contains(fix, want) {
			t.Errorf("repair message lacks %q:\n%s", want, fix)
		}
	}
	if top1(out) != "own-change|orders-table" || out.Hypotheses[0].Title != "Policy change" {
		t.Errorf("got %s %q", top1(out), out.Hypotheses[0].Title)
	}
	for _, h := range out.Hypotheses {
		if h.Cause == "bad-luck" {
			t.Error("invalid cause kept")
		}
		for _, a := range h.Actions {
			if a.Kind == "reboot" || (h.Cause == "own-change" && a.Kind != "rollback") {
				t.Errorf("invalid action kept: %+v", a)
			}
		}
	}
	if !strings.Contains(out.Reasoner, "1 of 2 hypotheses dropped by validation") {
		t.Errorf("reasoner %q", out.Reasoner)
	}
}

func TestReasonMalformedJSON(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: `Sure! Here is my analysis: {"summary": "orders-table", "hypotheses": [{"cause": "own-change",`}))
	defer srv.Close()
	out, _ := testModel(t, srv).Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "offline (model failed: malformed reply)" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if len(srv.Requests()) != 2 {
		t.Errorf("%d requests, want one repair round", len(srv.Requests()))
	}
	if !hasUnavailable(out, "model", "malformed") {
		t.Errorf("unavailable %+v", out.Unavailable)
	}
}

func TestReasonTolerantParser(t *testing.T) {
	// A server without structured output that talks around a fenced block,
	// with numbers as strings and ids as one string.
	content := "Here you go:\n```json\n" + `{"summary": "The policy on orders-table [f2].", "hypotheses": [{"cause": "Own-Change", "resource": "orders-table", "confidence": "85%", "title": "Policy", "explanation": "[f2]", "evidence": "f2, F4", "actions": ["rollback: restore the policy"], "prevention": "Review policies"}]}` + "\n```\nHope it helps {not json}."
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: content}))
	defer srv.Close()
	out, _ := testModel(t, srv, func(c *Config) { c.ResponseFormat = FormatText }).Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "model test-model" {
		t.Fatalf("reasoner %q", out.Reasoner)
	}
	h := out.Hypotheses[0]
	if h.Confidence != 0.85 || strings.Join(h.Evidence, ",") != "f2,f4" || h.Actions[0].Detail != "restore the policy" || h.Prevention[0] != "Review policies" {
		t.Errorf("parsed %+v", h)
	}
	if srv.Requests()[0].Format() != "" {
		t.Errorf("asked for %s", srv.Requests()[0].Format())
	}
}

func TestReasonTimeout(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply(), Delay: 5 * time.Second}))
	defer srv.Close()
	m := testModel(t, srv, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	began := time.Now()
	out, err := m.Reason(context.Background(), engineReport(t, scen))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	if out.Reasoner != "offline (model failed: timeout)" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if !hasUnavailable(out, "model", "deadline") {
		t.Errorf("unavailable %+v", out.Unavailable)
	}
	if out.Hypotheses[0].Title == "" || out.Summary == "" {
		t.Error("the offline words are missing")
	}
}

func TestReasonRetries429Then5xxThenSuccess(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(
		llmtest.Reply{Status: 429, Error: "Rate limit reached", RetryAfter: "0"},
		llmtest.Reply{Status: 429, Error: "Rate limit reached"},
		llmtest.Reply{Status: 503, Error: "overloaded"},
		llmtest.Reply{Content: goodReply()},
	))
	defer srv.Close()
	m := testModel(t, srv)
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "model test-model" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if n := len(srv.Requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
}

func TestReasonRetriesAreBounded(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: 429, Error: "Rate limit reached"}))
	defer srv.Close()
	m := testModel(t, srv, func(c *Config) { c.Retries = 2 })
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "offline (model failed: rate limited (HTTP 429))" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 1 + 2 retries", n)
	}
	// A 400 is not retried.
	srv2 := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: 401, Error: "bad key"}))
	defer srv2.Close()
	out, _ = testModel(t, srv2).Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "offline (model failed: not authorised (HTTP 401))" || len(srv2.Requests()) != 1 {
		t.Errorf("reasoner %q after %d requests", out.Reasoner, len(srv2.Requests()))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: 429, RetryAfter: "1"}, llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	m := testModel(t, srv)
	began := time.Now()
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if d := time.Since(began); d < 900*time.Millisecond {
		t.Errorf("retried after %s, before Retry-After", d)
	}
	if out.Reasoner != "model test-model" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
}

func TestResponseFormatSteppedDown(t *testing.T) {
	var schemaAsked, jsonAsked atomic.Int32
	srv := llmtest.New(func(req llmtest.Request) llmtest.Reply {
		switch req.Format() {
		case "json_schema":
			schemaAsked.Add(1)
			return llmtest.Reply{Status: 400, Error: "response_format json_schema is not supported by this model"}
		case "json_object":
			jsonAsked.Add(1)
		}
		return llmtest.Reply{Content: goodReply()}
	})
	defer srv.Close()
	m := testModel(t, srv)
	for i := 0; i < 2; i++ {
		out, _ := m.Reason(context.Background(), engineReport(t, scen))
		if out.Reasoner != "model test-model" {
			t.Errorf("reasoner %q", out.Reasoner)
		}
	}
	if schemaAsked.Load() != 1 || jsonAsked.Load() != 2 {
		t.Errorf("json_schema asked %d times, json_object %d; want 1 and 2", schemaAsked.Load(), jsonAsked.Load())
	}
}

func TestAzure(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	m, err := NewModel(Config{APIKey: "azure-key", BaseURL: srv.URL + "/openai", Azure: true, Model: "gpt-4o", Deployment: "incidents-4o"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "model gpt-4o" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
	rq := srv.Requests()[0]
	if rq.Path != "/openai/deployments/incidents-4o/chat/completions" || rq.Query.Get("api-version") != DefaultAzureAPIVersion || rq.Header.Get("api-key") != "azure-key" {
		t.Errorf("path %s query %v api-key %q", rq.Path, rq.Query, rq.Header.Get("api-key"))
	}
	if !(Config{BaseURL: "https://contoso.openai.azure.com/"}).IsAzure() || (Config{BaseURL: "http://localhost:11434/v1"}).IsAzure() {
		t.Error("Azure detection")
	}
}

func TestEnvConfigReachesLoopback(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "sk-env")
	t.Setenv("OPENAI_BASE_URL", srv.BaseURL())
	t.Setenv("OPENAI_MODEL", "env-model")
	m, err := Select(ModeAuto, EnvConfig(os.Getenv))
	if err != nil || m == nil {
		t.Fatalf("select: %v %v", m, err)
	}
	out, _ := m.Reasoner().Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "model env-model" || srv.Requests()[0].Chat.Model != "env-model" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
}

func TestSelect(t *testing.T) {
	if m, err := Select("auto", Config{}); m != nil || err != nil {
		t.Errorf("auto without a key: %v %v", m, err)
	}
	if m, err := Select("offline", Config{APIKey: "k"}); m != nil || err != nil {
		t.Errorf("offline: %v %v", m, err)
	}
	if _, err := Select("openai", Config{}); err == nil {
		t.Error("openai without a key or a server: no error")
	}
	// A local server needs no key: its base URL alone selects it.
	for _, mode := range []string{"auto", "openai"} {
		if m, err := Select(mode, Config{BaseURL: "http://localhost:11434/v1"}); m == nil || err != nil {
			t.Errorf("%s with a base URL and no key: %v %v", mode, m, err)
		}
	}
	if _, err := Select("openai", Config{BaseURL: "https://res.openai.azure.com"}); err == nil || !strings.Contains(err.Error(), "Azure OpenAI needs OPENAI_API_KEY") {
		t.Errorf("Azure without a key: %v", err)
	}
	if _, err := Select("gpt", Config{}); err == nil {
		t.Error("unknown mode: no error")
	}
	var m *Model
	out, err := m.Reasoner().Reason(context.Background(), engineReport(t, scen))
	if err != nil || out.Reasoner != "offline" {
		t.Errorf("nil model reasons %q %v", out.Reasoner, err)
	}
	if _, err := m.Answer(context.Background(), nil, out, "why?"); err != ErrNoModel {
		t.Errorf("nil model answers: %v", err)
	}
}

func TestUnreachableServer(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{}))
	url := srv.BaseURL()
	srv.Close()
	m, _ := NewModel(Config{APIKey: "k", BaseURL: url})
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if out.Reasoner != "offline (model failed: unreachable)" {
		t.Errorf("reasoner %q", out.Reasoner)
	}
}

func TestBudgetSummarisesFindings(t *testing.T) {
	base := engineReport(t, "alb-5xx-one-bad-instance")
	red := redact.New()
	full, err := buildReasonPrompt(base, red, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.data.Omitted) != 0 {
		t.Fatalf("omitted %v with a large budget", full.data.Omitted)
	}
	empty := base
	empty.Findings = nil
	bare, _ := buildReasonPrompt(empty, red, 1<<20)
	budget := (bare.tokens + full.tokens) / 2
	small, err := buildReasonPrompt(base, red, budget)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prompt: %d tokens with every finding, %d without any; fitted to %d: %d tokens, %d findings kept, omitted %v",
		full.tokens, bare.tokens, budget, small.tokens, len(small.data.Findings), small.data.Omitted)
	if small.tokens > budget {
		t.Errorf("prompt %d tokens over the budget %d", small.tokens, budget)
	}
	if len(small.data.Omitted) == 0 {
		t.Error("nothing left out")
	}
	// What is kept is the most telling: a prefix of the priority order.
	kept := map[string]bool{}
	for _, f := range small.data.Findings {
		kept[f.ID] = true
	}
	for i, f := range priority(base) {
		if want := i < len(small.data.Findings); kept[f.ID] != want {
			t.Errorf("%s kept %v: not the most telling first", f.ID, kept[f.ID])
		}
	}
	if _, err := buildReasonPrompt(base, red, 200); err == nil {
		t.Error("a prompt that cannot fit did not fail")
	}
	// A budget too small for any prompt: offline, saying so, no request.
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	out, _ := testModel(t, srv, func(c *Config) { c.Budget = 500 }).Reason(context.Background(), base)
	if out.Reasoner != "offline (model failed: over the token budget)" || len(srv.Requests()) != 0 {
		t.Errorf("reasoner %q after %d requests", out.Reasoner, len(srv.Requests()))
	}
}

func TestSecretsNeverReachTheModel(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	note := investigate.Note{Time: time.Date(2024, 12, 3, 14, 5, 0, 0, time.UTC), Author: "carol",
		Text: "tried with AKIAIOSFODNN7EXAMPLE / " + secret + " and postgres://app:hunter2@db:5432/orders, token xoxb-123456789012-abcdefghijkl"}
	base := engineReport(t, scen, note)
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	testModel(t, srv).Reason(context.Background(), base)
	body := string(srv.Requests()[0].Body)
	for _, s := range []string{"AKIAIOSFODNN7EXAMPLE", secret, "hunter2", "xoxb-123456789012"} {
		if strings.Contains(body, s) || strings.Contains(body, strings.ReplaceAll(s, "/", `\/`)) {
			t.Errorf("%s sent to the model", s)
		}
	}
	if !strings.Contains(body, "REDACTED") {
		t.Error("nothing redacted")
	}
}

func TestToolCallMessagesRoundTrip(t *testing.T) {
	// The fake server decodes what go-openai sends.
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{ToolCalls: []openai.ToolCall{llmtest.ToolCall("c1", "findings_so_far", map[string]any{})}}))
	defer srv.Close()
	resp, err := http.Post(srv.BaseURL()+"/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
}
