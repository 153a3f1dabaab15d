package awstelemetry

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/unstuck/unstuck/investigate"
)

// What passes work on: SNS topics and Step Functions state machines.

// describeTopics describes SNS topics by name, one call each
// (GetTopicAttributes takes the topic's ARN, built from the account and the
// client's Region): subscriptions, FIFO, encryption.
func (b *topoBuilder) describeTopics(ctx context.Context, names []string) {
	account := b.account
	if account == "" {
		account = b.s.c.accountID(ctx)
	}
	var wg sync.WaitGroup
	for _, name := range names {
		spawn(&wg, b.errs.add, func() {
			r := investigate.Resource{ID: name, Type: investigate.TypeSNS, Name: name, Dims: map[string]string{"TopicName": name}}
			if account == "" {
				b.add(r)
				return
			}
			arn := "arn:" + partitionOf(b.s.c.region) + ":sns:" + b.s.c.region + ":" + account + ":" + name
			out, err := b.s.c.api.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
			if err != nil {
				b.errs.add(wrap("sns get topic attributes", err))
				b.add(r)
				return
			}
			r.ARN = arn
			a := out.Attributes
			r.Config = map[string]string{
				"subscribers":         a["SubscriptionsConfirmed"],
				"subscribers_pending": a["SubscriptionsPending"],
				"fifo":                a["FifoTopic"],
			}
			if k := a["KmsMasterKeyId"]; k != "" {
				r.Config["kms_key"] = k
			}
			if v := a["TopicArn"]; v != "" {
				r.ARN = v
			}
			b.add(r)
		})
	}
	wg.Wait()
}

// describeStateMachines describes state machines by ARN, one call each:
// their type (STANDARD or EXPRESS), status and the log group they log to.
func (b *topoBuilder) describeStateMachines(ctx context.Context, arns []string) {
	var wg sync.WaitGroup
	for _, arn := range arns {
		spawn(&wg, b.errs.add, func() {
			name := stateMachineName(arn)
			r := investigate.Resource{ID: name, Type: investigate.TypeStepFunctions, Name: name, ARN: arn, Dims: map[string]string{"StateMachineArn": arn}}
			out, err := b.s.c.api.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
			if err != nil {
				b.errs.add(wrap("sfn describe state machine", err))
				b.add(r)
				return
			}
			r.Config = map[string]string{
				"workflow": strings.ToLower(string(out.Type)),
				"status":   string(out.Status),
			}
			if lc := out.LoggingConfiguration; lc != nil {
				for _, d := range lc.Destinations {
					if d.CloudWatchLogsLogGroup != nil {
						r.LogGroup = logGroupName(aws.ToString(d.CloudWatchLogsLogGroup.LogGroupArn))
					}
				}
			}
			b.add(r)
		})
	}
	wg.Wait()
}

// stateMachineName is a state machine's name from its ARN
// (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME), or the value
// unchanged.
func stateMachineName(v string) string {
	if i := strings.Index(v, ":stateMachine:"); i >= 0 {
		return strings.SplitN(v[i+len(":stateMachine:"):], ":", 2)[0]
	}
	return v
}
