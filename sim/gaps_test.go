package sim

import (
	"math"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// TestSilentSeries: a silent item leaves its window without datapoints
// (no zeros), an item without a metric silences every series of its
// resource, and what aggregates over a group of instances goes on with the
// ones that still report.
func TestSilentSeries(t *testing.T) {
	sc := albScenario()
	end := sc.End()
	sc.Metrics = append(sc.Metrics,
		// inst2 stops at the onset: everything it reports.
		scenario.MetricItem{Window: scenario.Window{At: albOnset, Until: end}, Resource: inst2, Silent: true},
		// inst1's CPU has a ten-minute gap an hour before.
		scenario.MetricItem{Window: scenario.Window{At: albOnset.Add(-time.Hour), Until: albOnset.Add(-50 * time.Minute)}, Resource: inst1,
			Namespace: "AWS/EC2", MetricName: "CPUUtilization", Silent: true},
	)
	s := New(sc, Options{})
	start := sc.Start()
	ec2 := func(inst, name string) investigate.Series {
		return metrics(t, s, investigate.MetricQuery{ID: name, Metric: investigate.Metric{Namespace: "AWS/EC2", Name: name, Dims: map[string]string{"InstanceId": inst}}, Stat: "Average", Period: time.Minute}, start, s.Now())
	}
	minutes := int(s.Now().Sub(start) / time.Minute) // every period has ended by now

	for _, c := range []struct {
		name     string
		got      investigate.Series
		wantN    int
		gapStart time.Time
		gapEnd   time.Time
	}{
		{"inst2 CPU stops at the onset", ec2(inst2, "CPUUtilization"), 180, albOnset, s.Now()},
		{"inst2 network stops too", ec2(inst2, "NetworkIn"), 180, albOnset, s.Now()},
		{"inst1 CPU has a gap", ec2(inst1, "CPUUtilization"), minutes - 10, albOnset.Add(-time.Hour), albOnset.Add(-50 * time.Minute)},
		{"inst1 network has none", ec2(inst1, "NetworkIn"), minutes, time.Time{}, time.Time{}},
		{"inst3 reports throughout", ec2(inst3, "CPUUtilization"), minutes, time.Time{}, time.Time{}},
	} {
		if len(c.got.Times) != c.wantN || len(c.got.Values) != c.wantN {
			t.Errorf("%s: %d datapoints, want %d", c.name, len(c.got.Times), c.wantN)
		}
		for i, ts := range c.got.Times {
			if !ts.Before(c.gapStart) && ts.Before(c.gapEnd) {
				t.Errorf("%s: a datapoint %v at %s, inside the gap", c.name, c.got.Values[i], ts.Format("15:04"))
				break
			}
			if c.got.Values[i] == 0 {
				t.Errorf("%s: a zero at %s: a gap must be no datapoint, not zero", c.name, ts.Format("15:04"))
				break
			}
		}
	}

	// The group's CPU goes on over the two that report; it is no lower
	// for the one that stopped.
	asg := metrics(t, s, investigate.MetricQuery{ID: "asg", Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"AutoScalingGroupName": "web-asg"}}, Stat: "Average", Period: time.Minute}, start, s.Now())
	if len(asg.Values) != minutes {
		t.Fatalf("group CPU: %d datapoints, want %d", len(asg.Values), minutes)
	}
	if before, during := mean(valuesIn(asg, start, albOnset)), mean(valuesIn(asg, albOnset, s.Now())); during < 0.7*before {
		t.Errorf("group CPU falls from %.1f to %.1f: a silent member counted as zero", before, during)
	}
}

// TestPercentiles: a latency's p99 ≥ p90 ≥ average at every period; healthy,
// they are the average's tail; an item that moves only p99 lifts the tail
// many times more than the average; p90 and p99 beside a value hold; a
// series a csv file replaces has no percentiles.
func TestPercentiles(t *testing.T) {
	sc := albScenario()
	end := sc.End()
	from := func(d time.Duration) scenario.Window { return scenario.Window{At: albOnset.Add(d), Until: end} }
	var csv []scenario.Point
	for i := 0; i < 300; i++ {
		csv = append(csv, scenario.Point{Time: sc.Start().Add(time.Duration(i) * time.Minute), Value: 0.05})
	}
	sc.Metrics = append(sc.Metrics,
		scenario.MetricItem{Window: from(0), Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "TargetResponseTime", P99: fp(2.5)},
		scenario.MetricItem{Window: from(0), Resource: inst1, Namespace: "AWS/EC2", MetricName: "CPUUtilization", CSV: csv},
	)
	s := New(sc, Options{})
	start := sc.Start()
	trt := func(stat string) investigate.Series {
		return metrics(t, s, albQuery(stat, "TargetResponseTime", stat, time.Minute), start, s.Now())
	}
	avg, p90, p99, p50 := trt("Average"), trt("p90"), trt("p99"), trt("p50")
	if len(avg.Values) == 0 || len(p99.Values) != len(avg.Values) || len(p90.Values) != len(avg.Values) {
		t.Fatalf("datapoints: average %d, p90 %d, p99 %d", len(avg.Values), len(p90.Values), len(p99.Values))
	}
	for i := range avg.Values {
		if !(p99.Values[i] >= p90.Values[i] && p90.Values[i] >= avg.Values[i] && avg.Values[i] > 0) {
			t.Fatalf("%s: average %.4f, p90 %.4f, p99 %.4f: want p99 ≥ p90 ≥ average", avg.Times[i].Format("15:04"), avg.Values[i], p90.Values[i], p99.Values[i])
		}
	}
	if p50.Values[0] != avg.Values[0] {
		t.Errorf("healthy p50 %v, want the average %v (the healthy model's median)", p50.Values[0], avg.Values[0])
	}
	healthyAvg, healthyP99 := mean(valuesIn(avg, start, albOnset)), mean(valuesIn(p99, start, albOnset))
	if r := healthyP99 / healthyAvg; math.Abs(r-tail(0.99)) > 1e-9 {
		t.Errorf("healthy p99 is %.3f × the average, want the tail %.3f", r, tail(0.99))
	}
	faultAvg, faultP99 := mean(valuesIn(avg, albOnset, s.Now())), mean(valuesIn(p99, albOnset, s.Now()))
	if math.Abs(faultP99-2.5) > 0.25 {
		t.Errorf("p99 since the onset %.3f, want about 2.5", faultP99)
	}
	if lift, tailLift := faultAvg/healthyAvg, faultP99/healthyP99; !(lift > 1.05 && lift < 1.6 && tailLift > 10*lift) {
		t.Errorf("the average rises ×%.2f and p99 ×%.1f: want a slight rise of the average and the tail far more", lift, tailLift)
	}

	// p90 and p99 beside a value.
	sc2 := albScenario()
	sc2.Metrics = append(sc2.Metrics, scenario.MetricItem{Window: from(0), Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "TargetResponseTime",
		Value: fp(0.2), Noise: fp(0), P90: fp(0.5), P99: fp(3)})
	s2 := New(sc2, Options{})
	for stat, want := range map[string]float64{"Average": 0.2, "p90": 0.5, "p99": 3} {
		got := metrics(t, s2, albQuery(stat, "TargetResponseTime", stat, time.Minute), albOnset, s2.Now())
		if len(got.Values) == 0 || math.Abs(got.Values[0]-want) > 1e-9 {
			t.Errorf("%s beside a value: %v, want %v", stat, got.Values, want)
		}
	}

	// A csv series: its statistic only.
	cpu := func(stat string) investigate.Series {
		return metrics(t, s, investigate.MetricQuery{ID: stat, Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": inst1}}, Stat: stat, Period: time.Minute}, albOnset, s.Now())
	}
	if a, p := cpu("Average"), cpu("p99"); len(a.Values) == 0 || len(p.Values) != 0 {
		t.Errorf("csv series: %d averages and %d p99 datapoints, want some and none", len(a.Values), len(p.Values))
	}
}
