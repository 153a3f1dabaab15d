package investigate

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Clock writes an instant the way reports say it: its UTC time of day,
// "10:32 UTC"; "?" for the zero time.
func Clock(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format("15:04 UTC")
}

// Truncate cuts s to at most n bytes, the ellipsis that marks the cut
// included, on a rune boundary: it bounds untrusted text (a change's
// parameters, a prompt's fields) without breaking a character.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(0, n-len("…"))
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Hidden reports whether r changes how the text around it reads without
// being seen: a control character, a bidirectional embedding, override,
// isolate or mark (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C),
// or a line or paragraph separator (U+2028, U+2029). Untrusted text loses
// them before anyone reads it, in Slack and in what the model writes
// alike; callers keep the line breaks and tabs they want before asking.
func Hidden(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	case r == '\u200e', r == '\u200f', r == '\u061c', r == '\u2028', r == '\u2029':
		return true
	}
	return false
}

// Count says n things in words: "1 finding", "3 findings", "2 other
// hypotheses".
func Count(n int, word string) string {
	if n != 1 {
		if stem, ok := strings.CutSuffix(word, "is"); ok {
			word = stem + "es"
		} else {
			word += "s"
		}
	}
	return fmt.Sprintf("%d %s", n, word)
}

// UpperFirst upper-cases the first letter of a sentence's first word.
func UpperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// LowerArticle lower-cases a leading "A ", "An " or "The ", for a title
// that goes on inside a sentence; never a resource id that starts it.
func LowerArticle(s string) string {
	for _, a := range []string{"A ", "An ", "The "} {
		if strings.HasPrefix(s, a) {
			return strings.ToLower(a[:1]) + s[1:]
		}
	}
	return s
}
