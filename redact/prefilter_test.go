package redact

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rulesUnfiltered applies every rule to the whole text, without the
// prefilters: what rules did before them.
func rulesUnfiltered(s string) string {
	for _, rule := range redactRules {
		switch {
		case rule.kind == "api-key":
			s = vendorTokenRE.ReplaceAllLiteralString(s, tag(rule.kind))
		case rule.fn != nil:
			s = rule.fn(s)
		case rule.repl == nil:
			s = rule.re.ReplaceAllLiteralString(s, tag(rule.kind))
		default:
			re, repl := rule.re, rule.repl
			s = re.ReplaceAllStringFunc(s, func(m string) string { return repl(re.FindStringSubmatch(m)) })
		}
	}
	return s
}

// prefilterTexts are the secret corpus in every form, the scenarios'
// lines, and texts made to sit on the prefilters' edges.
func prefilterTexts(t testing.TB) []string {
	var texts []string
	for _, c := range loadSecrets(t) {
		for _, form := range corpusForms {
			texts = append(texts, form.f(c))
		}
	}
	paths, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, strings.Split(string(b), "\n")...)
	}
	return append(texts,
		"PASSWORD=hunter2hunter2", "\u212aEY=abcdefghijklmnop0123", "pa\u017f\u017fword: Tr0ub4dor&3xyz",
		"https://HOOKS.SLACK.COM/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
		"bot 123456789:AAH1bGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 sent", "(ghp_abcdefghijklmnopqrstuvwxyz0123456789)",
		"x%3Dsk-proj-abcdefghijklmnopqrstuvwx", "amzn.mws.4ea38b7b-f563-7709-4bae-87aeaEXAMPLE",
	)
}

// TestPrefiltersChangeNothing: with the prefilters and the vendor rule run
// on token runs, every text is redacted exactly as with every rule on the
// whole text.
func TestPrefiltersChangeNothing(t *testing.T) {
	texts := prefilterTexts(t)
	var r *Redactor
	for _, s := range texts {
		if got, want := r.rules(s), rulesUnfiltered(s); got != want {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	}
	t.Logf("%d texts", len(texts))
}

// FuzzPrefilters compares the filtered rules with the unfiltered ones.
func FuzzPrefilters(f *testing.F) {
	for _, s := range prefilterTexts(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r *Redactor
		if got, want := r.rules(s), rulesUnfiltered(s); got != want {
			t.Errorf("%q:\n got %q\nwant %q", s, got, want)
		}
	})
}
