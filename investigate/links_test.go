package investigate

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestConsoleLinks(t *testing.T) {
	start, end := time.Date(2024, 12, 3, 10, 0, 0, 0, time.UTC), time.Date(2024, 12, 3, 10, 33, 0, 0, time.UTC)
	for _, tc := range []struct{ got, want string }{
		{AlarmLink("us-east-1", "web-alb-target-5xx"),
			"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/web-alb-target-5xx"},
		{AlarmLink("eu-west-1", "web 5xx/total"),
			"https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/web%205xx%2Ftotal"},
		{TraceLink("us-east-1", "1-6750d003-000000000000000000000003"),
			"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#xray:traces/1-6750d003-000000000000000000000003"},
		{ChangeLink("us-west-2", "a8b5f864-480b-43bf-bc22-9b6d77910a29"),
			"https://us-west-2.console.aws.amazon.com/cloudtrailv2/home?region=us-west-2#/events/a8b5f864-480b-43bf-bc22-9b6d77910a29"},
		{AlarmLink("cn-north-1", "a"), "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/a"},
		{TraceLink("us-gov-west-1", "1-2-3"), "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#xray:traces/1-2-3"},
		{MetricLink("us-east-1", Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count",
			Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}, "Sum", 0, start, end),
			"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#metricsV2:graph=~(metrics~(~(~'AWS*2fApplicationELB~'HTTPCode_Target_5XX_Count~'LoadBalancer~'app*2fweb-alb*2f50dc6c495c0c9188))~view~'timeSeries~stacked~false~region~'us-east-1~stat~'Sum~period~60~start~'2024-12-03T10*3a00*3a00.000Z~end~'2024-12-03T10*3a33*3a00.000Z)"},
		{LogsLink("us-east-1", []string{"/app/bot-forge"}, "pattern @message", start, end),
			"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:logs-insights$3FqueryDetail$3D~(end~'2024-12-03T10*3a33*3a00.000Z~start~'2024-12-03T10*3a00*3a00.000Z~timeType~'ABSOLUTE~tz~'UTC~editorString~'pattern*20*40message~source~(~'*2fapp*2fbot-forge))"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
		u, err := url.Parse(tc.got)
		if err != nil || u.Scheme != "https" {
			t.Errorf("not a URL: %s", tc.got)
		}
	}
	// Untrusted text cannot break out of the URL state.
	l := LogsLink("us-east-1", []string{"g"}, "fields @message | filter @message like /<!channel> \n) & ~'/", start, end)
	if strings.ContainsAny(l[strings.Index(l, "#"):], " \n<>&") {
		t.Errorf("unescaped: %s", l)
	}
	if jsurl("a$b😀") != "a!b**d83d**de00" {
		t.Errorf("jsurl = %s", jsurl("a$b😀"))
	}
}
