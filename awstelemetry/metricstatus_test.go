package awstelemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/investigate"
)

// cpuQueries asks for the ALB world's instances' CPU at one minute.
func cpuQueries(ids []string) []investigate.MetricQuery {
	var qs []investigate.MetricQuery
	for _, id := range ids {
		qs = append(qs, investigate.MetricQuery{ID: id, Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": id}}, Stat: "Average", Period: time.Minute})
	}
	return qs
}

// unavailable is the session's Usage().Unavailable as text.
func unavailable(s *Session) string {
	var lines []string
	for _, u := range s.Usage().Unavailable {
		lines = append(lines, u.Source+": "+u.Error)
	}
	return strings.Join(lines, "\n")
}

// TestMetricsFollowPartialData: CloudWatch pages GetMetricData by
// datapoints, marking the cut series PartialData; every page is read and
// the series come back whole, with nothing reported.
func TestMetricsFollowPartialData(t *testing.T) {
	srv, w, c := newALBClient(t)
	w.MetricPageSize = 50
	s := c.NewSession()
	start := w.Fires.Add(-time.Hour)
	series, err := s.Metrics(ctxTimeout(t, 10*time.Second), cpuQueries(w.Instances), start, w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	for _, ser := range series {
		if len(ser.Times) != 60 {
			t.Errorf("%s: %d points, want 60", ser.ID, len(ser.Times))
		}
	}
	if n := srv.Count("CloudWatch.GetMetricData"); n != 4 {
		t.Errorf("GetMetricData calls = %d, want 4 pages of 50 datapoints for 180", n)
	}
	if u := unavailable(s); u != "" {
		t.Errorf("unavailable = %s", u)
	}
}

// TestMetricsPageBudgetReported: when the pages run out before the data
// does, the series keep what was read and the cut is reported, naming the
// series left PartialData.
func TestMetricsPageBudgetReported(t *testing.T) {
	_, w, c := newALBClient(t)
	w.MetricPageSize = 1
	s := c.NewSession()
	series, err := s.Metrics(ctxTimeout(t, 30*time.Second), cpuQueries(w.Instances), w.Fires.Add(-time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(series[0].Times) + len(series[1].Times) + len(series[2].Times); got != 50 {
		t.Errorf("read %d points, want one a page for 50 pages", got)
	}
	u := unavailable(s)
	if !strings.Contains(u, "stopped after 50 pages") || !strings.Contains(u, "(PartialData)") || !strings.Contains(u, "AWS/EC2 CPUUtilization InstanceId=i-0c5e1a2b3d4f5000") {
		t.Errorf("unavailable = %q, want the cut and the partial series", u)
	}
}

// TestMetricsStatusAndMessages: Forbidden and InternalError series and
// CloudWatch's messages each become a line of the session's unavailable,
// while the series that were read are kept.
func TestMetricsStatusAndMessages(t *testing.T) {
	at := ts("2024-12-03T10:00:00Z")
	cw := &fakeCloudWatch{metricData: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		out := &cloudwatch.GetMetricDataOutput{Messages: []cwtypes.MessageData{{Code: aws.String("MaxQueryTimeRangeExceed"), Value: aws.String("You have exceeded the query time range")}}}
		for i, q := range in.MetricDataQueries {
			r := cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeComplete, Timestamps: []time.Time{at}, Values: []float64{1}}
			switch i {
			case 1:
				r = cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeForbidden,
					Messages: []cwtypes.MessageData{{Code: aws.String("Forbidden"), Value: aws.String("Authentication too complex to retrieve cross region data")}}}
			case 2:
				r = cwtypes.MetricDataResult{Id: q.Id, StatusCode: cwtypes.StatusCodeInternalError}
			}
			out.MetricDataResults = append(out.MetricDataResults, r)
		}
		return out, nil
	}}
	s := newWithAPIs("us-east-1", apis{cw: cw}, Options{}).NewSession()
	series, err := s.Metrics(context.Background(), cpuQueries([]string{"i-1", "i-2", "i-3"}), at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(series[0].Values) != 1 {
		t.Errorf("the complete series was lost: %+v", series[0])
	}
	u := unavailable(s)
	for _, want := range []string{
		"1 of 3 series not permitted (Forbidden), first AWS/EC2 CPUUtilization InstanceId=i-2",
		"1 of 3 series failed inside CloudWatch (InternalError), first AWS/EC2 CPUUtilization InstanceId=i-3",
		"MaxQueryTimeRangeExceed: You have exceeded the query time range",
		"AWS/EC2 CPUUtilization InstanceId=i-2: Forbidden: Authentication too complex",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("unavailable lacks %q:\n%s", want, u)
		}
	}
}
