package awstest

import "testing"

func TestGetResourcesRules(t *testing.T) {
	all := []Tagged{
		{ARN: "arn:aws:ec2:us-east-1:1:instance/i-1", Tags: map[string]string{"app": "shop", "env": "prod"}},
		{ARN: "arn:aws:ec2:us-east-1:1:volume/vol-1", Tags: map[string]string{"app": "shop"}},
		{ARN: "arn:aws:sqs:us-east-1:1:jobs", Tags: map[string]string{"app": "shop"}},
		{ARN: "arn:aws:dynamodb:us-east-1:1:table/t", Tags: map[string]string{"app": "billing", "env": "prod"}},
	}
	call := func(params map[string]any) (int, string, string) {
		out := GetResources(&Request{Params: params}, all, 0)
		if e, ok := out.(*Error); ok {
			return 0, "", e.Code
		}
		m := out.(map[string]any)
		return len(m["ResourceTagMappingList"].([]any)), m["PaginationToken"].(string), ""
	}
	for _, c := range []struct {
		name   string
		params map[string]any
		n      int
		next   string
		code   string
	}{
		{"everything", map[string]any{}, 4, "", ""},
		{"one value", map[string]any{"TagFilters": []any{map[string]any{"Key": "app", "Values": []any{"shop"}}}}, 3, "", ""},
		{"values are ORed", map[string]any{"TagFilters": []any{map[string]any{"Key": "app", "Values": []any{"shop", "billing"}}}}, 4, "", ""},
		{"filters are ANDed", map[string]any{"TagFilters": []any{map[string]any{"Key": "app", "Values": []any{"shop"}}, map[string]any{"Key": "env"}}}, 1, "", ""},
		{"keys are case-sensitive", map[string]any{"TagFilters": []any{map[string]any{"Key": "App"}}}, 0, "", ""},
		{"service", map[string]any{"ResourceTypeFilters": []any{"ec2"}}, 2, "", ""},
		{"service:type", map[string]any{"ResourceTypeFilters": []any{"ec2:instance", "sqs"}}, 2, "", ""},
		{"page", map[string]any{"ResourcesPerPage": 3.0}, 3, "3", ""},
		{"last page", map[string]any{"ResourcesPerPage": 3.0, "PaginationToken": "3"}, 1, "", ""},
		{"page too large", map[string]any{"ResourcesPerPage": 101.0}, 0, "", "InvalidParameterException"},
		{"ARNs", map[string]any{"ResourceARNList": []any{"arn:aws:sqs:us-east-1:1:jobs", "arn:aws:sqs:us-east-1:1:gone"}}, 1, "", ""},
		{"ARNs and tags", map[string]any{"ResourceARNList": []any{"arn:aws:sqs:us-east-1:1:jobs"}, "TagFilters": []any{map[string]any{"Key": "app"}}}, 0, "", "InvalidParameterException"},
		{"ARNs and types", map[string]any{"ResourceARNList": []any{"arn:aws:sqs:us-east-1:1:jobs"}, "ResourceTypeFilters": []any{"sqs"}}, 0, "", "InvalidParameterException"},
		{"ARNs and pages", map[string]any{"ResourceARNList": []any{"arn:aws:sqs:us-east-1:1:jobs"}, "ResourcesPerPage": 10.0}, 0, "", "InvalidParameterException"},
	} {
		n, next, code := call(c.params)
		if n != c.n || next != c.next || code != c.code {
			t.Errorf("%s: %d resources, next %q, error %q; want %d, %q, %q", c.name, n, next, code, c.n, c.next, c.code)
		}
	}
}

func TestAlarmsForMetricRules(t *testing.T) {
	alarms := []map[string]any{
		{"AlarmName": "cpu", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 300,
			"Dimensions": []any{map[string]any{"Name": "InstanceId", "Value": "i-1"}}},
		{"AlarmName": "cpu-asg", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 300,
			"Dimensions": []any{map[string]any{"Name": "AutoScalingGroupName", "Value": "web"}}},
		// a metric-math alarm has no metric of its own
		{"AlarmName": "math", "Metrics": []any{}},
	}
	names := func(params map[string]any) []string {
		out := AlarmsForMetric(&Request{Params: params}, alarms)
		if e, ok := out.(*Error); ok {
			return []string{e.Code}
		}
		var n []string
		for _, a := range out.(map[string]any)["MetricAlarms"].([]any) {
			n = append(n, a.(map[string]any)["AlarmName"].(string))
		}
		return n
	}
	cpu := map[string]any{"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range cpu {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"no dimensions", cpu, ""},
		{"the instance", with(map[string]any{"Dimensions": []any{map[string]any{"Name": "InstanceId", "Value": "i-1"}}}), "cpu"},
		{"other period", with(map[string]any{"Period": 60.0, "Dimensions": []any{map[string]any{"Name": "InstanceId", "Value": "i-1"}}}), ""},
		{"no namespace", map[string]any{"MetricName": "CPUUtilization"}, "MissingParameter"},
	} {
		got := names(c.params)
		if (c.want == "" && len(got) != 0) || (c.want != "" && (len(got) != 1 || got[0] != c.want)) {
			t.Errorf("%s: %v, want %q", c.name, got, c.want)
		}
	}
}
