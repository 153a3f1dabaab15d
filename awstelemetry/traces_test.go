package awstelemetry

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	xtypes "github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/unstuck/unstuck/investigate"
)

func xnode(ref int32, name, typ string, edges ...xtypes.Edge) xtypes.Service {
	return xtypes.Service{ReferenceId: aws.Int32(ref), Name: aws.String(name), Type: aws.String(typ), Edges: edges}
}

func xedge(ref int32, total, faults, errs, throttles int64, seconds float64) xtypes.Edge {
	return xtypes.Edge{ReferenceId: aws.Int32(ref), SummaryStatistics: &xtypes.EdgeStatistics{
		TotalCount: aws.Int64(total), TotalResponseTime: aws.Float64(seconds * float64(total)),
		FaultStatistics: &xtypes.FaultStatistics{TotalCount: aws.Int64(faults)},
		ErrorStatistics: &xtypes.ErrorStatistics{TotalCount: aws.Int64(errs + throttles), ThrottleCount: aws.Int64(throttles), OtherCount: aws.Int64(errs)},
	}}
}

// TestTracesErrorsThrottlesAndSegments: a payments service on a Lambda
// function calls an external API that throttles and fails; the summaries
// root the faults at the remote node without a message, so one
// BatchGetTraces call reads the failed segments' exceptions.
func TestTracesErrorsThrottlesAndSegments(t *testing.T) {
	svc := func(name, typ string) xtypes.ServiceId {
		return xtypes.ServiceId{Name: aws.String(name), Type: aws.String(typ)}
	}
	failed := xtypes.TraceSummary{
		Id: aws.String("1-abc-001"), HasFault: aws.Bool(true), ResponseTime: aws.Float64(2),
		EntryPoint: &xtypes.ServiceId{Name: aws.String("pay-fn"), Type: aws.String("AWS::Lambda::Function")},
		ServiceIds: []xtypes.ServiceId{svc("pay-fn", "AWS::Lambda::Function"), svc("api.psp.example", "remote")},
		FaultRootCauses: []xtypes.FaultRootCause{{Services: []xtypes.FaultRootCauseService{{
			Name: aws.String("api.psp.example"), Type: aws.String("remote"),
			EntityPath: []xtypes.FaultRootCauseEntity{{Name: aws.String("api.psp.example"), Remote: aws.Bool(true)}},
		}}}},
	}
	throttled := xtypes.TraceSummary{
		Id: aws.String("1-abc-002"), HasError: aws.Bool(true), HasThrottle: aws.Bool(true), ResponseTime: aws.Float64(0.1),
		EntryPoint: failed.EntryPoint, ServiceIds: failed.ServiceIds,
		ErrorRootCauses: []xtypes.ErrorRootCause{{Services: []xtypes.ErrorRootCauseService{{Name: aws.String("api.psp.example"), Type: aws.String("remote")}}}},
	}
	ok := xtypes.TraceSummary{Id: aws.String("1-abc-003"), ResponseTime: aws.Float64(0.2), EntryPoint: failed.EntryPoint, ServiceIds: failed.ServiceIds}
	doc, _ := json.Marshal(map[string]any{
		"name": "pay-fn", "origin": "AWS::Lambda::Function", "fault": true,
		"subsegments": []any{map[string]any{"name": "api.psp.example", "namespace": "remote", "fault": true,
			"cause": map[string]any{"exceptions": []any{map[string]any{"type": "HTTPError", "message": "POST https://api.psp.example/charge: 503 Service Unavailable"}}}}},
	})
	xr := &fakeXRay{
		graph: &xray.GetServiceGraphOutput{Services: []xtypes.Service{
			xnode(0, "client", "client", xedge(1, 3, 1, 1, 1, 0.5)),
			xnode(1, "pay-fn", "AWS::Lambda::Function", xedge(2, 3, 1, 0, 1, 0.3)),
			xnode(2, "api.psp.example", "remote"),
		}},
		summaries: []*xray.GetTraceSummariesOutput{{TraceSummaries: []xtypes.TraceSummary{failed, throttled, ok}}},
		traces:    &xray.BatchGetTracesOutput{Traces: []xtypes.Trace{{Id: aws.String("1-abc-001"), Segments: []xtypes.Segment{{Id: aws.String("s1"), Document: aws.String(string(doc))}}}}},
	}
	c := newWithAPIs("us-east-1", apis{xray: xr}, Options{})
	s := c.NewSession()
	// The topology said pay-fn is a function.
	s.setTopology(&topoIndex{byID: map[string]investigate.Resource{"pay-fn": {ID: "pay-fn", Type: investigate.TypeLambda}, "api.psp.example": {ID: "api.psp.example", Type: investigate.TypeExternal}}})
	groups, err := s.Traces(context.Background(), investigate.TraceQuery{Start: time.Now().Add(-time.Hour), End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]investigate.TraceGroup{}
	for _, g := range groups {
		byKey[g.Caller+">"+g.Callee+"@"+g.Instance] = g
	}
	entry := byKey["client>pay-fn@pay-fn"]
	if entry.Requests != 3 || entry.Faults != 1 || entry.Throttles != 1 || entry.Errors != 0 || entry.Latency != 766666666*time.Nanosecond {
		t.Errorf("entry = %+v (all %+v)", entry, groups)
	}
	remote := byKey["pay-fn>api.psp.example@pay-fn"]
	if remote.Requests != 3 || remote.Faults != 1 || remote.Throttles != 1 || remote.Latency != 300*time.Millisecond {
		t.Errorf("remote = %+v", remote)
	}
	if len(xr.batchIDs) != 1 || len(xr.batchIDs[0]) == 0 || xr.batchIDs[0][0] != "1-abc-001" {
		t.Fatalf("BatchGetTraces ids = %v", xr.batchIDs)
	}
	if len(remote.Exceptions) != 1 || !strings.HasPrefix(remote.Exceptions[0].Message, "HTTPError: POST https://api.psp.example/charge: 503") {
		t.Errorf("remote exceptions = %+v", remote.Exceptions)
	}
}

// panickyELB misbehaves as no SDK client would: it returns neither output
// nor error.
type panickyELB struct{ elbAPI }

func (panickyELB) DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error) {
	return nil, nil
}

func TestSourcesNeverPanic(t *testing.T) {
	c := newWithAPIs("us-east-1", apis{
		cw:   &fakeCloudWatch{describe: func(*cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) { return nil, nil }},
		elb:  panickyELB{},
		xray: &fakeXRay{},
	}, Options{})
	s := c.NewSession()
	if _, err := s.Alarm(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("alarm err = %v", err)
	}
	// The describer runs in its own goroutine: its panic is an error like
	// any other (and, nothing else found, the topology's).
	_, err := s.Topology(context.Background(), investigate.Alarm{Metric: investigate.Metric{Dims: map[string]string{"LoadBalancer": "app/web-alb/1"}}})
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("topology err = %v", err)
	}
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), "internal error") {
		t.Errorf("problems = %v", p)
	}
}
