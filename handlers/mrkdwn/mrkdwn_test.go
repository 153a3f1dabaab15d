package mrkdwn_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
	"github.com/unstuck/unstuck/handlers/mrkdwn/mrkdwntest"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain text", "plain text"},
		{"a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"hi @here", "hi @\u2060here"},
		{"*bold*", "\u2217bold\u2217"},
		{"`x`", "\u02cbx\u02cb"},
		{"~x~", "\u223cx\u223c"},
		{"_x_", "\u02cdx\u02cd"},
		{"orders_table and my_fn_v2", "orders_table and my_fn_v2"},
		{"see example.com", "see example.\u200bcom"},
		{"https://a.example.com/x", "https:\u200b//a.\u200bexample.\u200bcom/x"},
		{"0.35 before, 544 after", "0.35 before, 544 after"},
		{"i-0abc123 at 14:00", "i-0abc123 at 14:00"},
		{"line\nbreak", "line\nbreak"},
		{"key AKIAIOSFODNN7EXAMPLE", "key [REDACTED:aws-access-key-id]"},
		{"password=hunter2 ok", "password=[REDACTED:password] ok"},
		{"https://u:p4ss@h/x", "https:\u200b//u:[REDACTED:password]@h/x"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl here", "jwt [REDACTED:jwt] here"},
		{"bell\a", "bell"},
	}
	for _, tt := range tests {
		if got := mrkdwn.Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := mrkdwn.EscapeLine("a\n\tb  c"), "a b c"; got != want {
		t.Errorf("EscapeLine = %q, want %q", got, want)
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		url, label, want string
	}{
		{"https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/abc", "CloudTrail", "<https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/abc|CloudTrail>"},
		{"https://evil.example.com/", "CloudTrail", "CloudTrail"},
		{"http://us-east-1.console.aws.amazon.com/x", "x", "x"},
		{"https://us-east-1.console.aws.amazon.com/x|<!channel>", "x", "x"},
		{"https://console.aws.amazon.com.evil.example.com/", "x", "x"},
		{"https://user@us-east-1.console.aws.amazon.com/", "x", "x"},
		{"https://us-east-1.console.aws.amazon.com/x", "<!here>", "<https://us-east-1.console.aws.amazon.com/x|&lt;!here&gt;>"},
	}
	for _, tt := range tests {
		if got := mrkdwn.Link(tt.url, tt.label); got != tt.want {
			t.Errorf("Link(%q, %q) = %q, want %q", tt.url, tt.label, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 5, "abcd…"},
		{"ab &amp; cd", 6, "ab…"},
		{"x <https://a|b> y", 8, "x…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tt := range tests {
		if got := mrkdwn.Truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestInjectionCorpus escapes every line of the hostile corpus and checks
// that nothing pings, links or formats.
func TestInjectionCorpus(t *testing.T) {
	for _, l := range mrkdwntest.Corpus() {
		mrkdwntest.Harmless(t, "Escape", mrkdwn.Escape(l))
		mrkdwntest.Harmless(t, "EscapeLine", mrkdwn.EscapeLine(l))
		mrkdwntest.HarmlessText(t, "PlainText", mrkdwn.PlainText(l), true)
	}
}

// FuzzEscape checks the escaping of untrusted text: nothing that pings or
// links survives, the output is valid UTF-8, and redaction is idempotent.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"<!channel> hi <@U123> <!subteam^S1|ops>", "@here look at https://evil.example/x", "*bold* _it_ `code` ~s~",
		"AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "xoxb-123-456-abc xapp-1-A1-2-3",
		"password=hunter2 https://u:p@host/x", "mailto:a@b.c javascript:alert(1)", "&lt;!here&gt;", "\x00\x1b[31m\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, out := range map[string]string{"Escape": mrkdwn.Escape(s), "EscapeLine": mrkdwn.EscapeLine(s), "PlainText": mrkdwn.PlainText(s)} {
			if strings.Contains(out, "<!") || strings.Contains(out, "<@") || strings.Contains(out, "<#") || strings.Contains(out, "<http") {
				t.Fatalf("%s(%q) = %q pings or links", name, s, out)
			}
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) is not UTF-8", name, s)
			}
		}
		if strings.ContainsAny(mrkdwn.EscapeLine(s), "\n\r") || strings.ContainsAny(mrkdwn.PlainText(s), "\n\r") {
			t.Fatalf("a one-line escape of %q has a line break", s)
		}
		if r := mrkdwn.Redact(s); mrkdwn.Redact(r) != r {
			t.Fatalf("Redact is not idempotent on %q: %q then %q", s, r, mrkdwn.Redact(r))
		}
	})
}
