package scenario

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"testing"
)

// formatDoc is the page that documents the scenario format.
const formatDoc = "../docs/scenario-format.md"

// TestFormatDocNamesEveryField fails when a field the loader accepts, or a
// value it knows, is not named on docs/scenario-format.md as `name`: a field
// added to the loader must be documented in the same change.
func TestFormatDocNamesEveryField(t *testing.T) {
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string][]string{
		"top-level field": topFields,
		"alarm field":     alarmFields,
		"resource field":  resourceCommon,
		"window field":    windowFields,
		"metrics field":   metricFields,
		"logs field":      logFields,
		"traces field":    traceFields,
		"changes field":   changeFields,
		"health field":    healthFields,
		"quotas field":    quotaFields,
		"notes field":     noteFields,
		"events field":    eventFields,
		"activity status": activityStatuses,
		"RDS category":    rdsCategories,
		"traffic field":   trafficFields,
		"client field":    clientFields,
		"expect field":    expectFields,
		"resource type":   Types,
		"cause":           Causes,
		"action":          Actions,
		"comparison":      Comparisons,
		"log level":       levels,
		"health status":   statuses,
		"dynamodb mode":   modes,
		"entry type":      entryTypes,
		"compute type":    computeType,
		"task field":      taskFields,
		"volume type":     VolumeTypes,
		"served type":     servedTypes,
		"cache engine":    CacheEngines,
		"aurora engine":   AuroraEngines,
		"cluster role":    ClusterRoles,
		"workflow":        Workflows,
		"subscriber type": subscriberTypes,
		"invoked type":    invokedTypes,
	}
	for typ, fields := range typeFields {
		lists["field of type "+typ] = fields
	}

	kinds := make([]string, 0, len(lists))
	for k := range lists {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	n := 0
	for _, kind := range kinds {
		for _, name := range lists[kind] {
			n++
			if !bytes.Contains(doc, []byte("`"+name+"`")) {
				t.Errorf("%s: the %s %q is not named as `%s`", formatDoc, kind, name, name)
			}
		}
	}
	if n < 100 {
		t.Fatalf("checked only %d names; the loader's lists are not what this test expects", n)
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")
var topName = regexp.MustCompile(`(?m)^name: `)

// TestFormatDocExamplesLoad fails when a complete scenario on the page (a
// yaml block with a top-level name) does not load, or has no expect block.
func TestFormatDocExamplesLoad(t *testing.T) {
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range yamlBlock.FindAllSubmatchIndex(doc, -1) {
		block := doc[m[2]:m[3]]
		if !topName.Match(block) {
			continue
		}
		found++
		// Lines in the loader's messages count from the block's first line.
		name := fmt.Sprintf("%s (the example from line %d)", formatDoc, 1+bytes.Count(doc[:m[2]], []byte("\n")))
		f, err := Parse(name, block, nil)
		if err != nil {
			t.Errorf("an example does not load:\n%v", err)
			continue
		}
		if f.Expect == nil {
			t.Errorf("%s: example %s has no expect block", formatDoc, f.Scenario.Name)
		}
	}
	if found == 0 {
		t.Fatalf("%s has no complete example", formatDoc)
	}
}
