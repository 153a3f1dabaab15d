package investigate

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// zoneHosts are six instances, two in each of three zones.
var zoneHosts = []string{"i-a1", "i-a2", "i-b1", "i-b2", "i-c1", "i-c2"}

const zoneALBARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc6c495c0c9188"

// zoneEnv is an ALB in front of the six instances running app, which calls
// a table. The instances named in failing fail their requests from t0 on,
// and log an error; the ALB's 5XX rise, in total and in the zones of the
// failing instances.
func zoneEnv(bad ...string) *fake {
	f := newFake()
	f.alarm = Alarm{
		Name: "web-5xx", Resource: "web-alb", Region: "us-east-1",
		Metric: Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
		Stat:   "Sum", Period: time.Minute, Threshold: 50, Comparison: "GreaterThanThreshold", State: "ALARM",
		History: []AlarmStateChange{{Time: t0.Add(3 * time.Minute), From: "OK", To: "ALARM"}},
	}
	f.topo = Topology{Resources: []Resource{
		{ID: "web-alb", Type: TypeALB, ARN: zoneALBARN, Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}},
		{ID: "app", Type: TypeService, LogGroup: "/app/app"},
		{ID: "table", Type: TypeDynamoDB, Dims: map[string]string{"TableName": "table"}},
	}}
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "table", RelCalls})
	var lines []logLine
	var es []edge
	for _, h := range zoneHosts {
		az := "us-east-1" + h[2:3]
		f.topo.Resources = append(f.topo.Resources, Resource{ID: h, Type: TypeEC2, AZ: az, Dims: map[string]string{"InstanceId": h}})
		f.topo.Relations = append(f.topo.Relations, Relation{"web-alb", h, RelTargets}, Relation{"app", h, RelRunsOn})
		lines = append(lines,
			logLine{"INFO request <*> GET /api/items 200 <*>ms", h, 400, time.Time{}},
			logLine{"ERROR upstream request timed out after <*>ms, retrying", h, 0.2, time.Time{}})
		e := edge{caller: "web-alb", callee: "app", instance: h, perMin: 60, latency: 40 * time.Millisecond}
		if slices.Contains(bad, h) {
			lines = append(lines, logLine{"ERROR request <*> failed: dial tcp <*>:443: i/o timeout", h, 200, t0})
			failing(0.5, "RequestError: dial tcp: i/o timeout")(&e)
		}
		es = append(es, e, edge{caller: "app", callee: "table", instance: h, perMin: 60, latency: 6 * time.Millisecond})
	}
	f.logs["/app/app"] = logsOf(lines...)
	f.traces = tracesOf(es...)
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(3, 3+150*float64(len(bad)), t0)
	f.series["web-alb|AWS/ApplicationELB|RequestCount"] = level(2400, 2400, t0)
	f.series["*|AWS/EC2|CPUUtilization"] = level(25, 25, t0)
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		n := 0
		for _, h := range bad {
			if "us-east-1"+h[2:3] == z {
				n++
			}
		}
		f.series[zoneKey("web-alb", z, catalog[TypeALB][1])] = level(1, 1+150*float64(n), t0)
	}
	return f
}

func TestFailingZone(t *testing.T) {
	g := newGraph(zoneEnv().topo, "web-alb")
	cases := []struct {
		name    string
		failing []string
		zone    string // "" for none
	}{
		{"every peer of one zone", []string{"i-b1", "i-b2"}, "us-east-1b"},
		{"one peer alone stays that peer", []string{"i-b1"}, ""},
		{"peers of two zones", []string{"i-a1", "i-b1"}, ""},
		{"one zone and a peer elsewhere", []string{"i-b1", "i-b2", "i-c1"}, ""},
		{"every peer of every zone", zoneHosts, ""},
		{"nothing fails", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			failing := map[string]bool{}
			for _, h := range c.failing {
				failing[h] = true
			}
			zf, ok := failingZone(g, zoneHosts, failing)
			if got := zf.zone; ok != (c.zone != "") || got != c.zone {
				t.Fatalf("failingZone = %q, %v; want %q", got, ok, c.zone)
			}
			if ok && (!slices.Equal(zf.failing, c.failing) || len(zf.healthy) != len(zoneHosts)-len(c.failing) || !slices.Equal(zf.others, []string{"us-east-1a", "us-east-1c"})) {
				t.Errorf("zone failure = %+v", zf)
			}
		})
	}
	// A zone of one member: its failing member is as much that member as
	// the zone, and the member is the narrower answer.
	one := zoneEnv().topo
	one.Resources = slices.DeleteFunc(one.Resources, func(r Resource) bool { return r.ID == "i-b2" })
	if zf, ok := failingZone(newGraph(one, "web-alb"), []string{"i-a1", "i-a2", "i-b1", "i-c1", "i-c2"}, map[string]bool{"i-b1": true}); ok {
		t.Errorf("one member alone in its zone: got zone %+v", zf)
	}
}

func TestZoneIsTheCulprit(t *testing.T) {
	cases := []struct {
		name     string
		failing  []string
		health   bool // AWS Health posts an EC2 issue for us-east-1b
		cause    Cause
		resource string
	}{
		{"one zone's peers fail together", []string{"i-b1", "i-b2"}, false, CauseComponent, "us-east-1b"},
		{"AWS Health says the zone is impaired", []string{"i-b1", "i-b2"}, true, CauseDependency, "us-east-1b"},
		{"one instance fails alone", []string{"i-b1"}, false, CauseComponent, "i-b1"},
		{"instances of two zones fail", []string{"i-a1", "i-b1"}, false, "", ""},
		{"the whole group fails", zoneHosts, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := zoneEnv(c.failing...)
			if c.health {
				f.health = []HealthEvent{{Service: "EC2", Type: "AWS_EC2_OPERATIONAL_ISSUE", Status: "open", AZ: "us-east-1b",
					Start: t0.Add(2 * time.Minute), Description: "Increased packet loss for EC2 instances in a single Availability Zone."}}
			}
			rep := investigateFake(t, f)
			h := top(t, rep)
			for i, x := range rep.Hypotheses {
				if strings.HasPrefix(x.Resource, "us-east-1") && (c.resource == "" || i > 0 && c.resource != x.Resource) {
					t.Errorf("hypothesis %d names zone %s (%s); want none", i+1, x.Resource, x.Cause)
				}
			}
			if c.resource == "" {
				return
			}
			if h.Cause != c.cause || h.Resource != c.resource {
				t.Fatalf("top = %s %s, want %s %s; all: %+v", h.Cause, h.Resource, c.cause, c.resource, rep.Hypotheses)
			}
			if c.resource != "us-east-1b" {
				return
			}
			a := h.Actions[0]
			if a.Kind != ActionExclude || !strings.Contains(a.Detail, "web-alb") || !strings.Contains(a.Detail, "--away-from") ||
				!strings.Contains(a.Detail, zoneALBARN) || !strings.Contains(a.Detail, "i-b1, i-b2") {
				t.Errorf("first action = %s: %s; want a zonal shift of web-alb away from us-east-1b", a.Kind, a.Detail)
			}
			perZone := false
			for _, id := range h.Evidence {
				if fd, ok := rep.Finding(id); ok && fd.Resource == "web-alb" && strings.Contains(fd.Summary, "HTTPCode_Target_5XX_Count in us-east-1b") {
					perZone = true
				}
			}
			if !perZone {
				t.Errorf("the zone's hypothesis does not cite the load balancer's 5XX in us-east-1b: %v", h.Evidence)
			}
		})
	}
}

// The zonal shift names the zone by its AZ ID when the topology knows it.
func TestZonalShiftNamesTheZoneID(t *testing.T) {
	f := zoneEnv("i-b1", "i-b2")
	for i := range f.topo.Resources {
		if r := &f.topo.Resources[i]; r.AZ == "us-east-1b" {
			r.Config = map[string]string{"az_id": "use1-az4"}
		}
	}
	h := top(t, investigateFake(t, f))
	if !strings.Contains(h.Actions[0].Detail, "--away-from use1-az4 ") {
		t.Errorf("first action = %s; want --away-from use1-az4", h.Actions[0].Detail)
	}
}
