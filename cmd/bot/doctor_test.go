package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/store"
	"github.com/unstuck/unstuck/store/storetest"
)

// The scopes bot doctor expects are the manifest's.
func TestManifestScopes(t *testing.T) {
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(mustRead(t, "../../slack/manifest.yaml"), &m); err != nil {
		t.Fatal(err)
	}
	got, want := slices.Sorted(slices.Values(manifestScopes)), slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("manifestScopes = %v, slack/manifest.yaml asks for %v", got, want)
	}
}

// doctorEnv is everything bot doctor checks, on loopback: AWS (the ALB
// world of awstest), Slack (slacktest, granting the manifest's scopes), a
// model (llmtest) and a store file.
type doctorEnv struct {
	aws   *awstest.Server
	slack *slacktest.Server
	model *llmtest.Server
	store string
}

func newDoctorEnv(t *testing.T, scopes []string, model llmtest.Reply) *doctorEnv {
	t.Helper()
	e := &doctorEnv{}
	e.aws, _ = awsCLI(t)
	e.slack = slacktest.NewServerWith(slacktest.Options{Scopes: scopes})
	t.Cleanup(e.slack.Close)
	slackEnvFor(t, e.slack)
	e.model = llmtest.New(llmtest.Sequence(model))
	t.Cleanup(e.model.Close)
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", e.model.BaseURL())
	t.Setenv("OPENAI_MODEL", "llama3.1")
	e.store = filepath.Join(t.TempDir(), "unstuck.db")
	s, err := store.OpenBolt(e.store, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return e
}

// doctorResult is bot doctor's JSON.
type doctorResult struct {
	Version string
	OK      bool
	Checks  []check
}

func (r doctorResult) find(group, name string) (check, bool) {
	for _, c := range r.Checks {
		if c.Group == group && c.Name == name {
			return c, true
		}
	}
	return check{}, false
}

func runDoctor(t *testing.T, args ...string) (int, doctorResult, string) {
	t.Helper()
	code, out, errs := runBot(t, append([]string{"doctor", "--format", "json"}, args...)...)
	var r doctorResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, not JSON (%v): %s %s", code, err, out, errs)
	}
	return code, r, errs
}

// With everything in place, every check passes and names what it found:
// the account, each source by the report's name, the bot, the scopes, the
// model and the store.
func TestDoctorAllOK(t *testing.T) {
	e := newDoctorEnv(t, manifestScopes, llmtest.Reply{Content: "OK"})
	code, r, errs := runDoctor(t, "--store", e.store)
	if code != 0 || !r.OK {
		t.Errorf("exit %d, ok %v; stderr %s; checks %+v", code, r.OK, errs, r.Checks)
	}
	want := []struct{ group, name, detail string }{
		{"aws", "region", "us-east-1"},
		{"aws", "identity", "account 123456789012 as arn:aws:sts::123456789012:assumed-role/unstuck-reader/unstuck"},
		{"aws", "alarms", "can read (cloudwatch:DescribeAlarms)"},
		{"aws", "metrics", "can read (cloudwatch:GetMetricData)"},
		{"aws", "logs", "can read (logs:DescribeLogGroups)"},
		{"aws", "traces", "can read (xray:GetServiceGraph)"},
		{"aws", "changes", "can read (cloudtrail:LookupEvents)"},
		{"aws", "health", "can read (health:DescribeEvents)"},
		{"aws", "quotas", "can read (servicequotas:GetServiceQuota)"},
		{"aws", "topology", "can read (tag:GetResources)"},
		{"slack", "bot token", "unstuck (UBOT0001) in workspace test (T0001)"},
		{"slack", "scopes", "the 8 scopes of slack/manifest.yaml are granted"},
		{"slack", "app token", "apps.connections.open gave a websocket URL"},
		{"model", "reasoner", "model llama3.1 at " + e.model.BaseURL() + " answered"},
		{"store", "store", e.store + ": consistent, 0 investigations"},
	}
	for _, w := range want {
		c, ok := r.find(w.group, w.name)
		if !ok || c.Status != statusOK || !strings.Contains(c.Detail, w.detail) {
			t.Errorf("%s %s = %+v, want ok with %q", w.group, w.name, c, w.detail)
		}
	}
	for _, c := range r.Checks {
		if strings.Contains(c.Detail, "[REDACTED") {
			t.Errorf("%s %s: redaction took a word of the message: %s", c.Group, c.Name, c.Detail)
		}
	}
	if len(r.Checks) != len(want) {
		t.Errorf("%d checks, want %d: %+v", len(r.Checks), len(want), r.Checks)
	}
	// Read-only: one call per source, and nothing but describes and reads.
	for _, op := range []string{"CloudWatch.DescribeAlarms", "CloudWatch Logs.DescribeLogGroups", "XRay.GetServiceGraph", "CloudTrail.LookupEvents"} {
		if n := e.aws.Count(op); n != 1 {
			t.Errorf("%s called %d times, want once", op, n)
		}
	}
	if reqs := e.model.Requests(); len(reqs) != 1 || reqs[0].Chat.MaxTokens != 1 {
		t.Errorf("model requests %+v, want one of one token", reqs)
	}

	// The text form says the same, and that nothing failed.
	code, out, _ := runBot(t, "doctor", "--store", e.store)
	for _, w := range []string{"bot doctor: unstuck ", "AWS\n", "  ok    identity   account 123456789012", "Slack\n", "Model\n", "Store\n", "\nno check failed\n"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("exit %d, text lacks %q:\n%s", code, w, out)
		}
	}
	t.Logf("bot doctor:\n%s", out)
}

// Each dependency missing or refusing fails its check, or warns where the
// bot still works, and says what to do.
func TestDoctorEachMiss(t *testing.T) {
	fewer := slices.DeleteFunc(slices.Clone(manifestScopes), func(s string) bool { return s == "users:read" || s == "files:write" })
	tests := []struct {
		name   string
		setup  func(t *testing.T, e *doctorEnv)
		scopes []string
		model  *llmtest.Reply
		args   []string
		group  string
		check  string
		status string
		detail string
		// alsoFail are other checks of the group that the same cause
		// fails.
		alsoFail []string
	}{
		{name: "no region", setup: func(t *testing.T, e *doctorEnv) { hermeticAWS(t); awsTestOptions = nil },
			group: "aws", check: "region", status: statusFail, detail: "no region: set AWS_REGION, a profile's region (AWS_PROFILE) or --region"},
		{name: "no credentials", setup: func(t *testing.T, e *doctorEnv) {
			hermeticAWS(t)
			awsTestOptions = nil
			t.Setenv("AWS_REGION", "eu-west-1")
		}, group: "aws", check: "identity", status: statusFail, detail: "no credentials found: set AWS_PROFILE (and run aws sso login for SSO)"},
		{name: "expired credentials", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("STS.GetCallerIdentity", &awstest.Error{Status: 403, Code: "ExpiredToken", Message: "The security token included in the request is expired"})
		}, group: "aws", check: "identity", status: statusFail, detail: "the credentials have expired: run aws sso login"},
		{name: "unknown key", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("STS.GetCallerIdentity", &awstest.Error{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."})
		}, group: "aws", check: "identity", status: statusFail, detail: "AWS does not recognise these credentials"},
		{name: "role not assumable", args: []string{"--role", "arn:aws:iam::210987654321:role/unstuck-reader"}, setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("STS.AssumeRole", awstest.Denied("AccessDenied"))
		}, group: "aws", check: "identity", status: statusFail, detail: "could not assume arn:aws:iam::210987654321:role/unstuck-reader: its trust policy"},
		{name: "logs denied", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("CloudWatch Logs.DescribeLogGroups", awstest.Denied("AccessDeniedException"))
		}, group: "aws", check: "logs", status: statusFail, detail: "denied logs:DescribeLogGroups: attach docs/iam-policy.json to the identity above; until then reports list logs as unavailable"},
		{name: "changes denied", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("CloudTrail.LookupEvents", awstest.Denied("AccessDeniedException"))
		}, group: "aws", check: "changes", status: statusFail, detail: "denied cloudtrail:LookupEvents"},
		{name: "traces do not answer", args: []string{"--timeout", "2s"}, setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("XRay.GetServiceGraph", awstest.Hang)
		}, group: "aws", check: "traces", status: statusFail, detail: "no answer (XRay.GetServiceGraph): check the network, a proxy, or AWS_ENDPOINT_URL"},
		{name: "health without a support plan", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("Health.DescribeEvents", &awstest.Error{Status: 400, Code: "SubscriptionRequiredException", Message: "The requested service requires a subscription"})
		}, group: "aws", check: "health", status: statusWarn, detail: "AWS Health needs a Business, Enterprise On-Ramp or Enterprise Support plan; reports will list health as unavailable"},
		{name: "metrics throttled", setup: func(t *testing.T, e *doctorEnv) {
			e.aws.Reply("CloudWatch.GetMetricData", awstest.Throttle("Throttling"))
		}, group: "aws", check: "metrics", status: statusWarn, detail: "throttled (CloudWatch.GetMetricData): AWS refused for the rate, not the permission; run bot doctor again"},
		{name: "bot token revoked", setup: func(t *testing.T, e *doctorEnv) { t.Setenv("SLACK_BOT_TOKEN", "xoxb-revoked") },
			group: "slack", check: "bot token", status: statusFail, detail: "slack refused SLACK_BOT_TOKEN (invalid_auth at auth.test): copy the Bot User OAuth Token"},
		{name: "user token as bot token", setup: func(t *testing.T, e *doctorEnv) { t.Setenv("SLACK_BOT_TOKEN", "xoxp-1-2") },
			group: "slack", check: "bot token", status: statusFail, detail: "SLACK_BOT_TOKEN must be a bot token (xoxb-…)"},
		{name: "app token revoked", setup: func(t *testing.T, e *doctorEnv) { t.Setenv("SLACK_APP_TOKEN", "xapp-1-revoked") },
			group: "slack", check: "app token", status: statusFail, detail: "slack refused SLACK_APP_TOKEN (invalid_auth at apps.connections.open): generate an app-level token with the connections:write scope"},
		{name: "scopes missing", scopes: fewer,
			group: "slack", check: "scopes", status: statusFail, detail: "the bot token lacks files:write, users:read of slack/manifest.yaml: add them under OAuth & Permissions"},
		{name: "scopes not listed", scopes: []string{},
			group: "slack", check: "scopes", status: statusWarn, detail: "Slack listed no scopes for the bot token"},
		{name: "slack unreachable", setup: func(t *testing.T, e *doctorEnv) {
			e.slack.Close()
		}, group: "slack", check: "bot token", status: statusFail, detail: "no answer from Slack at http://", alsoFail: []string{"app token"}},
		{name: "no slack tokens", setup: func(t *testing.T, e *doctorEnv) {
			t.Setenv("SLACK_BOT_TOKEN", "")
			t.Setenv("SLACK_APP_TOKEN", "")
		}, group: "slack", check: "app token", status: statusSkip, detail: "SLACK_APP_TOKEN is not set: bot serve needs it (slack/README.md); bot investigate does not"},
		{name: "model refuses the key", model: &llmtest.Reply{Status: http.StatusUnauthorized, Error: "Incorrect API key provided: sk-wrong-0123456789abcdef0123456789"},
			group: "model", check: "reasoner", status: statusFail, detail: "refused the key (HTTP 401): check OPENAI_API_KEY; until then reports are worded offline"},
		{name: "model unknown", model: &llmtest.Reply{Status: http.StatusNotFound, Error: "model 'llama3.1' not found"},
			group: "model", check: "reasoner", status: statusFail, detail: "has no model llama3.1, or no chat completions there (HTTP 404): check OPENAI_MODEL, and that OPENAI_BASE_URL ends in /v1"},
		{name: "model server down", setup: func(t *testing.T, e *doctorEnv) { e.model.Close() },
			group: "model", check: "reasoner", status: statusFail, detail: "nothing answers at http://"},
		{name: "no model", setup: func(t *testing.T, e *doctorEnv) { t.Setenv("OPENAI_BASE_URL", "") },
			group: "model", check: "reasoner", status: statusOK, detail: "offline reasoner: no OPENAI_API_KEY or OPENAI_BASE_URL"},
		{name: "store damaged", setup: func(t *testing.T, e *doctorEnv) {
			if err := storetest.Damage(e.store, storetest.Damages[0]); err != nil {
				t.Fatal(err)
			}
		}, group: "store", check: "store", status: statusFail, detail: "bbolt compact"},
		{name: "store in use", setup: func(t *testing.T, e *doctorEnv) {
			s, err := store.OpenBolt(e.store, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
		}, group: "store", check: "store", status: statusWarn, detail: "is in use by a running bot (one bot per file), so it was not checked"},
		{name: "store not there yet", setup: func(t *testing.T, e *doctorEnv) { e.store = filepath.Join(t.TempDir(), "new.db") },
			group: "store", check: "store", status: statusOK, detail: "does not exist yet: bot serve creates it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scopes := manifestScopes
			if tt.scopes != nil {
				scopes = tt.scopes
			}
			model := llmtest.Reply{Content: "OK"}
			if tt.model != nil {
				model = *tt.model
			}
			e := newDoctorEnv(t, scopes, model)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			code, r, errs := runDoctor(t, append([]string{"--store", e.store}, tt.args...)...)
			c, ok := r.find(tt.group, tt.check)
			if !ok || c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("%s %s = %+v\nwant %s with %q", tt.group, tt.check, c, tt.status, tt.detail)
			}
			wantCode := 0
			if tt.status == statusFail {
				wantCode = 1
			}
			if code != wantCode || r.OK != (wantCode == 0) {
				t.Errorf("exit %d, ok %v; want exit %d; stderr %s", code, r.OK, wantCode, errs)
			}
			// Only the check that was broken fails (what depends on it
			// is skipped).
			for _, o := range r.Checks {
				if o.Status == statusFail && (o.Group != tt.group || o.Name != tt.check) && !slices.Contains(tt.alsoFail, o.Name) {
					t.Errorf("%s %s failed too: %s", o.Group, o.Name, o.Detail)
				}
			}
			for _, o := range r.Checks {
				if strings.Contains(o.Detail, "sk-wrong-0123456789abcdef0123456789") {
					t.Errorf("%s %s shows the key: %s", o.Group, o.Name, o.Detail)
				}
			}
		})
	}
}

func TestDoctorFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"doctor", "--format", "xml"}, "want text or json"},
		{[]string{"doctor", "--llm", "gpt"}, "want auto, offline or openai"},
		{[]string{"doctor", "--store", "redis://x"}, "unknown scheme"},
		{[]string{"doctor", "extra"}, "unexpected argument"},
	} {
		if code, _, errs := runBot(t, tt.args...); code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, errs)
		}
	}
}
