package awstest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// SelectInstances is which of the known instances a DescribeInstances call
// asks for, from its InstanceId.N ids and its instance-id filter (all when
// it names neither). Ids passed as InstanceIds must all exist: "If you
// specify an instance ID that is not valid, an error is returned." (EC2 API
// reference, DescribeInstances); the error is InvalidInstanceID.NotFound.
// A filter only selects: "If you specify filters, the output includes
// information for only those instances that meet the filter criteria."
func SelectInstances(r *Request, known []string) (map[string]bool, *Error) {
	exists := map[string]bool{}
	for _, id := range known {
		exists[id] = true
	}
	var ids, missing []string
	filters := map[int]string{} // filter number → name
	values := map[int][]string{}
	for k, v := range r.Params {
		s, _ := v.(string)
		var n, m int
		switch {
		case scan(k, "InstanceId.%d", &n):
			ids = append(ids, s)
			if !exists[s] {
				missing = append(missing, s)
			}
		case scan(k, "Filter.%d.Name", &n):
			filters[n] = s
		case scan(k, "Filter.%d.Value.%d", &n, &m):
			values[n] = append(values[n], s)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		msg := "The instance ID '" + missing[0] + "' does not exist"
		if len(missing) > 1 {
			msg = "The instance IDs '" + strings.Join(missing, ", ") + "' do not exist"
		}
		return nil, &Error{Status: 400, Code: "InvalidInstanceID.NotFound", Message: msg}
	}
	selected := map[string]bool{}
	for _, id := range known {
		selected[id] = true
	}
	if len(ids) > 0 {
		selected = map[string]bool{}
		for _, id := range ids {
			selected[id] = true
		}
	}
	for n, name := range filters {
		if name != "instance-id" {
			continue
		}
		allowed := map[string]bool{}
		for _, v := range values[n] {
			allowed[v] = true
		}
		for id := range selected {
			if !allowed[id] {
				delete(selected, id)
			}
		}
	}
	return selected, nil
}

// scan reports whether s is exactly format filled with integers.
func scan(s, format string, args ...any) bool {
	n, err := fmt.Sscanf(s, format, args...)
	if err != nil || n != len(args) {
		return false
	}
	parts := make([]any, len(args))
	for i, a := range args {
		parts[i] = *(a.(*int))
	}
	return fmt.Sprintf(format, parts...) == s
}

// MetricSeries is one GetMetricData query's whole answer, before paging.
type MetricSeries struct {
	ID, Label string
	Times     []time.Time
	Values    []float64
}

// DefaultMaxDatapoints is GetMetricData's page size: "The maximum number of
// data points the request should return before paginating. If you omit
// this, the default of 100,800 is used." (API reference, MaxDatapoints)
const DefaultMaxDatapoints = 100800

// PageMetricData answers GetMetricData from whole series the way
// CloudWatch pages them: at most MaxDatapoints datapoints a call (pageSize
// when the call names none and pageSize is positive, else
// DefaultMaxDatapoints), a NextToken while more remain, and each result's
// StatusCode as the API reference defines it: "Complete indicates that all
// data points in the requested time range were returned. PartialData means
// that an incomplete set of data points were returned. You can use the
// NextToken value that was returned and repeat your request to get more
// data points."
func PageMetricData(r *Request, all []MetricSeries, pageSize int) any {
	size := DefaultMaxDatapoints
	if pageSize > 0 {
		size = pageSize
	}
	if v, ok := r.Params["MaxDatapoints"].(float64); ok && v > 0 {
		size = int(v)
	}
	from := 0
	if tok := r.String("NextToken"); tok != "" {
		if _, err := fmt.Sscanf(tok, "dp-%d", &from); err != nil {
			return &Error{Status: 400, Code: "InvalidNextToken", Message: "bad token " + tok}
		}
	}
	to := from + size
	var results []any
	off, total := 0, 0
	for _, s := range all {
		total += len(s.Times)
	}
	for _, s := range all {
		n := len(s.Times)
		lo, hi := max(from-off, 0), min(to-off, n)
		times, values := []time.Time{}, []float64{}
		if lo < hi {
			times, values = s.Times[lo:hi], s.Values[lo:hi]
		}
		status := "Complete"
		if off+n > to {
			status = "PartialData"
		}
		results = append(results, map[string]any{"Id": s.ID, "Label": s.Label, "StatusCode": status, "Timestamps": times, "Values": values})
		off += n
	}
	out := map[string]any{"MetricDataResults": results, "Messages": []any{}}
	if to < total {
		out["NextToken"] = fmt.Sprintf("dp-%d", to)
	}
	return out
}

// PeriodKept reports whether CloudWatch still returns datapoints at period
// for a query starting at start, as seen at present. The API reference
// (MetricStat, Period): "If the StartTime parameter specifies a time stamp
// that is greater than 3 hours ago, you must specify the period as follows
// or no data points in that time range is returned: Start time between 3
// hours and 15 days ago - Use a multiple of 60 seconds (1 minute). Start
// time between 15 and 63 days ago - Use a multiple of 300 seconds (5
// minutes). Start time greater than 63 days ago - Use a multiple of 3600
// seconds (1 hour)."
func PeriodKept(period time.Duration, start, present time.Time) bool {
	age := present.Sub(start)
	switch {
	case age > 63*24*time.Hour:
		return period%time.Hour == 0
	case age > 15*24*time.Hour:
		return period%(5*time.Minute) == 0
	case age > 3*time.Hour:
		return period%time.Minute == 0
	}
	return period > 0
}

// statistics are CloudWatch's statistics: "SampleCount is the number of
// data points during the period. Sum is the sum of the values of the all
// data points collected during the period. Average is the value of
// Sum/SampleCount during the specified period. Minimum is the lowest value
// observed during the specified period. Maximum is the highest value
// observed during the specified period." (CloudWatch statistics
// definitions)
var statistics = []string{"SampleCount", "Sum", "Average", "Minimum", "Maximum"}

var (
	// A percentile "between p0.0 and p100" (GetMetricStatistics,
	// ExtendedStatistics), and the shorthand trimmed statistics (tm90,
	// wm99.5, ...), whose numbers lie "between 0 and 100, up to 10 decimal
	// places" (CloudWatch statistics definitions).
	percentileStat = regexp.MustCompile(`^(p|tm|wm|tc|ts)([0-9]{1,3}(\.[0-9]{1,10})?)$`)
	// The trimmed statistics over a range, by percentage or value:
	// TM(2%:98%), TC(:500), PR(100:2000); and IQM.
	rangeStat = regexp.MustCompile(`^(TM|WM|TC|TS|PR)\((-?[0-9.]+%?)?:(-?[0-9.]+%?)?\)$`)
)

// ValidStat reports whether a MetricStat's Stat is one CloudWatch accepts:
// "The statistic to return. It can include any CloudWatch statistic or
// extended statistic." (API reference, MetricStat.) So p99 and p99.9 are,
// and p100.5, P99 (the prefix is lower case) and Avg are not.
func ValidStat(s string) bool {
	if slices.Contains(statistics, s) || s == "IQM" || rangeStat.MatchString(s) {
		return true
	}
	m := percentileStat.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	v, err := strconv.ParseFloat(m[2], 64)
	return err == nil && v >= 0 && v <= 100
}

// MetricDataStats checks every MetricStat of a GetMetricData call, and
// answers the first that is not a statistic as CloudWatch answers a
// parameter out of its domain: a 400 InvalidParameterValue naming it.
func MetricDataStats(r *Request) *Error {
	queries, _ := r.Params["MetricDataQueries"].([]any)
	for i, q := range queries {
		qm, _ := q.(map[string]any)
		ms, ok := qm["MetricStat"].(map[string]any)
		if !ok {
			continue
		}
		if s, _ := ms["Stat"].(string); !ValidStat(s) {
			return &Error{Status: 400, Code: "InvalidParameterValue",
				Message: fmt.Sprintf("The value %s for parameter MetricDataQueries.member.%d.MetricStat.Stat is not a valid statistic.", s, i+1)}
		}
	}
	return nil
}

// EventDetails answers AWS Health's DescribeEventDetails from the events a
// test knows (each a map in DescribeEvents' shape, with its arn) and their
// latest descriptions, by ARN. The API reference: eventArns has "Minimum
// number of 1 item. Maximum number of 10 items." (outside it, a
// ValidationException), and "If a specified event can't be retrieved, an
// error message is returned for that event": it goes in failedSet, the
// others in successfulSet as {event, eventDescription: {latestDescription}}.
func EventDetails(r *Request, events []map[string]any, descriptions map[string]string) any {
	arns, _ := r.Params["eventArns"].([]any)
	if len(arns) < 1 || len(arns) > 10 {
		return &Error{Status: 400, Code: "ValidationException",
			Message: fmt.Sprintf("1 validation error detected: Value at 'eventArns' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1 (got %d)", len(arns))}
	}
	byARN := map[string]map[string]any{}
	for _, e := range events {
		if a, ok := e["arn"].(string); ok {
			byARN[a] = e
		}
	}
	ok, failed := []any{}, []any{}
	for _, a := range arns {
		arn, _ := a.(string)
		e, known := byARN[arn]
		if !known {
			failed = append(failed, map[string]any{"eventArn": arn, "errorName": "UnsupportedEventException",
				"errorMessage": "The event " + arn + " could not be found."})
			continue
		}
		ok = append(ok, map[string]any{"event": e, "eventDescription": map[string]any{"latestDescription": descriptions[arn]}, "eventMetadata": map[string]any{}})
	}
	return map[string]any{"successfulSet": ok, "failedSet": failed}
}
