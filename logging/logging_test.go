package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/redact"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestRedactingHandler(t *testing.T) {
	const (
		keyID  = "AKIAIOSFODNN7EXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		slack  = "xoxb-1234567890-abcdefghij"
		own    = "sk-0wn-process-key"
	)
	for _, format := range []string{FormatText, FormatJSON} {
		var buf bytes.Buffer
		l, err := New(&buf, format, slog.LevelDebug, Literal(redact.Redact, own))
		if err != nil {
			t.Fatal(err)
		}
		l = l.With("token", slack).WithGroup("req")
		l.Info("payload "+keyID, "text", "aws_secret_access_key="+secret, "err", errors.New("denied for "+slack),
			"who", stringer{"key " + own}, "raw", []byte(keyID), "m", map[string]string{"k": secret},
			slog.Group("g", "inner", "Bearer "+own+"abcdef"), "n", 3)
		slog.NewLogLogger(l.Handler(), slog.LevelWarn).Printf("socketmode: %s", slack)
		out := buf.String()
		for _, s := range []string{keyID, secret, slack, own} {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q leaked:\n%s", format, s, out)
			}
		}
		if !strings.Contains(out, "n=3") && !strings.Contains(out, `"n":3`) {
			t.Errorf("%s: numbers should stay as they are:\n%s", format, out)
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", slog.LevelInfo, redact.Redact); err == nil {
		t.Error("xml accepted")
	}
	for _, s := range []string{"debug", "INFO", "warn", "error"} {
		if _, err := ParseLevel(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("loud accepted")
	}
}

func TestLiteral(t *testing.T) {
	r := Literal(func(s string) string { return s }, "short", "abcdefgh", "abcdefghij")
	if got := r("x abcdefghij y abcdefgh short"); got != "x [REDACTED:secret] y [REDACTED:secret] short" {
		t.Error(got)
	}
}
