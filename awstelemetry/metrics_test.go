package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/investigate"
)

var cloudWatchID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// TestMetricsBatchesAndPages: 1200 queries with ids CloudWatch would
// refuse go out as three GetMetricData query sets (500, 500, 200), each
// paged with NextToken; results come back under the caller's ids, in the
// caller's order, oldest first.
func TestMetricsBatchesAndPages(t *testing.T) {
	start := ts("2024-12-03T10:00:00Z")
	var mu sync.Mutex
	pages := map[string]int{}
	cw := &fakeCloudWatch{metricData: func(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		if len(in.MetricDataQueries) > 500 {
			return nil, fmt.Errorf("%d queries", len(in.MetricDataQueries))
		}
		first := aws.ToString(in.MetricDataQueries[0].Id)
		mu.Lock()
		pages[first]++
		page := pages[first]
		mu.Unlock()
		out := &cloudwatch.GetMetricDataOutput{}
		for _, q := range in.MetricDataQueries {
			if !cloudWatchID.MatchString(aws.ToString(q.Id)) {
				return nil, fmt.Errorf("bad id %q", aws.ToString(q.Id))
			}
			// Page 1 has the later point, page 2 the earlier.
			at := start.Add(time.Minute)
			if page == 2 {
				at = start
			}
			v := float64(len(aws.ToString(q.MetricStat.Metric.MetricName)))
			out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Timestamps: []time.Time{at}, Values: []float64{v + float64(page)}})
		}
		if page == 1 {
			out.NextToken = aws.String("next")
		}
		return out, nil
	}}
	// Fresh data: the present is the window's end.
	c := newWithAPIs("us-east-1", apis{cw: cw}, Options{Present: func() time.Time { return start.Add(time.Hour) }})
	var queries []investigate.MetricQuery
	for i := 0; i < 1200; i++ {
		queries = append(queries, investigate.MetricQuery{
			ID:     fmt.Sprintf("res-%d|AWS/EC2|CPU Utilization/%d", i, i),
			Metric: investigate.Metric{Namespace: "AWS/EC2", Name: fmt.Sprintf("m%d", i), Dims: map[string]string{"InstanceId": fmt.Sprintf("i-%d", i)}},
			Stat:   "Average", Period: 90 * time.Second,
		})
	}
	series, err := c.NewSession().Metrics(context.Background(), queries, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(cw.metricInputs) != 6 {
		t.Errorf("GetMetricData calls = %d, want 3 sets × 2 pages", len(cw.metricInputs))
	}
	sizes := map[int]int{}
	for _, in := range cw.metricInputs {
		sizes[len(in.MetricDataQueries)]++
		if in.ScanBy != cwtypes.ScanByTimestampAscending || aws.ToInt32(in.MetricDataQueries[0].MetricStat.Period) != 120 {
			t.Errorf("input = scan %s period %d", in.ScanBy, aws.ToInt32(in.MetricDataQueries[0].MetricStat.Period))
		}
	}
	if sizes[500] != 4 || sizes[200] != 2 {
		t.Errorf("query set sizes = %v", sizes)
	}
	for i, s := range series {
		if s.ID != queries[i].ID {
			t.Fatalf("series %d id %q, want %q", i, s.ID, queries[i].ID)
		}
		n := float64(len(queries[i].Metric.Name))
		if len(s.Times) != 2 || !s.Times[0].Equal(start) || s.Values[0] != n+2 || s.Values[1] != n+1 {
			t.Fatalf("series %d = %+v", i, s)
		}
	}
}

func TestMetricsErrorAndEmpty(t *testing.T) {
	cw := &fakeCloudWatch{metricData: func(*cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	}}
	c := newWithAPIs("us-east-1", apis{cw: cw}, Options{})
	s := c.NewSession()
	if out, err := s.Metrics(context.Background(), nil, time.Now(), time.Now()); out != nil || err != nil || len(cw.metricInputs) != 0 {
		t.Errorf("no queries: %v %v", out, err)
	}
	_, err := s.Metrics(context.Background(), []investigate.MetricQuery{{ID: "a", Metric: investigate.Metric{Namespace: "N", Name: "M"}}}, time.Now(), time.Now())
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" || err.Error() != "cloudwatch get metric data: api error Throttling: Rate exceeded" {
		t.Errorf("err = %v", err)
	}
}

func TestMetricPeriod(t *testing.T) {
	for in, want := range map[time.Duration]int32{0: 60, time.Second: 1, 3 * time.Second: 5, 20 * time.Second: 30, 45 * time.Second: 60, time.Minute: 60, 61 * time.Second: 120, 5 * time.Minute: 300} {
		if got := metricPeriod(in); got != want {
			t.Errorf("metricPeriod(%s) = %d, want %d", in, got, want)
		}
	}
}
