package awstest

import (
	"strconv"
	"strings"
)

// ListTasks answers ECS ListTasks from a store of tasks, each a map as
// DescribeTasks returns it (taskArn, clusterArn, group, desiredStatus,
// lastStatus, ...), with the API reference's rules:
//
//   - cluster: "The short name or full Amazon Resource Name (ARN) of the
//     cluster to use when filtering the ListTasks results. If you do not
//     specify a cluster, the default cluster is assumed."
//   - serviceName: "The name of the service to use when filtering the
//     ListTasks results. Specifying a serviceName limits the results to
//     tasks that belong to that service." A service's tasks are in the
//     group service:NAME.
//   - desiredStatus: "The default status filter is RUNNING, which shows
//     tasks that Amazon ECS has set the desired status to RUNNING."
//   - maxResults: "This value can be between 1 and 100. If this parameter
//     isn't used, then ListTasks returns up to 100 results and a nextToken
//     value if applicable." nextToken is absent on the last page.
func ListTasks(r *Request, tasks []map[string]any) any {
	cluster := r.String("cluster")
	if cluster == "" {
		cluster = "default"
	}
	desired := r.String("desiredStatus")
	if desired == "" {
		desired = "RUNNING"
	}
	size := 100
	if v, ok := r.Params["maxResults"]; ok {
		size = toInt(v)
		if size < 1 || size > 100 {
			return &Error{Status: 400, Code: "InvalidParameterException", Message: "maxResults must be between 1 and 100"}
		}
	}
	var arns []any
	for _, t := range tasks {
		if !inCluster(t, cluster) || t["desiredStatus"] != desired {
			continue
		}
		if svc := r.String("serviceName"); svc != "" && t["group"] != "service:"+svc {
			continue
		}
		arns = append(arns, t["taskArn"])
	}
	from := 0
	if tok := r.String("nextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(arns) {
			return &Error{Status: 400, Code: "InvalidParameterException", Message: "invalid nextToken"}
		}
		from = n
	}
	to := min(len(arns), from+size)
	out := map[string]any{"taskArns": append([]any{}, arns[from:to]...)}
	if to < len(arns) {
		out["nextToken"] = strconv.Itoa(to)
	}
	return out
}

// DescribeTasks answers ECS DescribeTasks from the same store: tasks is
// "A list of up to 100 task IDs or full ARN entries"; a task that is not
// in the cluster is a failure with reason MISSING, as ECS answers it.
func DescribeTasks(r *Request, tasks []map[string]any) any {
	cluster := r.String("cluster")
	if cluster == "" {
		cluster = "default"
	}
	want := stringList(r.Params["tasks"])
	if len(want) == 0 || len(want) > 100 {
		return &Error{Status: 400, Code: "InvalidParameterException", Message: "tasks must hold 1 to 100 task IDs or ARNs"}
	}
	found, failures := []any{}, []any{}
	for _, w := range want {
		var hit map[string]any
		for _, t := range tasks {
			arn, _ := t["taskArn"].(string)
			if inCluster(t, cluster) && (arn == w || strings.HasSuffix(arn, "/"+w)) {
				hit = t
				break
			}
		}
		if hit == nil {
			failures = append(failures, map[string]any{"arn": w, "reason": "MISSING"})
			continue
		}
		found = append(found, hit)
	}
	return map[string]any{"tasks": found, "failures": failures}
}

// inCluster reports whether a task is in a cluster named by its short
// name or its ARN.
func inCluster(t map[string]any, cluster string) bool {
	arn, _ := t["clusterArn"].(string)
	return arn == cluster || strings.HasSuffix(arn, ":cluster/"+cluster)
}
