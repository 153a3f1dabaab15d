package llm

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/redact"
	"github.com/unstuck/unstuck/scenario"
	"github.com/unstuck/unstuck/scenarios"
)

// TestRedactLeavesScenarioFindings: the findings of every embedded scenario
// hold no secret, and redaction leaves them whole.
func TestRedactLeavesScenarioFindings(t *testing.T) {
	files, err := scenario.LoadAll(scenarios.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	r := redact.New()
	for _, f := range files {
		rep, _, err := investigateWith(context.Background(), f.Scenario, NewOffline())
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range rep.Findings {
			if got := r.Redact(fd.Summary); got != fd.Summary {
				t.Errorf("%s %s:\n%s\n%s", f.Scenario.Name, fd.ID, fd.Summary, got)
			}
		}
	}
}

// TestModelRedactorPatterns: the model's redactor applies the configured
// patterns besides the built-in rules.
func TestModelRedactorPatterns(t *testing.T) {
	m := testModelNoServer(t, Config{APIKey: "k", Redact: []*regexp.Regexp{regexp.MustCompile(`(?i)internal-[a-z]+`)}})
	if got := m.Redactor().Redact("host internal-billing"); got != "host [REDACTED:pattern]" {
		t.Errorf("model redactor: %q", got)
	}
	var none *Model
	if got := none.Redactor().Redact("host internal-billing AKIAIOSFODNN7EXAMPLE"); got != "host internal-billing [REDACTED:aws-access-key-id]" {
		t.Errorf("nil model redactor: %q", got)
	}
}

func testModelNoServer(t *testing.T, cfg Config) *Model {
	t.Helper()
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRedactReport(t *testing.T) {
	rep := engineReport(t, scen)
	rep.Findings[0].Summary += " with AKIAIOSFODNN7EXAMPLE"
	rep.Notes = append(rep.Notes, rep.Notes[0])
	rep.Notes[1].Text = "pw is password=hunter2"
	out := RedactReport(redact.New(), rep)
	if strings.Contains(out.Findings[0].Summary, "AKIA") || strings.Contains(out.Notes[1].Text, "hunter2") {
		t.Error("secrets survive in the report")
	}
	if !strings.Contains(rep.Findings[0].Summary, "AKIA") {
		t.Error("the input report was changed")
	}
	if out.Findings[0].ID != rep.Findings[0].ID || out.Scope.Resource != rep.Scope.Resource {
		t.Error("ids changed")
	}
}
