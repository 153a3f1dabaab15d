// Package scenario reads scenario files: one simulated AWS environment with one
// incident in it, as docs/scenario-format.md defines them.
//
// A loaded file is split in two: the Scenario, which the simulator turns into
// telemetry, and the Expect, which only evaluation reads. Nothing reachable
// from a Scenario leads to its Expect.
package scenario

import (
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// File is one loaded scenario file.
type File struct {
	// Path is where the file was read from, for messages.
	Path     string
	Scenario *Scenario
	// Expect is nil when the file has no expect block.
	Expect *Expect

	nameLine int // the line of the name field, for LoadAll's messages
}

// Scenario is a simulated environment and what differs from healthy in it.
// Every time is resolved to an absolute instant; every default is filled in.
type Scenario struct {
	Name    string
	Title   string
	Account string
	Region  string
	Onset   time.Time
	History time.Duration
	Step    time.Duration
	Seed    int64

	Alarm     Alarm
	Resources []Resource

	Metrics []MetricItem
	Logs    []LogItem
	Traces  []TraceItem
	Changes []ChangeItem
	Health  []HealthItem
	Quotas  []QuotaItem
	Notes   []NoteItem
	// Events are what AWS records about resources outside CloudTrail.
	Events  []EventItem
	Traffic []TrafficItem
}

// Start is when telemetry begins: onset - history.
func (s *Scenario) Start() time.Time { return s.Onset.Add(-s.History) }

// End is when telemetry ends: the alarm's fire time + 30 minutes.
func (s *Scenario) End() time.Time { return s.Alarm.Fires.Add(30 * time.Minute) }

// Resource returns the resource with the given id.
func (s *Scenario) Resource(id string) (*Resource, bool) {
	for i := range s.Resources {
		if s.Resources[i].ID == id {
			return &s.Resources[i], true
		}
	}
	return nil, false
}

// Alarm is what paged the team.
type Alarm struct {
	Name     string
	Resource string
	// Namespace and MetricName are the two halves of the file's metric field.
	Namespace  string
	MetricName string
	// Dims is nil when the file gives none: the resource's default
	// dimensions apply.
	Dims       map[string]string
	Stat       string
	Period     time.Duration
	Threshold  float64
	Comparison string
	Fires      time.Time
}

// Resource is one item of the environment. Fields that do not apply to its
// type are zero.
type Resource struct {
	ID   string
	Type investigate.ResourceType
	Name string // defaults to ID
	ARN  string // defaults to one derived from type, account, region and name
	AZ   string
	Tags map[string]string

	// alb, apigw
	Targets []string
	RPS     float64 // default 20 for entry resources
	// apigw: the log group of its access log, default
	// /aws/apigateway/<name>/access
	AccessLog string
	// ec2
	InstanceType string // default m5.large
	ASG          string
	// asg
	Min, Max, Desired int
	// ecs
	Cluster string
	Tasks   int
	// TaskIDs are the ids of the tasks the file lists for an ecs service
	// (its tasks given as a list rather than a count); each is a resource
	// of type ecs-task of its own, after the service in Resources.
	TaskIDs []string
	// ecs-task: a task of an ecs service, listed under the service's tasks
	Service string // the ecs service's id
	// Revision is the revision of the service's task definition the task
	// runs (default 1).
	Revision int
	// Started is when the task started; zero when it runs since before
	// the telemetry. Before it the task has no telemetry.
	Started time.Time
	// lambda
	Memory              int // MB
	Timeout             int // seconds
	ReservedConcurrency *int
	// dynamodb
	Mode     string // on-demand or provisioned
	RCU, WCU int
	// rds
	Engine         string
	InstanceClass  string
	MaxConnections int
	// service
	RunsOn   []string
	Calls    []string
	LogGroup string // default /app/<id> for a service
	// external
	URL string

	// The relations that carry no requests: what a change to this
	// resource can break without being called.
	// rds: the database this one is a read replica of.
	ReplicaOf string
	// security-group: what it is attached to (alb, ec2, ecs, lambda, rds).
	AttachedTo []string
	// kms-key: what it encrypts (dynamodb, sqs, rds, lambda, parameter).
	Encrypts []string
	// parameter: what reads it (service, ec2, ecs, lambda).
	ReadBy []string
	// iam-role: what assumes it (ec2, ecs, lambda).
	AssumedBy []string
	// sqs: the functions it triggers (through event source mappings).
	Triggers []string
	// nat: the hosts (ec2, ecs, lambda, asg) whose traffic out to the
	// internet it carries
	Serves []string
	// ebs
	Instance   string // the ec2 instance it is attached to
	VolumeType string // gp2 (default), gp3, io1, io2, st1 or sc1
	Size       int    // GiB, default 100
	IOPS       int    // provisioned IOPS of gp3, io1 and io2
	// elasticache (and Engine, MaxConnections)
	NodeType string // default cache.r6g.large
	Nodes    int    // default 1
	// rds: the aurora cluster it is a member of, and its role there
	// (writer or reader; the cluster's first member listed writes)
	DBCluster   string
	ClusterRole string
	// sns: what it delivers to
	Subscribers []string
	// sfn: its workflow type (standard or express) and what its tasks call
	Workflow string
	Invokes  []string
}

// Window is when an item is active and how it moves there. At and Until are
// filled with the start and end of telemetry when the file leaves them out.
type Window struct {
	At    time.Time
	Until time.Time
	Ramp  time.Duration
}

// MetricItem changes one metric series.
//
// An item sets one of Value, Baseline or CSV, or is Silent, or sets only
// percentiles (P90, P99). P90 and P99 may also stand beside Value or
// Baseline.
type MetricItem struct {
	Window
	Resource   string
	Namespace  string
	MetricName string // empty on a Silent item that silences every metric of the resource
	Dims       map[string]string
	Value      *float64
	Baseline   *float64
	Noise      *float64
	CSV        []Point
	// Silent says the series has no datapoints in the item's window: the
	// resource stopped reporting it (a terminated instance, a consumer
	// that stopped). Silence is no zero.
	Silent bool
	// P90 and P99 are the levels the series' 90th and 99th percentiles
	// move to, for a series with a distribution (a latency).
	P90, P99 *float64
	Line     int // the item's line in the file, for messages

	// Zone is set when Resource names an availability zone (the az of
	// resources in the file) rather than a resource: the item then
	// changes the metric of every resource in that zone that publishes it,
	// under its default dimensions, and Dims is nil.
	Zone string
}

// Point is one row of a metric item's CSV file.
type Point struct {
	Time  time.Time
	Value float64
}

// LogItem adds log lines.
type LogItem struct {
	Window
	Service string // a service id, or empty when Group is set
	Group   string // the log group; filled from the service when not given
	On      string // the log stream's instance, task or function
	Level   string // info, warn or error
	PerMin  float64
	Text    string

	// Zone is set when On names an availability zone: every host of the
	// service in that zone writes the lines, each at the item's rate.
	Zone string
}

// TraceItem changes the traced requests of one edge.
//
// On, when set, limits the item to the requests of one host (an ec2
// instance, ecs service or lambda function), the instance the simulator
// reports them under:
//   - on a service's calls (SERVICE>X), a host of the service: the calls
//     made from that instance. A host of X that is not also a host of the
//     service names the instance serving them instead, and the item covers
//     the share of the calls it serves: all of them when X is that ec2, ecs
//     or lambda resource, 1/n when X is a service on n hosts.
//   - on an entry's requests (ENTRY>X), the instance behind the entry that
//     serves them: X itself, or a host of service X.
//   - on client>ENTRY, an instance behind the entry: the requests it serves,
//     as if the item were on the entry's edge to it.
//
// The loader rejects an On that is a host of neither side of the edge.
type TraceItem struct {
	Window
	Caller    string // "client" for traffic entering an entry resource
	Callee    string
	On        string // a host id, or empty for every request on the edge
	Fault     *float64
	Error     *float64
	Throttle  *float64
	Latency   *time.Duration
	Exception string

	// Zone is set when On names an availability zone instead of a host:
	// the item covers the requests of every host in that zone, as if it
	// were repeated with On naming each.
	Zone string
}

// ChangeItem is one CloudTrail management event.
type ChangeItem struct {
	At       time.Time
	Event    string
	Source   string
	Resource string
	Actor    string
	Error    string
	Params   map[string]string
}

// HealthItem is one AWS Health event.
type HealthItem struct {
	Window
	Service     string
	Type        string
	Status      string
	AZ          string
	Resources   []string
	Description string
	// PostedAt is when AWS posted the event, when it could first be
	// read: At unless the file says otherwise. AWS backdates At, the
	// event's start, to when its impact began.
	PostedAt time.Time
}

// QuotaItem is one Service Quotas value.
type QuotaItem struct {
	Resource string
	Service  string
	Code     string
	Name     string
	Value    float64
}

// NoteItem is something a person said in the incident thread.
type NoteItem struct {
	At     time.Time
	Author string
	Text   string
}

// Expect is the sealed answer, read only by evaluation. Resources are
// resource ids, or availability zones (the az of resources in the file): a
// zone is the culprit when the resources in it fail together.
type Expect struct {
	Causes      []string
	Resources   []string
	Actions     []string
	OnsetWithin time.Duration // default 5m
}
