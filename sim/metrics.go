package sim

import (
	"context"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Metrics answers a batch of queries over [start, end). Each query gets the
// series whose namespace, name and dimensions match it exactly (CloudWatch
// does not match partial dimensions either), one datapoint per period, the
// periods aligned to multiples of the period since the epoch. A datapoint
// aggregates the scenario steps of its period that lie in telemetry and have
// ended by Now: Sum adds them, Average averages, Maximum and Minimum take the
// extremes, pNN is the average scaled up as a latency tail is (through the
// p90 and p99 that items set, and none for a series a csv file sets),
// SampleCount counts requests for counts and per-request averages and steps
// otherwise. A step a silent item covers is no datapoint, and a period with
// none is absent from the series, as CloudWatch leaves periods without data.
// An unknown metric or dimension set gets a series with the query's ID and no
// datapoints, as CloudWatch answers.
func (m *Sim) Metrics(ctx context.Context, queries []investigate.MetricQuery, start, end time.Time) ([]investigate.Series, error) {
	if err := m.call(ctx, KindMetrics); err != nil {
		return nil, err
	}
	out := make([]investigate.Series, 0, len(queries))
	for _, q := range queries {
		out = append(out, m.query(q, start, end))
	}
	return out, nil
}

func (m *Sim) lookup(mt investigate.Metric) *series {
	return m.series[seriesKey(mt.Namespace, mt.Name, mt.Dims)]
}

func (m *Sim) query(q investigate.MetricQuery, start, end time.Time) investigate.Series {
	out := investigate.Series{ID: q.ID, Times: []time.Time{}, Values: []float64{}}
	se := m.lookup(q.Metric)
	if se == nil {
		return out
	}
	lo, hiT, ok := m.clip(start, end)
	if !ok {
		return out
	}
	// A period shorter than a step holds at most one step: answer per step.
	period := max(q.Period, m.step)
	stat := normStat(q.Stat)
	if q.Stat == "" {
		stat = se.native()
	}
	p, tails := percentile(stat)
	tails = tails && se.hasTails()
	n := int(hiT.Sub(lo)/period) + 1
	out.Times, out.Values = make([]time.Time, 0, n), make([]float64, 0, n)
	t0, tEnd := m.sc.Start(), m.sc.End()
	b := lo.Truncate(period)
	if b.Before(lo) {
		b = b.Add(period)
	}
	var times []time.Time
	var vals []float64
	for ; b.Before(hiT); b = b.Add(period) {
		be := b.Add(period)
		k := int64(0)
		if d := b.Sub(t0); d > 0 {
			k = int64((d + m.step - 1) / m.step)
		}
		times, vals = times[:0], vals[:0]
		for t := t0.Add(time.Duration(k) * m.step); t.Before(be) && t.Before(tEnd) && !t.Add(m.step).After(m.now); t = t.Add(m.step) {
			if se.silentAt(m, t) {
				continue // no datapoint: silence is no zero
			}
			v := se.value(m, t)
			if math.IsNaN(v) {
				continue // an aggregate of series that are all silent
			}
			if tails {
				if v, ok = se.quantile(m, t, v, p); !ok {
					continue
				}
			}
			times = append(times, t)
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			continue
		}
		out.Times = append(out.Times, b)
		if tails {
			// A period's percentile: the mean of its steps' (their
			// distributions are alike within a period).
			out.Values = append(out.Values, m.aggregate(se, "Average", times, vals))
			continue
		}
		out.Values = append(out.Values, m.aggregate(se, stat, times, vals))
	}
	return out
}

// seriesOf is the default series of a resource's metric.
func (m *Sim) seriesOf(n *node, ns, name string) *series {
	return m.series[seriesKey(ns, name, n.dims)]
}

// levelOf is the noise-free level of a resource's metric at t, or def when it
// has none.
func (m *Sim) levelOf(n *node, ns, name string, t time.Time, def float64) float64 {
	if se := m.seriesOf(n, ns, name); se != nil {
		return se.level(m, t)
	}
	return def
}

func (m *Sim) buildSeries() {
	m.series = map[string]*series{}
	add := func(n *node, d *metricDef) *series {
		dims := d.dims
		if dims == nil && n != nil {
			dims = n.dims
		}
		k := seriesKey(d.ns, d.name, dims)
		if se, ok := m.series[k]; ok {
			return se
		}
		se := &series{key: k, h: m.key("series", k), node: n, def: d}
		m.series[k] = se
		return se
	}
	var lambdas []*node
	for _, n := range m.nodes {
		for _, d := range m.catalogue(n) {
			add(n, d)
		}
		if n.r.Type == investigate.TypeLambda {
			lambdas = append(lambdas, n)
		}
	}
	if len(lambdas) > 0 {
		// The account-level series (no dimensions): the sum over functions.
		add(nil, &metricDef{ns: nsLambda, name: "ConcurrentExecutions", dims: map[string]string{}, stat: "Maximum", integer: true,
			value: func(t time.Time) float64 {
				var sum float64
				for _, n := range lambdas {
					if se := m.seriesOf(n, nsLambda, "ConcurrentExecutions"); !se.silentAt(m, t) {
						sum += se.value(m, t)
					}
				}
				return sum
			}})
	}
	var everyMetric []*scenario.MetricItem // silent items without a metric
	for i := range m.sc.Metrics {
		it := &m.sc.Metrics[i]
		if it.Zone != "" {
			// Every resource in the zone that publishes the metric.
			for _, n := range m.nodes {
				if n.r.AZ != it.Zone {
					continue
				}
				if se := m.seriesOf(n, it.Namespace, it.MetricName); se != nil {
					se.items = append(se.items, it)
				}
			}
			continue
		}
		n := m.byID[it.Resource]
		if it.MetricName == "" {
			everyMetric = append(everyMetric, it)
			continue
		}
		dims := it.Dims
		if len(dims) == 0 && n != nil {
			dims = n.dims
		}
		k := seriesKey(it.Namespace, it.MetricName, dims)
		se, ok := m.series[k]
		if !ok {
			// A series of its own: the resource's healthy form of the
			// metric under other dimensions, or nothing but the item.
			var def *metricDef
			if n != nil {
				for _, d := range m.catalogue(n) {
					if d.ns == it.Namespace && d.name == it.MetricName {
						def = d
						break
					}
				}
			}
			se = &series{key: k, h: m.key("series", k), node: n, def: def}
			m.series[k] = se
		}
		se.items = append(se.items, it)
	}
	// A resource that stops reporting stops every series of its own.
	for _, it := range everyMetric {
		n := m.byID[it.Resource]
		for _, k := range slices.Sorted(maps.Keys(m.series)) {
			if se := m.series[k]; se.node != nil && se.node == n {
				se.items = append(se.items, it)
			}
		}
	}
	for _, st := range m.streams {
		if e := st.entry; e != nil {
			switch e.r.Type {
			case investigate.TypeALB:
				st.req = m.seriesOf(e, nsALB, "RequestCount")
			case investigate.TypeAPIGateway:
				st.req = m.seriesOf(e, nsAPIGW, "Count")
			}
		}
	}
}

// Namespaces.
const (
	nsALB       = "AWS/ApplicationELB"
	nsAPIGW     = "AWS/ApiGateway"
	nsEC2       = "AWS/EC2"
	nsCWAgent   = "CWAgent"
	nsASG       = "AWS/AutoScaling"
	nsECS       = "AWS/ECS"
	nsECSInsite = "ECS/ContainerInsights"
	nsLambda    = "AWS/Lambda"
	nsDynamoDB  = "AWS/DynamoDB"
	nsRDS       = "AWS/RDS"
	nsSQS       = "AWS/SQS"
)

// catalogue is the healthy form of every metric AWS publishes for n.
func (m *Sim) catalogue(n *node) []*metricDef {
	S := m.step.Seconds()
	id := n.r.ID
	u := func(what string) float64 { return unit(m.key("level", id, what)) }
	tr := func(t time.Time) float64 { return m.traffic(n.flow, t) }
	trH := m.healthyTraffic(n.flow)
	ratio := func(t time.Time) float64 {
		if trH <= 0 {
			return 1
		}
		return tr(t) / trH
	}
	konst := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	perReq := func(k float64) func(time.Time) float64 {
		return func(t time.Time) float64 { return k * tr(t) * S }
	}
	var defs []*metricDef
	// count is a per-step Sum.
	count := func(ns, name string, nz noise, level func(time.Time) float64) *metricDef {
		d := &metricDef{ns: ns, name: name, stat: "Sum", noise: nz, integer: true, samples: samplesCount, level: level}
		defs = append(defs, d)
		return d
	}
	// gauge is a per-step Average.
	gauge := func(ns, name string, nz noise, level func(time.Time) float64) *metricDef {
		d := &metricDef{ns: ns, name: name, stat: "Average", noise: nz, level: level}
		defs = append(defs, d)
		return d
	}
	pct := func(ns, name string, rel float64, level func(time.Time) float64) *metricDef {
		d := gauge(ns, name, noise{noiseRel, rel}, level)
		d.max = 100
		return d
	}
	flat := noise{}
	pois := noise{noisePoisson, 0}
	traf := noise{noiseTraffic, 0}
	rel := func(x float64) noise { return noise{noiseRel, x} }

	switch n.r.Type {
	case investigate.TypeALB:
		base := n.rps() * S
		count(nsALB, "RequestCount", traf, konst(base))
		count(nsALB, "HTTPCode_Target_2XX_Count", traf, perReq(0.986))
		count(nsALB, "HTTPCode_Target_3XX_Count", pois, perReq(0.002))
		count(nsALB, "HTTPCode_Target_4XX_Count", pois, perReq(0.01))
		count(nsALB, "HTTPCode_Target_5XX_Count", pois, perReq(0.001))
		count(nsALB, "HTTPCode_ELB_4XX_Count", pois, perReq(0.002))
		count(nsALB, "HTTPCode_ELB_5XX_Count", pois, perReq(0.0002))
		count(nsALB, "HTTPCode_ELB_502_Count", pois, perReq(0.0001))
		count(nsALB, "HTTPCode_ELB_503_Count", pois, konst(0))
		count(nsALB, "HTTPCode_ELB_504_Count", pois, perReq(0.0001))
		count(nsALB, "TargetConnectionErrorCount", pois, konst(0))
		count(nsALB, "RejectedConnectionCount", pois, konst(0))
		count(nsALB, "ActiveConnectionCount", traf, perReq(0.3))
		count(nsALB, "NewConnectionCount", traf, perReq(0.08))
		count(nsALB, "ProcessedBytes", rel(0.03), perReq(3200))
		d := gauge(nsALB, "TargetResponseTime", rel(0.06), konst(0.042+0.016*u("trt")))
		d.samples = samplesTraffic
		hosts := 0
		for _, t := range n.targets {
			switch {
			case t.r.Type == investigate.TypeASG && len(t.members) > 0:
				hosts += len(t.members)
			case t.r.Type == investigate.TypeECS:
				hosts += t.tasks()
			default:
				hosts++
			}
		}
		gauge(nsALB, "HealthyHostCount", flat, konst(float64(hosts)))
		gauge(nsALB, "UnHealthyHostCount", flat, konst(0))

	case investigate.TypeAPIGateway:
		count(nsAPIGW, "Count", traf, konst(n.rps()*S))
		count(nsAPIGW, "4XXError", pois, perReq(0.005))
		count(nsAPIGW, "5XXError", pois, perReq(0.0005))
		integ := func(t time.Time) float64 {
			if len(n.targets) == 0 {
				return 40 + 10*u("integ")
			}
			var sum float64
			for _, x := range n.targets {
				if x.r.Type == investigate.TypeLambda {
					sum += m.levelOf(x, nsLambda, "Duration", t, lambdaDuration(x, 0.5)) + 6
				} else {
					sum += 35 + 10*u("integ")
				}
			}
			return sum / float64(len(n.targets))
		}
		d := gauge(nsAPIGW, "IntegrationLatency", rel(0.05), integ)
		d.samples = samplesTraffic
		d = gauge(nsAPIGW, "Latency", rel(0.05), func(t time.Time) float64 {
			return m.levelOf(n, nsAPIGW, "IntegrationLatency", t, integ(t)) + 10 + 6*u("lat")
		})
		d.samples = samplesTraffic

	case investigate.TypeEC2:
		idle, busy := 5+5*u("idle"), 12+8*u("busy")
		cpu := func(t time.Time) float64 { return idle + busy*ratio(t) }
		pct(nsEC2, "CPUUtilization", 0.06, cpu)
		gauge(nsEC2, "NetworkIn", rel(0.05), func(t time.Time) float64 { return (tr(t)*1800 + 20000) * S })
		gauge(nsEC2, "NetworkOut", rel(0.05), func(t time.Time) float64 { return (tr(t)*14000 + 15000) * S })
		gauge(nsEC2, "NetworkPacketsIn", rel(0.05), func(t time.Time) float64 { return (tr(t)*6 + 30) * S })
		gauge(nsEC2, "NetworkPacketsOut", rel(0.05), func(t time.Time) float64 { return (tr(t)*14 + 25) * S })
		for _, name := range []string{"StatusCheckFailed", "StatusCheckFailed_Instance", "StatusCheckFailed_System"} {
			d := gauge(nsEC2, name, flat, konst(0))
			d.stat = "Maximum"
		}
		if it := n.instanceType(); strings.HasPrefix(it, "t") {
			maxCredits, vcpu := burstable(it)
			gauge(nsEC2, "CPUCreditBalance", flat, konst(maxCredits))
			gauge(nsEC2, "CPUSurplusCreditBalance", flat, konst(0))
			gauge(nsEC2, "CPUCreditUsage", rel(0.06), func(t time.Time) float64 {
				return cpu(t) / 100 * vcpu * S / 60
			})
		}
		pct(nsCWAgent, "mem_used_percent", 0.015, konst(40+10*u("mem")))
		pct(nsCWAgent, "disk_used_percent", 0.002, konst(30+20*u("disk")))

	case investigate.TypeASG:
		desired := float64(n.desired())
		gauge(nsASG, "GroupDesiredCapacity", flat, konst(desired))
		gauge(nsASG, "GroupInServiceInstances", flat, konst(desired))
		gauge(nsASG, "GroupTotalInstances", flat, konst(desired))
		gauge(nsASG, "GroupMinSize", flat, konst(float64(n.r.Min)))
		gauge(nsASG, "GroupMaxSize", flat, konst(math.Max(float64(n.r.Max), desired)))
		gauge(nsASG, "GroupPendingInstances", flat, konst(0))
		gauge(nsASG, "GroupTerminatingInstances", flat, konst(0))
		gauge(nsASG, "GroupStandbyInstances", flat, konst(0))
		if len(n.members) > 0 {
			members := n.members
			over := func(name string, avg bool) func(time.Time) float64 {
				return func(t time.Time) float64 {
					var sum float64
					n := 0
					for _, mb := range members {
						if se := m.seriesOf(mb, nsEC2, name); !se.silentAt(m, t) {
							sum += se.value(m, t)
							n++
						}
					}
					if n == 0 {
						return math.NaN() // no member reports: no datapoint
					}
					if avg {
						sum /= float64(n)
					}
					return sum
				}
			}
			for _, x := range []struct {
				name string
				avg  bool
			}{{"CPUUtilization", true}, {"NetworkIn", false}, {"NetworkOut", false}} {
				defs = append(defs, &metricDef{ns: nsEC2, name: x.name, dims: n.dims, stat: "Average", value: over(x.name, x.avg)})
			}
		}

	case investigate.TypeECS:
		cpu, mem := m.ecsHealthy(n)
		if len(n.listed) > 0 {
			// The average of its tasks' (tasks.go).
			for _, x := range []struct{ name, task string }{{"CPUUtilization", "TaskCpuUtilization"}, {"MemoryUtilization", "TaskMemoryUtilization"}} {
				defs = append(defs, &metricDef{ns: nsECS, name: x.name, stat: "Average", max: 100, value: m.taskAverage(n, x.task)})
			}
		} else {
			pct(nsECS, "CPUUtilization", 0.06, cpu)
			pct(nsECS, "MemoryUtilization", 0.02, mem)
		}
		tasks := float64(n.tasks())
		gauge(nsECSInsite, "RunningTaskCount", flat, konst(tasks))
		gauge(nsECSInsite, "DesiredTaskCount", flat, konst(tasks))
		gauge(nsECSInsite, "PendingTaskCount", flat, konst(0))

	case investigate.TypeECSTask:
		if n.svc != nil {
			cpu, mem := m.ecsHealthy(n.svc)
			defs = append(defs, m.taskCatalogue(n, cpu, mem)...)
		}

	case investigate.TypeLambda:
		count(nsLambda, "Invocations", traf, perReq(1))
		count(nsLambda, "Errors", pois, perReq(0.0005))
		count(nsLambda, "Throttles", pois, konst(0))
		dur := lambdaDuration(n, u("duration"))
		d := gauge(nsLambda, "Duration", rel(0.05), konst(dur))
		d.samples = samplesTraffic
		lim := m.concurrencyLimit(n)
		d = gauge(nsLambda, "ConcurrentExecutions", rel(0.06), func(t time.Time) float64 {
			c := tr(t) * m.levelOf(n, nsLambda, "Duration", t, dur) / 1000
			if c <= 0 {
				return 0
			}
			return math.Max(1, c+1.5*math.Sqrt(c))
		})
		d.stat, d.integer, d.limit = "Maximum", true, func() float64 { return lim }

	case investigate.TypeDynamoDB:
		count(nsDynamoDB, "ConsumedReadCapacityUnits", traf, perReq(0.7))
		count(nsDynamoDB, "ConsumedWriteCapacityUnits", traf, perReq(0.3))
		if n.mode() == "provisioned" {
			rcu, wcu := n.r.RCU, n.r.WCU
			if rcu <= 0 {
				rcu = 5
			}
			if wcu <= 0 {
				wcu = 5
			}
			gauge(nsDynamoDB, "ProvisionedReadCapacityUnits", flat, konst(float64(rcu)))
			gauge(nsDynamoDB, "ProvisionedWriteCapacityUnits", flat, konst(float64(wcu)))
		}
		for _, name := range []string{"ReadThrottleEvents", "WriteThrottleEvents", "ThrottledRequests", "SystemErrors"} {
			count(nsDynamoDB, name, pois, konst(0))
		}
		count(nsDynamoDB, "UserErrors", pois, perReq(0.0001))
		count(nsDynamoDB, "ConditionalCheckFailedRequests", pois, perReq(0.0005))
		count(nsDynamoDB, "ReturnedItemCount", traf, perReq(0.7*1.4))
		d := gauge(nsDynamoDB, "SuccessfulRequestLatency", rel(0.08), konst(4.5+1.5*u("latency")))
		d.samples = samplesTraffic

	case investigate.TypeRDS:
		pct(nsRDS, "CPUUtilization", 0.06, func(t time.Time) float64 { return 12 + 13*ratio(t) })
		conns := 28 + 4*u("conns")
		if mc := n.r.MaxConnections; mc > 0 {
			conns = (0.2 + 0.1*u("conns")) * float64(mc)
		}
		d := gauge(nsRDS, "DatabaseConnections", rel(0.04), konst(conns))
		d.integer = true
		memGiB, storGiB := dbSize(n.dbClass())
		gauge(nsRDS, "FreeableMemory", rel(0.01), konst(memGiB*(0.4+0.1*u("mem"))*(1<<30)))
		gauge(nsRDS, "FreeStorageSpace", rel(0.0005), konst(storGiB*(0.55+0.15*u("disk"))*(1<<30)))
		gauge(nsRDS, "SwapUsage", rel(0.02), konst(0))
		gauge(nsRDS, "ReadLatency", rel(0.08), konst(0.0015+0.001*u("rl")))
		gauge(nsRDS, "WriteLatency", rel(0.08), konst(0.002+0.0015*u("wl")))
		gauge(nsRDS, "ReadIOPS", rel(0.08), func(t time.Time) float64 { return tr(t)*0.5 + 20 })
		gauge(nsRDS, "WriteIOPS", rel(0.08), func(t time.Time) float64 { return tr(t)*0.3 + 15 })
		if n.r.ReplicaOf != "" {
			// A read replica keeps up within a second.
			gauge(nsRDS, "ReplicaLag", rel(0.3), konst(0.2+0.4*u("lag")))
		}

	case investigate.TypeSQS:
		count(nsSQS, "NumberOfMessagesSent", traf, perReq(1))
		count(nsSQS, "NumberOfMessagesReceived", traf, perReq(1))
		count(nsSQS, "NumberOfMessagesDeleted", traf, perReq(1))
		count(nsSQS, "NumberOfEmptyReceives", traf, konst(0.5*S))
		d := gauge(nsSQS, "ApproximateNumberOfMessagesVisible", rel(0.25), func(t time.Time) float64 { return 0.5 * tr(t) })
		d.integer = true
		d = gauge(nsSQS, "ApproximateNumberOfMessagesNotVisible", rel(0.25), func(t time.Time) float64 { return 0.2 * tr(t) })
		d.integer = true
		gauge(nsSQS, "ApproximateNumberOfMessagesDelayed", flat, konst(0))
		d = gauge(nsSQS, "ApproximateAgeOfOldestMessage", rel(0.3), konst(2+3*u("age")))
		d.stat, d.integer = "Maximum", true
		gauge(nsSQS, "SentMessageSize", rel(0.1), konst(900+400*u("size")))

	default:
		defs = append(defs, m.infraCatalogue(n)...)
	}
	defs = append(defs, m.auroraMemberMetrics(n)...)
	return defs
}

// lambdaDuration is a function's healthy average duration in ms: 80 to 150
// by memory, varied a little per function by u.
func lambdaDuration(n *node, u float64) float64 {
	return (75 + 75*128/float64(n.memory())) * (0.9 + 0.2*u)
}

// concurrencyLimit is what a function's concurrency cannot exceed: its
// reserved concurrency, else the account's concurrent executions quota.
func (m *Sim) concurrencyLimit(n *node) float64 {
	if rc := n.r.ReservedConcurrency; rc != nil && *rc > 0 {
		return float64(*rc)
	}
	for _, q := range m.sc.Quotas {
		if q.Resource == n.r.ID && strings.EqualFold(q.Service, "lambda") &&
			(q.Code == "L-B99A9384" || strings.Contains(strings.ToLower(q.Name), "concurren")) {
			return q.Value
		}
	}
	return defaultAccountConc
}

// burstable is a t* instance type's maximum CPU credit balance and vCPUs.
func burstable(it string) (float64, float64) {
	table := map[string][2]float64{
		"t2.nano": {72, 1}, "t2.micro": {144, 1}, "t2.small": {288, 1}, "t2.medium": {576, 2},
		"t2.large": {864, 2}, "t2.xlarge": {1296, 4}, "t2.2xlarge": {1958.4, 8},
		"t3.nano": {144, 2}, "t3.micro": {288, 2}, "t3.small": {576, 2}, "t3.medium": {576, 2},
		"t3.large": {864, 2}, "t3.xlarge": {2304, 4}, "t3.2xlarge": {4608, 8},
	}
	fam, size, _ := strings.Cut(it, ".")
	if strings.HasPrefix(fam, "t3") || strings.HasPrefix(fam, "t4") {
		fam = "t3"
	}
	if v, ok := table[fam+"."+size]; ok {
		return v[0], v[1]
	}
	return 576, 2
}

// dbSize is a DB instance class's memory and a typical allocated storage, in
// GiB.
func dbSize(class string) (float64, float64) {
	parts := strings.Split(class, ".")
	fam, size := "m", "large"
	if len(parts) >= 3 {
		fam, size = parts[1], parts[2]
	}
	base := 8.0
	if strings.HasPrefix(fam, "r") || strings.HasPrefix(fam, "x") || strings.HasPrefix(fam, "z") {
		base = 16
	}
	mult := 1.0
	switch size {
	case "nano":
		mult = 0.0625
	case "micro":
		mult = 0.125
	case "small":
		mult = 0.25
	case "medium":
		mult = 0.5
	case "large":
		mult = 1
	case "xlarge":
		mult = 2
	default:
		if k, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge")); err == nil && strings.HasSuffix(size, "xlarge") {
			mult = 2 * float64(k)
		}
	}
	stor := 100 * mult
	if mult < 1 {
		stor = 20
	}
	return base * mult, stor
}
