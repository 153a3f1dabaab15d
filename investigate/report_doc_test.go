package investigate

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// reportDoc is the page that documents the report JSON.
const reportDoc = "../docs/report.md"

// jsonFields returns the JSON field names of t and of every struct type
// reachable from it (through pointers, slices, arrays, maps and embedded
// structs), each with the path it was first found at, in field order.
func jsonFields(t reflect.Type) [][2]string {
	var out [][2]string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				walk(f.Type, path) // promoted fields, as encoding/json writes them
				continue
			}
			if name == "" {
				name = f.Name
			}
			out = append(out, [2]string{name, path + "." + name})
			walk(f.Type, path+"."+name)
		}
	}
	walk(t, "report")
	return out
}

// TestReportDocNamesEveryField fails when a JSON field of the report is not
// named on docs/report.md as `name`: a field added to the report must be
// documented in the same change.
func TestReportDocNamesEveryField(t *testing.T) {
	doc, err := os.ReadFile(reportDoc)
	if err != nil {
		t.Fatal(err)
	}
	fields := jsonFields(reflect.TypeFor[Report]())
	if len(fields) < 40 {
		t.Fatalf("found only %d JSON fields in Report; the walk is broken", len(fields))
	}
	for _, f := range fields {
		if !bytes.Contains(doc, []byte("`"+f[0]+"`")) {
			t.Errorf("%s: the report's field %q (%s) is not named as `%s`", reportDoc, f[0], f[1], f[0])
		}
	}
	// The values a consumer switches on are named too.
	var values []string
	for _, c := range []Cause{CauseOwnChange, CauseSystemChange, CauseLimit, CauseComponent, CauseDependency} {
		values = append(values, string(c))
	}
	for _, a := range []ActionKind{ActionRollback, ActionBlock, ActionScale, ActionRestart, ActionExclude} {
		values = append(values, string(a))
	}
	for _, k := range []FindingKind{FindingMetric, FindingLog, FindingTrace, FindingChange, FindingHealth, FindingQuota, FindingNote, FindingOnset} {
		values = append(values, string(k))
	}
	for _, c := range checks {
		if c.run != nil || c.Name == CheckOnset {
			values = append(values, c.Name)
		}
	}
	values = append(values, RelTargets, RelRunsOn, RelCalls, RelMemberOf, RelSameApp)
	for _, v := range values {
		if !bytes.Contains(doc, []byte("`"+v+"`")) {
			t.Errorf("%s: the value %q is not named as `%s`", reportDoc, v, v)
		}
	}
}

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// TestReportDocExampleDecodes fails when the page's example has a field the
// report does not have, or a value of the wrong type.
func TestReportDocExampleDecodes(t *testing.T) {
	doc, err := os.ReadFile(reportDoc)
	if err != nil {
		t.Fatal(err)
	}
	blocks := jsonBlock.FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatalf("%s has no json example", reportDoc)
	}
	for _, b := range blocks {
		dec := json.NewDecoder(bytes.NewReader(b[1]))
		dec.DisallowUnknownFields()
		var rep Report
		if err := dec.Decode(&rep); err != nil {
			t.Errorf("%s: the example does not decode as a Report: %v", reportDoc, err)
			continue
		}
		if rep.Scope.Alarm == "" || rep.Onset.IsZero() || len(rep.Hypotheses) == 0 || len(rep.Findings) == 0 {
			t.Errorf("%s: the example lacks the contract's fields: %+v", reportDoc, rep.Scope)
		}
	}
}
