package investigate

import (
	"time"
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
