package awstelemetry

import (
	"errors"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

func instanceAlarm(name, instance, metric, state string, changed time.Time) map[string]any {
	return map[string]any{
		"AlarmName": name, "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:" + name,
		"Namespace": "AWS/EC2", "MetricName": metric,
		"Dimensions": []any{map[string]any{"Name": "InstanceId", "Value": instance}},
		"Statistic":  "Average", "Period": 300, "EvaluationPeriods": 1, "Threshold": 80.0,
		"ComparisonOperator": "GreaterThanThreshold", "StateValue": state,
		"StateTransitionedTimestamp": changed, "StateUpdatedTimestamp": changed,
	}
}

// TestAlarmForResource: an instance id, a load balancer's name and ARN find
// the alarms on their metrics (the one in ALARM first, then the latest
// change); a name no describer knows, or a resource no alarm watches, is
// not found.
func TestAlarmForResource(t *testing.T) {
	w := awstest.NewALBWorld()
	bad, good := w.Instances[2], w.Instances[0]
	w.Alarms = append(w.Alarms,
		instanceAlarm("web-i3-cpu", bad, "CPUUtilization", "OK", w.Fires.Add(-time.Minute)),
		instanceAlarm("web-i3-status", bad, "StatusCheckFailed", "ALARM", w.Fires.Add(-time.Hour)),
		instanceAlarm("web-i1-cpu", good, "CPUUtilization", "OK", w.Fires.Add(-2*time.Hour)),
		instanceAlarm("web-i1-status", good, "StatusCheckFailed", "OK", w.Fires.Add(-3*time.Hour)),
		// on the instance's metric, but with another dimension too
		map[string]any{"AlarmName": "web-i1-disk", "Namespace": "CWAgent", "MetricName": "disk_used_percent", "StateValue": "ALARM",
			"Dimensions": []any{map[string]any{"Name": "InstanceId", "Value": good}, map[string]any{"Name": "path", "Value": "/"}}},
	)
	srv, c := newServerClient(t, func(o *Options) {
		o.Now = func() time.Time { return w.Fires }
		o.Present = func() time.Time { return w.Present }
	})
	w.Install(srv)
	srv.Handle("DynamoDB.DescribeTable", tableByName("forge-templates"))
	ctx := ctxTimeout(t, 10*time.Second)
	for _, tc := range []struct{ ref, want string }{
		{bad, "web-i3-status"}, // in ALARM, though the CPU alarm changed later
		{good, "web-i1-cpu"},   // both OK: the latest change
		{"web-alb", "web-alb-target-5xx"},
		{awstest.LBARN, "web-alb-target-5xx"},
		{"arn:aws:ec2:us-east-1:123456789012:instance/" + bad, "web-i3-status"},
	} {
		s := c.NewSession()
		a, err := s.AlarmForResource(ctx, tc.ref)
		if err != nil || a.Name != tc.want {
			t.Errorf("AlarmForResource(%s) = %q, %v; want %s", tc.ref, a.Name, err, tc.want)
			continue
		}
		if a.Metric.Name == "" || a.State == "" {
			t.Errorf("AlarmForResource(%s) = %+v; want the alarm described", tc.ref, a)
		}
		if p := s.Problems(); len(p) > 0 {
			t.Errorf("AlarmForResource(%s): problems %v; the candidates that were not it are none", tc.ref, p)
		}
	}
	for _, ref := range []string{"no-such-thing", "forge-templates", "i-0c5e1a2b3d4f5dead"} {
		_, err := c.NewSession().AlarmForResource(ctx, ref)
		var nf *investigate.NotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("AlarmForResource(%s) = %v; want not found", ref, err)
		}
	}
	var asked int
	for _, call := range srv.Calls() {
		if call.Op == "DescribeAlarmsForMetric" {
			asked++
			if _, ok := call.Params["Dimensions"]; !ok {
				t.Errorf("DescribeAlarmsForMetric without dimensions: %v", call.Params)
			}
		}
	}
	if asked == 0 {
		t.Error("DescribeAlarmsForMetric never called")
	}
}

// TestAlarmForResourceUnreadable: when CloudWatch denies
// DescribeAlarmsForMetric, the answer is the denial, not "not found".
func TestAlarmForResourceUnreadable(t *testing.T) {
	w := awstest.NewALBWorld()
	srv, c := newServerClient(t)
	w.Install(srv)
	srv.Handle("CloudWatch.DescribeAlarmsForMetric", func(*awstest.Request) any { return awstest.Denied("AccessDenied") })
	_, err := c.NewSession().AlarmForResource(ctxTimeout(t, 10*time.Second), w.Bad)
	var nf *investigate.NotFoundError
	if err == nil || errors.As(err, &nf) {
		t.Errorf("err = %v; want the denial", err)
	}
}
