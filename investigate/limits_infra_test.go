package investigate

import (
	"strings"
	"testing"
	"time"
)

// natEnv is webEnv with its instances' traffic out leaving through a NAT
// gateway, and the calls to the external payments API failing since t0.
func natEnv(portErrors float64) *fake {
	f := webEnv()
	f.topo.Resources = append(f.topo.Resources,
		Resource{ID: "nat-1", Type: TypeNATGateway, Dims: map[string]string{"NatGatewayId": "nat-1"}})
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		f.topo.Relations = append(f.topo.Relations, Relation{i, "nat-1", RelUses})
	}
	f.series["nat-1|AWS/NATGateway|ErrorPortAllocation"] = level(0, portErrors, t0)
	f.series["nat-1|AWS/NATGateway|ActiveConnectionCount"] = level(54000, 55000, t0)
	f.series["nat-1|AWS/NATGateway|PacketsDropCount"] = level(0, 0, t0)
	f.traces = tracesOf(alter(webEdges(), into("payments"), failing(0.5, "dial tcp 203.0.113.40:443: connect: connection timed out"))...)
	return f
}

// TestNATGatewayOutOfPorts: calls out to an external API fail; when the
// NAT gateway they leave through turns connections away for want of ports,
// the gateway is the limit to act on and the API steps back; when it does
// not, the API is the failing dependency.
func TestNATGatewayOutOfPorts(t *testing.T) {
	for _, c := range []struct {
		name       string
		portErrors float64
		cause      Cause
		resource   string
		action     ActionKind
		detail     string
	}{
		{"ports run out", 900, CauseLimit, "nat-1", ActionScale, "secondary Elastic IP addresses"},
		{"ports to spare", 0, CauseDependency, "payments", ActionExclude, "Fail away from payments"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := investigateFake(t, natEnv(c.portErrors))
			h := top(t, rep)
			if h.Cause != c.cause || h.Resource != c.resource {
				t.Fatalf("top is %s %s (%.2f), want %s %s; all: %+v", h.Cause, h.Resource, h.Confidence, c.cause, c.resource, rep.Hypotheses)
			}
			if a := h.Actions[0]; a.Kind != c.action || !strings.Contains(a.Detail, c.detail) {
				t.Errorf("first action %s %q, want %s containing %q", a.Kind, a.Detail, c.action, c.detail)
			}
		})
	}
}

// TestCompetesForGatewayPorts: a host behind the same NAT gateway takes
// ports from the alarm's path only when it calls one of the same external
// destinations; what it shares otherwise it competes for.
func TestCompetesForGatewayPorts(t *testing.T) {
	f := natEnv(900)
	f.topo.Resources = append(f.topo.Resources,
		Resource{ID: "i-9", Type: TypeEC2}, Resource{ID: "batch", Type: TypeService},
		Resource{ID: "maps", Type: TypeExternal})
	f.topo.Relations = append(f.topo.Relations,
		Relation{"batch", "i-9", RelRunsOn}, Relation{"i-9", "nat-1", RelUses})
	for _, c := range []struct {
		name   string
		calls  string
		shared string
		want   bool
	}{
		{"same destination", "payments", "nat-1", true},
		{"another destination", "maps", "nat-1", false},
		{"not a gateway", "maps", "table", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			topo := f.topo
			topo.Relations = append(append([]Relation(nil), f.topo.Relations...), Relation{"batch", c.calls, RelCalls})
			r := &run{g: newGraph(topo, "web-alb")}
			path := r.g.downstream("web-alb")
			if got := r.competes("i-9", c.shared, path); got != c.want {
				t.Errorf("competes(i-9, %s) with batch calling %s = %v, want %v", c.shared, c.calls, got, c.want)
			}
		})
	}
}

// ebsEnv is one instance behind a load balancer, its volume out of burst
// credits from t0 on when drained, and the requests slow since.
func ebsEnv(drained bool) *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "web-latency", Resource: "web-alb", Region: "us-east-1",
		Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
		Stat:   "Average", Period: time.Minute, Threshold: 1, Comparison: "GreaterThanThreshold", State: "ALARM",
		History: []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}},
	}
	f.topo = Topology{
		Resources: []Resource{
			{ID: "web-alb", Type: TypeALB, Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
			{ID: "i-1", Type: TypeEC2, Dims: map[string]string{"InstanceId": "i-1"}, Config: map[string]string{"instance_type": "m5.large"}},
			{ID: "app", Type: TypeService, LogGroup: "/app/app"},
			{ID: "vol-1", Type: TypeEBS, Dims: map[string]string{"VolumeId": "vol-1"}, Config: map[string]string{"volume_type": "gp2", "baseline_iops": "300", "instance": "i-1"}},
		},
		Relations: []Relation{{"web-alb", "i-1", RelTargets}, {"app", "i-1", RelRunsOn}, {"i-1", "vol-1", RelUses}},
	}
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.05, 1.6, t0)
	f.series["web-alb|AWS/ApplicationELB|RequestCount"] = level(2400, 2400, t0)
	f.series["i-1|AWS/EC2|CPUUtilization"] = level(25, 22, t0)
	balance, queue := 100.0, 0.1
	if drained {
		balance, queue = 0, 30
	}
	f.series["vol-1|AWS/EBS|BurstBalance"] = level(100, balance, t0)
	f.series["vol-1|AWS/EBS|VolumeQueueLength"] = level(0.1, queue, t0)
	f.series["vol-1|AWS/EBS|VolumeReadOps"] = level(1200, 1200, t0)
	f.traces = tracesOf(edge{caller: "web-alb", callee: "app", instance: "i-1", perMin: 60, latency: 40 * time.Millisecond, latencyAfter: 1600 * time.Millisecond, from: t0})
	return f
}

// TestEBSBurstBalanceRunsOut: requests slow down on an instance whose gp2
// volume ran out of burst credits: the volume is the limit, and the move is
// gp3 with provisioned IOPS. With credits left, the volume is no suspect.
func TestEBSBurstBalanceRunsOut(t *testing.T) {
	rep := investigateFake(t, ebsEnv(true))
	h := top(t, rep)
	if h.Cause != CauseLimit || h.Resource != "vol-1" {
		t.Fatalf("top is %s %s (%.2f), want limit vol-1; all: %+v", h.Cause, h.Resource, h.Confidence, rep.Hypotheses)
	}
	if a := h.Actions[0]; a.Kind != ActionScale || !strings.Contains(a.Detail, "gp3") {
		t.Errorf("first action %s %q, want scale to gp3", a.Kind, a.Detail)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || strings.Contains(f.Summary, "held to its baseline of 300 IOPS")
	}
	if !found {
		t.Errorf("no finding says the volume is held to its baseline IOPS: %+v", rep.Findings)
	}

	rep = investigateFake(t, ebsEnv(false))
	for _, h := range rep.Hypotheses {
		if h.Resource == "vol-1" {
			t.Errorf("a volume with its credits is a suspect: %+v", h)
		}
	}
}
