package awstest

import "testing"

func TestSelectInstances(t *testing.T) {
	known := []string{"i-1", "i-2", "i-3"}
	for _, c := range []struct {
		name   string
		params map[string]any
		want   []string
		code   string
	}{
		{"all", map[string]any{}, known, ""},
		{"ids", map[string]any{"InstanceId.1": "i-2"}, []string{"i-2"}, ""},
		{"unknown id", map[string]any{"InstanceId.1": "i-2", "InstanceId.2": "i-9"}, nil, "InvalidInstanceID.NotFound"},
		{"filter", map[string]any{"Filter.1.Name": "instance-id", "Filter.1.Value.1": "i-3", "Filter.1.Value.2": "i-9"}, []string{"i-3"}, ""},
		{"other filter", map[string]any{"Filter.1.Name": "instance-state-name", "Filter.1.Value.1": "running"}, known, ""},
	} {
		got, err := SelectInstances(&Request{Params: c.params}, known)
		if c.code != "" {
			if err == nil || err.Code != c.code {
				t.Errorf("%s: err = %v, want %s", c.name, err, c.code)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%s: got %v %v, want %v", c.name, got, err, c.want)
			continue
		}
		for _, id := range c.want {
			if !got[id] {
				t.Errorf("%s: %s not selected: %v", c.name, id, got)
			}
		}
	}
}

func TestAlarmHistoryTypes(t *testing.T) {
	items := []any{
		map[string]any{"AlarmName": "c", "AlarmType": "CompositeAlarm", "HistoryItemType": "StateUpdate"},
		map[string]any{"AlarmName": "m", "AlarmType": "MetricAlarm", "HistoryItemType": "StateUpdate"},
	}
	n := func(params map[string]any) int {
		return len(AlarmHistory(&Request{Params: params}, items).(map[string]any)["AlarmHistoryItems"].([]any))
	}
	if got := n(map[string]any{}); got != 1 {
		t.Errorf("no AlarmTypes: %d items, want the metric alarm's only", got)
	}
	if got := n(map[string]any{"AlarmTypes": []any{"CompositeAlarm", "MetricAlarm"}}); got != 2 {
		t.Errorf("both types: %d items", got)
	}
	if got := n(map[string]any{"AlarmName": "c"}); got != 0 {
		t.Errorf("a composite's name without AlarmTypes: %d items, want none", got)
	}
}

// StartQuery refuses a limit parameter outside 1 to 10,000 and a query
// whose limit command is over 100,000, as CloudWatch Logs does.
func TestStartQueryLimits(t *testing.T) {
	w := NewALBWorld()
	start := func(params map[string]any) any {
		params["logGroupNames"] = []any{"/app/bot-forge"}
		return w.startQuery(&Request{Params: params})
	}
	for _, tc := range []struct {
		name   string
		params map[string]any
		code   string
	}{
		{"defaults", map[string]any{"queryString": "fields @message"}, ""},
		{"at the limit", map[string]any{"queryString": "stats count(*) by @logStream | limit 10000", "limit": float64(10000)}, ""},
		{"limit parameter over", map[string]any{"queryString": "fields @message", "limit": float64(10001)}, "InvalidParameterException"},
		{"limit command over", map[string]any{"queryString": "fields @message | limit 100001"}, "MalformedQueryException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := start(tc.params)
			e, isErr := got.(*Error)
			switch {
			case tc.code == "" && isErr:
				t.Errorf("refused: %v", e.Code)
			case tc.code != "" && (!isErr || e.Code != tc.code):
				t.Errorf("got %v, want %s", got, tc.code)
			}
		})
	}
}

func TestValidStat(t *testing.T) {
	for _, c := range []struct {
		stat string
		want bool
	}{
		{"Average", true}, {"Sum", true}, {"SampleCount", true}, {"Minimum", true}, {"Maximum", true},
		{"p99", true}, {"p90", true}, {"p99.9", true}, {"p0", true}, {"p0.0", true}, {"p100", true}, {"p50.0123456789", true},
		{"tm90", true}, {"wm99.5", true}, {"IQM", true}, {"TM(2%:98%)", true}, {"TC(:500)", true}, {"PR(100:2000)", true},
		{"p100.5", false}, {"p101", false}, {"p", false}, {"P99", false}, {"p99.", false}, {"p-1", false},
		{"p50.01234567891", false}, {"Avg", false}, {"average", false}, {"", false}, {"TM(2%98%)", false},
	} {
		if got := ValidStat(c.stat); got != c.want {
			t.Errorf("ValidStat(%q) = %v, want %v", c.stat, got, c.want)
		}
	}
}

func TestMetricDataStats(t *testing.T) {
	q := func(stat string) any {
		return map[string]any{"Id": "q0", "MetricStat": map[string]any{"Stat": stat, "Period": 60.0, "Metric": map[string]any{}}}
	}
	if err := MetricDataStats(&Request{Params: map[string]any{"MetricDataQueries": []any{q("Sum"), q("p99")}}}); err != nil {
		t.Errorf("Sum and p99: %v", err)
	}
	err := MetricDataStats(&Request{Params: map[string]any{"MetricDataQueries": []any{q("p99"), q("p100.5")}}})
	if err == nil || err.Status != 400 || err.Code != "InvalidParameterValue" || err.Message != "The value p100.5 for parameter MetricDataQueries.member.2.MetricStat.Stat is not a valid statistic." {
		t.Errorf("p100.5: %v", err)
	}
}

// DescribeEventDetails takes 1 to 10 ARNs, and puts an event it cannot
// retrieve in failedSet.
func TestEventDetails(t *testing.T) {
	known := []map[string]any{{"arn": "a1", "service": "EC2"}}
	arns := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = "a1"
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		arns         []any
		code         string
		ok, failed   int
		wantDescribe string
	}{
		{"none", arns(0), "ValidationException", 0, 0, ""},
		{"eleven", arns(11), "ValidationException", 0, 0, ""},
		{"ten", arns(10), "", 10, 0, "words"},
		{"one unknown", []any{"a1", "a9"}, "", 1, 1, "words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EventDetails(&Request{Params: map[string]any{"eventArns": tc.arns}}, known, map[string]string{"a1": "words"})
			if e, isErr := got.(*Error); isErr || tc.code != "" {
				if !isErr || e.Code != tc.code {
					t.Fatalf("got %v, want %s", got, tc.code)
				}
				return
			}
			m := got.(map[string]any)
			ok, failed := m["successfulSet"].([]any), m["failedSet"].([]any)
			if len(ok) != tc.ok || len(failed) != tc.failed {
				t.Fatalf("%d successful, %d failed; want %d, %d", len(ok), len(failed), tc.ok, tc.failed)
			}
			if d := ok[0].(map[string]any)["eventDescription"].(map[string]any)["latestDescription"]; d != tc.wantDescribe {
				t.Errorf("description %v", d)
			}
		})
	}
}
