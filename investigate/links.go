package investigate

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Console links for findings. They are built here, from ids and names the
// sources returned, escaped for the console's URL state, region- and
// partition-aware; they are the only links the bot ever shows.

// consoleHome is the console page of an app ("cloudwatch", "cloudtrailv2")
// in a region.
func consoleHome(region, app string) string {
	if region == "" {
		region = "us-east-1"
	}
	host := region + ".console.aws.amazon.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		host = "console.amazonaws.cn"
	case strings.HasPrefix(region, "us-gov-"):
		host = "console.amazonaws-us-gov.com"
	}
	return "https://" + host + "/" + app + "/home?region=" + url.QueryEscape(region)
}

// jsurl encodes a string the way the CloudWatch console's URL state does
// (JSURL): characters other than letters, digits, '_', '-' and '.' become
// *XX (or **XXXX), '$' becomes '!'. Untrusted text cannot break out of it.
func jsurl(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		case r == '$':
			b.WriteByte('!')
		case r < 0x100:
			fmt.Fprintf(&b, "*%02x", r)
		case r <= 0xffff:
			fmt.Fprintf(&b, "**%04x", r)
		default:
			// Outside the BMP: as UTF-16 surrogates, like JavaScript.
			r -= 0x10000
			fmt.Fprintf(&b, "**%04x**%04x", 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		}
	}
	return b.String()
}

func jsTime(t time.Time) string { return "'" + jsurl(t.UTC().Format("2006-01-02T15:04:05.000Z")) }

// AlarmLink is an alarm's page in the CloudWatch console.
func AlarmLink(region, name string) string {
	return consoleHome(region, "cloudwatch") + "#alarmsV2:alarm/" + url.PathEscape(name)
}

// MetricLink is a CloudWatch console graph of one metric over [start, end)
// (a zero start shows the last three hours).
func MetricLink(region string, m Metric, stat string, period time.Duration, start, end time.Time) string {
	parts := []string{"'" + jsurl(m.Namespace), "'" + jsurl(m.Name)}
	keys := make([]string, 0, len(m.Dims))
	for k := range m.Dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, "'"+jsurl(k), "'"+jsurl(m.Dims[k]))
	}
	if stat == "" {
		stat = "Average"
	}
	seconds := int(period / time.Second)
	if seconds <= 0 {
		seconds = 60
	}
	state := "~(metrics~(~(~" + strings.Join(parts, "~") + "))~view~'timeSeries~stacked~false~region~'" + jsurl(region) +
		"~stat~'" + jsurl(stat) + "~period~" + strconv.Itoa(seconds)
	if start.IsZero() {
		state += "~start~'-PT3H~end~'P0D)"
	} else {
		state += "~start~" + jsTime(start) + "~end~" + jsTime(end) + ")"
	}
	return consoleHome(region, "cloudwatch") + "#metricsV2:graph=" + state
}

// LogsLink opens Logs Insights on log groups with a query over [start, end).
func LogsLink(region string, groups []string, query string, start, end time.Time) string {
	src := ""
	for _, g := range groups {
		src += "~'" + jsurl(g)
	}
	state := "~(end~" + jsTime(end) + "~start~" + jsTime(start) + "~timeType~'ABSOLUTE~tz~'UTC~editorString~'" +
		jsurl(query) + "~source~(" + src + "))"
	// The console reads its hash with '$' in place of '%'.
	return consoleHome(region, "cloudwatch") + "#logsV2:logs-insights" + strings.ReplaceAll(url.QueryEscape("?queryDetail="), "%", "$") + state
}

// TraceLink is one X-Ray trace in the CloudWatch console.
func TraceLink(region, traceID string) string {
	return consoleHome(region, "cloudwatch") + "#xray:traces/" + url.PathEscape(traceID)
}

// ChangeLink is one CloudTrail event in the console's event history.
func ChangeLink(region, eventID string) string {
	return consoleHome(region, "cloudtrailv2") + "#/events/" + url.PathEscape(eventID)
}

// errorQuery is the Logs Insights query behind a log finding's link: the
// failure lines, newest first, with their streams.
const errorQuery = "fields @timestamp, @logStream, @message\n| filter @message like /(?i)(error|exception|fail|timed? ?out|denied)/\n| sort @timestamp desc\n| limit 200"

// linkWindow is what a finding's link shows: an hour before the onset to now.
func (r *run) linkWindow() (time.Time, time.Time) {
	return r.onset.Add(-time.Hour), r.now
}

// logsLink is LogsLink on one group's failures, or "" without a group.
func (r *run) logsLink(group string) string {
	if group == "" {
		return ""
	}
	start, end := r.linkWindow()
	return LogsLink(r.alarmDef.Region, []string{group}, errorQuery, start, end)
}

func (r *run) metricLink(id string, spec metricSpec) string {
	res := r.g.byID[id]
	if res == nil || len(res.Dims) == 0 {
		return ""
	}
	start, end := r.linkWindow()
	return MetricLink(r.alarmDef.Region, Metric{Namespace: spec.Namespace, Name: spec.Name, Dims: res.Dims}, spec.Stat, r.step, start, end)
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
