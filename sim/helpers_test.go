package sim

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// The ALB example (scenarios/alb-5xx-one-bad-instance.yaml) built by hand,
// so that the core tests do not depend on the loader.

const (
	inst1 = "i-0c5e1a2b3d4f50001"
	inst2 = "i-0c5e1a2b3d4f50002"
	inst3 = "i-0c5e1a2b3d4f50003"
)

var albOnset = time.Date(2024, 12, 3, 10, 30, 0, 0, time.UTC)

func fp(v float64) *float64 { return &v }

func albScenario() *scenario.Scenario {
	onset := albOnset
	s := &scenario.Scenario{
		Name:    "alb-5xx-one-bad-instance",
		Title:   "web ALB returns 5XX because bot-forge fails on one of three instances",
		Account: "123456789012",
		Region:  "us-east-1",
		Onset:   onset,
		History: 3 * time.Hour,
		Step:    time.Minute,
		Seed:    scenario.SeedOf("alb-5xx-one-bad-instance"),
		Alarm: scenario.Alarm{
			Name: "web-alb-target-5xx", Resource: "web-alb",
			Namespace: "AWS/ApplicationELB", MetricName: "HTTPCode_Target_5XX_Count",
			Stat: "Sum", Period: time.Minute, Threshold: 50, Comparison: "GreaterThanThreshold",
			Fires: onset.Add(3 * time.Minute),
		},
	}
	end := s.End()
	win := func(at time.Duration, ramp time.Duration) scenario.Window {
		return scenario.Window{At: onset.Add(at), Until: end, Ramp: ramp}
	}
	ec2 := func(id, az string) scenario.Resource {
		return scenario.Resource{ID: id, Type: "ec2", Name: id, AZ: az, InstanceType: "m5.large", ASG: "web-asg"}
	}
	s.Resources = []scenario.Resource{
		{ID: "sg-0bastion", Type: "security-group", Name: "sg-0bastion"},
		{ID: "web-alb", Type: "alb", Name: "web-alb", RPS: 40, Targets: []string{inst1, inst2, inst3},
			ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/c65b7ab4efb9f4cf"},
		ec2(inst1, "us-east-1a"), ec2(inst2, "us-east-1b"), ec2(inst3, "us-east-1c"),
		{ID: "web-asg", Type: "asg", Name: "web-asg", Min: 3, Max: 6, Desired: 3},
		{ID: "bot-forge", Type: "service", Name: "bot-forge", RunsOn: []string{inst1, inst2, inst3},
			Calls: []string{"forge-templates"}, LogGroup: "/app/bot-forge"},
		{ID: "forge-templates", Type: "dynamodb", Name: "forge-templates", Mode: "on-demand"},
	}
	s.Metrics = []scenario.MetricItem{
		{Window: win(0, 0), Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "HTTPCode_Target_5XX_Count", Value: fp(800)},
		{Window: win(0, 0), Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "HTTPCode_ELB_5XX_Count", Value: fp(4)},
		{Window: win(-40*time.Minute, 30*time.Minute), Resource: "web-alb", Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Value: fp(2700)},
	}
	s.Logs = []scenario.LogItem{{
		Window: win(0, 0), Service: "bot-forge", Group: "/app/bot-forge", On: inst3, Level: "error", PerMin: 800,
		Text: "ERROR request {id} failed: render reply: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory",
	}}
	s.Traces = []scenario.TraceItem{{
		Window: win(0, 0), Caller: "web-alb", Callee: "bot-forge", On: inst3, Fault: fp(1),
		Exception: "TemplateError: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory",
	}}
	s.Changes = []scenario.ChangeItem{{
		At: onset.Add(-2 * time.Hour), Event: "AuthorizeSecurityGroupIngress", Source: "ec2.amazonaws.com",
		Resource: "sg-0bastion", Actor: "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/kenji",
	}}
	return s
}

// load reads one of the example scenarios with the loader.
func load(t testing.TB, name string) *scenario.Scenario {
	t.Helper()
	f, err := scenario.Load(os.DirFS("../scenarios"), name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return f.Scenario
}

var bg = context.Background()

func albDims() map[string]string {
	return map[string]string{"LoadBalancer": "app/web-alb/c65b7ab4efb9f4cf"}
}

func albQuery(id, name, stat string, period time.Duration) investigate.MetricQuery {
	return investigate.MetricQuery{ID: id, Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: name, Dims: albDims()}, Stat: stat, Period: period}
}

func metrics(t testing.TB, s *Sim, q investigate.MetricQuery, start, end time.Time) investigate.Series {
	t.Helper()
	out, err := s.Metrics(bg, []investigate.MetricQuery{q}, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].ID != q.ID {
		t.Fatalf("Metrics returned %+v, want one series %q", out, q.ID)
	}
	return out[0]
}

func logs(t testing.TB, s *Sim, group string, start, end time.Time) investigate.LogStats {
	t.Helper()
	st, err := s.Logs(bg, investigate.LogQuery{Group: group, Start: start, End: end})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func traces(t testing.TB, s *Sim, start, end time.Time) []investigate.TraceGroup {
	t.Helper()
	g, err := s.Traces(bg, investigate.TraceQuery{Start: start, End: end})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func findGroup(gs []investigate.TraceGroup, caller, callee, instance string) (investigate.TraceGroup, bool) {
	for _, g := range gs {
		if g.Caller == caller && g.Callee == callee && g.Instance == instance {
			return g, true
		}
	}
	return investigate.TraceGroup{}, false
}

// errorLines counts the lines of stream whose pattern starts with ERROR.
func errorLines(st investigate.LogStats, stream string) int {
	n := 0
	for _, p := range st.Patterns {
		if strings.HasPrefix(p.Pattern, "ERROR") {
			n += p.ByStream[stream]
		}
	}
	return n
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// valuesIn are the values of s with times in [a, b).
func valuesIn(s investigate.Series, a, b time.Time) []float64 {
	var out []float64
	for i, t := range s.Times {
		if !t.Before(a) && t.Before(b) {
			out = append(out, s.Values[i])
		}
	}
	return out
}
