package awstelemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
)

// Every probe reads its source with one call of the operation it names, and
// the world answers each.
func TestProbesReadEachSourceOnce(t *testing.T) {
	srv, c := probeWorld(t)
	var sources []string
	for _, p := range c.Probes() {
		sources = append(sources, p.Source)
		before := srv.Count(p.Operation)
		if err := p.Run(context.Background()); err != nil {
			t.Errorf("%s: %v", p.Source, err)
		}
		if got := srv.Count(p.Operation) - before; got != 1 {
			t.Errorf("%s: %d calls of %s, want 1", p.Source, got, p.Operation)
		}
		if !allowed(p.Operation, p.Action) {
			t.Errorf("%s: %s (%s) is not in Operations", p.Source, p.Operation, p.Action)
		}
	}
	if got, want := strings.Join(sources, " "), "alarms metrics logs traces changes health quotas topology"; got != want {
		t.Errorf("sources %q, want %q", got, want)
	}
}

func allowed(op, action string) bool {
	for _, o := range Operations {
		if o.Service+"."+o.Name == op && o.Action == action {
			return true
		}
	}
	return false
}

// A probe refused by AWS says why, in a word a person can act on.
func TestProbeRefusals(t *testing.T) {
	tests := []struct {
		op   string
		fail any
		want Refusal
	}{
		{"CloudWatch.DescribeAlarms", awstest.Denied("AccessDenied"), RefusedDenied},
		{"CloudWatch.GetMetricData", awstest.Throttle("Throttling"), RefusedThrottled},
		{"CloudWatch Logs.DescribeLogGroups", awstest.Denied("AccessDeniedException"), RefusedDenied},
		{"XRay.GetServiceGraph", awstest.Denied("AccessDeniedException"), RefusedDenied},
		{"CloudTrail.LookupEvents", &awstest.Error{Status: 400, Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}, RefusedExpired},
		{"Health.DescribeEvents", &awstest.Error{Status: 400, Code: "SubscriptionRequiredException", Message: "The requested service requires a subscription"}, RefusedSubscription},
		{"Service Quotas.GetServiceQuota", awstest.Denied("AccessDeniedException"), RefusedDenied},
		{"Resource Groups Tagging API.GetResources", &awstest.Error{Status: 400, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid"}, RefusedCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			srv, c := probeWorld(t)
			srv.Reply(tt.op, tt.fail)
			for _, p := range c.Probes() {
				err := p.Run(context.Background())
				if got := Classify(err); p.Operation == tt.op && got != tt.want {
					t.Errorf("%s: Classify(%v) = %q, want %q", p.Source, err, got, tt.want)
				} else if p.Operation != tt.op && err != nil {
					t.Errorf("%s failed with %s refused: %v", p.Source, tt.op, err)
				}
			}
		})
	}
}

// An account that has applied no value to the quota answers
// NoSuchResourceException: the probe could read, so it passes.
func TestQuotaProbeWithNoAppliedValue(t *testing.T) {
	srv, c := probeWorld(t)
	srv.Reply("Service Quotas.GetServiceQuota", &awstest.Error{Status: 400, Code: "NoSuchResourceException", Message: "The request failed because the specified service does not exist."})
	for _, p := range c.Probes() {
		if p.Source == "quotas" {
			if err := p.Run(context.Background()); err != nil {
				t.Errorf("quotas: %v", err)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	tests := []struct {
		err  error
		want Refusal
	}{
		{nil, ""},
		{api("AccessDeniedException"), RefusedDenied},
		{api("UnauthorizedOperation"), RefusedDenied},
		{api("ExpiredToken"), RefusedExpired},
		{api("InvalidClientTokenId"), RefusedCredentials},
		{api("RequestLimitExceeded"), RefusedThrottled},
		{api("SubscriptionRequiredException"), RefusedSubscription},
		{api("ValidationException"), RefusedOther},
		{&CredentialsError{Err: errors.New("none")}, RefusedCredentials},
		{&CredentialsError{Err: api("AccessDenied")}, RefusedDenied}, // an assumed role's AssumeRole
		{&CredentialsError{Err: api("ExpiredTokenException")}, RefusedExpired},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), RefusedTimeout},
		{errors.New("something"), RefusedOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
