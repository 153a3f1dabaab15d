package awstelemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// containerTasks are the tasks of the container story's cluster prod, as
// DescribeTasks returns them: three running tasks of checkout, two on the
// revision the deployment 20 minutes before the onset brought and one
// still on the revision before; a task of checkout that has just stopped
// (ListTasks "Recently stopped tasks might appear in the returned
// results"); a task of another service; a task of another cluster.
func containerTasks(onset time.Time) []map[string]any {
	const prefix = "arn:aws:ecs:us-east-1:123456789012:"
	task := func(cluster, group, id, rev, az, desired, last string, started time.Time) map[string]any {
		return map[string]any{
			"taskArn": prefix + "task/" + cluster + "/" + id, "clusterArn": prefix + "cluster/" + cluster,
			"taskDefinitionArn": prefix + "task-definition/" + rev, "group": group, "availabilityZone": az,
			"desiredStatus": desired, "lastStatus": last, "launchType": "FARGATE", "healthStatus": "HEALTHY",
			"startedAt": started, "createdAt": started.Add(-40 * time.Second), "cpu": "1024", "memory": "2048", "version": 3,
			"containers": []any{
				map[string]any{"name": "checkout", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:" + rev, "lastStatus": last,
					"taskArn": prefix + "task/" + cluster + "/" + id, "healthStatus": "HEALTHY"},
				map[string]any{"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29", "lastStatus": last},
			},
		}
	}
	return []map[string]any{
		task("prod", "service:checkout", "0d6c1f4e2a8b4e57b3a91c2d7e8f6a05", "checkout:42", "us-east-1a", "RUNNING", "RUNNING", onset.Add(-18*time.Minute)),
		task("prod", "service:checkout", "1e7d2a5f3b9c4f68c4b02d3e8f9a7b16", "checkout:42", "us-east-1b", "RUNNING", "RUNNING", onset.Add(-16*time.Minute)),
		task("prod", "service:checkout", "2f8e3b6a4c0d4a79d5c13e4f9a0b8c27", "checkout:41", "us-east-1c", "RUNNING", "RUNNING", onset.Add(-49*time.Hour)),
		task("prod", "service:checkout", "3a9f4c7b5d1e4b8ae6d24f5a0b1c9d38", "checkout:41", "us-east-1a", "RUNNING", "STOPPED", onset.Add(-49*time.Hour)),
		task("prod", "service:checkout", "4b0a5d8c6e2f4c9bf7e35a6b1c2d0e49", "checkout:41", "us-east-1b", "STOPPED", "STOPPED", onset.Add(-49*time.Hour)),
		task("prod", "service:refunds", "5c1b6e9d7f3a4d0ca8f46b7c2d3e1f5a", "refunds:7", "us-east-1a", "RUNNING", "RUNNING", onset.Add(-3*time.Hour)),
		task("staging", "service:checkout", "6d2c7f0e8a4b4e1db9a57c8d3e4f2a6b", "checkout:43", "us-east-1a", "RUNNING", "RUNNING", onset.Add(-time.Hour)),
	}
}

// An ECS service's running tasks are its members, each with its zone, the
// task definition it runs, its status, start and containers: what the
// engine compares them by.
func TestTopologyListsTasks(t *testing.T) {
	onset := ts("2024-12-05T14:00:00Z")
	srv, c := newServerClient(t, func(o *Options) { o.Now = func() time.Time { return onset.Add(5 * time.Minute) } })
	installContainers(srv, onset)
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "checkout-cpu",
		Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dims: map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	want := []struct {
		id, az, taskDef, revision, started string
	}{
		{"0d6c1f4e2a8b4e57b3a91c2d7e8f6a05", "us-east-1a", "checkout:42", "42", "2024-12-05T13:42:00Z"},
		{"1e7d2a5f3b9c4f68c4b02d3e8f9a7b16", "us-east-1b", "checkout:42", "42", "2024-12-05T13:44:00Z"},
		{"2f8e3b6a4c0d4a79d5c13e4f9a0b8c27", "us-east-1c", "checkout:41", "41", "2024-12-03T13:00:00Z"},
	}
	var got []investigate.Resource
	for _, r := range topo.Resources {
		if r.Type == investigate.TypeECSTask {
			got = append(got, r)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("tasks = %+v; want the three running tasks of prod/checkout", got)
	}
	for _, w := range want {
		r, ok := resource(topo, w.id)
		if !ok {
			t.Errorf("task %s missing", w.id)
			continue
		}
		if r.ARN != "arn:aws:ecs:us-east-1:123456789012:task/prod/"+w.id || r.AZ != w.az || r.Name != w.id ||
			r.Dims["ClusterName"] != "prod" || r.Dims["ServiceName"] != "checkout" || r.Dims["TaskId"] != w.id ||
			r.Config[investigate.TaskDefinitionKey] != "arn:aws:ecs:us-east-1:123456789012:task-definition/"+w.taskDef || r.Config["revision"] != w.revision ||
			r.Config[investigate.StartedAtKey] != w.started || r.Config["last_status"] != "RUNNING" || r.Config["cluster"] != "prod" ||
			r.Config["service"] != "checkout" || r.Config["launch_type"] != "FARGATE" || r.Config["health_status"] != "HEALTHY" ||
			r.Config["containers"] != "checkout,envoy" {
			t.Errorf("task %s = %+v", w.id, r)
		}
		if !hasRel(topo, w.id, "checkout", investigate.RelMemberOf) {
			t.Errorf("task %s is no member of checkout: %+v", w.id, topo.Relations)
		}
	}
	var list, describe *awstest.Call
	for _, call := range srv.Calls() {
		switch call.Op {
		case "ListTasks":
			list = &call
		case "DescribeTasks":
			describe = &call
		}
	}
	if list == nil || list.Params["cluster"] != "prod" || list.Params["serviceName"] != "checkout" || toFloat(list.Params["maxResults"]) != 100 {
		t.Errorf("ListTasks = %+v; want cluster prod, serviceName checkout, maxResults 100", list)
	}
	if describe == nil || describe.Params["cluster"] != "prod" || len(describe.Params["tasks"].([]any)) != 4 {
		t.Errorf("DescribeTasks = %+v; want the 4 tasks ListTasks gave, in cluster prod", describe)
	}
	if n := s.CallsByOperation(); n["ECS.ListTasks"] != 1 || n["ECS.DescribeTasks"] != 1 {
		t.Errorf("calls = %v", n)
	}
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return -1
}

// A service whose tasks cannot be listed or described is still there,
// without tasks, and the failure names the call.
func TestTasksUnreadable(t *testing.T) {
	for _, op := range []string{"ECS.ListTasks", "ECS.DescribeTasks"} {
		t.Run(op, func(t *testing.T) {
			onset := ts("2024-12-05T14:00:00Z")
			srv, c := newServerClient(t, func(o *Options) { o.Now = func() time.Time { return onset.Add(5 * time.Minute) } })
			installContainers(srv, onset)
			srv.Reply(op, awstest.Denied("AccessDeniedException"))
			s := c.NewSession()
			topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "checkout-cpu",
				Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dims: map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}}})
			if err != nil {
				t.Fatal(err)
			}
			if svc, ok := resource(topo, "checkout"); !ok || svc.Type != investigate.TypeECS {
				t.Errorf("service = %+v, %v", svc, ok)
			}
			for _, r := range topo.Resources {
				if r.Type == investigate.TypeECSTask {
					t.Errorf("task %s although %s failed", r.ID, op)
				}
			}
			name := map[string]string{"ECS.ListTasks": "ecs list tasks prod/checkout: ", "ECS.DescribeTasks": "ecs describe tasks prod/checkout: "}[op]
			probs := s.Problems()
			if len(probs) != 1 || !strings.Contains(probs[0].Error(), name) || !apiErrorCode(probs[0], "AccessDeniedException") {
				t.Errorf("problems = %v; want one naming %q", probs, name)
			}
		})
	}
}
