package awstelemetry

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

func TestAlarmOverCBOR(t *testing.T) {
	srv, c := newServerClient(t)
	srv.Handle("CloudWatch.DescribeAlarms", func(r *awstest.Request) any {
		names, _ := r.Params["AlarmNames"].([]any)
		if len(names) != 1 || names[0] != "web-alb-target-5xx" {
			return &awstest.Error{Status: 400, Code: "InvalidParameterValue", Message: "unexpected names"}
		}
		return awstest.ALBAlarm()
	})
	srv.Handle("CloudWatch.DescribeAlarmHistory", func(r *awstest.Request) any {
		if r.String("AlarmName") != "web-alb-target-5xx" || r.String("HistoryItemType") != "StateUpdate" {
			return &awstest.Error{Status: 400, Code: "InvalidParameterValue", Message: "unexpected input"}
		}
		return awstest.ALBAlarmHistory()
	})
	s := c.NewSession()
	a, err := s.Alarm(context.Background(), "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	if a.Resource != "web-alb" || a.Metric.Name != "HTTPCode_Target_5XX_Count" || a.Metric.Dims["LoadBalancer"] != "app/web-alb/50dc6c495c0c9188" {
		t.Errorf("alarm = %+v", a)
	}
	if a.Stat != "Sum" || a.Period != time.Minute || a.Threshold != 50 || a.Comparison != "GreaterThanThreshold" || a.State != "ALARM" {
		t.Errorf("alarm definition = %+v", a)
	}
	if a.Region != "us-east-1" || a.Account != "123456789012" {
		t.Errorf("region/account = %q %q", a.Region, a.Account)
	}
	want := []investigate.AlarmStateChange{
		{Time: ts("2024-12-02T08:00:00Z"), From: "INSUFFICIENT_DATA", To: "OK", Reason: "Threshold Crossed"},
		{Time: ts("2024-12-03T10:33:00Z"), From: "OK", To: "ALARM", Reason: "Threshold Crossed"},
	}
	if len(a.History) != 2 || !a.History[0].Time.Equal(want[0].Time) || a.History[1].To != "ALARM" || a.History[0].From != "INSUFFICIENT_DATA" {
		t.Errorf("history = %+v", a.History)
	}
	if s.APICalls() != 2 || c.CallsByOperation()["CloudWatch.DescribeAlarmHistory"] != 1 {
		t.Errorf("calls = %d %v", s.APICalls(), c.CallsByOperation())
	}
}

// mathAlarmFromFixture builds DescribeAlarms' metric alarm from an
// EventBridge alarm payload's configuration.metrics (the fixture's own
// queries, in the API's field names).
func mathAlarmFromFixture(t *testing.T, file string) cwtypes.MetricAlarm {
	var ev struct {
		Detail struct {
			AlarmName     string `json:"alarmName"`
			Configuration struct {
				Metrics []struct {
					ID         string `json:"id"`
					Expression string `json:"expression"`
					ReturnData bool   `json:"returnData"`
					MetricStat *struct {
						Metric struct {
							Dimensions map[string]string `json:"dimensions"`
							Name       string            `json:"name"`
							Namespace  string            `json:"namespace"`
						} `json:"metric"`
						Period int32  `json:"period"`
						Stat   string `json:"stat"`
					} `json:"metricStat"`
				} `json:"metrics"`
			} `json:"configuration"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(fixture(t, file), &ev); err != nil {
		t.Fatal(err)
	}
	m := cwtypes.MetricAlarm{
		AlarmName:          aws.String(ev.Detail.AlarmName),
		AlarmArn:           aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + ev.Detail.AlarmName),
		StateValue:         cwtypes.StateValueAlarm,
		Threshold:          aws.Float64(10000),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}
	for _, q := range ev.Detail.Configuration.Metrics {
		mq := cwtypes.MetricDataQuery{Id: aws.String(q.ID), ReturnData: aws.Bool(q.ReturnData)}
		if q.Expression != "" {
			mq.Expression = aws.String(q.Expression)
		}
		if ms := q.MetricStat; ms != nil {
			var dims []cwtypes.Dimension
			for k, v := range ms.Metric.Dimensions {
				dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
			}
			mq.MetricStat = &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(ms.Metric.Namespace), MetricName: aws.String(ms.Metric.Name), Dimensions: dims},
				Period: aws.Int32(ms.Period), Stat: aws.String(ms.Stat),
			}
		}
		m.Metrics = append(m.Metrics, mq)
	}
	return m
}

func TestAlarmMetricMath(t *testing.T) {
	m := mathAlarmFromFixture(t, "cloudwatch-alarm/awsdocs-eventbridge-state-change-metric-math.json")
	cw := &fakeCloudWatch{describe: func(*cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
		return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{m}}, nil
	}}
	c := newWithAPIs("us-east-1", apis{cw: cw}, Options{})
	a, err := c.NewSession().Alarm(context.Background(), "TotalNetworkTrafficTooHigh")
	if err != nil {
		t.Fatal(err)
	}
	// SUM(METRICS()) over m1 (NetworkIn) and m2 (NetworkOut): the first.
	if a.Metric.Namespace != "AWS/EC2" || a.Metric.Name != "NetworkIn" || a.Metric.Dims["InstanceId"] != "i-12345678901234567" {
		t.Errorf("metric = %+v", a.Metric)
	}
	if a.Resource != "i-12345678901234567" || a.Stat != "Maximum" || a.Period != 5*time.Minute {
		t.Errorf("alarm = %+v", a)
	}
}

func TestMathAlarmExpressionReferences(t *testing.T) {
	q := func(id, expr string, ret bool, ns, name string, dims map[string]string) cwtypes.MetricDataQuery {
		mq := cwtypes.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(ret)}
		if expr != "" {
			mq.Expression = aws.String(expr)
		} else {
			mq.MetricStat = &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dimensions(dims)}, Period: aws.Int32(60), Stat: aws.String("Sum")}
		}
		return mq
	}
	queries := []cwtypes.MetricDataQuery{
		q("unused", "", false, "AWS/SQS", "NumberOfMessagesSent", map[string]string{"QueueName": "q"}),
		q("errors", "", false, "AWS/Lambda", "Errors", map[string]string{"FunctionName": "ingest-fn"}),
		q("inv", "", false, "AWS/Lambda", "Invocations", map[string]string{"FunctionName": "ingest-fn"}),
		q("rate", "100*errors/inv", true, "", "", nil),
	}
	metrics, stat, period := mathAlarmMetrics(queries, "")
	if len(metrics) != 2 || metrics[0].Name != "Errors" || metrics[1].Name != "Invocations" || stat != "Sum" || period != time.Minute {
		t.Errorf("metrics = %+v %s %s", metrics, stat, period)
	}
	// A Metrics Insights alarm names its namespace and metric.
	ins := []cwtypes.MetricDataQuery{{Id: aws.String("q1"), ReturnData: aws.Bool(true), Period: aws.Int32(300),
		Expression: aws.String(`SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2", InstanceId) GROUP BY InstanceId`)}}
	metrics, _, period = mathAlarmMetrics(ins, "")
	if len(metrics) != 1 || metrics[0].Namespace != "AWS/EC2" || metrics[0].Name != "CPUUtilization" || period != 5*time.Minute {
		t.Errorf("insights metrics = %+v %s", metrics, period)
	}
}

func TestAlarmCompositePicksChildInAlarm(t *testing.T) {
	var rule struct {
		AlarmData struct {
			Configuration struct {
				AlarmRule string `json:"alarmRule"`
			} `json:"configuration"`
		} `json:"alarmData"`
	}
	if err := json.Unmarshal(fixture(t, "cloudwatch-alarm/powertools-lambda-action-composite.json"), &rule); err != nil {
		t.Fatal(err)
	}
	child := func(name string, state cwtypes.StateValue, fn string) cwtypes.MetricAlarm {
		return cwtypes.MetricAlarm{
			AlarmName: aws.String(name), StateValue: state, Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(fn)}},
			Statistic:  cwtypes.StatisticSum, Period: aws.Int32(60), Threshold: aws.Float64(1),
		}
	}
	var calls [][]string
	cw := &fakeCloudWatch{describe: func(in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
		calls = append(calls, in.AlarmNames)
		if len(in.AlarmNames) == 1 && in.AlarmNames[0] == "CompositeDemo.Main" {
			return &cloudwatch.DescribeAlarmsOutput{CompositeAlarms: []cwtypes.CompositeAlarm{{
				AlarmName: aws.String("CompositeDemo.Main"), AlarmRule: aws.String(rule.AlarmData.Configuration.AlarmRule),
				AlarmArn:   aws.String("arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.Main"),
				StateValue: cwtypes.StateValueAlarm,
			}}}, nil
		}
		return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{
			child("CompositeDemo.FirstChild", cwtypes.StateValueOk, "first-fn"),
			child("CompositeDemo.SecondChild", cwtypes.StateValueAlarm, "second-fn"),
		}}, nil
	}}
	c := newWithAPIs("us-east-1", apis{cw: cw}, Options{})
	a, err := c.NewSession().Alarm(context.Background(), "CompositeDemo.Main")
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || len(calls[1]) != 2 || calls[1][0] != "CompositeDemo.FirstChild" {
		t.Errorf("describe calls = %v", calls)
	}
	if a.Name != "CompositeDemo.Main" || a.State != "ALARM" || a.Resource != "second-fn" || a.Metric.Name != "Errors" || a.Account != "111122223333" {
		t.Errorf("alarm = %+v", a)
	}
}

func TestCompositeRuleChildren(t *testing.T) {
	got := compositeRuleChildren(`(ALARM("web 5xx") OR ALARM(arn:aws:cloudwatch:us-east-1:123:alarm:db-cpu)) AND NOT OK(maint) AND ALARM("web 5xx")`)
	want := []string{"web 5xx", "db-cpu", "maint"}
	if len(got) != len(want) {
		t.Fatalf("children = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("children = %q, want %q", got, want)
		}
	}
}

func TestAlarmNotFoundHasCandidates(t *testing.T) {
	cw := &fakeCloudWatch{describe: func(in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
		if in.AlarmNamePrefix != nil {
			return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{
				{AlarmName: aws.String("web-db-cpu")}, {AlarmName: aws.String("web-alb-target-5xx")},
			}}, nil
		}
		return &cloudwatch.DescribeAlarmsOutput{}, nil
	}}
	c := newWithAPIs("us-east-1", apis{cw: cw}, Options{})
	_, err := c.NewSession().Alarm(context.Background(), "web-alb-target-5xxx")
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "alarm" || len(nf.Candidates) == 0 || nf.Candidates[0] != "web-alb-target-5xx" {
		t.Fatalf("err = %v (%+v)", err, nf)
	}
}

func TestResourceFromDims(t *testing.T) {
	for _, tc := range []struct {
		dims map[string]string
		id   string
		kind investigate.ResourceType
	}{
		{map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188", "AvailabilityZone": "us-east-1a"}, "web-alb", investigate.TypeALB},
		{map[string]string{"LoadBalancer": "app/web-alb/1", "TargetGroup": "targetgroup/web-tg/2"}, "web-alb", investigate.TypeALB},
		{map[string]string{"InstanceId": "i-0c5e1a2b3d4f50003"}, "i-0c5e1a2b3d4f50003", investigate.TypeEC2},
		{map[string]string{"FunctionName": "ingest-fn", "Resource": "ingest-fn:live"}, "ingest-fn", investigate.TypeLambda},
		{map[string]string{"TableName": "forge-templates"}, "forge-templates", investigate.TypeDynamoDB},
		{map[string]string{"DBInstanceIdentifier": "orders-db"}, "orders-db", investigate.TypeRDS},
		{map[string]string{"QueueName": "events-queue"}, "events-queue", investigate.TypeSQS},
		{map[string]string{"ApiName": "ingest-api", "Stage": "prod"}, "ingest-api", investigate.TypeAPIGateway},
		{map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}, "checkout", investigate.TypeECS},
		{map[string]string{"AutoScalingGroupName": "web-asg"}, "web-asg", investigate.TypeASG},
		{map[string]string{"Currency": "USD"}, "", ""},
	} {
		id, kind := resourceFromDims(tc.dims)
		if id != tc.id || kind != tc.kind {
			t.Errorf("resourceFromDims(%v) = %q %q, want %q %q", tc.dims, id, kind, tc.id, tc.kind)
		}
	}
}
