package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/awstelemetry"
	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/llm/llmtest"
	"github.com/unstuck/unstuck/redact"
)

// TestInvestigateOutputIsRedacted: the text and JSON reports of bot
// investigate, which are pasted into tickets, carry no secret: not one a
// trace's exception holds URL-encoded, and not the model's key that a
// gateway quoted in its 401.
func TestInvestigateOutputIsRedacted(t *testing.T) {
	const key = "gw-vllm-key-7f3e2d1c0b9a8877"
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	b, err := os.ReadFile("../../scenarios/alb-5xx-one-bad-instance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const exc = `exception: "TemplateError: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory"`
	if !strings.Contains(string(b), exc) {
		t.Fatal("the scenario's exception changed")
	}
	leaky := strings.Replace(string(b), exc, `exception: "SignatureDoesNotMatch: body aws_secret_access_key%3D`+strings.ReplaceAll(secret, "/", "%2F")+`"`, 1)
	path := filepath.Join(t.TempDir(), "leaky.yaml")
	if err := os.WriteFile(path, []byte(leaky), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: http.StatusUnauthorized, Error: "Incorrect API key provided: " + key}))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", key)
	t.Setenv("OPENAI_BASE_URL", srv.BaseURL())
	for _, format := range []string{"text", "json"} {
		code, out, errs := runBot(t, "investigate", "--scenario", path, "--llm", "openai", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errs)
		}
		if !strings.Contains(out, "SignatureDoesNotMatch") || !strings.Contains(out, "Incorrect API") {
			t.Fatalf("%s: the texts under test are not in the report:\n%s", format, out)
		}
		for _, s := range []string{secret, strings.ReplaceAll(secret, "/", "%2F"), key} {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q is in the report:\n%s", format, s, out)
			}
		}
	}
}

// TestProfileCredentialsAreRedacted: AWS credentials from a profile (or
// SSO, or an assumed role), which no environment variable holds, are
// replaced like the environment's when a service's answer quotes them.
func TestProfileCredentialsAreRedacted(t *testing.T) {
	hermeticAWS(t)
	const secret = "profile0secret0with0no0shape0042"
	const token = "profile-session-token-with-no-shape-0042"
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[oncall]\naws_access_key_id = ASIAPROFILE\naws_secret_access_key = "+secret+"\naws_session_token = "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	srv := awstest.New()
	t.Cleanup(srv.Close)
	srv.Handle("CloudWatch.DescribeAlarms", func(r *awstest.Request) any {
		return &awstest.Error{Status: 403, Code: "AccessDenied", Message: "request signed with secret " + secret + " and token " + token + " is not allowed"}
	})
	awsTestOptions = func(o *awstelemetry.Options) {
		o.Endpoint, o.HTTPClient, o.MaxAttempts = srv.URL, srv.Client(), 1
	}
	t.Cleanup(func() { awsTestOptions = nil })
	restore := redact.SetProcessSecrets()
	t.Cleanup(restore)
	code, out, errs := runBot(t, "investigate", "--alarm", "web-alb-target-5xx", "--region", "us-east-1", "--profile", "oncall")
	if !strings.Contains(out+errs, "is not allowed") {
		t.Fatalf("exit %d: the service's answer is not in the output:\n%s%s", code, out, errs)
	}
	for _, s := range []string{secret, token} {
		if strings.Contains(out+errs, s) {
			t.Errorf("%q is in the output:\n%s%s", s, out, errs)
		}
	}
}
