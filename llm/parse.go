package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var idLike = regexp.MustCompile(`^\[?[A-Za-z]\d+\]?$`)

// modelReply is the structured reply the model is asked for.
type modelReply struct {
	Summary    string     `json:"summary"`
	Hypotheses []modelHyp `json:"hypotheses"`
	raw        json.RawMessage
}

// modelHyp is one hypothesis as the model states it. The types are
// tolerant: servers without a JSON schema send numbers as strings, one id as
// a string, an action as "kind: detail".
type modelHyp struct {
	Cause       flexString   `json:"cause"`
	Resource    flexString   `json:"resource"`
	Confidence  *flexFloat   `json:"confidence"`
	Title       flexString   `json:"title"`
	Explanation flexString   `json:"explanation"`
	Evidence    flexStrings  `json:"evidence"`
	Actions     []flexAction `json:"actions"`
	Prevention  flexStrings  `json:"prevention"`
	Merges      flexStrings  `json:"merges"`
}

type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = flexString(t)
	case float64:
		*s = flexString(strconv.FormatFloat(t, 'f', -1, 64))
	case bool:
		*s = flexString(strconv.FormatBool(t))
	default:
		*s = flexString(string(b))
	}
	return nil
}

type flexFloat float64

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var x float64
	switch t := v.(type) {
	case float64:
		x = t
	case string:
		s := strings.TrimSpace(t)
		pct := strings.HasSuffix(s, "%")
		s = strings.TrimSuffix(s, "%")
		p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("confidence %q is not a number", t)
		}
		x = p
		if pct {
			x /= 100
		}
	case nil:
		x = math.NaN()
	default:
		return fmt.Errorf("confidence is not a number")
	}
	// A confidence in percent.
	if x > 1 && x <= 100 {
		x /= 100
	}
	*f = flexFloat(x)
	return nil
}

type flexStrings []string

func (s *flexStrings) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case nil:
		*s = nil
	case string:
		// "f1, f2" is a list of ids; anything else is one item of prose.
		fields := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' })
		ids := len(fields) > 0
		for _, f := range fields {
			if !idLike.MatchString(f) {
				ids = false
				break
			}
		}
		switch {
		case ids:
			*s = fields
		case strings.TrimSpace(t) == "":
			*s = nil
		default:
			*s = []string{strings.TrimSpace(t)}
		}
	case []any:
		var out []string
		for _, e := range t {
			switch x := e.(type) {
			case string:
				out = append(out, x)
			case float64:
				out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
			case map[string]any:
				// {"id": "f3"} or {"text": "…"}
				for _, k := range []string{"id", "text", "detail", "step"} {
					if v, ok := x[k].(string); ok {
						out = append(out, v)
						break
					}
				}
			}
		}
		*s = out
	default:
		return fmt.Errorf("want a list of strings")
	}
	return nil
}

type flexAction struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (a *flexAction) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		kind, detail, ok := strings.Cut(s, ":")
		if !ok {
			kind, detail = s, ""
		}
		a.Kind, a.Detail = strings.TrimSpace(kind), strings.TrimSpace(detail)
		return nil
	}
	var obj struct {
		Kind   flexString `json:"kind"`
		Type   flexString `json:"type"`
		Detail flexString `json:"detail"`
		Desc   flexString `json:"description"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	a.Kind, a.Detail = string(obj.Kind), string(obj.Detail)
	if a.Kind == "" {
		a.Kind = string(obj.Type)
	}
	if a.Detail == "" {
		a.Detail = string(obj.Desc)
	}
	return nil
}

// parseReply reads the model's reply: the JSON object itself, or the first
// JSON object in the text (inside a fenced code block or not).
func parseReply(content string) (modelReply, error) {
	obj, err := firstJSON(content)
	if err != nil {
		return modelReply{}, &errMalformed{err.Error()}
	}
	var r modelReply
	if bytes.HasPrefix(bytes.TrimSpace(obj), []byte("[")) {
		// A bare list of hypotheses.
		if err := json.Unmarshal(obj, &r.Hypotheses); err != nil {
			return modelReply{}, &errMalformed{err.Error()}
		}
		r.raw = obj
		return r, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(obj, &probe); err != nil {
		return modelReply{}, &errMalformed{err.Error()}
	}
	if _, ok := probe["hypotheses"]; !ok {
		// {"result": {...}}: one object wrapping the reply.
		for _, v := range probe {
			var inner map[string]json.RawMessage
			if json.Unmarshal(v, &inner) == nil {
				if _, ok := inner["hypotheses"]; ok {
					obj = v
					break
				}
			}
		}
	}
	if err := json.Unmarshal(obj, &r); err != nil {
		return modelReply{}, &errMalformed{err.Error()}
	}
	if r.Hypotheses == nil && !bytes.Contains(obj, []byte(`"hypotheses"`)) {
		return modelReply{}, &errMalformed{"no hypotheses in the reply"}
	}
	r.raw = obj
	return r, nil
}

// firstJSON returns the first complete JSON object or array in a text,
// preferring the content of a fenced code block.
func firstJSON(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty reply")
	}
	if json.Valid([]byte(s)) && (s[0] == '{' || s[0] == '[') {
		return []byte(s), nil
	}
	var candidates []string
	rest := s
	for {
		i := strings.Index(rest, "```")
		if i < 0 {
			break
		}
		body := rest[i+3:]
		// Skip the info string (```json).
		if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], "{[") {
			body = body[nl+1:]
		}
		j := strings.Index(body, "```")
		if j < 0 {
			candidates = append(candidates, body)
			break
		}
		candidates = append(candidates, body[:j])
		rest = body[j+3:]
	}
	candidates = append(candidates, s)
	for _, c := range candidates {
		if obj, ok := scanJSON(c); ok {
			return obj, nil
		}
	}
	return nil, fmt.Errorf("no JSON object in the reply")
}

// scanJSON finds the first balanced, valid JSON object (or array of
// objects) in a text.
func scanJSON(s string) ([]byte, bool) {
	for start := 0; start < len(s); start++ {
		c := s[start]
		if c != '{' && c != '[' {
			continue
		}
		if end, ok := balanced(s, start); ok {
			cand := []byte(s[start : end+1])
			if json.Valid(cand) && (c == '{' || bytes.Contains(cand, []byte("{"))) {
				return cand, true
			}
		}
	}
	return nil, false
}

// balanced returns the index of the bracket closing the one at start,
// skipping strings.
func balanced(s string, start int) (int, bool) {
	depth := 0
	inStr, esc := false, false
	for i := start; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i, true
			}
		}
	}
	return 0, false
}
