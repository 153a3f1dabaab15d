package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
	"github.com/unstuck/unstuck/llm/llmtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runBot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestInvestigateJSONContract checks the report JSON that users and outside
// checks rely on (DESIGN.md), on the embedded default scenario.
func TestInvestigateJSONContract(t *testing.T) {
	code, out, errs := runBot(t, "investigate", "--scenario", "alb-5xx-one-bad-instance", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for _, k := range []string{"scope", "onset", "findings", "hypotheses", "unavailable", "stats"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	var rep struct {
		Scope struct {
			Alarm, Resource string
			Start, End      string
		}
		Onset    string
		Findings []struct {
			ID, Kind, Resource, Time, Summary string
		}
		Hypotheses []struct {
			Cause, Resource, Title, Explanation string
			Confidence                          float64
			Evidence                            []string
			Actions                             []struct{ Kind, Detail string }
			Prevention                          []string
		}
		Stats struct {
			APICalls  int   `json:"api_calls"`
			WallMS    int64 `json:"wall_ms"`
			LLMTokens int   `json:"llm_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Scope.Alarm != "web-alb-target-5xx" || rep.Scope.Resource != "web-alb" || rep.Onset != "2024-12-03T10:30:00Z" {
		t.Errorf("scope %+v onset %s", rep.Scope, rep.Onset)
	}
	if len(rep.Hypotheses) == 0 {
		t.Fatal("no hypotheses")
	}
	h := rep.Hypotheses[0]
	if h.Cause != "component" || h.Resource != "i-0c5e1a2b3d4f50003" {
		t.Fatalf("top hypothesis %s %s, want component i-0c5e1a2b3d4f50003", h.Cause, h.Resource)
	}
	if k := h.Actions[0].Kind; k != "exclude" && k != "restart" {
		t.Errorf("first action %s", k)
	}
	if h.Confidence <= 0 || h.Confidence > 1 || h.Title == "" || h.Explanation == "" || len(h.Prevention) == 0 {
		t.Errorf("hypothesis incomplete: %+v", h)
	}
	kinds := map[string]string{}
	for _, f := range rep.Findings {
		kinds[f.ID] = f.Kind
	}
	cited := map[string]bool{}
	for _, id := range h.Evidence {
		cited[kinds[id]] = true
		if !strings.Contains(h.Explanation, "["+id+"]") {
			t.Errorf("explanation does not cite %s", id)
		}
	}
	if !cited["trace"] || !cited["log"] {
		t.Errorf("the culprit is not singled out by traces and logs: cited kinds %v", cited)
	}
	if rep.Stats.APICalls == 0 {
		t.Error("no API calls counted")
	}
}

var wallMS = regexp.MustCompile(`\d+ ms ·`)

func TestInvestigateTextGolden(t *testing.T) {
	for _, name := range []string{"alb-5xx-one-bad-instance", "dynamodb-policy-change", "lambda-concurrency-limit"} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runBot(t, "investigate", "--scenario", name)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			got := wallMS.ReplaceAllString(out, "N ms ·")
			golden := filepath.Join("testdata", name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("text report differs from %s (run with -update after checking):\n%s", golden, got)
			}
		})
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ntitle: t\nonset: 2024-12-03T10:30:00Z\nalarm: {name: a, resource: x, metric: AWS/EC2 CPUUtilization, stat: Average, threshold: 1, fires: +1m}\nresources:\n  - {id: x, type: ec3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"investgate"}, 2, "unknown command"},
		{"empty scenario", []string{"investigate", "--scenario", ""}, 2, "--scenario needs a name or a file"},
		{"bad format", []string{"investigate", "--scenario", "alb-5xx-one-bad-instance", "--format", "xml"}, 2, "want text or json"},
		{"bad llm", []string{"investigate", "--scenario", "alb-5xx-one-bad-instance", "--llm", "gpt"}, 2, "want auto, offline or openai"},
		{"unknown flag", []string{"investigate", "--scenarios", "x"}, 2, "flag provided but not defined"},
		{"unknown embedded scenario", []string{"investigate", "--scenario", "alb-5xx"}, 1, "alb-5xx-one-bad-instance"},
		{"missing file", []string{"investigate", "--scenario", filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml"},
		{"invalid file names file, line and field", []string{"investigate", "--scenario", bad}, 1, "bad.yaml:6: resources[0].type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runBot(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestScenariosLists(t *testing.T) {
	code, out, _ := runBot(t, "scenarios")
	if code != 0 || !strings.Contains(out, "alb-5xx-one-bad-instance") || !strings.Contains(out, "web-alb-target-5xx") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestEvalExitCode(t *testing.T) {
	src, err := os.ReadFile("../../scenarios/dynamodb-policy-change.yaml")
	if err != nil {
		t.Fatal(err)
	}
	right, wrong := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(right, "s.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "resource: [orders-table]", "resource: [payments-api]", 1)
	if bad == string(src) {
		t.Fatal("could not plant a wrong answer")
	}
	if err := os.WriteFile(filepath.Join(wrong, "s.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runBot(t, "eval", right); code != 0 || !strings.Contains(out, "top-1 100%") {
		t.Errorf("right answer: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ := runBot(t, "eval", "--json", wrong)
	if code != 1 {
		t.Errorf("wrong answer: exit %d, want 1", code)
	}
	var res struct {
		Results []struct {
			Name string
			Rank int
		}
		Totals struct{ Top1 float64 }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 1 || res.Totals.Top1 != 0 {
		t.Errorf("json %v: %s", err, out)
	}
}

// TestInvestigateWithAModel runs --llm openai against an OpenAI-compatible
// server on loopback, reached through OPENAI_BASE_URL by the real client; a
// model that agrees with the engine words the report, and the culprit stands.
func TestInvestigateWithAModel(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: llmtest.JSON(map[string]any{
		"summary": "One instance, i-0c5e1a2b3d4f50003, fails every request it serves while its peers are healthy.",
		"hypotheses": []map[string]any{{
			"cause": "component", "resource": "i-0c5e1a2b3d4f50003", "confidence": 0.8,
			"title": "i-0c5e1a2b3d4f50003 fails its requests", "explanation": "Traces [f2] and logs [f3] single it out.",
			"evidence": []string{"f2", "f3"},
		}},
	})}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("OPENAI_BASE_URL", srv.BaseURL())
	code, out, errs := runBot(t, "investigate", "--llm", "openai", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Reasoner   string
		Hypotheses []struct{ Cause, Resource string }
		Stats      struct {
			LLMTokens int `json:"llm_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Reasoner, "model") || rep.Stats.LLMTokens == 0 || len(srv.Requests()) == 0 {
		t.Errorf("reasoner %q, tokens %d, requests %d: the model was not used", rep.Reasoner, rep.Stats.LLMTokens, len(srv.Requests()))
	}
	if h := rep.Hypotheses[0]; h.Cause != "component" || h.Resource != "i-0c5e1a2b3d4f50003" {
		t.Errorf("top %s %s", h.Cause, h.Resource)
	}
}

// A local OpenAI-compatible server (Ollama, vLLM, LM Studio) needs no key:
// OPENAI_BASE_URL alone selects the model, with --llm openai and with the
// default --llm auto, and no Authorization header is sent. With neither a
// key nor a server, auto is the offline reasoner and openai says what to
// set.
func TestKeylessLocalModel(t *testing.T) {
	agree := llmtest.Reply{Content: llmtest.JSON(map[string]any{
		"summary": "One instance, i-0c5e1a2b3d4f50003, fails every request it serves.",
		"hypotheses": []map[string]any{{
			"cause": "component", "resource": "i-0c5e1a2b3d4f50003", "confidence": 0.8,
			"title": "i-0c5e1a2b3d4f50003 fails its requests", "explanation": "Traces [f2] and logs [f3] single it out.",
			"evidence": []string{"f2", "f3"},
		}},
	})}
	for _, mode := range []string{"openai", "auto"} {
		t.Run(mode, func(t *testing.T) {
			srv := llmtest.New(llmtest.Sequence(agree))
			defer srv.Close()
			t.Setenv("OPENAI_API_KEY", "")
			t.Setenv("OPENAI_BASE_URL", srv.BaseURL())
			t.Setenv("OPENAI_MODEL", "llama3.1")
			code, out, errs := runBot(t, "investigate", "--llm", mode, "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var rep struct{ Reasoner string }
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if rep.Reasoner != "model llama3.1" || len(reqs) == 0 {
				t.Fatalf("reasoner %q after %d requests: the local model was not used", rep.Reasoner, len(reqs))
			}
			if h := reqs[0].Header.Get("Authorization"); h != "" {
				t.Errorf("Authorization %q sent to a server given no key", h)
			}
		})
	}
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	if code, out, errs := runBot(t, "investigate", "--format", "json"); code != 0 || !strings.Contains(out, `"reasoner": "offline"`) {
		t.Errorf("auto with neither: exit %d, stderr %s", code, errs)
	}
	if code, _, errs := runBot(t, "investigate", "--llm", "openai"); code != 1 || !strings.Contains(errs, "set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL") {
		t.Errorf("openai with neither: exit %d, stderr %q", code, errs)
	}
}

func TestInvestigateWritesAChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chart.png")
	if code, _, errs := runBot(t, "investigate", "--scenario", "lambda-concurrency-limit", "--chart", path); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
		t.Errorf("chart is %v", b)
	}
}

// TestInvestigateRealAlarmEndToEnd serves the ALB incident through fake AWS
// endpoints that speak each service's real protocol, and investigates it the
// way `bot investigate --alarm web-alb-target-5xx` does: the same culprit
// as the simulator, from the real SDK clients.
// hermeticAWS keeps the machine's AWS settings (a CA bundle, a profile, a
// region) away from the clients.
func hermeticAWS(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// albAWS serves the ALB incident through fake AWS endpoints.
func albAWS(t *testing.T) (*awstest.Server, *awstest.ALBWorld, awstelemetry.Options) {
	srv := awstest.New()
	t.Cleanup(srv.Close)
	world := awstest.NewALBWorld()
	world.Install(srv)
	return srv, world, awstelemetry.Options{
		Region: "us-east-1", Endpoint: srv.URL, HTTPClient: srv.Client(), MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Present:     func() time.Time { return world.Present },
	}
}

func TestInvestigateRealAlarmEndToEnd(t *testing.T) {
	hermeticAWS(t)
	_, world, opts := albAWS(t)
	rep, err := investigateAlarm(context.Background(), "web-alb-target-5xx", world.Fires, opts, investigate.Options{Reasoner: llm.NewOffline()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Hypotheses) == 0 {
		t.Fatalf("no hypothesis; unavailable %+v", rep.Unavailable)
	}
	if h := rep.Hypotheses[0]; h.Cause != "component" || h.Resource != world.Bad {
		t.Fatalf("top = %s %s, want component %s", h.Cause, h.Resource, world.Bad)
	}
	if rep.Stats.APICalls == 0 || rep.Stats.BytesScanned == 0 {
		t.Errorf("stats %+v: AWS calls and bytes scanned are not counted", rep.Stats)
	}
	t.Logf("AWS calls %d, bytes scanned %d", rep.Stats.APICalls, rep.Stats.BytesScanned)
}

func TestAlarmFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"investigate", "--region", "eu-west-1"}, "go with --alarm"},
		{[]string{"investigate", "--alarm", "x", "--at", "yesterday"}, `--at "yesterday": give a time like 10:32`},
		{[]string{"investigate", "--alarm", "x", "--at", "2999-01-01 10:32"}, "--at 2999-01-01 10:32 is in the future"},
		{[]string{"investigate", "--alarm", "x", "--at", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}, "is in the future"},
	} {
		if code, _, errs := runBot(t, tt.args...); code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, %q", tt.args, code, errs)
		}
	}
}

// TestEveryServiceFailingLeavesACompleteReport throttles, denies or hangs
// each AWS service an ALB investigation reads, in turn, and checks that the
// investigation still ends in a complete report that says what it could not
// read.
func TestEveryServiceFailingLeavesACompleteReport(t *testing.T) {
	hermeticAWS(t)
	services := []struct{ op, throttle, denied string }{
		{"CloudWatch.GetMetricData", "Throttling", "AccessDenied"},
		{"CloudWatch Logs.StartQuery", "ThrottlingException", "AccessDeniedException"},
		{"XRay.GetServiceGraph", "ThrottledException", "AccessDeniedException"},
		{"CloudTrail.LookupEvents", "ThrottlingException", "AccessDeniedException"},
		{"Elastic Load Balancing v2.DescribeLoadBalancers", "Throttling", "AccessDenied"},
		{"EC2.DescribeInstances", "RequestLimitExceeded", "UnauthorizedOperation"},
		{"Auto Scaling.DescribeAutoScalingGroups", "Throttling", "AccessDenied"},
		{"DynamoDB.DescribeTable", "ThrottlingException", "AccessDeniedException"},
		{"Health.DescribeEvents", "ThrottlingException", "AccessDeniedException"},
	}
	for _, svc := range services {
		for _, mode := range []string{"throttle", "denied", "timeout"} {
			t.Run(svc.op+"/"+mode, func(t *testing.T) {
				t.Parallel()
				srv, world, opts := albAWS(t)
				var fail any
				want := ""
				switch mode {
				case "throttle":
					fail, want = awstest.Throttle(svc.throttle), svc.throttle
				case "denied":
					fail, want = awstest.Denied(svc.denied), svc.denied
				case "timeout":
					fail, want = awstest.Hang, "deadline exceeded"
				}
				srv.Reply(svc.op, fail)
				// Only a hanging service needs the checks' deadline to pass;
				// a throttled one is retried by the SDK's adaptive retryer,
				// whose waits a loaded machine stretches past a short one.
				checkTimeout := 30 * time.Second
				if mode == "timeout" {
					checkTimeout = 2 * time.Second
				}
				rep, err := investigateAlarm(context.Background(), "web-alb-target-5xx", world.Fires, opts,
					investigate.Options{Reasoner: llm.NewOffline(), CheckTimeout: checkTimeout})
				if err != nil {
					t.Fatalf("no report: %v", err)
				}
				if rep.Scope.Alarm != "web-alb-target-5xx" || rep.Summary == "" || rep.Findings == nil || rep.Hypotheses == nil {
					t.Errorf("incomplete report: scope %+v, summary %q", rep.Scope, rep.Summary)
				}
				said := false
				for _, u := range rep.Unavailable {
					said = said || strings.Contains(u.Error, want)
				}
				if !said {
					t.Errorf("unavailable %+v does not say %q", rep.Unavailable, want)
				}
			})
		}
	}
}

// awsCLI points the command line's AWS clients at the fake ALB world, the
// way the moto tests point them at moto: through awsTestOptions.
func awsCLI(t *testing.T) (*awstest.Server, *awstest.ALBWorld) {
	t.Helper()
	hermeticAWS(t)
	srv, world, opts := albAWS(t)
	awsTestOptions = func(o *awstelemetry.Options) {
		o.Region, o.Endpoint, o.HTTPClient, o.Credentials, o.MaxAttempts, o.Present = opts.Region, opts.Endpoint, opts.HTTPClient, opts.Credentials, opts.MaxAttempts, opts.Present
	}
	t.Cleanup(func() { awsTestOptions = nil })
	return srv, world
}

// bot investigate --alarm --at takes what /investigate --at takes; each
// form ends the investigation's window at the alarm's firing.
func TestInvestigateAt(t *testing.T) {
	_, world := awsCLI(t)
	for _, at := range []string{world.Fires.Format(time.RFC3339), world.Fires.Format("2006-01-02 15:04"), world.Fires.Format("2006-01-02T15:04")} {
		code, out, errs := runBot(t, "investigate", "--alarm", "web-alb-target-5xx", "--at", at, "--format", "json", "--llm", "offline")
		if code != 0 {
			t.Fatalf("--at %s: exit %d: %s", at, code, errs)
		}
		var rep investigate.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.Scope.End.Equal(world.Fires) || len(rep.Hypotheses) == 0 || rep.Hypotheses[0].Resource != world.Bad {
			t.Errorf("--at %s: window ends %v, want %v; hypotheses %+v", at, rep.Scope.End, world.Fires, rep.Hypotheses)
		}
	}
}

// An alarm that is not there says where it was looked for, and the
// closest names.
func TestInvestigateAlarmNotFound(t *testing.T) {
	awsCLI(t)
	code, _, errs := runBot(t, "investigate", "--alarm", "web-alb-target-5xxx", "--llm", "offline")
	want := "alarm web-alb-target-5xxx not found in us-east-1 (account 123456789012)"
	if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "web-alb-target-5xx,") && !strings.Contains(errs, "web-alb-target-5xx\n") && !strings.Contains(errs, "closest: web-alb-target-5xx") {
		t.Errorf("exit %d, stderr %q; want exit 1 with %q and the closest name", code, errs, want)
	}
}

// bot serve's AWS backend reports, as bot investigate --alarm does, the
// parts of a source it could not read: here the alarm's history.
func TestServeBackendSaysWhatAWSPartlyFailed(t *testing.T) {
	hermeticAWS(t)
	srv, world, opts := albAWS(t)
	srv.Reply("CloudWatch.DescribeAlarmHistory", awstest.Denied("AccessDenied"))
	backends := &awsBackends{base: opts, engine: investigate.Options{Reasoner: llm.NewOffline()}, clients: map[string]*awstelemetry.Client{}}
	be, err := backends.Backend(context.Background(), handlers.Channel{}, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := be.Investigator.Run(context.Background(), investigate.Request{Alarm: "web-alb-target-5xx", Now: world.Fires}, nil)
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, u := range rep.Unavailable {
		said = said || (strings.Contains(u.Error, "alarm history") && strings.Contains(u.Error, "AccessDenied"))
	}
	if !said {
		t.Errorf("unavailable %+v does not say the alarm history was denied", rep.Unavailable)
	}
	if rep.Stats.APICalls == 0 {
		t.Errorf("stats %+v: AWS calls are not counted", rep.Stats)
	}
}
