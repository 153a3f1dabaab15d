package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/llm/llmtest"
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
