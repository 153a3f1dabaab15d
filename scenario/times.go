package scenario

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// when is a time as the file writes it: an offset from onset or an instant.
type when struct {
	off   time.Duration
	abs   time.Time
	isAbs bool
	raw   string
	n     *yaml.Node // nil when the time is a default
}

// at resolves w against the onset. Instants are returned in UTC.
func (w when) at(onset time.Time) time.Time {
	if w.isAbs {
		return w.abs
	}
	return onset.Add(w.off)
}

const timeWant = "want an offset from onset with a sign, like -90m, +2m, +0s or +3m30s, or an RFC 3339 instant like 2024-12-03T10:30:00Z"

// parseWhen reads an offset (a Go duration with a leading + or -) or an RFC
// 3339 instant. An offset needs its sign: "90m" alone is an error, so that a
// duration put where a time belongs is not taken silently.
func parseWhen(s string) (when, error) {
	s = strings.TrimSpace(s)
	w := when{raw: s}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return w, fmt.Errorf("bad time %q (%s)", s, timeWant)
		}
		w.off = d
		return w, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return w, fmt.Errorf("bad time %q (%s)", s, timeWant)
	}
	w.abs, w.isAbs = t.UTC(), true
	return w, nil
}

// when reads a time field.
func (p *parser) when(n *yaml.Node, field string) (when, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "want a time, found %s (%s)", describe(n), timeWant)
		return when{}, false
	}
	w, err := parseWhen(n.Value)
	if err != nil {
		p.errf(n, field, "%s", err)
		return when{}, false
	}
	w.n = n
	return w, true
}

// instant reads an RFC 3339 instant (no offset): the onset.
func (p *parser) instant(n *yaml.Node, field string) (time.Time, bool) {
	n = deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(n.Value)); err == nil {
			return t.UTC(), true
		}
	}
	p.errf(n, field, "bad instant %s (want an RFC 3339 instant like 2024-12-03T10:30:00Z)", describe(n))
	return time.Time{}, false
}

// rel writes t as an offset from onset, for messages.
func (p *parser) rel(t time.Time) string { return fmtOffset(t.Sub(p.onset)) }
