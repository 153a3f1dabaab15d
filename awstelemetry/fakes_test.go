package awstelemetry

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/xray"
)

// Hand fakes of the narrow API interfaces, for unit tests of the logic
// between the SDK's types and the engine's.

var errUnexpected = errors.New("fake: unexpected call")

type fakeCloudWatch struct {
	mu           sync.Mutex
	describe     func(*cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error)
	history      func(*cloudwatch.DescribeAlarmHistoryInput) (*cloudwatch.DescribeAlarmHistoryOutput, error)
	metricData   func(*cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error)
	metricInputs []*cloudwatch.GetMetricDataInput
}

func (f *fakeCloudWatch) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	if f.describe == nil {
		return nil, errUnexpected
	}
	return f.describe(in)
}

func (f *fakeCloudWatch) DescribeAlarmHistory(_ context.Context, in *cloudwatch.DescribeAlarmHistoryInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmHistoryOutput, error) {
	if f.history == nil {
		return &cloudwatch.DescribeAlarmHistoryOutput{}, nil
	}
	return f.history(in)
}

func (f *fakeCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.mu.Lock()
	f.metricInputs = append(f.metricInputs, in)
	f.mu.Unlock()
	if f.metricData == nil {
		return nil, errUnexpected
	}
	return f.metricData(in)
}

type fakeCloudTrail struct {
	mu     sync.Mutex
	pages  []*cloudtrail.LookupEventsOutput
	inputs []cloudtrail.LookupEventsInput
	// endless answers every call with an empty page that has more.
	endless bool
	err     error
}

func (f *fakeCloudTrail) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, *in)
	if f.err != nil {
		return nil, f.err
	}
	i := len(f.inputs) - 1
	if f.endless {
		return &cloudtrail.LookupEventsOutput{NextToken: aws.String("more")}, nil
	}
	if i >= len(f.pages) {
		return &cloudtrail.LookupEventsOutput{}, nil
	}
	return f.pages[i], nil
}

type fakeXRay struct {
	graph     *xray.GetServiceGraphOutput
	summaries []*xray.GetTraceSummariesOutput
	traces    *xray.BatchGetTracesOutput
	mu        sync.Mutex
	sumCalls  int
	batchIDs  [][]string
}

func (f *fakeXRay) GetServiceGraph(context.Context, *xray.GetServiceGraphInput, ...func(*xray.Options)) (*xray.GetServiceGraphOutput, error) {
	if f.graph == nil {
		return &xray.GetServiceGraphOutput{}, nil
	}
	return f.graph, nil
}

func (f *fakeXRay) GetTraceSummaries(_ context.Context, in *xray.GetTraceSummariesInput, _ ...func(*xray.Options)) (*xray.GetTraceSummariesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.sumCalls
	f.sumCalls++
	if i >= len(f.summaries) {
		return &xray.GetTraceSummariesOutput{}, nil
	}
	return f.summaries[i], nil
}

func (f *fakeXRay) BatchGetTraces(_ context.Context, in *xray.BatchGetTracesInput, _ ...func(*xray.Options)) (*xray.BatchGetTracesOutput, error) {
	f.mu.Lock()
	f.batchIDs = append(f.batchIDs, in.TraceIds)
	f.mu.Unlock()
	if f.traces == nil {
		return &xray.BatchGetTracesOutput{}, nil
	}
	return f.traces, nil
}

// DescribeAlarmsForMetric: these fakes know no alarms by metric.
func (f *fakeCloudWatch) DescribeAlarmsForMetric(context.Context, *cloudwatch.DescribeAlarmsForMetricInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsForMetricOutput, error) {
	return &cloudwatch.DescribeAlarmsForMetricOutput{}, nil
}
