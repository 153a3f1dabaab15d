package awstelemetry

import (
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// askedPeriods are the periods of the GetMetricData calls' queries.
func askedPeriods(calls []map[string]any) []float64 {
	var out []float64
	for _, p := range calls {
		qs, _ := p["MetricDataQueries"].([]any)
		for _, q := range qs {
			ms, _ := q.(map[string]any)["MetricStat"].(map[string]any)
			v, _ := ms["Period"].(float64)
			out = append(out, v)
		}
	}
	return out
}

// TestMetricsPeriodFollowsAge: CloudWatch returns nothing for a period
// that is not a multiple of 60 s past 3 hours, of 300 s past 15 days, of
// 3600 s past 63 days; a query of a minute (or 10 s) is asked at the
// period the data's age allows, and the series says which.
func TestMetricsPeriodFollowsAge(t *testing.T) {
	for _, c := range []struct {
		name  string
		age   time.Duration // of the window's start, at the present
		asked time.Duration
		want  time.Duration
	}{
		{"an hour old, high resolution", time.Hour, 10 * time.Second, 10 * time.Second},
		{"four hours old, high resolution", 4 * time.Hour, 10 * time.Second, time.Minute},
		{"20 days old", 20 * 24 * time.Hour, time.Minute, 5 * time.Minute},
		{"70 days old", 70 * 24 * time.Hour, time.Minute, time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, w, c2 := newALBClient(t)
			start := w.Fires.Add(-12 * time.Hour)
			w.Present = start.Add(c.age)
			c2.opts.Present = func() time.Time { return w.Present }
			q := investigate.MetricQuery{ID: "rc", Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "RequestCount", Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}, Stat: "Sum", Period: c.asked}
			series, err := c2.NewSession().Metrics(ctxTimeout(t, 10*time.Second), []investigate.MetricQuery{q}, start, w.Fires)
			if err != nil {
				t.Fatal(err)
			}
			var params []map[string]any
			for _, call := range srv.Calls() {
				if call.Op == "GetMetricData" {
					params = append(params, call.Params)
				}
			}
			if got := askedPeriods(params); len(got) != 1 || time.Duration(got[0])*time.Second != c.want {
				t.Errorf("asked periods %v s, want %s", got, c.want)
			}
			s := series[0]
			if len(s.Values) == 0 || s.Period != c.want {
				t.Fatalf("series: %d points at period %s, want points at %s", len(s.Values), s.Period, c.want)
			}
			if gap := s.Times[1].Sub(s.Times[0]); gap != c.want {
				t.Errorf("points %s apart, want %s", gap, c.want)
			}
		})
	}
}

// TestMetricsBasicMonitoring: an instance with EC2 basic monitoring
// publishes every 5 minutes; its metrics are asked at 5 minutes whatever
// the alarm's period, and the series says so, so that a sum is not read
// as per minute.
func TestMetricsBasicMonitoring(t *testing.T) {
	srv, w, c := newALBClient(t)
	w.BasicMonitoring = true
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, err := s.Alarm(ctx, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := s.Topology(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := resource(topo, w.Bad); in.Config["monitoring"] != "basic" {
		t.Errorf("instance monitoring = %q, want basic", in.Config["monitoring"])
	}
	before := srv.Count("CloudWatch.GetMetricData")
	qs := []investigate.MetricQuery{
		{ID: "net", Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "NetworkIn", Dims: map[string]string{"InstanceId": w.Bad}}, Stat: "Sum", Period: time.Minute},
		{ID: "rc", Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "RequestCount", Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}, Stat: "Sum", Period: time.Minute},
	}
	series, err := s.Metrics(ctx, qs, w.Fires.Add(-time.Hour), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	var params []map[string]any
	for _, call := range srv.Calls()[before:] {
		if call.Op == "GetMetricData" {
			params = append(params, call.Params)
		}
	}
	if got := askedPeriods(params); len(got) != 2 || got[0] != 300 || got[1] != 60 {
		t.Errorf("asked periods %v, want 300 for the basic-monitoring instance and 60 for the load balancer", got)
	}
	if series[0].Period != 5*time.Minute || len(series[0].Values) != 12 || series[1].Period != time.Minute {
		t.Errorf("series periods %s (%d points), %s", series[0].Period, len(series[0].Values), series[1].Period)
	}
}

func TestChoosePeriod(t *testing.T) {
	now := ts("2024-12-03T10:33:00Z")
	for _, c := range []struct {
		asked, age, res time.Duration
		want            int32
	}{
		{time.Minute, time.Hour, 0, 60},
		{30 * time.Second, 2 * time.Hour, 0, 30},
		{30 * time.Second, 3*time.Hour + time.Second, 0, 60},
		{90 * time.Second, 10 * 24 * time.Hour, 0, 120},
		{2 * time.Minute, 16 * 24 * time.Hour, 0, 300},
		{10 * time.Minute, 16 * 24 * time.Hour, 0, 600},
		{5 * time.Minute, 64 * 24 * time.Hour, 0, 3600},
		{time.Minute, time.Hour, 5 * time.Minute, 300},
	} {
		if got := choosePeriod(c.asked, now.Add(-c.age), now, c.res); got != c.want {
			t.Errorf("choosePeriod(%s, age %s, resolution %s) = %d, want %d", c.asked, c.age, c.res, got, c.want)
		}
	}
}
