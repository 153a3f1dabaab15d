package awstelemetry

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/unstuck/unstuck/investigate"
)

// maxServiceTasks is how many of a service's tasks are described: one page
// of ListTasks, one call of DescribeTasks ("A list of up to 100 task IDs
// or full ARN entries", DescribeTasks API reference).
const maxServiceTasks = 100

// describeTasks lists an ECS service's running tasks (ListTasks filters on
// a desired status of RUNNING by default) and describes them
// (DescribeTasks): each becomes a member of the service (RelMemberOf) with
// its zone, the task definition it runs, its status, when it started and
// its containers. The engine compares them as peers: Container Insights
// with enhanced observability publishes each task's metrics under
// ClusterName, ServiceName and TaskId, and the awslogs driver writes each
// to a stream of its own, PREFIX/CONTAINER/TASK-ID.
//
// "Recently stopped tasks might appear in the returned results" (ListTasks
// API reference): a task whose last status is STOPPED is left out.
func (b *topoBuilder) describeTasks(ctx context.Context, cluster, service string) {
	list, err := b.s.c.api.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(service), MaxResults: aws.Int32(maxServiceTasks),
	})
	if err != nil {
		b.errs.add(wrap("ecs list tasks "+cluster+"/"+service, err))
		return
	}
	arns := list.TaskArns
	if len(arns) > maxServiceTasks {
		arns = arns[:maxServiceTasks]
	}
	if len(arns) == 0 {
		return
	}
	out, err := b.s.c.api.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns})
	if err != nil {
		b.errs.add(wrap("ecs describe tasks "+cluster+"/"+service, err))
		return
	}
	for _, t := range out.Tasks {
		status := aws.ToString(t.LastStatus)
		arn := aws.ToString(t.TaskArn)
		if status == "STOPPED" || arn == "" {
			continue
		}
		id := arn[strings.LastIndexByte(arn, '/')+1:]
		r := investigate.Resource{
			ID: id, Type: investigate.TypeECSTask, Name: id, ARN: arn, AZ: aws.ToString(t.AvailabilityZone),
			Dims: map[string]string{"ClusterName": cluster, "ServiceName": service, "TaskId": id},
			Config: map[string]string{
				"cluster":                     cluster,
				"service":                     service,
				investigate.TaskDefinitionKey: aws.ToString(t.TaskDefinitionArn),
				"last_status":                 status,
			},
		}
		if td := aws.ToString(t.TaskDefinitionArn); strings.Contains(td, ":task-definition/") {
			r.Config["revision"] = td[strings.LastIndexByte(td, ':')+1:]
		}
		if t.StartedAt != nil {
			r.Config[investigate.StartedAtKey] = t.StartedAt.UTC().Format(time.RFC3339)
		}
		if t.LaunchType != "" {
			r.Config["launch_type"] = string(t.LaunchType)
		}
		if t.HealthStatus != "" && t.HealthStatus != "UNKNOWN" {
			r.Config["health_status"] = string(t.HealthStatus)
		}
		var containers []string
		for _, c := range t.Containers {
			if n := aws.ToString(c.Name); n != "" {
				containers = append(containers, n)
			}
		}
		sort.Strings(containers)
		if len(containers) > 0 {
			r.Config["containers"] = strings.Join(containers, ",")
		}
		b.add(r)
		b.relate(id, service, investigate.RelMemberOf)
	}
}
