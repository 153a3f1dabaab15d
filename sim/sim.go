// Package sim is the scenario simulator: a telemetry backend built from a
// loaded scenario.Scenario that implements every source interface of package
// investigate, so the engine investigates a simulated incident exactly as it
// would a real AWS account.
//
// The simulator follows the principles of the scenario format:
//
//   - Healthy by default. Every resource produces the telemetry AWS publishes
//     for its type (metrics, log lines, traces along its calls, routine
//     CloudTrail activity) for the whole timeline; a scenario lists only what
//     differs from healthy.
//   - Deterministic. Every number is a pure function of the scenario, its
//     seed and the point asked about: noise is derived from a hash of (seed,
//     series, time), never from a shared random stream, so the same question
//     gets the same answer whatever the order, the concurrency or the window
//     of the queries.
//   - The answer is sealed. The simulator sees only the Scenario, which has no
//     expect block.
//
// Telemetry exists from Scenario.Start() to Scenario.End(); the simulator
// answers nothing outside it and nothing after Now, the simulated instant at
// which the investigation happens (the alarm's fire time unless Options.Now
// says otherwise). A metric step counts once it has ended by Now.
//
// # The healthy model
//
// Traffic starts at entry resources (alb, apigw: rps, default 20) and at
// background sources (a service, function, table, queue or database nothing
// feeds runs at a few requests per second). An entry splits its rps evenly
// over its targets; a service serves what reaches the hosts it runs on plus
// what its callers send; each calls edge carries the caller's traffic. A
// metric item on an entry's RequestCount or Count scales everything
// downstream in proportion. Per step (CloudWatch's statistic for the metric):
//
//   - alb: RequestCount rps×step; Target 5XX 0.1%, 4XX 1%, ELB 5XX 0.02%;
//     TargetResponseTime 0.04–0.06 s; HealthyHostCount the targets. Per
//     Availability Zone of its targets too (zones.go): the requests its
//     targets there serve, the 5XX they fail, as with cross-zone load
//     balancing off.
//   - apigw: Count, 4XXError 0.5%, 5XXError 0.05%, IntegrationLatency its
//     function's Duration + 6 ms (else ~40 ms), Latency that + 10–16 ms.
//   - ec2: CPUUtilization 17–33% (part of it in proportion to traffic),
//     network in proportion to traffic, status checks 0, CPUCreditBalance at
//     the type's maximum for t*, CWAgent mem 40–50%, disk 30–50%.
//   - asg: desired, in service, min, max; AWS/EC2 CPU and network of its
//     instances under AutoScalingGroupName.
//   - ecs: CPU 18–38%, memory 40–60%, RunningTaskCount = tasks (default 2).
//   - lambda: Invocations = traffic, Errors 0.05%, Throttles 0, Duration
//     (75 + 75×128/memory) ms ±10%, ConcurrentExecutions (Maximum) traffic ×
//     Duration plus a burst margin, never above reserved concurrency or the
//     concurrency quota (default 1000); the account-level series sums them.
//   - dynamodb: consumed RCU 0.7 and WCU 0.3 per request, provisioned
//     capacity for provisioned tables, throttles and system errors 0, user
//     errors 0.01%, latency 4.5–6 ms.
//   - rds: CPU ~25%, connections 20–30% of max_connections (else ~30),
//     freeable memory and free storage by instance class, read/write latency
//     ~2–3 ms (in seconds); a replica (replica_of) ReplicaLag 0.2–0.6 s.
//   - sqs: sent = received = deleted = traffic, visible ~0.5 s of traffic,
//     oldest message 2–5 s.
//   - nat: carries the calls to external APIs from the hosts it serves;
//     connection attempts a quarter of them plus 0.5–1.5/s of the hosts'
//     own, established = attempts − ErrorPortAllocation (0), active
//     connections 40–60 + 6 per request/s, packets dropped 0.
//   - ebs: its instance's requests, 0.5 reads and 1 write each plus a few
//     per second; 0.6 ms per operation (io1/io2 0.35, st1/sc1 6), queue
//     length ~0.05, BurstBalance 100% (gp2 under 1,000 GiB, st1, sc1). With
//     BurstBalance near 0 the volume is held to its baseline IOPS: each
//     operation takes up to 41 times longer, the queue grows by up to 30
//     and VolumeIOPSExceededCheck is 1.
//   - elasticache: what its callers send, 0.8 reads per request (92–97%
//     hits) and 0.2 writes plus one per miss; memory 55–70%, engine CPU
//     ~10%, host CPU ~5%, connections 30–50 + 1.5 per request/s (never
//     above max_connections), evictions 0. With its memory past 95% it
//     evicts, up to half the writes at 100%, and up to 60% of the hits
//     turn into misses.
//   - aurora: its callers' traffic, 40% on its writer and the rest shared by
//     its readers (all on the writer without readers); its CPU and
//     connections are its instances' average and sum, commit latency
//     1.6–2.8 ms (growing as the writer's CPU passes 85%), deadlocks 0,
//     each reader's AuroraReplicaLag 10–25 ms.
//   - sns: published = what its callers send, delivered = that times its
//     subscribers (each of which receives it), failed 0.02%.
//   - sfn: an execution per start, 0.1% failing, none throttled or timed
//     out; ExecutionTime its tasks' latency in a row plus 40–70 ms; each
//     invoked resource receives its starts.
//
// Counts get Poisson noise (request counts at least 2%), gauges a few percent.
// Services log one INFO request line per request over a few paths, ALB
// health checks, and a trickle of benign WARN and ERROR lines; functions add
// Lambda's START, END and REPORT lines. Traced edges fail 0.1% (fault) and
// 0.3% (error); latency is 6 ms to DynamoDB, 4 ms to RDS, 8 ms to SQS, 120 ms
// to external APIs, 35 ms in a service plus its calls.
package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Call kinds: the keys of Options.Latency, Options.Fail and Calls.
const (
	KindAlarm    = "alarm"
	KindTopology = "topology"
	KindMetrics  = "metrics"
	KindLogs     = "logs"
	KindTraces   = "traces"
	KindChanges  = "changes"
	KindHealth   = "health"
	KindQuotas   = "quotas"
	KindClients  = "clients"
)

// Kinds lists every call kind.
var Kinds = []string{KindAlarm, KindTopology, KindMetrics, KindLogs, KindTraces, KindChanges, KindHealth, KindQuotas, KindClients}

// Options shape how the simulated backend behaves as a service.
type Options struct {
	// Latency is how long each call of a kind takes. A call whose context
	// ends first returns the context's error.
	Latency map[string]time.Duration
	// Fail makes every call of a kind return this error (wrapped).
	Fail map[string]error
	// Now is the simulated instant of the investigation. Zero means the
	// alarm's fire time; it is kept within the telemetry range.
	Now time.Time
	// FaultRate is the share of calls (0 to 1), of every kind, that meet a
	// fault chosen at random: a throttling error (ErrThrottled), an
	// AccessDenied error (ErrAccessDenied) or a slow call (SlowBy more
	// latency). Unlike the telemetry, faults are a shared random stream:
	// which call meets one depends on the order of the calls.
	FaultRate float64
	// FaultSeed seeds the faults; zero takes a random seed.
	FaultSeed int64
	// SlowBy is the latency a slow call adds; zero means 5 s.
	SlowBy time.Duration
}

// The errors of Options.FaultRate, worded as AWS words them.
var (
	ErrThrottled    = errors.New("ThrottlingException: Rate exceeded")
	ErrAccessDenied = errors.New("AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/unstuck/bot is not authorized to perform this action")
)

// Fault kinds, counted in Faults.
const (
	FaultThrottled = "throttled"
	FaultDenied    = "denied"
	FaultSlow      = "slow"
)

// Sim is a simulated AWS account built from one scenario. It is safe for
// concurrent use: everything is computed on demand from immutable state.
type Sim struct {
	sc   *scenario.Scenario
	opts Options
	seed uint64
	now  time.Time
	step time.Duration

	nodes []*node
	byID  map[string]*node

	streams []*stream // traffic streams (entries and background sources)

	series map[string]*series // by namespace|name|dims

	groups     map[string]*logGroup
	groupNames []string

	edges []*edge // trace groups, in a fixed order

	access map[string]*accessLog // by entry id

	mu     sync.Mutex
	calls  map[string]int
	total  int
	rng    *rand.Rand // faults; guarded by mu
	faults map[string]int
}

// New builds a simulator for s. s must not change afterwards.
func New(s *scenario.Scenario, opts Options) *Sim {
	m := &Sim{
		sc:    s,
		opts:  opts,
		seed:  mix64(uint64(s.Seed) ^ 0x51ed5eed),
		step:  s.Step,
		calls: map[string]int{},
	}
	if opts.FaultRate > 0 {
		seed := uint64(opts.FaultSeed)
		if seed == 0 {
			seed = rand.Uint64()
		}
		m.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		m.faults = map[string]int{}
	}
	if m.step <= 0 {
		m.step = time.Minute
	}
	m.now = s.Alarm.Fires
	if !opts.Now.IsZero() {
		m.now = opts.Now
	}
	if m.now.After(s.End()) {
		m.now = s.End()
	}
	if m.now.Before(s.Start()) {
		m.now = s.Start()
	}
	m.buildNodes()
	m.auroraMembers()
	m.buildTraffic()
	m.buildSeries()
	m.buildLogs()
	m.buildClients()
	m.buildEdges()
	m.buildZoneSeries()
	return m
}

// Sources returns every source, each backed by m.
func (m *Sim) Sources() investigate.Sources {
	return investigate.Sources{
		Alarms:   m,
		Topology: m,
		Metrics:  m,
		Logs:     m,
		Traces:   m,
		Changes:  m,
		Health:   m,
		Quotas:   m,
		Clients:  m,
	}
}

// Now is the simulated instant of the investigation: the alarm's fire time
// unless Options.Now set another.
func (m *Sim) Now() time.Time { return m.now }

// Calls returns how many calls of each kind were made (a copy).
func (m *Sim) Calls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.calls))
	for k, v := range m.calls {
		out[k] = v
	}
	return out
}

// TotalCalls is the number of calls of every kind.
func (m *Sim) TotalCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// Faults returns how many calls met each fault of Options.FaultRate (a
// copy).
func (m *Sim) Faults() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.faults))
	for k, v := range m.faults {
		out[k] = v
	}
	return out
}

// fault draws the fault of one call, if any; call with mu held.
func (m *Sim) fault() string {
	if m.rng == nil || m.rng.Float64() >= m.opts.FaultRate {
		return ""
	}
	f := [...]string{FaultThrottled, FaultDenied, FaultSlow}[m.rng.IntN(3)]
	m.faults[f]++
	return f
}

// call counts a call of kind, waits its latency and returns the configured
// failure, if any.
func (m *Sim) call(ctx context.Context, kind string) error {
	m.mu.Lock()
	m.calls[kind]++
	m.total++
	fault := m.fault()
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sim %s: %w", kind, err)
	}
	d := m.opts.Latency[kind]
	if fault == FaultSlow {
		d += cmp.Or(m.opts.SlowBy, 5*time.Second)
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sim %s: %w", kind, ctx.Err())
		case <-t.C:
		}
	}
	if err := m.opts.Fail[kind]; err != nil {
		return fmt.Errorf("sim %s: %w", kind, err)
	}
	switch fault {
	case FaultThrottled:
		return fmt.Errorf("sim %s: %w", kind, ErrThrottled)
	case FaultDenied:
		return fmt.Errorf("sim %s: %w", kind, ErrAccessDenied)
	}
	return nil
}

// clip narrows [start, end) to the telemetry that exists at Now.
func (m *Sim) clip(start, end time.Time) (time.Time, time.Time, bool) {
	if s := m.sc.Start(); start.Before(s) {
		start = s
	}
	if end.After(m.now) {
		end = m.now
	}
	if e := m.sc.End(); end.After(e) {
		end = e
	}
	return start, end, start.Before(end)
}
