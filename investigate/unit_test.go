package investigate

import (
	"testing"
	"time"
)

// TestUnitFollowsSeriesPeriod: a sum read at 5 minutes (EC2 basic
// monitoring, or data too old for minutes) reads per 5 minutes, not per
// minute as the catalogue writes it, and other units name the period;
// series whose source says nothing keep the investigation's step.
func TestUnitFollowsSeriesPeriod(t *testing.T) {
	net := metricSpec{Namespace: "AWS/EC2", Name: "NetworkIn", Stat: "Sum", Unit: "bytes/min"}
	cpu := metricSpec{Namespace: "AWS/EC2", Name: "CPUUtilization", Stat: "Average", Unit: "%"}
	p := &pending[map[string]Series]{done: make(chan struct{}), val: map[string]Series{
		metricKey("i-basic", net): {Period: 5 * time.Minute},
		metricKey("i-basic", cpu): {Period: 5 * time.Minute},
		metricKey("i-sim", net):   {},
	}}
	close(p.done)
	r := &run{step: time.Minute, metrics: p}
	for _, c := range []struct {
		id   string
		spec metricSpec
		want string
	}{
		{"i-basic", net, "bytes/5 min"},
		{"i-basic", cpu, "% (5 min periods)"},
		{"i-sim", net, "bytes/min"},
		{"i-unread", cpu, "%"},
	} {
		if got := r.unit(c.id, c.spec); got != c.want {
			t.Errorf("unit(%s, %s) = %q, want %q", c.id, c.spec.Name, got, c.want)
		}
	}
}
