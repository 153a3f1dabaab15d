package awstelemetry

import (
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// TestALBMetricsPerZone reads the load balancer's metrics per Availability
// Zone through GetMetricData, as CloudWatch publishes them under
// LoadBalancer and AvailabilityZone (or TargetGroup, LoadBalancer and
// AvailabilityZone): each zone's series is its own, so the zone of the bad
// instance alone has the 5XX, and a zone the load balancer is not in has
// no metric at all.
func TestALBMetricsPerZone(t *testing.T) {
	_, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	bad := awstest.AZs[slices.Index(w.Instances, w.Bad)]
	cases := []struct {
		name      string
		dims      map[string]string
		wantAfter float64 // the 5XX after the onset; -1: no datapoints
	}{
		{"the bad instance's zone", map[string]string{"LoadBalancer": awstest.LBDimension, "AvailabilityZone": bad}, 800},
		{"a healthy zone", map[string]string{"LoadBalancer": awstest.LBDimension, "AvailabilityZone": "us-east-1a"}, 0},
		{"the bad zone of the target group", map[string]string{"TargetGroup": awstest.TGDimension, "LoadBalancer": awstest.LBDimension, "AvailabilityZone": bad}, 800},
		{"a zone it is not in", map[string]string{"LoadBalancer": awstest.LBDimension, "AvailabilityZone": "us-east-1d"}, -1},
		{"a zone of another load balancer", map[string]string{"LoadBalancer": "app/other-alb/0123456789abcdef", "AvailabilityZone": bad}, -1},
	}
	var qs []investigate.MetricQuery
	for _, c := range cases {
		qs = append(qs, investigate.MetricQuery{ID: c.name, Stat: "Sum", Period: time.Minute,
			Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: c.dims}})
	}
	series, err := s.Metrics(ctx, qs, w.Onset.Add(-30*time.Minute), w.Fires)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got := series[i]
		if got.ID != c.name {
			t.Fatalf("series %d is %q, want %q", i, got.ID, c.name)
		}
		if c.wantAfter < 0 {
			if len(got.Values) > 0 {
				t.Errorf("%s: %d datapoints, want none", c.name, len(got.Values))
			}
			continue
		}
		var after float64
		n := 0
		for j, at := range got.Times {
			if !at.Before(w.Onset) {
				after += got.Values[j]
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no datapoint after the onset: %+v", c.name, got)
		}
		if mean := after / float64(n); mean < 0.9*c.wantAfter || mean > 1.1*c.wantAfter+1 {
			t.Errorf("%s: %v 5XX a minute after the onset, want about %v", c.name, mean, c.wantAfter)
		}
	}
}

// TestEngineReadsTheZones: an investigation asks CloudWatch for the load
// balancer's metrics in each of its zones, and still names the one bad
// instance, not its zone: the zone's other peers are none.
func TestEngineReadsTheZones(t *testing.T) {
	srv, w, c := newALBClient(t)
	s := c.NewSession()
	rep, err := investigate.New(s.Sources(), investigate.Options{Clock: func() time.Time { return w.Fires }}).
		Run(ctxTimeout(t, 60*time.Second), investigate.Request{Alarm: "web-alb-target-5xx", Now: w.Fires}, nil)
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]bool{}
	for _, call := range srv.Calls() {
		if call.Op != "GetMetricData" {
			continue
		}
		qs, _ := call.Params["MetricDataQueries"].([]any)
		for _, q := range qs {
			m := q.(map[string]any)["MetricStat"].(map[string]any)["Metric"].(map[string]any)
			ds, _ := m["Dimensions"].([]any)
			for _, d := range ds {
				if dm := d.(map[string]any); dm["Name"] == "AvailabilityZone" {
					asked[dm["Value"].(string)] = true
				}
			}
		}
	}
	for _, z := range awstest.AZs {
		if !asked[z] {
			t.Errorf("no GetMetricData query for zone %s (asked: %v)", z, asked)
		}
	}
	if len(rep.Hypotheses) == 0 || rep.Hypotheses[0].Resource != w.Bad {
		t.Fatalf("hypotheses %+v, want %s first", rep.Hypotheses, w.Bad)
	}
}
