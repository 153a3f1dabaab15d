// Package mrkdwntest checks that text rendered for Slack is harmless: the
// hostile corpus every renderer is tested with, and the checks that nothing
// in the output pings, links, formats or leaks a secret.
package mrkdwntest

import (
	_ "embed"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/investigate"
)

//go:embed injection.txt
var injection string

// Corpus is the hostile text (mentions, links, mrkdwn control characters,
// secrets), one case a line.
func Corpus() []string {
	return strings.Split(strings.TrimSpace(injection), "\n")
}

// Text is a text in rendered blocks, with the type of its text object
// ("" for strings outside one).
type Text struct{ Type, Text string }

// Texts collects every text in rendered blocks; it fails t on a mrkdwn
// text that is not verbatim.
func Texts(t testing.TB, v any) []Text {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	_ = json.Unmarshal(b, &doc)
	var out []Text
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				typ, _ := x["type"].(string)
				if typ == "mrkdwn" && x["verbatim"] != true {
					t.Errorf("mrkdwn text without verbatim: %q", s)
				}
				out = append(out, Text{typ, s})
			}
			for _, e := range x {
				walk(e)
			}
		case string:
		}
	}
	walk(doc)
	return out
}

var (
	// The only angle-bracket forms allowed: links the bot built to an AWS
	// console, and mentions of users Slack itself named.
	allowedAngle = regexp.MustCompile(`^<(https://[a-z0-9-]+\.console\.aws\.amazon\.com/[^|<>\s]*\|[^<>|]*|@U0[A-Z0-9]+)>$`)
	angle        = regexp.MustCompile(`<[^>]*>?`)
)

// Harmless checks one rendered mrkdwn text.
func Harmless(t testing.TB, where string, s string) {
	t.Helper()
	HarmlessText(t, where, s, false)
}

// HarmlessText checks one rendered text; plain_text is not checked for
// formatting, which it does not have.
func HarmlessText(t testing.TB, where string, s string, plain bool) {
	t.Helper()
	for _, m := range angle.FindAllString(s, -1) {
		if !allowedAngle.MatchString(m) {
			t.Errorf("%s: %q forms a mention or link: %q", where, m, s)
		}
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && investigate.Hidden(r) {
			t.Errorf("%s: hidden character %U survives: %q", where, r, s)
		}
	}
	low := strings.ToLower(s)
	if !plain {
		for _, bad := range []string{"*bold*", "_italic_", "~strike~", "`code`", "```"} {
			if strings.Contains(low, bad) {
				t.Errorf("%s: contains %q: %q", where, bad, s)
			}
		}
	}
	for _, bad := range []string{
		"@channel", "@here", "@everyone", "evil.example.com", "https://evil", "javascript:alert", "mailto:attacker", "mailto:a@",
		"akiaiosfodnn7example", "wjalrxutnfemi", "xoxb-", "hunter2", "miieowibaakcaqea", "eyjhbgcioijiuzi1nij9",
		"\u202e",
	} {
		if strings.Contains(low, bad) {
			t.Errorf("%s: contains %q: %q", where, bad, s)
		}
	}
}
