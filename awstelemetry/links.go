package awstelemetry

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Console links. Each is built from ids and names AWS returned, escaped for
// the console's URL state, and is region- and partition-aware.

// consoleHome is the console page of an app ("cloudwatch", "cloudtrailv2")
// in a region.
func consoleHome(region, app string) string {
	if region == "" {
		region = "us-east-1"
	}
	host := region + ".console.aws.amazon.com"
	switch partitionOf(region) {
	case "aws-cn":
		host = "console.amazonaws.cn"
	case "aws-us-gov":
		host = "console.amazonaws-us-gov.com"
	}
	return "https://" + host + "/" + app + "/home?region=" + url.QueryEscape(region)
}

// jsurl encodes a string the way the CloudWatch console's URL state does
// (JSURL): characters other than letters, digits, '_', '-' and '.' become
// *XX (or **XXXX), '$' becomes '!'.
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

// MetricConsoleURL is a CloudWatch console graph of one metric over
// [start, end) (a zero start shows the last three hours).
func MetricConsoleURL(region string, m investigate.Metric, stat string, period time.Duration, start, end time.Time) string {
	parts := []string{"'" + jsurl(m.Namespace), "'" + jsurl(m.Name)}
	for _, k := range sortedKeys(m.Dims) {
		parts = append(parts, "'"+jsurl(k), "'"+jsurl(m.Dims[k]))
	}
	state := "~(metrics~(~(~" + strings.Join(parts, "~") + "))~view~'timeSeries~stacked~false~region~'" + jsurl(region) +
		"~stat~'" + jsurl(statOrDefault(stat)) + "~period~" + strconv.Itoa(int(metricPeriod(period)))
	if start.IsZero() {
		state += "~start~'-PT3H~end~'P0D)"
	} else {
		state += "~start~" + jsTime(start) + "~end~" + jsTime(end) + ")"
	}
	return consoleHome(region, "cloudwatch") + "#metricsV2:graph=" + state
}

// LogsInsightsConsoleURL opens Logs Insights on log groups with a query over
// [start, end).
func LogsInsightsConsoleURL(region string, groups []string, query string, start, end time.Time) string {
	src := ""
	for _, g := range groups {
		src += "~'" + jsurl(g)
	}
	state := "~(end~" + jsTime(end) + "~start~" + jsTime(start) + "~timeType~'ABSOLUTE~tz~'UTC~editorString~'" +
		jsurl(query) + "~source~(" + src + "))"
	// The console reads its hash with '$' in place of '%'.
	return consoleHome(region, "cloudwatch") + "#logsV2:logs-insights" + strings.ReplaceAll(url.QueryEscape("?queryDetail="), "%", "$") + state
}

// TraceConsoleURL is one X-Ray trace in the CloudWatch console.
func TraceConsoleURL(region, traceID string) string {
	return consoleHome(region, "cloudwatch") + "#xray:traces/" + url.PathEscape(traceID)
}

// CloudTrailEventConsoleURL is one CloudTrail event in the console's event
// history.
func CloudTrailEventConsoleURL(region, eventID string) string {
	return consoleHome(region, "cloudtrailv2") + "#/events/" + url.PathEscape(eventID)
}

// AlarmConsoleURL is an alarm's page in the CloudWatch console.
func AlarmConsoleURL(region, name string) string {
	return consoleHome(region, "cloudwatch") + "#alarmsV2:alarm/" + url.PathEscape(name)
}
