package awstelemetry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/health"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Probe is one harmless read that shows whether the client may read one
// of the engine's sources: it asks for at most a few items of a short
// window, and writes nothing.
type Probe struct {
	// Source is the source's name in a report (investigate.Unavailable's
	// Source): alarms, metrics, logs, traces, changes, health, quotas,
	// topology.
	Source string
	// Operation is the call, "Service.Operation" as Operations names it,
	// and Action the IAM action it needs.
	Operation string
	Action    string
	// Run makes the call.
	Run func(ctx context.Context) error
}

// Probes are one harmless read for each source the engine reads, in the
// order a report's sources come.
func (c *Client) Probes() []Probe {
	now := func() time.Time { return c.opts.Present().UTC().Truncate(time.Minute) }
	return []Probe{
		{"alarms", "CloudWatch.DescribeAlarms", "cloudwatch:DescribeAlarms", func(ctx context.Context) error {
			_, err := c.api.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{MaxRecords: aws.Int32(1)})
			return wrap("cloudwatch describe alarms", err)
		}},
		{"metrics", "CloudWatch.GetMetricData", "cloudwatch:GetMetricData", func(ctx context.Context) error {
			end := now()
			_, err := c.api.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(end.Add(-5 * time.Minute)), EndTime: aws.Time(end),
				MetricDataQueries: []cwtypes.MetricDataQuery{{
					Id: aws.String("probe"),
					MetricStat: &cwtypes.MetricStat{
						Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Usage"), MetricName: aws.String("CallCount")},
						Period: aws.Int32(60), Stat: aws.String("Sum"),
					},
				}},
			})
			return wrap("cloudwatch get metric data", err)
		}},
		{"logs", "CloudWatch Logs.DescribeLogGroups", "logs:DescribeLogGroups", func(ctx context.Context) error {
			_, err := c.api.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(1)})
			return wrap("logs describe log groups", err)
		}},
		{"traces", "XRay.GetServiceGraph", "xray:GetServiceGraph", func(ctx context.Context) error {
			end := now()
			_, err := c.api.xray.GetServiceGraph(ctx, &xray.GetServiceGraphInput{StartTime: aws.Time(end.Add(-5 * time.Minute)), EndTime: aws.Time(end)})
			return wrap("xray get service graph", err)
		}},
		{"changes", "CloudTrail.LookupEvents", "cloudtrail:LookupEvents", func(ctx context.Context) error {
			if err := c.ctLimit.Wait(ctx); err != nil {
				return wrap("cloudtrail lookup events", err)
			}
			end := now()
			_, err := c.api.trail.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(end.Add(-time.Hour)), EndTime: aws.Time(end), MaxResults: aws.Int32(1)})
			return wrap("cloudtrail lookup events", err)
		}},
		{"health", "Health.DescribeEvents", "health:DescribeEvents", func(ctx context.Context) error {
			// maxResults: "Minimum value of 10. Maximum value of 100."
			_, err := c.api.health.DescribeEvents(ctx, &health.DescribeEventsInput{MaxResults: aws.Int32(10)})
			return healthError("health describe events", err)
		}},
		{"quotas", "Service Quotas.GetServiceQuota", "servicequotas:GetServiceQuota", func(ctx context.Context) error {
			// EC2's running On-Demand standard instances, which the quota
			// check reads. No applied value is an answer: the default holds.
			_, err := c.api.quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("ec2"), QuotaCode: aws.String("L-1216C47A")})
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchResourceException" {
				return nil
			}
			return wrap("service quotas get service quota", err)
		}},
		{"topology", "Resource Groups Tagging API.GetResources", "tag:GetResources", func(ctx context.Context) error {
			_, err := c.api.tag.GetResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{ResourcesPerPage: aws.Int32(1)})
			return wrap("tagging get resources", err)
		}},
	}
}

// Refusal is why a call to AWS failed, in a word a person can act on.
type Refusal string

// The kinds of refusal.
const (
	// RefusedCredentials: no credentials (*CredentialsError), or AWS does
	// not recognise them.
	RefusedCredentials Refusal = "credentials"
	// RefusedExpired: the credentials have expired.
	RefusedExpired Refusal = "expired"
	// RefusedDenied: the identity's policies do not allow the action.
	RefusedDenied Refusal = "denied"
	// RefusedSubscription: AWS Health without a support plan that opens
	// its API (*SubscriptionRequiredError).
	RefusedSubscription Refusal = "subscription"
	// RefusedThrottled: over the API's rate.
	RefusedThrottled Refusal = "throttled"
	// RefusedTimeout: no answer in time.
	RefusedTimeout Refusal = "timeout"
	// RefusedUnreachable: the endpoint could not be reached.
	RefusedUnreachable Refusal = "unreachable"
	// RefusedOther: anything else.
	RefusedOther Refusal = "other"
)

// Classify says why a call failed; "" for nil.
func Classify(err error) Refusal {
	if err == nil {
		return ""
	}
	var sub *SubscriptionRequiredError
	switch {
	case errors.As(err, &sub):
		return RefusedSubscription
	case errors.Is(err, context.DeadlineExceeded):
		return RefusedTimeout
	}
	// An AWS answer first, also beneath a *CredentialsError (an assumed
	// role's AssumeRole denied, an SSO token expired).
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError":
			return RefusedDenied
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
			return RefusedExpired
		case "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException",
			"IncompleteSignature", "InvalidAccessKeyId", "AuthFailure", "MissingAuthenticationToken":
			return RefusedCredentials
		case "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
			"RequestThrottled", "RequestThrottledException", "SlowDown":
			return RefusedThrottled
		case "SubscriptionRequiredException":
			return RefusedSubscription
		}
		return RefusedOther
	}
	var ce *CredentialsError
	if errors.As(err, &ce) {
		return RefusedCredentials
	}
	var send *smithyhttp.RequestSendError
	var nerr net.Error
	if errors.As(err, &send) || errors.As(err, &nerr) {
		return RefusedUnreachable
	}
	return RefusedOther
}
