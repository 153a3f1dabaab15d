package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRedact checks that Redact is idempotent, keeps valid UTF-8 valid
// and leaves no AWS access key id or Slack token behind.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "xoxb-1234-5678-abcdef", "xapp-1-A1-1-abc",
		`{"password":"hunter2","token":"t0k3n"}`, "postgres://app:s3cret@db:5432/x", "sk-proj-abcdefghijklmnopqrstuvwx",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "plain text with nothing",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if Redact(r) != r {
			t.Fatalf("not idempotent on %q: %q then %q", s, r, Redact(r))
		}
		if utf8.ValidString(s) && !utf8.ValidString(r) {
			t.Fatalf("%q became invalid UTF-8: %q", s, r)
		}
		for _, leak := range []string{"AKIAIOSFODNN7EXAMPLE", "xoxb-1234-5678-abcdef"} {
			if strings.Contains(s, leak) && strings.Contains(r, leak) {
				t.Fatalf("%q left in %q", leak, r)
			}
		}
	})
}
