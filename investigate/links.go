package investigate

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Console links for findings. They are built here, from ids the sources
// returned, and are the only links the bot ever shows.

func consoleBase(region, app string) string {
	if region == "" {
		region = "us-east-1"
	}
	return fmt.Sprintf("https://%s.console.aws.amazon.com/%s/home?region=%s", region, app, region)
}

// AlarmLink is the CloudWatch console page of an alarm.
func AlarmLink(region, name string) string {
	return consoleBase(region, "cloudwatch") + "#alarmsV2:alarm/" + url.PathEscape(name)
}

// MetricLink is a CloudWatch console graph of one metric.
func MetricLink(region string, m Metric, stat string) string {
	// The console's graph state is a rison-like list: namespace, name, then
	// dimension name and value pairs.
	parts := []string{"'" + risonEscape(m.Namespace), "'" + risonEscape(m.Name)}
	keys := make([]string, 0, len(m.Dims))
	for k := range m.Dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "'"+risonEscape(k), "'"+risonEscape(m.Dims[k]))
	}
	graph := fmt.Sprintf("~(metrics~(~(~%s))~stat~'%s~region~'%s)", strings.Join(parts, "~"), risonEscape(stat), risonEscape(region))
	return consoleBase(region, "cloudwatch") + "#metricsV2:graph=" + graph
}

// TraceLink is the X-Ray trace map of one trace in the CloudWatch console.
func TraceLink(region, traceID string) string {
	return consoleBase(region, "cloudwatch") + "#xray:traces/" + url.PathEscape(traceID)
}

// ChangeLink is the CloudTrail console page of one event.
func ChangeLink(region, eventID string) string {
	return consoleBase(region, "cloudtrailv2") + "#/events/" + url.PathEscape(eventID)
}

// LogsLink is Logs Insights opened on a log group.
func LogsLink(region, group string) string {
	return consoleBase(region, "cloudwatch") + "#logsV2:logs-insights$3FqueryDetail$3D~(source~(~'" + risonEscape(url.QueryEscape(group)) + "))"
}

// risonEscape keeps a value from breaking the console's rison-like state.
func risonEscape(s string) string {
	r := strings.NewReplacer("~", "~~", "'", "~'", "(", "~(", ")", "~)", " ", "*20", "#", "*23", "&", "*26")
	return r.Replace(s)
}

// logsLink is LogsLink, or "" without a group.
func logsLink(region, group string) string {
	if group == "" {
		return ""
	}
	return LogsLink(region, group)
}

func (r *run) metricLink(id string, spec metricSpec) string {
	res := r.g.byID[id]
	if res == nil || len(res.Dims) == 0 {
		return ""
	}
	return MetricLink(r.alarmDef.Region, Metric{Namespace: spec.Namespace, Name: spec.Name, Dims: res.Dims}, spec.Stat)
}

func (r *run) traceLink(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return TraceLink(r.alarmDef.Region, ids[0])
}

func (r *run) changeLink(ch Change) string {
	if ch.ID == "" {
		return ""
	}
	return ChangeLink(r.alarmDef.Region, ch.ID)
}
