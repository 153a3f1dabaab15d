package awstest

import (
	"sort"
	"time"
)

// This file holds the rules by which AWS answers less, or fails, where a
// lenient fake would answer everything: each with the sentence of the AWS
// API reference it follows, so that the adapter is tested against what AWS
// does and not against what its authors believed.

// AlarmHistory answers DescribeAlarmHistory from a store of history items
// (each a map with AlarmName, AlarmType, HistoryItemType, Timestamp, …) the
// way CloudWatch filters them by AlarmName, HistoryItemType and
// AlarmTypes. On AlarmTypes the API reference says: "Use this parameter to
// specify whether you want the operation to return metric alarms or
// composite alarms. If you omit this parameter, only metric alarms are
// returned." Items come back newest first unless ScanBy is
// TimestampAscending.
func AlarmHistory(r *Request, items []any) any {
	types := map[string]bool{}
	if ts, ok := r.Params["AlarmTypes"].([]any); ok {
		for _, t := range ts {
			if s, ok := t.(string); ok {
				types[s] = true
			}
		}
	}
	if len(types) == 0 {
		types["MetricAlarm"] = true
	}
	name, kind := r.String("AlarmName"), r.String("HistoryItemType")
	var out []any
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["AlarmType"].(string)
		if typ == "" {
			typ = "MetricAlarm"
		}
		if !types[typ] || (name != "" && m["AlarmName"] != name) || (kind != "" && m["HistoryItemType"] != kind) {
			continue
		}
		out = append(out, m)
	}
	asc := r.String("ScanBy") == "TimestampAscending"
	sort.SliceStable(out, func(i, j int) bool {
		ti, _ := out[i].(map[string]any)["Timestamp"].(time.Time)
		tj, _ := out[j].(map[string]any)["Timestamp"].(time.Time)
		if asc {
			return ti.Before(tj)
		}
		return ti.After(tj)
	})
	if out == nil {
		out = []any{}
	}
	return map[string]any{"AlarmHistoryItems": out}
}
