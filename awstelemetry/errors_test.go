package awstelemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// apiErrorCode finds an API error with the code anywhere in an error tree.
func apiErrorCode(err error, code string) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == code {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if apiErrorCode(e, code) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		return apiErrorCode(u.Unwrap(), code)
	}
	return false
}

// topologyErr reads a topology for an alarm on dims and returns its
// error, or the problems it met.
func topologyErr(dims map[string]string) func(context.Context, *Session) error {
	return func(ctx context.Context, s *Session) error {
		_, err := s.Topology(ctx, investigate.Alarm{Name: "a", Metric: investigate.Metric{Namespace: "AWS/X", Name: "M", Dims: dims}})
		if err != nil {
			return err
		}
		return errors.Join(s.Problems()...)
	}
}

type serviceCase struct {
	service, op      string
	throttle, denied string
	prefix           string
	call             func(context.Context, *Session) error
}

func serviceCases() []serviceCase {
	w := awstest.NewALBWorld()
	win := func(f func(context.Context, *Session, time.Time, time.Time) error) func(context.Context, *Session) error {
		return func(ctx context.Context, s *Session) error { return f(ctx, s, w.Onset, w.Fires) }
	}
	return []serviceCase{
		{"CloudWatch", "DescribeAlarms", "Throttling", "AccessDenied", "cloudwatch describe alarms: ",
			func(ctx context.Context, s *Session) error { _, err := s.Alarm(ctx, "web-alb-target-5xx"); return err }},
		{"CloudWatch", "GetMetricData", "Throttling", "AccessDenied", "cloudwatch get metric data: ",
			win(func(ctx context.Context, s *Session, a, b time.Time) error {
				_, err := s.Metrics(ctx, []investigate.MetricQuery{{ID: "x", Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization"}}}, a, b)
				return err
			})},
		{"CloudWatch Logs", "StartQuery", "ThrottlingException", "AccessDeniedException", "logs insights start query /app/bot-forge: ",
			win(func(ctx context.Context, s *Session, a, b time.Time) error {
				_, err := s.Logs(ctx, investigate.LogQuery{Group: "/app/bot-forge", Start: a, End: b})
				return err
			})},
		{"XRay", "GetServiceGraph", "ThrottledException", "AccessDeniedException", "xray get service graph: ",
			win(func(ctx context.Context, s *Session, a, b time.Time) error {
				_, err := s.Traces(ctx, investigate.TraceQuery{Start: a, End: b})
				return err
			})},
		{"CloudTrail", "LookupEvents", "ThrottlingException", "AccessDeniedException", "cloudtrail lookup events: ",
			win(func(ctx context.Context, s *Session, a, b time.Time) error {
				_, err := s.Changes(ctx, a, b)
				return err
			})},
		{"Elastic Load Balancing v2", "DescribeLoadBalancers", "Throttling", "AccessDenied", "elbv2 describe load balancers: ",
			topologyErr(map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"})},
		{"EC2", "DescribeInstances", "RequestLimitExceeded", "UnauthorizedOperation", "ec2 describe instances: ",
			topologyErr(map[string]string{"InstanceId": "i-0c5e1a2b3d4f50003"})},
		{"Auto Scaling", "DescribeAutoScalingGroups", "Throttling", "AccessDenied", "autoscaling describe auto scaling groups: ",
			topologyErr(map[string]string{"AutoScalingGroupName": "web-asg"})},
		{"Lambda", "GetFunctionConfiguration", "TooManyRequestsException", "AccessDeniedException", "lambda get function configuration: ",
			topologyErr(map[string]string{"FunctionName": "ingest-fn"})},
		{"ECS", "DescribeServices", "ThrottlingException", "AccessDeniedException", "ecs describe services: ",
			topologyErr(map[string]string{"ClusterName": "prod", "ServiceName": "checkout"})},
		{"RDS", "DescribeDBInstances", "Throttling", "AccessDenied", "rds describe db instances: ",
			topologyErr(map[string]string{"DBInstanceIdentifier": "orders-db"})},
		{"DynamoDB", "DescribeTable", "ThrottlingException", "AccessDeniedException", "dynamodb describe table: ",
			topologyErr(map[string]string{"TableName": "forge-templates"})},
		{"API Gateway", "GetRestApis", "TooManyRequestsException", "AccessDeniedException", "apigateway get rest apis: ",
			topologyErr(map[string]string{"ApiName": "ingest-api"})},
		{"Health", "DescribeEvents", "ThrottlingException", "AccessDeniedException", "aws health describe events: ",
			win(func(ctx context.Context, s *Session, a, b time.Time) error { _, err := s.Health(ctx, a, b); return err })},
		{"Service Quotas", "GetServiceQuota", "TooManyRequestsException", "AccessDeniedException", "service quotas get service quota lambda L-B99A9384: ",
			func(ctx context.Context, s *Session) error {
				_, err := s.Quotas(ctx, []investigate.Resource{{ID: "ingest-fn", Type: investigate.TypeLambda}})
				return err
			}},
		{"STS", "AssumeRole", "Throttling", "AccessDenied", "cloudwatch describe alarms: ",
			func(ctx context.Context, s *Session) error { _, err := s.Alarm(ctx, "web-alb-target-5xx"); return err }},
	}
}

// TestEveryServiceFailsCleanly runs every service's call against a server
// that throttles, denies, or never answers, and checks that the source
// returns (or, for the topology, records) an error that names the call and
// wraps the SDK's API error or the context's deadline — never a panic.
func TestEveryServiceFailsCleanly(t *testing.T) {
	for _, tc := range serviceCases() {
		for _, mode := range []string{"throttle", "denied", "timeout"} {
			t.Run(tc.service+"/"+mode, func(t *testing.T) {
				t.Parallel()
				w := awstest.NewALBWorld()
				srv, c := newServerClient(t, func(o *Options) {
					o.Now = func() time.Time { return w.Fires }
					o.Present = func() time.Time { return w.Present }
					if tc.service == "STS" {
						o.RoleARN = "arn:aws:iam::123456789012:role/unstuck-read"
					}
				})
				w.Install(srv)
				srv.Reply("STS.AssumeRole", assumeRoleOK())
				var fail any
				switch mode {
				case "throttle":
					fail = awstest.Throttle(tc.throttle)
				case "denied":
					fail = awstest.Denied(tc.denied)
				case "timeout":
					fail = awstest.Hang
				}
				srv.Reply(tc.service+"."+tc.op, fail)
				timeout := 5 * time.Second
				if mode == "timeout" {
					timeout = 300 * time.Millisecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				err := tc.call(ctx, c.NewSession())
				if err == nil {
					t.Fatal("no error")
				}
				switch mode {
				case "timeout":
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("error does not wrap the deadline: %v", err)
					}
				case "throttle":
					if !apiErrorCode(err, tc.throttle) {
						t.Errorf("error does not wrap %s: %v", tc.throttle, err)
					}
				case "denied":
					if !apiErrorCode(err, tc.denied) {
						t.Errorf("error does not wrap %s: %v", tc.denied, err)
					}
				}
				if !strings.Contains(err.Error(), tc.prefix) {
					t.Errorf("error %q does not name the call (%q)", err, tc.prefix)
				}
			})
		}
	}
}

func assumeRoleOK() map[string]any {
	return map[string]any{
		"Credentials": map[string]any{
			"AccessKeyId": "ASIAASSUMEDKEY", "SecretAccessKey": "assumed-secret", "SessionToken": "assumed-token",
			"Expiration": time.Now().Add(time.Hour).UTC(),
		},
		"AssumedRoleUser": map[string]any{"Arn": "arn:aws:sts::210987654321:assumed-role/unstuck-read/unstuck", "AssumedRoleId": "AROAEXAMPLE:unstuck"},
	}
}

func TestHealthSubscriptionRequired(t *testing.T) {
	srv, w, c := newALBClient(t)
	srv.Reply("Health.DescribeEvents", &awstest.Error{Status: 400, Code: "SubscriptionRequiredException", Message: "The AWS Premium Support Subscription is required to use this service."})
	_, err := c.NewSession().Health(ctxTimeout(t, 5*time.Second), w.Onset, w.Fires)
	var sub *SubscriptionRequiredError
	if !errors.As(err, &sub) || !apiErrorCode(err, "SubscriptionRequiredException") {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "aws health describe events: the AWS Health API needs a Business") || strings.Contains(err.Error(), "\n") {
		t.Errorf("message = %q", err)
	}
}

func TestAdaptiveRetryRecoversFromThrottling(t *testing.T) {
	w := awstest.NewALBWorld()
	srv, c := newServerClient(t, func(o *Options) { o.MaxAttempts = 0 }) // the SDK's default: 3 attempts
	w.Install(srv)
	n := 0
	srv.Handle("DynamoDB.DescribeTable", func(r *awstest.Request) any {
		n++
		if n == 1 {
			return awstest.Throttle("ThrottlingException")
		}
		return map[string]any{"Table": map[string]any{"TableName": "forge-templates", "BillingModeSummary": map[string]any{"BillingMode": "PROVISIONED"},
			"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": 100, "WriteCapacityUnits": 25}}}
	})
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Metric: investigate.Metric{Dims: map[string]string{"TableName": "forge-templates"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err = %v, problems %v", err, s.Problems())
	}
	table, _ := resource(topo, "forge-templates")
	if table.Config["mode"] != "provisioned" || table.Config["rcu"] != "100" || table.Config["wcu"] != "25" {
		t.Errorf("table = %+v", table)
	}
	// The operation is counted once; the server saw the retry.
	if n != 2 || s.CallsByOperation()["DynamoDB.DescribeTable"] != 1 {
		t.Errorf("server saw %d attempts, session counted %d", n, s.CallsByOperation()["DynamoDB.DescribeTable"])
	}
}
