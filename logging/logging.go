// Package logging builds the bot's structured logger (log/slog, text or
// JSON) and keeps secrets out of it: every record's message and every
// attribute passes through a redactor before the handler writes it.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

// Formats of New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing format (FormatText or FormatJSON) to w at
// level and above, with redact run over everything it writes.
func New(w io.Writer, format string, level slog.Leveler, redact func(string) string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "", FormatText:
		h = slog.NewTextHandler(w, opts)
	case FormatJSON:
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(Redacting(h, redact)), nil
}

// Redacting wraps h so that the message and the attributes of every record
// (strings, errors, anything printed with %v, inside groups too) pass
// through redact first.
func Redacting(h slog.Handler, redact func(string) string) slog.Handler {
	return &redacting{next: h, redact: redact}
}

type redacting struct {
	next   slog.Handler
	redact func(string) string
}

func (h *redacting) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redacting) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return &redacting{next: h.next.WithAttrs(red), redact: h.redact}
}

func (h *redacting) WithGroup(name string) slog.Handler {
	return &redacting{next: h.next.WithGroup(name), redact: h.redact}
}

func (h *redacting) attr(a slog.Attr) slog.Attr {
	a.Key = h.redact(a.Key)
	a.Value = h.value(a.Value.Resolve())
	return a
}

func (h *redacting) value(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(h.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, a := range g {
			out[i] = h.attr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		// Errors, Stringers, structs, maps, byte slices: whatever the
		// handler would print, printed here and redacted.
		x := v.Any()
		if err, ok := x.(error); ok {
			return slog.StringValue(h.redact(err.Error()))
		}
		if b, ok := x.([]byte); ok {
			return slog.StringValue(h.redact(string(b)))
		}
		return slog.StringValue(h.redact(fmt.Sprintf("%+v", x)))
	}
	// Numbers, booleans, times and durations carry no secret.
	return v
}

// Literal returns redact extended with the literal replacement of each of
// secrets (the process's own tokens and keys, which no pattern may know),
// longest first. Empty and short values (under 8 bytes) are skipped.
func Literal(redact func(string) string, secrets ...string) func(string) string {
	var long []string
	for _, s := range secrets {
		if len(s) >= 8 {
			long = append(long, s)
		}
	}
	sort.Slice(long, func(i, j int) bool { return len(long[i]) > len(long[j]) })
	var pairs []string
	for _, s := range long {
		pairs = append(pairs, s, "[REDACTED:secret]")
	}
	if len(pairs) == 0 {
		return redact
	}
	rep := strings.NewReplacer(pairs...)
	return func(s string) string { return redact(rep.Replace(s)) }
}
