package awstelemetry

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/unstuck/unstuck/investigate"
)

// ecsServiceEvents are the ECS service events of the window, from the
// DescribeServices answer the topology read (services[].events: id,
// createdAt, message; the latest 100, "duplicate event messages are
// omitted until either the cause is resolved or six hours passes"). An
// event says what the scheduler did or could not do — started or stopped
// tasks, reached a steady state, could not place a task — and is no
// change of its own: it is marked Routine, with its words in Message for
// the checks that read them.
func ecsServiceEvents(svcs []ecsServiceInfo, start, end time.Time) []investigate.Change {
	var chs []investigate.Change
	for _, svc := range svcs {
		for _, e := range svc.events {
			t := aws.ToTime(e.CreatedAt)
			if t.Before(start) || !t.Before(end) {
				continue
			}
			chs = append(chs, investigate.Change{
				ID: aws.ToString(e.Id), Time: t, Event: "ServiceEvent", Source: "ecs.amazonaws.com",
				Resource: svc.service, Actor: "ecs.amazonaws.com", ByService: true, Routine: true,
				Message: investigate.Truncate(aws.ToString(e.Message), maxParamValue),
				Params:  map[string]string{"cluster": svc.cluster, "service": svc.service},
			})
		}
	}
	return chs
}
