// Package awstelemetry reads an AWS account's telemetry for the investigation
// engine: CloudWatch alarms and metrics, Logs Insights, X-Ray, CloudTrail, the
// descriptions of load balancers, instances, Auto Scaling groups, functions,
// services, databases and tables, AWS Health and Service Quotas. It implements
// the source interfaces of package investigate with aws-sdk-go-v2 and is
// read-only: every operation it calls is listed in operations.go and allowed by
// docs/iam-policy.json.
//
// A Client holds the SDK clients and what all investigations share (the
// CloudTrail rate limiter, the adaptive retryers). A Session is one
// investigation's view of it: its own API-call count, its own budget of Logs
// Insights bytes, and what its topology found, so that later sources (traces,
// changes) can name resources the way the topology does.
package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/health"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go/middleware"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"golang.org/x/time/rate"

	"github.com/unstuck/unstuck/investigate"
)

// Defaults for Options left zero.
const (
	// DefaultLogBytesCap is how many bytes Logs Insights may scan for one
	// session (one investigation): 5 GiB, about 2.5 cents at list price.
	DefaultLogBytesCap int64 = 5 << 30
	// DefaultSessionName is the STS session name of an assumed role, so the
	// target account's CloudTrail says who read it.
	DefaultSessionName = "unstuck"
	// CloudTrailRate is LookupEvents' limit: 2 requests per second per account
	// and region.
	CloudTrailRate rate.Limit = 2
)

// Options configure a Client. Everything is optional: the region, the
// credentials and the endpoints come from the standard AWS chain
// (environment, shared config and profiles, SSO, instance, ECS and IRSA
// roles; AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>) unless set here.
type Options struct {
	// Region overrides AWS_REGION and the profile's region.
	Region string
	// Profile selects a shared-config profile instead of AWS_PROFILE.
	Profile string
	// RoleARN, when set, is assumed through STS for every read (cross-account
	// investigations), with SessionName and ExternalID.
	RoleARN     string
	ExternalID  string
	SessionName string
	// LogBytesCap is the most bytes Logs Insights may scan in one session;
	// 0 means DefaultLogBytesCap, a negative value means no cap. When the
	// cap is reached, further log queries fail with ErrLogBytesCap.
	LogBytesCap int64
	// MaxAttempts is the SDK's attempts per call (adaptive retry mode);
	// 0 keeps the SDK's default of 3.
	MaxAttempts int
	// MaxTraceSummaries caps the X-Ray trace summaries read per window
	// (default 1000).
	MaxTraceSummaries int
	// MaxChangePages caps CloudTrail LookupEvents pages of 50 events per
	// window (default 20).
	MaxChangePages int

	// Endpoint sends every service's calls to one base URL (a local
	// emulator, a test server). AWS_ENDPOINT_URL does the same from the
	// environment.
	Endpoint string
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient aws.HTTPClient
	// Credentials replaces the default credential chain (tests).
	Credentials aws.CredentialsProvider
	// SeenCredentials, when set, is called with the secret parts of each
	// new set of credentials the client signs with (a profile's, SSO's, an
	// assumed role's, as they are refreshed), before the first request
	// signed with them: the caller hands them to its redaction, which
	// cannot know them from the environment.
	SeenCredentials func(secretAccessKey, sessionToken string)
	// CloudWatchJSON makes the CloudWatch client speak the AWS JSON 1.0
	// protocol instead of the SDK's default, RPC v2 CBOR. CloudWatch
	// answers both; moto 5.2, the independent emulator the tests run
	// against, answers JSON and Query but not CBOR. For tests only: off by
	// default, and cmd/bot has no flag or variable that sets it.
	CloudWatchJSON bool

	// Now is the clock (tests); time.Now by default. An investigation as of
	// an earlier instant (--at) sets it to that instant.
	Now func() time.Time
	// Present is the real present, from which CloudWatch counts a
	// datapoint's age when it decides which periods it still keeps; it
	// differs from Now when Now is an earlier instant. time.Now by default;
	// tests of a world at a fixed date set both.
	Present func() time.Time
	// PollInterval is the first wait between Logs Insights polls (default
	// 500ms; it grows to 4s).
	PollInterval time.Duration
	// MaxLogQueries caps the Logs Insights queries one Client runs at once
	// (default 10; an account may run 30 at a time, shared with people
	// querying from the console).
	MaxLogQueries int
}

// ErrNoRegion is a configuration that names no region: no Options.Region,
// AWS_REGION or profile region.
var ErrNoRegion = errors.New("no region: set --region, AWS_REGION or a profile's region")

// Client reads one account and region. It is safe for concurrent use by
// many investigations; give each its own Session.
type Client struct {
	opts   Options
	region string
	api    apis
	// creds are the credentials every call is signed with (the SDK's
	// cache over the chain, or over the assumed role).
	creds aws.CredentialsProvider
	// account is the account id, once GetCallerIdentity has said it.
	accountMu sync.Mutex
	account   string
	ctLimit   *rate.Limiter

	calls   callCounter // every session's calls
	scanned atomic.Int64
	logSem  chan struct{}

	defOnce sync.Once
	def     *Session
}

// apis are the narrow views of the SDK clients the sources call. Tests
// replace them with hand fakes.
type apis struct {
	cw     cloudwatchAPI
	logs   logsAPI
	xray   xrayAPI
	trail  cloudtrailAPI
	elb    elbAPI
	ec2    ec2API
	asg    autoscalingAPI
	lambda lambdaAPI
	ecs    ecsAPI
	rds    rdsAPI
	ddb    dynamodbAPI
	cache  elasticacheAPI
	sns    snsAPI
	sfn    sfnAPI
	apigw  apigatewayAPI
	health healthAPI
	quotas quotasAPI
	tag    taggingAPI
	sts    stsAPI
}

// New loads the AWS configuration and builds the service clients. It makes
// no call to AWS (an assumed role is assumed at the first read).
func New(ctx context.Context, opts Options) (*Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(opts.HTTPClient))
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	if opts.Endpoint != "" {
		loadOpts = append(loadOpts, config.WithBaseEndpoint(opts.Endpoint))
	}
	loadOpts = append(loadOpts, config.WithRetryMode(aws.RetryModeAdaptive))
	if opts.MaxAttempts > 0 {
		loadOpts = append(loadOpts, config.WithRetryMaxAttempts(opts.MaxAttempts))
	}
	c := &Client{opts: opts}
	loadOpts = append(loadOpts, config.WithAPIOptions([]func(*middleware.Stack) error{c.countMiddleware}))

	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("aws config: %w", ErrNoRegion)
	}
	if opts.RoleARN != "" {
		name := opts.SessionName
		if name == "" {
			name = DefaultSessionName
		}
		stsc := sts.NewFromConfig(cfg)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = name
			if opts.ExternalID != "" {
				o.ExternalID = aws.String(opts.ExternalID)
			}
		}))
	}
	if opts.SeenCredentials != nil && cfg.Credentials != nil {
		cfg.Credentials = &reportingCredentials{inner: cfg.Credentials, seen: opts.SeenCredentials}
	}
	c.region = cfg.Region
	c.creds = cfg.Credentials
	c.api = apis{
		cw:     cloudwatch.NewFromConfig(cfg, cloudWatchProtocol(opts)),
		logs:   cloudwatchlogs.NewFromConfig(cfg),
		xray:   xray.NewFromConfig(cfg),
		trail:  cloudtrail.NewFromConfig(cfg),
		elb:    elasticloadbalancingv2.NewFromConfig(cfg),
		ec2:    ec2.NewFromConfig(cfg),
		asg:    autoscaling.NewFromConfig(cfg),
		lambda: lambda.NewFromConfig(cfg),
		ecs:    ecs.NewFromConfig(cfg),
		rds:    rds.NewFromConfig(cfg),
		ddb:    dynamodb.NewFromConfig(cfg),
		cache:  elasticache.NewFromConfig(cfg),
		sns:    sns.NewFromConfig(cfg),
		sfn:    sfn.NewFromConfig(cfg),
		apigw:  apigateway.NewFromConfig(cfg),
		// AWS Health's global endpoint lives in the partition's first
		// region; an explicit endpoint still wins.
		health: health.NewFromConfig(cfg, func(o *health.Options) { o.Region = healthRegion(cfg.Region) }),
		quotas: servicequotas.NewFromConfig(cfg),
		tag:    resourcegroupstaggingapi.NewFromConfig(cfg),
		sts:    sts.NewFromConfig(cfg),
	}
	c.init(cloudTrailLimiter(cfg.Region, opts))
	return c, nil
}

// newWithAPIs builds a Client over fakes (unit tests).
func newWithAPIs(region string, a apis, opts Options) *Client {
	c := &Client{opts: opts, region: region, api: a}
	c.init(rate.NewLimiter(rate.Inf, 1))
	return c
}

func (c *Client) init(l *rate.Limiter) {
	c.ctLimit = l
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	if c.opts.Present == nil {
		c.opts.Present = time.Now
	}
	if c.opts.MaxTraceSummaries <= 0 {
		c.opts.MaxTraceSummaries = 1000
	}
	if c.opts.MaxChangePages <= 0 {
		c.opts.MaxChangePages = 20
	}
	if c.opts.PollInterval <= 0 {
		c.opts.PollInterval = 500 * time.Millisecond
	}
	if c.opts.LogBytesCap == 0 {
		c.opts.LogBytesCap = DefaultLogBytesCap
	}
	if c.opts.MaxLogQueries <= 0 {
		c.opts.MaxLogQueries = 10
	}
	c.logSem = make(chan struct{}, c.opts.MaxLogQueries)
}

// cloudWatchProtocol switches the CloudWatch client to AWS JSON 1.0 when
// Options.CloudWatchJSON asks for it (tests against moto), and otherwise
// leaves the SDK's default.
func cloudWatchProtocol(opts Options) func(*cloudwatch.Options) {
	return func(o *cloudwatch.Options) {
		if opts.CloudWatchJSON {
			o.Protocol = awsjson.New10(cwschemas.GraniteServiceVersion20100801)
			return
		}
		// Only with CBOR: an answer in another protocol is then the
		// endpoint's fault, and rpcv2CBORCheck says so.
		o.APIOptions = append(o.APIOptions, rpcv2CBORCheck)
	}
}

// healthRegion is where AWS Health's global endpoint is for a region's
// partition.
func healthRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "cn-northwest-1"
	case strings.HasPrefix(region, "us-gov-"):
		return "us-gov-west-1"
	default:
		return "us-east-1"
	}
}

var (
	limitersMu sync.Mutex
	limiters   = map[string]*rate.Limiter{}
)

// cloudTrailLimiter returns the process-wide limiter for one account and
// region (as far as the options tell the account: the profile and role),
// shared by every Client and investigation reading it.
func cloudTrailLimiter(region string, o Options) *rate.Limiter {
	key := region + "|" + o.Profile + "|" + o.RoleARN + "|" + o.Endpoint
	limitersMu.Lock()
	defer limitersMu.Unlock()
	l, ok := limiters[key]
	if !ok {
		l = rate.NewLimiter(CloudTrailRate, 1)
		limiters[key] = l
	}
	return l
}

// Region is the region the client reads.
func (c *Client) Region() string { return c.region }

// Sources returns the sources of the client's default session. For a server
// running many investigations, use NewSession per investigation instead, so
// that each has its own call count and log budget.
func (c *Client) Sources() investigate.Sources { return c.defaultSession().Sources() }

// DefaultSession is the session behind Client.Sources.
func (c *Client) DefaultSession() *Session { return c.defaultSession() }

func (c *Client) defaultSession() *Session {
	c.defOnce.Do(func() { c.def = c.NewSession() })
	return c.def
}

// APICalls is the number of AWS operations called through this client by
// all sessions (each operation counts once, whatever its retries).
func (c *Client) APICalls() int64 { return c.calls.total.Load() }

// CallsByOperation counts the calls by "Service.Operation".
func (c *Client) CallsByOperation() map[string]int64 { return c.calls.snapshot() }

// BytesScanned is the bytes Logs Insights scanned for all sessions.
func (c *Client) BytesScanned() int64 { return c.scanned.Load() }

// Session is one investigation's view of a Client. Its methods are the
// investigate source interfaces.
type Session struct {
	c       *Client
	calls   callCounter
	scanned atomic.Int64

	mu       sync.Mutex
	topo     *topoIndex    // what the last Topology found
	topoDone chan struct{} // closed when the Topology under way ends
	problems []error
}

// NewSession starts a session with its own call count and log budget.
func (c *Client) NewSession() *Session { return &Session{c: c} }

// Sources returns the session as every source the engine reads.
func (s *Session) Sources() investigate.Sources {
	return investigate.Sources{
		Alarms:   s,
		Topology: s,
		Metrics:  s,
		Logs:     s,
		Traces:   s,
		Changes:  s,
		Health:   s,
		Quotas:   s,
		Clients:  s,
		Meter:    s,
	}
}

// Usage implements investigate.Meter: the session's AWS operations, the
// bytes Logs Insights scanned for it, and its Problems, each as a part of
// the "aws" source that could not be read.
func (s *Session) Usage() investigate.Usage {
	u := investigate.Usage{APICalls: s.APICalls(), BytesScanned: s.BytesScanned()}
	for _, p := range s.Problems() {
		u.Unavailable = append(u.Unavailable, investigate.Unavailable{Source: "aws", Error: p.Error()})
	}
	return u
}

// APICalls is the number of AWS operations this session called.
func (s *Session) APICalls() int64 { return s.calls.total.Load() }

// CallsByOperation counts the session's calls by "Service.Operation".
func (s *Session) CallsByOperation() map[string]int64 { return s.calls.snapshot() }

// BytesScanned is the bytes Logs Insights scanned for this session.
func (s *Session) BytesScanned() int64 { return s.scanned.Load() }

var (
	_ investigate.AlarmSource    = (*Session)(nil)
	_ investigate.TopologySource = (*Session)(nil)
	_ investigate.MetricSource   = (*Session)(nil)
	_ investigate.LogSource      = (*Session)(nil)
	_ investigate.TraceSource    = (*Session)(nil)
	_ investigate.ChangeSource   = (*Session)(nil)
	_ investigate.HealthSource   = (*Session)(nil)
	_ investigate.QuotaSource    = (*Session)(nil)
	_ investigate.ClientSource   = (*Session)(nil)
	_ investigate.Meter          = (*Session)(nil)
)

// ctx marks a context as this session's, so the counting middleware
// charges the session's calls to it.
func (s *Session) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

type sessionKey struct{}

// callCounter counts operations.
type callCounter struct {
	total atomic.Int64
	mu    sync.Mutex
	byOp  map[string]int64
}

func (c *callCounter) add(op string) {
	c.total.Add(1)
	c.mu.Lock()
	if c.byOp == nil {
		c.byOp = map[string]int64{}
	}
	c.byOp[op]++
	c.mu.Unlock()
}

func (c *callCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.byOp))
	for k, v := range c.byOp {
		m[k] = v
	}
	return m
}

// opObserver, when set (tests), sees every operation called.
var opObserver atomic.Pointer[func(op string)]

// countMiddleware counts every operation once, before its retries.
func (c *Client) countMiddleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("unstuckCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetServiceID(ctx) + "." + middleware.GetOperationName(ctx)
			c.calls.add(op)
			if s, ok := ctx.Value(sessionKey{}).(*Session); ok && s != nil {
				s.calls.add(op)
			}
			if f := opObserver.Load(); f != nil {
				(*f)(op)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// wrap names the call that failed; the cause stays reachable with
// errors.As and errors.Is (smithy.APIError, context.DeadlineExceeded).
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// PartialError says that a source returned a usable result with some parts
// missing: each of Errs is one part it could not read.
type PartialError struct {
	What string
	Errs []error
}

func (e *PartialError) Error() string {
	parts := make([]string, 0, len(e.Errs))
	for _, err := range e.Errs {
		parts = append(parts, err.Error())
	}
	return e.What + " incomplete: " + strings.Join(parts, "; ")
}

// Unwrap gives the causes to errors.As and errors.Is.
func (e *PartialError) Unwrap() []error { return e.Errs }

// partial returns nil when errs is empty, else a *PartialError.
func partial(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &PartialError{What: what, Errs: errs}
}

// recoverTo turns a panic in a source into an error, so a malformed
// response can never take the bot down.
func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: internal error: %v", what, r)
	}
}

// spawn runs fn in a goroutine counted by wg; a panic in it becomes an
// error handed to onPanic instead of taking the process down.
func spawn(wg *sync.WaitGroup, onPanic func(error), fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if r := recover(); r != nil {
				onPanic(fmt.Errorf("internal error: %v", r))
			}
		}()
		fn()
	}()
}

// errorList collects errors from concurrent goroutines.
type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorList) add(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorList) list() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// reportingCredentials tells seen about each set of credentials inner
// returns, once per secret key.
type reportingCredentials struct {
	inner aws.CredentialsProvider
	seen  func(secretAccessKey, sessionToken string)

	mu   sync.Mutex
	last string
}

func (r *reportingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := r.inner.Retrieve(ctx)
	if err != nil {
		return creds, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if key := creds.SecretAccessKey + "\x00" + creds.SessionToken; key != r.last {
		r.last = key
		r.seen(creds.SecretAccessKey, creds.SessionToken)
	}
	return creds, nil
}
