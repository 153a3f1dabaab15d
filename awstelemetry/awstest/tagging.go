package awstest

import (
	"sort"
	"strconv"
	"strings"
)

// Tagged is one resource as the Resource Groups Tagging API lists it.
type Tagged struct {
	ARN  string
	Tags map[string]string
}

// GetResources answers the Tagging API's GetResources from a list of
// tagged resources, in the list's order, with the API reference's rules:
//
//   - ResourceARNList: "You can't specify both this parameter and the
//     ResourceTypeFilters parameter in the same request. If you do, you get
//     an Invalid Parameter exception." — the same for TagFilters and for
//     "any of the pagination parameters (ResourcesPerPage, TagsPerPage,
//     PaginationToken)"; and "If a resource specified by this parameter
//     doesn't exist, it doesn't generate an error; it simply isn't included
//     in the response."
//   - TagFilters: "If you specify more than one filter in a single request,
//     the response returns only those resources that satisfy all filters",
//     "If you specify a filter that contains more than one value for a key,
//     the response returns resources that match any of the specified values
//     for that key", "If you don't specify a value for a key, the response
//     returns all resources that are tagged with that key, with any or no
//     value."
//   - ResourceTypeFilters: "The format of each resource type is
//     service[:resourceType]. For example, specifying a service of ec2
//     returns all Amazon EC2 resources (which includes EC2 instances).
//     Specifying a resource type of ec2:instance returns only EC2
//     instances."
//   - ResourcesPerPage: "You can specify a minimum of 1 and a maximum value
//     of 100." A page is never longer; PaginationToken is "" on the last
//     page, as AWS sends it. pageSize, when positive, is the page size of a
//     request that names none.
func GetResources(r *Request, all []Tagged, pageSize int) any {
	invalid := func(msg string) *Error {
		return &Error{Status: 400, Code: "InvalidParameterException", Message: msg}
	}
	arns := stringList(r.Params["ResourceARNList"])
	filters, _ := r.Params["TagFilters"].([]any)
	types := stringList(r.Params["ResourceTypeFilters"])
	_, perPageSet := r.Params["ResourcesPerPage"]
	_, tagsPerPageSet := r.Params["TagsPerPage"]
	token := r.String("PaginationToken")
	if len(arns) > 0 {
		if len(filters) > 0 || len(types) > 0 || perPageSet || tagsPerPageSet || token != "" {
			return invalid("ResourceARNList cannot be used with TagFilters, ResourceTypeFilters or pagination parameters")
		}
		want := map[string]bool{}
		for _, a := range arns {
			want[a] = true
		}
		var out []any
		for _, t := range all {
			if want[t.ARN] {
				out = append(out, mapping(t))
			}
		}
		return map[string]any{"ResourceTagMappingList": out, "PaginationToken": ""}
	}
	size := 50
	if pageSize > 0 {
		size = pageSize
	}
	if perPageSet {
		n, err := strconv.Atoi(r.String("ResourcesPerPage"))
		if err != nil || n < 1 || n > 100 {
			return invalid("ResourcesPerPage must be between 1 and 100")
		}
		if pageSize <= 0 || n < size {
			size = n
		}
	}
	var match []Tagged
	for _, t := range all {
		if matchesTypes(t.ARN, types) && matchesTags(t.Tags, filters) {
			match = append(match, t)
		}
	}
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(match) {
			return invalid("invalid PaginationToken")
		}
		start = n
	}
	end := min(start+size, len(match))
	out := []any{}
	for _, t := range match[start:end] {
		out = append(out, mapping(t))
	}
	next := ""
	if end < len(match) {
		next = strconv.Itoa(end)
	}
	return map[string]any{"ResourceTagMappingList": out, "PaginationToken": next}
}

func mapping(t Tagged) map[string]any {
	keys := make([]string, 0, len(t.Tags))
	for k := range t.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := []any{}
	for _, k := range keys {
		tags = append(tags, map[string]any{"Key": k, "Value": t.Tags[k]})
	}
	return map[string]any{"ResourceARN": t.ARN, "Tags": tags}
}

// stringList reads a list of strings from a decoded parameter.
func stringList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// matchesTypes: an ARN's service and resource type ("arn:aws:ec2:r:a:
// instance/i-1" is ec2:instance) against "service[:resourceType]" filters.
func matchesTypes(arn string, types []string) bool {
	if len(types) == 0 {
		return true
	}
	p := strings.SplitN(arn, ":", 6)
	if len(p) < 6 {
		return false
	}
	service, typ := p[2], p[5]
	if i := strings.IndexAny(typ, "/:"); i >= 0 {
		typ = typ[:i]
	} else {
		typ = "" // an SQS queue's ARN ends with its name
	}
	for _, f := range types {
		s, t, hasType := strings.Cut(f, ":")
		if s == service && (!hasType || t == typ) {
			return true
		}
	}
	return false
}

// matchesTags: every filter holds (a key with any of its values, or any
// value when it lists none). Tag keys are compared exactly: AWS's keys are
// case-sensitive.
func matchesTags(tags map[string]string, filters []any) bool {
	for _, f := range filters {
		m, _ := f.(map[string]any)
		key, _ := m["Key"].(string)
		v, has := tags[key]
		if !has {
			return false
		}
		values := stringList(m["Values"])
		if len(values) == 0 {
			continue
		}
		ok := false
		for _, want := range values {
			ok = ok || want == v
		}
		if !ok {
			return false
		}
	}
	return true
}

// AlarmsForMetric answers CloudWatch's DescribeAlarmsForMetric from a list
// of metric alarms (as DescribeAlarms carries them). Namespace and
// MetricName are required; an alarm matches when its metric has that
// namespace, name and exactly the dimensions asked ("If the metric has any
// associated dimensions, you must specify them in order for the call to
// succeed"), and the statistic, extended statistic, period and unit when
// asked. "This operation retrieves only standard alarms that are based on
// the specified metric. It does not return alarms based on math
// expressions that use the specified metric, or composite alarms that use
// the specified metric." (DescribeAlarmsForMetric, CloudWatch API
// reference.)
func AlarmsForMetric(r *Request, alarms []map[string]any) any {
	ns, name := r.String("Namespace"), r.String("MetricName")
	if ns == "" || name == "" {
		return &Error{Status: 400, Code: "MissingParameter", Message: "Namespace and MetricName are required"}
	}
	want := dimKey(r.Params["Dimensions"])
	out := []any{}
	for _, a := range alarms {
		if a["Namespace"] != ns || a["MetricName"] != name || dimKey(a["Dimensions"]) != want {
			continue
		}
		ok := true
		for _, p := range []string{"Statistic", "ExtendedStatistic", "Unit"} {
			if v := r.String(p); v != "" && a[p] != v {
				ok = false
			}
		}
		if p := r.String("Period"); p != "" && strconv.Itoa(toInt(a["Period"])) != p {
			ok = false
		}
		if ok {
			out = append(out, a)
		}
	}
	return map[string]any{"MetricAlarms": out}
}

// dimKey is a set of dimensions in a comparable form.
func dimKey(v any) string {
	l, _ := v.([]any)
	var parts []string
	for _, d := range l {
		m, _ := d.(map[string]any)
		n, _ := m["Name"].(string)
		val, _ := m["Value"].(string)
		parts = append(parts, n+"="+val)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case uint64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}
