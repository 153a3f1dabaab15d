package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/unstuck/unstuck/investigate"
)

// This file holds the typed readers of yaml.Node values. Each reports its own
// errors (with the node's line and the field's path) to the parser and says
// whether the value was good.

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describe says what a node is, for "found ..." in messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "an empty value"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unexpected node"
}

// mapNode is a YAML mapping read for its fields.
type mapNode struct {
	n    *yaml.Node // the mapping, for the line of a missing field
	path string     // the mapping's own field path ("" at the top)
	val  map[string]*yaml.Node
	key  map[string]*yaml.Node // key nodes, for lines of unknown fields
	keys []string              // in document order
}

// field is the path of one of the mapping's fields.
func (m *mapNode) field(k string) string {
	if m.path == "" {
		return k
	}
	return m.path + "." + k
}

// get returns a field's value node, or nil when absent.
func (m *mapNode) get(k string) *yaml.Node { return m.val[k] }

func (m *mapNode) has(k string) bool { return m.val[k] != nil }

// mapping reads n as a mapping. When allowed is not nil, fields not in it are
// reported. Duplicate fields are reported. Merge keys (<<) are expanded, with
// the mapping's own fields winning.
func (p *parser) mapping(n *yaml.Node, path string, allowed []string) *mapNode {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		what := "a mapping"
		if path == "" {
			what = "a mapping of fields (name, title, onset, alarm, resources, ...)"
		}
		p.errf(n, path, "want %s, found %s", what, describe(n))
		return nil
	}
	p.tick(1 + len(n.Content)/2)
	m := &mapNode{n: n, path: path, val: map[string]*yaml.Node{}, key: map[string]*yaml.Node{}}
	var merges []*yaml.Node
	add := func(k, v *yaml.Node, merged bool) {
		if k.Kind != yaml.ScalarNode {
			p.errf(k, path, "want a field name, found %s", describe(k))
			return
		}
		name := k.Value
		if prev, ok := m.key[name]; ok {
			if !merged {
				p.errf(k, m.field(name), "duplicate field %q (first at line %d)", name, prev.Line)
			}
			return
		}
		if allowed != nil && !contains(allowed, name) {
			p.unknownField(k, m.field(name), name, allowed, "")
			return
		}
		m.key[name] = k
		m.val[name] = v
		m.keys = append(m.keys, name)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k != nil && k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		add(k, v, false)
	}
	for _, v := range merges {
		v = deref(v)
		var srcs []*yaml.Node
		switch {
		case v != nil && v.Kind == yaml.MappingNode:
			srcs = []*yaml.Node{v}
		case v != nil && v.Kind == yaml.SequenceNode:
			srcs = v.Content
		}
		if srcs == nil {
			p.errf(v, path, "merge (<<) wants a mapping or a list of mappings, found %s", describe(v))
			continue
		}
		for _, s := range srcs {
			s = deref(s)
			if s == nil || s.Kind != yaml.MappingNode {
				p.errf(s, path, "merge (<<) wants a mapping, found %s", describe(s))
				continue
			}
			p.tick(len(s.Content) / 2)
			for i := 0; i+1 < len(s.Content); i += 2 {
				add(deref(s.Content[i]), s.Content[i+1], true)
			}
		}
	}
	return m
}

// unknownField reports a field that is not allowed where it is.
func (p *parser) unknownField(k *yaml.Node, field, name string, allowed []string, where string) {
	if s := suggest(name, allowed); s != "" {
		p.errf(k, field, "unknown field %q%s (did you mean %q?)", name, where, s)
		return
	}
	p.errf(k, field, "unknown field %q%s (want one of %s)", name, where, strings.Join(allowed, ", "))
}

// req returns a required field's value node, reporting it when missing.
func (p *parser) req(m *mapNode, k string) *yaml.Node {
	if v := m.get(k); v != nil {
		return v
	}
	p.errf(m.n, m.field(k), "missing required field %q", k)
	return nil
}

// str reads a non-empty scalar as a string. Numbers are taken as written.
func (p *parser) str(n *yaml.Node, field string) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "want a string, found %s", describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.errf(n, field, "want a non-empty string, found %q", n.Value)
		return "", false
	}
	return n.Value, true
}

// num reads a finite number.
func (p *parser) num(n *yaml.Node, field string) (float64, bool) {
	n = deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	p.errf(n, field, "want a number, found %s", describe(n))
	return 0, false
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, field string) (bool, bool) {
	n = deref(n)
	var b bool
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errf(n, field, "want true or false, found %s", describe(n))
		return false, false
	}
	return b, true
}

// numIn reads a number in [lo, hi].
func (p *parser) numIn(n *yaml.Node, field string, lo, hi float64) (float64, bool) {
	f, ok := p.num(n, field)
	if !ok {
		return 0, false
	}
	if f < lo || f > hi {
		if hi == math.MaxFloat64 {
			p.errf(n, field, "%s is out of range (want at least %s)", fmtNum(f), fmtNum(lo))
		} else {
			p.errf(n, field, "%s is out of range (want %s to %s)", fmtNum(f), fmtNum(lo), fmtNum(hi))
		}
		return 0, false
	}
	return f, true
}

// integer reads an integer in [lo, hi].
func (p *parser) integer(n *yaml.Node, field string, lo, hi int) (int, bool) {
	n = deref(n)
	var i int64
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.errf(n, field, "want an integer, found %s", describe(n))
		return 0, false
	}
	if i < int64(lo) || i > int64(hi) {
		if hi == math.MaxInt32 {
			p.errf(n, field, "%d is out of range (want at least %d)", i, lo)
		} else {
			p.errf(n, field, "%d is out of range (want %d to %d)", i, lo, hi)
		}
		return 0, false
	}
	return int(i), true
}

// duration reads a Go duration (1m, 1h30m, 40ms, 1.5s; a bare 0) of at least min.
func (p *parser) duration(n *yaml.Node, field string, min time.Duration) (time.Duration, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, field, "want a duration like 30s, 5m or 1h, found %s", describe(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errf(n, field, "bad duration %q (want a number with a unit, like 40ms, 30s, 5m or 1h)", n.Value)
		return 0, false
	}
	if d < min {
		if min == 0 {
			p.errf(n, field, "duration %q is negative", n.Value)
		} else {
			p.errf(n, field, "duration %q is too short (want at least %s)", n.Value, fmtDur(min))
		}
		return 0, false
	}
	return d, true
}

// strNode is a string and the node it came from.
type strNode struct {
	s string
	n *yaml.Node
}

// list reads a list of non-empty strings.
func (p *parser) list(n *yaml.Node, field string) ([]strNode, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		p.errf(n, field, "want a list, like [a, b], found %s", describe(n))
		return nil, false
	}
	p.tick(1 + len(n.Content))
	out := make([]strNode, 0, len(n.Content))
	ok := true
	for i, e := range n.Content {
		s, good := p.str(e, fmt.Sprintf("%s[%d]", field, i))
		if !good {
			ok = false
			continue
		}
		out = append(out, strNode{s, deref(e)})
	}
	return out, ok
}

// oneOrList reads a single string or a non-empty list of them.
func (p *parser) oneOrList(n *yaml.Node, field string) ([]strNode, bool) {
	d := deref(n)
	if d != nil && d.Kind == yaml.ScalarNode {
		s, ok := p.str(d, field)
		if !ok {
			return nil, false
		}
		return []strNode{{s, d}}, true
	}
	if d == nil || d.Kind != yaml.SequenceNode {
		p.errf(d, field, "want a value or a list of values, found %s", describe(d))
		return nil, false
	}
	if len(d.Content) == 0 {
		p.errf(d, field, "want at least one value, found an empty list")
		return nil, false
	}
	return p.list(d, field)
}

// stringMap reads a mapping of strings to scalars (taken as written). With
// nested set, mapping and list values are kept as JSON text; without, they
// are errors.
func (p *parser) stringMap(n *yaml.Node, field string, nested bool) (map[string]string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errf(n, field, "want a mapping, like {key: value}, found %s", describe(n))
		return nil, false
	}
	m := p.mapping(n, field, nil)
	out := make(map[string]string, len(m.keys))
	ok := true
	for _, k := range m.keys {
		v := deref(m.val[k])
		f := m.field(k)
		switch {
		case v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			out[k] = ""
		case v != nil && v.Kind == yaml.ScalarNode:
			out[k] = v.Value
		case nested && v != nil:
			var x any
			if err := v.Decode(&x); err != nil {
				p.errf(v, f, "cannot read value: %v", err)
				ok = false
				continue
			}
			b, err := json.Marshal(jsonable(x))
			if err != nil {
				p.errf(v, f, "cannot encode value as JSON: %v", err)
				ok = false
				continue
			}
			out[k] = string(b)
		default:
			p.errf(v, f, "want a string, found %s", describe(v))
			ok = false
		}
	}
	return out, ok
}

// jsonable turns what yaml.v3 decodes (maps keyed by any) into what
// encoding/json can encode.
func jsonable(x any) any {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			x[k] = jsonable(v)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[fmt.Sprint(k)] = jsonable(v)
		}
		return m
	case []any:
		for i, v := range x {
			x[i] = jsonable(v)
		}
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return x
}

// oneOf reads a string that must be one of want.
func (p *parser) oneOf(n *yaml.Node, field, what string, want []string) (string, bool) {
	s, ok := p.str(n, field)
	if !ok {
		return "", false
	}
	if !contains(want, s) {
		p.errf(n, field, "unknown %s %q (want one of %s)", what, s, strings.Join(want, ", "))
		return "", false
	}
	return s, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the element of list closest to s when it is close enough
// to be a likely typo, or "".
func suggest(s string, list []string) string {
	limit := max(1, min(2, len(s)/3))
	best, bestD := "", limit+1
	for _, x := range list {
		if len(s) > 64 || len(x) > 64 {
			continue // a typo of a name is short; a long text is none
		}
		if d := investigate.EditDistance(strings.ToLower(s), strings.ToLower(x)); d < bestD {
			best, bestD = x, d
		}
	}
	return best
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// fmtDur writes a duration the short way: 1h, 30m, 3m30s, 40ms.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// fmtOffset writes a duration as a signed offset: +3m, -1h30m, +0s.
func fmtOffset(d time.Duration) string {
	if d < 0 {
		return fmtDur(d)
	}
	return "+" + fmtDur(d)
}
