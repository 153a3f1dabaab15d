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

// cacheEnv is webEnv with app keeping its sessions in an ElastiCache
// cluster, and the requests slow since t0. cache sets the cluster's series;
// refused fails a third of app's calls to it since t0, as a full cache
// without eviction refuses writes.
func cacheEnv(cache map[string]func(time.Time) float64, refused bool) *fake {
	f := webEnv()
	f.alarm.Metric.Name, f.alarm.Stat, f.alarm.Threshold = "TargetResponseTime", "Average", 1
	f.series["web-alb|AWS/ApplicationELB|HTTPCode_Target_5XX_Count"] = level(2, 2, t0)
	f.series["web-alb|AWS/ApplicationELB|TargetResponseTime"] = level(0.05, 1.2, t0)
	f.topo.Resources = append(f.topo.Resources, Resource{ID: "sessions", Type: TypeElastiCache,
		Dims:   map[string]string{"CacheClusterId": "sessions"},
		Config: map[string]string{"node_type": "cache.r6g.large", "memory_gib": "13.07", "max_connections": "65000"}})
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "sessions", RelCalls})
	f.series["sessions|AWS/ElastiCache|EngineCPUUtilization"] = level(12, 14, t0)
	f.series["sessions|AWS/ElastiCache|DatabaseMemoryUsagePercentage"] = level(62, 62, t0)
	f.series["sessions|AWS/ElastiCache|Evictions"] = level(0, 0, t0)
	f.series["sessions|AWS/ElastiCache|CurrConnections"] = level(300, 300, t0)
	for k, fn := range cache {
		f.series["sessions|AWS/ElastiCache|"+k] = fn
	}
	es := cacheEdges()
	if refused {
		es = alter(es, into("sessions"), failing(0.3, "OOM command not allowed when used memory > 'maxmemory'."))
	}
	f.traces = tracesOf(es...)
	return f
}

// cacheEdges are cacheEnv's traced calls: the requests into app slow since
// t0, its calls to the cache and the table as usual.
func cacheEdges() []edge {
	var es []edge
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es,
			edge{caller: "web-alb", callee: "app", instance: i, perMin: 60, latency: 40 * time.Millisecond, latencyAfter: 1200 * time.Millisecond, from: t0},
			edge{caller: "app", callee: "sessions", instance: i, perMin: 60, latency: time.Millisecond},
			edge{caller: "app", callee: "table", instance: i, perMin: 60, latency: 6 * time.Millisecond})
	}
	return es
}

// TestElastiCacheLimits: a cache at the limit it reached is the limit to
// act on, with the move for that limit; a cache with room is no suspect.
func TestElastiCacheLimits(t *testing.T) {
	for _, c := range []struct {
		name    string
		cache   map[string]func(time.Time) float64
		refused bool
		detail  string // in the first action; "" when the cache is no suspect
	}{
		{"memory full, evicting", map[string]func(time.Time) float64{
			"DatabaseMemoryUsagePercentage": level(62, 100, t0), "Evictions": level(0, 900, t0),
		}, false, "more memory"},
		// noeviction: writes are refused, no key is evicted
		{"memory full, refusing writes", map[string]func(time.Time) float64{
			"DatabaseMemoryUsagePercentage": level(62, 100, t0),
		}, true, "more memory"},
		{"out of connections", map[string]func(time.Time) float64{
			"CurrConnections": level(300, 65000, t0),
		}, false, "maxclients (65000) cannot be raised"},
		{"room to spare", nil, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := investigateFake(t, cacheEnv(c.cache, c.refused))
			if c.detail == "" {
				for _, h := range rep.Hypotheses {
					if h.Resource == "sessions" && h.Confidence >= ClearCause {
						t.Errorf("a cache with room is a suspect: %+v", h)
					}
				}
				return
			}
			h := top(t, rep)
			if h.Cause != CauseLimit || h.Resource != "sessions" {
				t.Fatalf("top is %s %s (%.2f), want limit sessions; all: %+v", h.Cause, h.Resource, h.Confidence, rep.Hypotheses)
			}
			if a := h.Actions[0]; a.Kind != ActionScale || !strings.Contains(a.Detail, c.detail) {
				t.Errorf("first action %s %q, want scale containing %q", a.Kind, a.Detail, c.detail)
			}
		})
	}
}

// TestCacheMissesLoadTheDatabase: the table app also calls slows down
// since the onset; when the cache has been evicting for half an hour by
// then, its misses are what load the table and the cache is the limit to
// act on; when it has not, the table is the failing dependency.
func TestCacheMissesLoadTheDatabase(t *testing.T) {
	for _, c := range []struct {
		name     string
		evicting bool
		cause    Cause
		resource string
	}{
		{"the cache evicts", true, CauseLimit, "sessions"},
		{"the cache holds", false, CauseDependency, "table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := map[string]func(time.Time) float64{}
			if c.evicting {
				cache["DatabaseMemoryUsagePercentage"] = level(70, 100, t0.Add(-40*time.Minute))
				cache["Evictions"] = level(0, 900, t0.Add(-30*time.Minute))
			}
			f := cacheEnv(cache, false)
			f.series["table|AWS/DynamoDB|SuccessfulRequestLatency"] = level(5, 180, t0)
			f.traces = tracesOf(alter(cacheEdges(), into("table"), func(e *edge) {
				e.latencyAfter, e.from = 900*time.Millisecond, t0
			})...)
			rep := investigateFake(t, f)
			h := top(t, rep)
			if h.Cause != c.cause || h.Resource != c.resource {
				t.Fatalf("top is %s %s (%.2f), want %s %s; all: %+v", h.Cause, h.Resource, h.Confidence, c.cause, c.resource, rep.Hypotheses)
			}
		})
	}
}

// auroraEnv is webEnv with app's orders in an Aurora cluster of a writer
// and a reader, the writer's connections going to conns since t0 and the
// calls to the cluster failing with too many connections.
func auroraEnv(conns float64) *fake {
	f := webEnv()
	f.topo.Resources = append(f.topo.Resources,
		Resource{ID: "orders", Type: TypeAurora, Dims: map[string]string{"DBClusterIdentifier": "orders"},
			Config: map[string]string{"writer": "orders-a", "max_connections": "2000", "instance_max_connections": "1000"}},
		Resource{ID: "orders-a", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "orders-a"},
			Config: map[string]string{"db_cluster": "orders", "cluster_role": "writer", "max_connections": "1000", "instance_class": "db.r6g.large"}},
		Resource{ID: "orders-b", Type: TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": "orders-b"},
			Config: map[string]string{"db_cluster": "orders", "cluster_role": "reader", "max_connections": "1000"}})
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "orders", RelCalls},
		Relation{"orders-a", "orders", RelMemberOf}, Relation{"orders-b", "orders", RelMemberOf})
	f.series["orders-a|AWS/RDS|DatabaseConnections"] = level(300, conns, t0)
	f.series["orders-b|AWS/RDS|DatabaseConnections"] = level(200, 200, t0)
	f.series["orders|AWS/RDS|DatabaseConnections"] = level(500, conns+200, t0)
	f.series["*|AWS/RDS|CPUUtilization"] = level(30, 32, t0)
	var es []edge
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es, edge{caller: "app", callee: "orders", instance: i, perMin: 60, latency: 4 * time.Millisecond})
	}
	f.traces = tracesOf(append(webEdges(), alter(es, into("orders"), failing(0.4, "FATAL: sorry, too many clients already"))...)...)
	return f
}

// TestAuroraWriterOutOfConnections: calls to an Aurora cluster fail while
// its writer's connections reach max_connections: the writer is the limit,
// relieved by RDS Proxy and the reader endpoint first. Below its maximum,
// the cluster is the failing dependency, failed over to a reader.
func TestAuroraWriterOutOfConnections(t *testing.T) {
	for _, c := range []struct {
		name     string
		conns    float64
		cause    Cause
		resource string
		detail   string
	}{
		{"at max_connections", 1000, CauseLimit, "orders-a", "RDS Proxy"},
		{"room to spare", 300, CauseDependency, "orders", "failover-db-cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := investigateFake(t, auroraEnv(c.conns))
			h := top(t, rep)
			if h.Cause != c.cause || h.Resource != c.resource {
				t.Fatalf("top is %s %s (%.2f), want %s %s; all: %+v", h.Cause, h.Resource, h.Confidence, c.cause, c.resource, rep.Hypotheses)
			}
			if !strings.Contains(h.Actions[0].Detail, c.detail) {
				t.Errorf("first action %q, want it to name %q", h.Actions[0].Detail, c.detail)
			}
		})
	}
}

// handoffEnv is webEnv with app publishing to a topic and starting a state
// machine whose task is a function.
func handoffEnv() *fake {
	f := webEnv()
	arn := "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"
	f.topo.Resources = append(f.topo.Resources,
		Resource{ID: "events", Type: TypeSNS, Dims: map[string]string{"TopicName": "events"}},
		Resource{ID: "fulfil", Type: TypeStepFunctions, ARN: arn, Dims: map[string]string{"StateMachineArn": arn}},
		Resource{ID: "pick-fn", Type: TypeLambda, Dims: map[string]string{"FunctionName": "pick-fn"}})
	f.topo.Relations = append(f.topo.Relations, Relation{"app", "events", RelCalls}, Relation{"app", "fulfil", RelCalls}, Relation{"fulfil", "pick-fn", RelCalls})
	f.series["events|AWS/SNS|NumberOfMessagesPublished"] = level(9000, 9000, t0)
	f.series["fulfil|AWS/States|ExecutionsStarted"] = level(600, 600, t0)
	f.series["fulfil|AWS/States|ExecutionThrottled"] = level(0, 0, t0)
	f.series["pick-fn|AWS/Lambda|Invocations"] = level(600, 600, t0)
	f.series["pick-fn|AWS/Lambda|Errors"] = level(0, 0, t0)
	var es []edge
	for _, i := range []string{"i-1", "i-2", "i-3"} {
		es = append(es, edge{caller: "app", callee: "events", instance: i, perMin: 60, latency: 15 * time.Millisecond},
			edge{caller: "app", callee: "fulfil", instance: i, perMin: 60, latency: 20 * time.Millisecond})
	}
	f.traces = tracesOf(append(webEdges(), es...)...)
	return f
}

// TestHandoffLimits: a state machine whose transitions are throttled, and
// a topic published to at its Publish quota, are limits with their moves.
func TestHandoffLimits(t *testing.T) {
	t.Run("state transitions throttled", func(t *testing.T) {
		f := handoffEnv()
		f.alarm.Metric = Metric{Namespace: "AWS/States", Name: "ExecutionsTimedOut", Dims: map[string]string{"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"}}
		f.alarm.Resource = "fulfil"
		f.series["fulfil|AWS/States|ExecutionsTimedOut"] = level(0, 120, t0)
		f.series["fulfil|AWS/States|ExecutionThrottled"] = level(0, 4000, t0)
		rep := investigateFake(t, f)
		h := top(t, rep)
		if h.Cause != CauseLimit || h.Resource != "fulfil" || !strings.Contains(h.Actions[0].Detail, "MaxConcurrency") {
			t.Fatalf("top is %s %s (%.2f) %q, want limit fulfil spreading its executions; all: %+v", h.Cause, h.Resource, h.Confidence, h.Actions[0].Detail, rep.Hypotheses)
		}
	})
	t.Run("publishes at the quota", func(t *testing.T) {
		f := handoffEnv()
		f.quotas = []Quota{{Resource: "events", Service: "sns", Code: "L-5A7A6B0A", Name: "Publish API requests per second", Value: 300}}
		f.series["events|AWS/SNS|NumberOfMessagesPublished"] = level(9000, 18000, t0)
		var es []edge
		for _, i := range []string{"i-1", "i-2", "i-3"} {
			es = append(es, edge{caller: "app", callee: "events", instance: i, perMin: 60, latency: 15 * time.Millisecond})
		}
		es = alter(es, into("events"), failing(0.5, "Throttling: Rate exceeded"))
		f.traces = tracesOf(append(webEdges(), es...)...)
		rep := investigateFake(t, f)
		h := top(t, rep)
		if h.Cause != CauseLimit || h.Resource != "events" || !strings.Contains(h.Actions[0].Detail, "PublishBatch") {
			t.Fatalf("top is %s %s (%.2f) %q, want limit events publishing in batches; all: %+v", h.Cause, h.Resource, h.Confidence, h.Actions[0].Detail, rep.Hypotheses)
		}
		found := false
		for _, fd := range rep.Findings {
			found = found || strings.Contains(fd.Summary, "NumberOfMessagesPublished reached")
		}
		if !found {
			t.Errorf("no finding that the publishes reached the quota: %+v", rep.Findings)
		}
	})
}
