package awstelemetry

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// TestMetricsKeepGaps: GetMetricData returns only the periods that have
// data ("Timestamps: The timestamps for the data points, formatted in Unix
// timestamp format. The number of timestamps always matches the number of
// values and the value for Timestamps[x] is Values[x]", API reference,
// MetricDataResult), so a period without data is a missing timestamp. The
// series the engine gets has the same gaps: no zero put in, nothing
// shifted, whatever the pages.
func TestMetricsKeepGaps(t *testing.T) {
	start := ts("2024-12-03T10:00:00Z")
	minute := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	// Minutes 0–9 and 20–29 of the first series (a host that stopped for
	// ten minutes); the second reports every other minute; the third
	// never.
	var holes, sparse awstest.MetricSeries
	for m := 0; m < 30; m++ {
		if m < 10 || m >= 20 {
			holes.Times, holes.Values = append(holes.Times, minute(m)), append(holes.Values, 20+float64(m))
		}
		if m%2 == 0 {
			sparse.Times, sparse.Values = append(sparse.Times, minute(m)), append(sparse.Values, 3)
		}
	}
	srv, c := newServerClient(t, func(o *Options) { o.Present = func() time.Time { return minute(30) } })
	srv.Handle("CloudWatch.GetMetricData", func(r *awstest.Request) any {
		holes.ID, sparse.ID = "q0", "q1"
		none := awstest.MetricSeries{ID: "q2", Times: []time.Time{}, Values: []float64{}}
		return awstest.PageMetricData(r, []awstest.MetricSeries{holes, sparse, none}, 7) // pages of 7 datapoints
	})
	q := func(id string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: id, Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": id}}, Stat: "Average", Period: time.Minute}
	}
	series, err := c.NewSession().Metrics(ctxTimeout(t, 10*time.Second), []investigate.MetricQuery{q("i-holes"), q("i-sparse"), q("i-none")}, start, minute(30))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []awstest.MetricSeries{holes, sparse, {}} {
		got := series[i]
		if len(got.Times) != len(want.Times) || len(got.Values) != len(want.Values) {
			t.Errorf("%s: %d datapoints, want %d (the answered ones, no more)", got.ID, len(got.Times), len(want.Times))
			continue
		}
		for k := range want.Times {
			if !got.Times[k].Equal(want.Times[k]) || got.Values[k] != want.Values[k] {
				t.Errorf("%s[%d] = %s %v, want %s %v", got.ID, k, got.Times[k].Format("15:04"), got.Values[k], want.Times[k].Format("15:04"), want.Values[k])
				break
			}
		}
	}
	if srv.Count("CloudWatch.GetMetricData") < 2 {
		t.Errorf("GetMetricData calls = %d, want the answer read over several pages", srv.Count("CloudWatch.GetMetricData"))
	}
}

// TestMetricsOfAStoppedInstance: in the ALB world, an instance that stops
// reporting at the onset has no datapoints since in what the session
// returns, while its peers' go on.
func TestMetricsOfAStoppedInstance(t *testing.T) {
	_, w, c := newALBClient(t)
	stopped := w.Instances[1]
	w.Silent = map[string]time.Time{stopped: w.Onset}
	start := w.Onset.Add(-30 * time.Minute)
	var queries []investigate.MetricQuery
	for _, id := range w.Instances {
		queries = append(queries, investigate.MetricQuery{ID: id, Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": id}}, Stat: "Average", Period: time.Minute})
	}
	series, err := c.NewSession().Metrics(ctxTimeout(t, 10*time.Second), queries, start, w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		var since int
		for i, at := range s.Times {
			if !at.Before(w.Onset) {
				since++
			}
			if s.Values[i] == 0 || math.IsNaN(s.Values[i]) {
				t.Errorf("%s: %v at %s", s.ID, s.Values[i], at.Format("15:04"))
			}
		}
		want := int(w.Fires.Sub(w.Onset) / time.Minute)
		if s.ID == stopped {
			want = 0
		}
		if since != want || len(s.Times)-since != 30 {
			t.Errorf("%s: %d datapoints before the onset and %d since, want 30 and %d", s.ID, len(s.Times)-since, since, want)
		}
	}
}

// TestMetricsPercentile: a query at p99 goes out as MetricStat.Stat "p99"
// and gets the percentile back; one at p100.5, which is no statistic,
// fails as CloudWatch fails it, and the error says so.
func TestMetricsPercentile(t *testing.T) {
	srv, w, c := newALBClient(t)
	trt := func(stat string) investigate.MetricQuery {
		return investigate.MetricQuery{ID: stat, Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}, Stat: stat, Period: time.Minute}
	}
	ctx := ctxTimeout(t, 10*time.Second)
	series, err := c.NewSession().Metrics(ctx, []investigate.MetricQuery{trt("Average"), trt("p99")}, w.Onset.Add(-10*time.Minute), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	var stats []string
	for _, call := range srv.Calls() {
		if call.Op != "GetMetricData" {
			continue
		}
		for _, q := range call.Params["MetricDataQueries"].([]any) {
			stats = append(stats, q.(map[string]any)["MetricStat"].(map[string]any)["Stat"].(string))
		}
	}
	if len(stats) != 2 || stats[0] != "Average" || stats[1] != "p99" {
		t.Errorf("stats asked %v, want [Average p99]", stats)
	}
	avg, p99 := series[0], series[1]
	if len(avg.Values) == 0 || len(p99.Values) != len(avg.Values) {
		t.Fatalf("datapoints: average %d, p99 %d", len(avg.Values), len(p99.Values))
	}
	for i := range avg.Values {
		if r := p99.Values[i] / avg.Values[i]; math.Abs(r-(1+math.Pow(0.99, 4))) > 1e-9 {
			t.Errorf("%s: p99 %v is %.3f × the average %v", avg.Times[i].Format("15:04"), p99.Values[i], r, avg.Values[i])
			break
		}
	}

	_, err = c.NewSession().Metrics(ctx, []investigate.MetricQuery{trt("p99"), trt("p100.5")}, w.Onset.Add(-10*time.Minute), w.Fires)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("p100.5: err = %v, want InvalidParameterValue", err)
	}
}
