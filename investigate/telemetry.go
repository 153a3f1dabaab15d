package investigate

import (
	"context"
	"time"
)

// This file declares what the engine reads and the small interfaces it reads
// it through. The simulator (package sim) and the AWS adapters implement them;
// the engine knows nothing of either.

// ResourceType is the type of a resource, as scenario files and the
// topology name it.
type ResourceType string

// Resource types.
const (
	TypeALB           ResourceType = "alb"
	TypeAPIGateway    ResourceType = "apigw"
	TypeEC2           ResourceType = "ec2"
	TypeASG           ResourceType = "asg"
	TypeECS           ResourceType = "ecs"
	TypeLambda        ResourceType = "lambda"
	TypeDynamoDB      ResourceType = "dynamodb"
	TypeRDS           ResourceType = "rds"
	TypeSQS           ResourceType = "sqs"
	TypeService       ResourceType = "service"
	TypeExternal      ResourceType = "external"
	TypeIAMRole       ResourceType = "iam-role"
	TypeIAMPolicy     ResourceType = "iam-policy"
	TypeSecurityGroup ResourceType = "security-group"
	TypeKMSKey        ResourceType = "kms-key"
	TypeParameter     ResourceType = "parameter"
	TypeOther         ResourceType = "other"
)

// TypeECSTask is one task of an ECS service: a member of the service
// (RelMemberOf), as an instance is a member of its Auto Scaling group.
const TypeECSTask ResourceType = "ecs-task"

// Resource types of what other resources stand on or keep their data in.
const (
	// TypeNATGateway is a NAT gateway: the way out to the internet of the
	// hosts in the subnets that route through it.
	TypeNATGateway ResourceType = "nat"
	// TypeEBS is an EBS volume attached to an instance.
	TypeEBS ResourceType = "ebs"
	// TypeElastiCache is an ElastiCache cluster (Redis OSS, Valkey or
	// Memcached).
	TypeElastiCache ResourceType = "elasticache"
	// TypeAurora is an Aurora DB cluster; its DB instances (TypeRDS) are
	// members of it (RelMemberOf), each a writer or a reader.
	TypeAurora ResourceType = "aurora"
	// TypeSNS is an SNS topic; it delivers what is published to its
	// subscribers (RelCalls).
	TypeSNS ResourceType = "sns"
	// TypeStepFunctions is a Step Functions state machine; its tasks call
	// what it invokes (RelCalls).
	TypeStepFunctions ResourceType = "sfn"
)

// Resource is one thing in the environment: an AWS resource, an application
// service as traces and logs see it, or an external dependency.
type Resource struct {
	ID   string            `json:"id"`
	Type ResourceType      `json:"type"`
	Name string            `json:"name,omitempty"`
	ARN  string            `json:"arn,omitempty"`
	AZ   string            `json:"az,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
	// Dims are the CloudWatch dimensions AWS publishes this resource's
	// metrics under (for example InstanceId, FunctionName, TableName).
	Dims map[string]string `json:"dims,omitempty"`
	// LogGroup is where a service, function or task writes its logs.
	LogGroup string `json:"log_group,omitempty"`
	// URL is the address of an external dependency.
	URL string `json:"url,omitempty"`
	// Config holds the type's settings that matter to the checks: limits and
	// sizes such as instance_type, reserved_concurrency, max_connections,
	// rcu, wcu, mode, memory, timeout, min, max, desired, tasks.
	Config map[string]string `json:"config,omitempty"`
}

// Relation kinds between resources.
const (
	// RelTargets: an entry resource (alb, apigw) sends traffic to To.
	RelTargets = "targets"
	// RelRunsOn: a service runs on To (an instance, task set or function).
	RelRunsOn = "runs-on"
	// RelCalls: a service calls To.
	RelCalls = "calls"
	// RelMemberOf: an instance belongs to To (an Auto Scaling group), a
	// task to its ECS service, or a DB instance to its Aurora cluster.
	RelMemberOf = "member-of"
	// RelSameApp: To shares From's application tags (the same
	// CloudFormation stack, or the same app, application or service tag)
	// and no other relation the source knows connects them. It is no
	// dependency: the walks from the alarm's resource (dependencies,
	// dependents, what its requests reach, its peers) do not follow it,
	// and a resource reached only through it is in scope but weighed as
	// one not connected to the alarm's resource.
	RelSameApp = "same-app"

	// The relations below carry no requests: From is something To needs
	// in order to work, or To copies From's data, and a change to one
	// can break the other (see reach in graph.go). The walks that follow
	// requests (dependencies, dependents, what the alarm's requests
	// reach) do not follow them. The scope reaches a security group, key,
	// parameter or role from what it serves, but does not go on from it to
	// the other resources it serves: one security group on a hundred
	// instances does not bring them all into scope.

	// RelAttachedTo: a security group (From) is attached to To: an
	// instance, an ECS service's tasks, a function's VPC configuration, a
	// database.
	RelAttachedTo = "attached-to"
	// RelEncrypts: a KMS key (From) encrypts To: a table, a queue, a
	// database, a function's environment, a parameter or secret.
	RelEncrypts = "encrypts"
	// RelReadBy: a parameter or secret (From) is read by To: a service, a
	// function, an ECS service's tasks, an instance.
	RelReadBy = "read-by"
	// RelAssumedBy: an IAM role (From) is assumed by To: a function, an
	// ECS service's tasks, an instance through its instance profile.
	RelAssumedBy = "assumed-by"
	// RelReplicaOf: a database (From) is a read replica of To. A change
	// to the source reaches its replicas.
	RelReplicaOf = "replica-of"
	// RelUses: a host's work passes through To, which it does not call by
	// name: the EBS volume attached to an instance, the NAT gateway its
	// subnet routes its traffic out to the internet through.
	RelUses = "uses"
)

// carriesNoRequests reports whether a relation kind is one of those that
// carry no requests.
func carriesNoRequests(kind string) bool {
	switch kind {
	case RelAttachedTo, RelEncrypts, RelReadBy, RelAssumedBy, RelReplicaOf:
		return true
	}
	return false
}

// servesFrom reports whether a relation kind says From is something To
// needs to work (a security group, a key, a parameter, a role), so that
// the scope stops there.
func servesFrom(kind string) bool {
	return carriesNoRequests(kind) && kind != RelReplicaOf
}

// Relation is a directed edge of the topology.
type Relation struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// Topology is the set of resources around an alarm and how they relate.
type Topology struct {
	Resources []Resource `json:"resources"`
	Relations []Relation `json:"relations"`
}

// Metric names one CloudWatch metric: namespace, name and dimensions.
type Metric struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Dims      map[string]string `json:"dims,omitempty"`
}

// Alarm is a CloudWatch alarm's definition and its state history.
type Alarm struct {
	Name string `json:"name"`
	// Resource is the id of the resource the alarm watches, as the topology
	// names it; empty when the source could not tell.
	Resource   string        `json:"resource,omitempty"`
	Metric     Metric        `json:"metric"`
	Stat       string        `json:"stat"`
	Period     time.Duration `json:"period"`
	Threshold  float64       `json:"threshold"`
	Comparison string        `json:"comparison"`
	State      string        `json:"state"`
	// History is the alarm's state changes, oldest first.
	History []AlarmStateChange `json:"history,omitempty"`
	Region  string             `json:"region,omitempty"`
	Account string             `json:"account,omitempty"`
}

// AlarmStateChange is one transition of an alarm's state.
type AlarmStateChange struct {
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// MetricQuery asks for one series. ID is the caller's key for the result.
type MetricQuery struct {
	ID     string
	Metric Metric
	Stat   string
	Period time.Duration
}

// Series is one metric's datapoints, oldest first. Times and Values have the
// same length; a missing datapoint is simply absent.
type Series struct {
	ID     string      `json:"id"`
	Times  []time.Time `json:"times"`
	Values []float64   `json:"values"`
	// Period is what each datapoint aggregates, when the source says: it
	// may be longer than the query's (a metric published every 5
	// minutes, data too old for short periods). Zero when the source did
	// not say, and the query's period holds.
	Period time.Duration `json:"period,omitempty"`
}

// LogQuery asks for the lines of one log group in a window.
type LogQuery struct {
	Group string
	Start time.Time
	End   time.Time
}

// LogStats summarises the lines of one log group in a window, the way a Logs
// Insights query with `stats count(*) by @logStream` and `pattern @message`
// does.
type LogStats struct {
	Group    string         `json:"group"`
	Lines    int            `json:"lines"`
	ByStream map[string]int `json:"by_stream,omitempty"`
	// Patterns are the most frequent message patterns, most frequent first;
	// variable tokens are replaced by <*>.
	Patterns     []LogPattern `json:"patterns,omitempty"`
	BytesScanned int64        `json:"bytes_scanned"`
}

// LogPattern is one message pattern and where it was seen.
type LogPattern struct {
	Pattern  string         `json:"pattern"`
	Count    int            `json:"count"`
	ByStream map[string]int `json:"by_stream,omitempty"`
	// Sample is one real line of the pattern.
	Sample string `json:"sample,omitempty"`
}

// TraceQuery asks for the traced requests in a window.
type TraceQuery struct {
	Start time.Time
	End   time.Time
}

// TraceGroup aggregates the traced requests of one edge of the service graph,
// served by one instance, task or function, in a window.
type TraceGroup struct {
	// Caller and Callee are resource ids; Caller is "client" for requests
	// entering an entry resource.
	Caller string `json:"caller"`
	Callee string `json:"callee"`
	// Instance is the instance, task or function that served the requests of
	// the service segment on this edge; empty when unknown.
	Instance  string        `json:"instance,omitempty"`
	Requests  int           `json:"requests"`
	Faults    int           `json:"faults"`
	Errors    int           `json:"errors"`
	Throttles int           `json:"throttles"`
	Latency   time.Duration `json:"latency"`
	// Exceptions are the messages recorded on failed segments, most
	// frequent first.
	Exceptions []TraceException `json:"exceptions,omitempty"`
	// TraceIDs are a few example traces.
	TraceIDs []string `json:"trace_ids,omitempty"`
}

// TraceException is one exception message and how often it was recorded.
type TraceException struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// Change is one CloudTrail management event.
type Change struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	Source   string    `json:"source"`
	Resource string    `json:"resource,omitempty"`
	Actor    string    `json:"actor"`
	// ReadOnly is CloudTrail's readOnly flag.
	ReadOnly bool              `json:"read_only"`
	Error    string            `json:"error,omitempty"`
	Params   map[string]string `json:"params,omitempty"`

	// What the record says about how the change was made; sources that
	// cannot tell leave these empty, and the actor's name is read instead.

	// EventType is CloudTrail's eventType: AwsApiCall, AwsServiceEvent
	// (AWS acting on its own: a key rotated, a Spot instance reclaimed),
	// AwsConsoleAction, AwsConsoleSignIn.
	EventType string `json:"event_type,omitempty"`
	// Identity is the kind of identity that made the call, CloudTrail's
	// userIdentity.type: Root, IAMUser, AssumedRole, AWSService, ...
	Identity string `json:"identity,omitempty"`
	// Role is the IAM role whose session made the call (the session
	// issuer), when it was a role.
	Role string `json:"role,omitempty"`
	// InvokedBy is the AWS service that made the request.
	InvokedBy string `json:"invoked_by,omitempty"`
	// ByService marks a change AWS made: a service event, a call by a
	// service principal or through a service-linked role.
	ByService bool `json:"by_service,omitempty"`
	// Routine marks a write that is never a change the team made: a data
	// event, a sign-in, a call by software on a host with the host's own
	// credentials (agents creating log streams, checking in).
	Routine bool `json:"routine,omitempty"`

	// Message is what AWS wrote about it, in its words: an Auto Scaling
	// activity's StatusMessage (why a launch failed), an ECS service
	// event's or an RDS event's message. Empty when there is none. A
	// failed Auto Scaling activity has its StatusCode (Failed, Cancelled)
	// in Error, like a CloudTrail call's errorCode: it changed nothing.
	Message string `json:"message,omitempty"`
}

// HealthEvent is one AWS Health event.
type HealthEvent struct {
	ARN         string    `json:"arn"`
	Service     string    `json:"service"`
	Type        string    `json:"type"`
	Status      string    `json:"status"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitempty"`
	Region      string    `json:"region,omitempty"`
	AZ          string    `json:"az,omitempty"`
	Resources   []string  `json:"resources,omitempty"`
	Description string    `json:"description,omitempty"`

	// Posted is when the event could be read: when AWS posted it, as far
	// as the source can tell (AWS Health's lastUpdatedTime: when it was
	// posted, or last updated). AWS backdates Start: an event posted
	// minutes into an outage starts when the outage did. Zero when the
	// source cannot tell; Start then stands for it.
	Posted time.Time `json:"posted,omitempty"`
}

// Quota is one Service Quotas value applying to a resource.
type Quota struct {
	Resource string  `json:"resource"`
	Service  string  `json:"service"`
	Code     string  `json:"code"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
}

// Note is something a person said in the incident's thread.
type Note struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// The sources. Each is one method; an implementation returns an error that
// wraps the cause (throttled, denied, timed out) and the engine records it as
// an unavailable source.

// AlarmSource reads an alarm's definition and state history.
type AlarmSource interface {
	Alarm(ctx context.Context, name string) (Alarm, error)
}

// TopologySource finds the resources around an alarm and how they relate.
type TopologySource interface {
	Topology(ctx context.Context, alarm Alarm) (Topology, error)
}

// MetricSource reads many series in one batched call over [start, end).
type MetricSource interface {
	Metrics(ctx context.Context, queries []MetricQuery, start, end time.Time) ([]Series, error)
}

// LogSource summarises one log group's lines in a window.
type LogSource interface {
	Logs(ctx context.Context, q LogQuery) (LogStats, error)
}

// TraceSource aggregates traced requests in a window by edge and instance.
type TraceSource interface {
	Traces(ctx context.Context, q TraceQuery) ([]TraceGroup, error)
}

// ChangeSource lists the management events in [start, end).
type ChangeSource interface {
	Changes(ctx context.Context, start, end time.Time) ([]Change, error)
}

// FocusedChangeSource is a ChangeSource that can read a window outward
// from an instant: the changes nearest focus first, so that what a budget
// leaves unread (and says it left) is far from it. The engine focuses on
// the alarm's firing, which the onset precedes.
type FocusedChangeSource interface {
	ChangesAround(ctx context.Context, start, end, focus time.Time) ([]Change, error)
}

// HealthSource lists the AWS Health events open at any time in [start, end).
type HealthSource interface {
	Health(ctx context.Context, start, end time.Time) ([]HealthEvent, error)
}

// QuotaSource returns the quotas that apply to the given resources.
type QuotaSource interface {
	Quotas(ctx context.Context, resources []Resource) ([]Quota, error)
}

// Sources is every source an investigation reads. A nil source is reported
// as unavailable.
type Sources struct {
	Alarms   AlarmSource
	Topology TopologySource
	Metrics  MetricSource
	Logs     LogSource
	Traces   TraceSource
	Changes  ChangeSource
	Health   HealthSource
	Quotas   QuotaSource
	// Clients, when set, breaks the requests entering load balancers and
	// APIs down by client and path.
	Clients ClientSource
	// Meter, when set, counts what the reads cost; without one the report
	// counts each source call the engine makes as one API call.
	Meter Meter
}

// Meter counts what the reads of an investigation's sources cost, and the
// parts of them that failed, below what the engine sees: one source call
// can be many API operations, and a source can return a usable result
// with parts of it missing. The AWS adapters implement it.
type Meter interface {
	Usage() Usage
}

// Usage is what a Meter counted.
type Usage struct {
	// APICalls is the operations called, each once whatever its retries.
	APICalls int64
	// BytesScanned is what log queries scanned.
	BytesScanned int64
	// Unavailable are the parts of sources that could not be read.
	Unavailable []Unavailable
}

// NotFoundError says that a source has no such alarm or resource. Candidates
// are the closest names it has, for a helpful message; Region and Account
// say where it looked, when the source knows (a real account's), so that a
// name looked for in the wrong account or region says so.
type NotFoundError struct {
	Kind       string // "alarm" or "resource"
	Name       string
	Candidates []string
	Region     string
	Account    string
}

func (e *NotFoundError) Error() string {
	return e.Kind + " " + e.Name + " not found" + e.Where()
}

// Where is " in REGION (account ACCOUNT)", as much of it as is known, or
// "".
func (e *NotFoundError) Where() string {
	switch {
	case e.Region != "" && e.Account != "":
		return " in " + e.Region + " (account " + e.Account + ")"
	case e.Region != "":
		return " in " + e.Region
	case e.Account != "":
		return " in account " + e.Account
	}
	return ""
}
