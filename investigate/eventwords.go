package investigate

import "strings"

// eventWords say what an API event did, in the words of the person who
// reads the report. The event's own name follows in parentheses, for
// whoever looks it up in CloudTrail.
var eventWords = []struct{ prefix, words string }{
	{"UpdateFunctionCode", "deployed new code"},
	{"UpdateFunctionConfiguration", "changed the function's configuration"},
	{"PublishVersion", "published a new version"},
	{"UpdateAlias", "moved the alias to another version"},
	{"PutFunctionConcurrency", "set the reserved concurrency"},
	{"DeleteFunctionConcurrency", "removed the reserved concurrency"},
	{"UpdateEventSourceMapping", "changed the event source mapping"},
	{"UpdateService", "updated the service"},
	{"ServiceDeployment", "deployed"},
	{"RegisterTaskDefinition", "registered a new task definition"},
	{"CreateDeployment", "started a deployment"},
	{"UpdateStage", "changed the API stage"},
	{"PutResourcePolicy", "replaced the resource policy"},
	{"DeleteResourcePolicy", "deleted the resource policy"},
	{"PutBucketPolicy", "replaced the bucket policy"},
	{"PutRolePolicy", "changed a role's inline policy"},
	{"DeleteRolePolicy", "deleted a role's inline policy"},
	{"AttachRolePolicy", "attached a policy to a role"},
	{"DetachRolePolicy", "detached a policy from a role"},
	{"CreatePolicyVersion", "published a new version of a policy"},
	{"UpdateAssumeRolePolicy", "changed who may assume a role"},
	{"AuthorizeSecurityGroupIngress", "opened an inbound security-group rule"},
	{"AuthorizeSecurityGroupEgress", "opened an outbound security-group rule"},
	{"RevokeSecurityGroupIngress", "removed an inbound security-group rule"},
	{"RevokeSecurityGroupEgress", "removed an outbound security-group rule"},
	{"ModifySecurityGroupRules", "changed security-group rules"},
	{"ReplaceNetworkAclEntry", "changed a network ACL rule"},
	{"ReplaceRoute", "changed a route"},
	{"DeleteRoute", "deleted a route"},
	{"ModifyDBInstance", "modified the database instance"},
	{"ModifyDBCluster", "modified the database cluster"},
	{"ModifyDBParameterGroup", "changed database parameters"},
	{"RebootDBInstance", "rebooted the database"},
	{"FailoverDBCluster", "failed the database cluster over"},
	{"PutParameter", "changed a parameter"},
	{"UpdateSecret", "changed a secret"},
	{"PutSecretValue", "stored a new secret value"},
	{"RotateSecret", "rotated a secret"},
	{"DisableKey", "disabled the key"},
	{"ScheduleKeyDeletion", "scheduled the key for deletion"},
	{"UpdateTable", "changed the table's capacity or settings"},
	{"UpdateAutoScalingGroup", "changed the group's size or settings"},
	{"SetDesiredCapacity", "set the desired capacity"},
	{"PutScalingPolicy", "changed a scaling policy"},
	{"PutScheduledUpdateGroupAction", "scheduled a capacity change"},
	{"TerminateInstances", "terminated instances"},
	{"StopInstances", "stopped instances"},
	{"RebootInstances", "rebooted instances"},
	{"ModifyInstanceAttribute", "changed an instance's settings"},
	{"ModifyListener", "changed a load balancer listener"},
	{"ModifyRule", "changed a load balancer rule"},
	{"ModifyTargetGroup", "changed the target group's health check or settings"},
	{"ModifyTargetGroupAttributes", "changed the target group's settings"},
	{"DeregisterTargets", "took targets out of the target group"},
	{"SetQueueAttributes", "changed the queue's settings"},
	{"PutMetricAlarm", "changed an alarm"},
}

// EventWords says what an API event did in plain words, with the event's
// name after them ("deployed new code (UpdateFunctionCode20150331v2)"); an
// event it has no words for is its name, or "deployed (…)" when it ships
// new code.
func EventWords(event string) string {
	best := ""
	words := ""
	for _, w := range eventWords {
		// The name, or the name with its API version after it.
		rest, ok := strings.CutPrefix(event, w.prefix)
		if ok && (rest == "" || rest[0] >= '0' && rest[0] <= '9') && len(w.prefix) > len(best) {
			best, words = w.prefix, w.words
		}
	}
	switch {
	case words != "":
		return words + " (" + event + ")"
	case IsDeploy(event):
		return "deployed (" + event + ")"
	}
	return event
}
