package investigate

import (
	"strings"
	"time"
)

// role says what a metric means to the checks.
type role int

const (
	roleOther         role = iota
	roleRequests           // traffic: requests, invocations, messages sent
	roleErrors             // server-side errors
	roleClientErrors       // 4xx, user errors
	roleLatency            // response time
	roleThrottles          // throttled requests
	roleUtilisation        // CPU
	roleMemory             // memory used, percent
	roleDisk               // disk used, percent
	roleCredits            // CPU credits or burst balance: a limit at zero
	roleConnections        // open connections: a limit at max_connections
	roleConcurrency        // concurrent executions: a limit at the quota
	roleConsumedRead       // consumed read capacity
	roleConsumedWrite      // consumed write capacity
	roleFreeMemory         // bytes free: a limit near zero
	roleFreeStorage        // bytes free: a limit near zero
	roleHealth             // status check failures, unhealthy hosts
	roleHealthyHosts       // healthy hosts: bad when it falls
	roleCapacity           // desired or in-service capacity
	roleBacklog            // queue depth or age
	roleLag                // how far a replica is behind its source
	// roleLimitHit counts the times a limit turned work away or dropped
	// it: a NAT gateway's port allocation errors, a cache's evictions, a
	// volume asked for more IOPS than it has. Any rise is the limit.
	roleLimitHit
	// roleQueue is work waiting inside a resource that its users wait on:
	// a volume's I/O queue.
	roleQueue
)

// rises reports whether a rise of the metric is the bad direction.
func (r role) rises() bool {
	switch r {
	case roleCredits, roleFreeMemory, roleFreeStorage, roleHealthyHosts, roleCapacity:
		return false
	}
	return true
}

// failure reports whether the role counts failed requests.
func (r role) failure() bool {
	return r == roleErrors || r == roleThrottles
}

// metricSpec is one metric a resource type publishes.
type metricSpec struct {
	Namespace string
	Name      string
	Stat      string
	Role      role
	// Unit is how the value reads to people.
	Unit string
}

// catalog lists the metrics the checks read for each resource type: the ones
// AWS publishes by default (and the CloudWatch agent's memory and disk).
var catalog = map[ResourceType][]metricSpec{
	TypeALB: {
		{"AWS/ApplicationELB", "RequestCount", "Sum", roleRequests, "requests/min"},
		{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", roleErrors, "5XX/min"},
		{"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", roleErrors, "5XX/min"},
		{"AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "Sum", roleClientErrors, "4XX/min"},
		{"AWS/ApplicationELB", "TargetResponseTime", "Average", roleLatency, "s"},
		{"AWS/ApplicationELB", "HealthyHostCount", "Average", roleHealthyHosts, "hosts"},
		{"AWS/ApplicationELB", "UnHealthyHostCount", "Average", roleHealth, "hosts"},
	},
	TypeAPIGateway: {
		{"AWS/ApiGateway", "Count", "Sum", roleRequests, "requests/min"},
		{"AWS/ApiGateway", "5XXError", "Sum", roleErrors, "5XX/min"},
		{"AWS/ApiGateway", "4XXError", "Sum", roleClientErrors, "4XX/min"},
		{"AWS/ApiGateway", "Latency", "Average", roleLatency, "ms"},
		{"AWS/ApiGateway", "IntegrationLatency", "Average", roleLatency, "ms"},
	},
	TypeEC2: {
		{"AWS/EC2", "CPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/EC2", "StatusCheckFailed", "Maximum", roleHealth, "failed checks"},
		{"AWS/EC2", "CPUCreditBalance", "Average", roleCredits, "credits"},
		{"AWS/EC2", "NetworkIn", "Sum", roleOther, "bytes/min"},
		{"CWAgent", "mem_used_percent", "Average", roleMemory, "%"},
		{"CWAgent", "disk_used_percent", "Average", roleDisk, "%"},
	},
	TypeASG: {
		{"AWS/AutoScaling", "GroupDesiredCapacity", "Average", roleCapacity, "instances"},
		{"AWS/AutoScaling", "GroupInServiceInstances", "Average", roleCapacity, "instances"},
	},
	TypeECS: {
		{"AWS/ECS", "CPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/ECS", "MemoryUtilization", "Average", roleMemory, "%"},
		{"ECS/ContainerInsights", "RunningTaskCount", "Average", roleCapacity, "tasks"},
		{"ECS/ContainerInsights", "DesiredTaskCount", "Average", roleCapacity, "tasks"},
	},
	// A task's own metrics: Container Insights with enhanced observability
	// publishes them per task, under ClusterName, ServiceName and TaskId
	// (plain Container Insights stops at the service).
	TypeECSTask: {
		{"ECS/ContainerInsights", "TaskCpuUtilization", "Average", roleUtilisation, "%"},
		{"ECS/ContainerInsights", "TaskMemoryUtilization", "Average", roleMemory, "%"},
	},
	TypeLambda: {
		{"AWS/Lambda", "Invocations", "Sum", roleRequests, "invocations/min"},
		{"AWS/Lambda", "Errors", "Sum", roleErrors, "errors/min"},
		{"AWS/Lambda", "Throttles", "Sum", roleThrottles, "throttles/min"},
		{"AWS/Lambda", "Duration", "Average", roleLatency, "ms"},
		{"AWS/Lambda", "ConcurrentExecutions", "Maximum", roleConcurrency, "concurrent"},
	},
	TypeDynamoDB: {
		{"AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", roleConsumedRead, "RCU/min"},
		{"AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum", roleConsumedWrite, "WCU/min"},
		{"AWS/DynamoDB", "ReadThrottleEvents", "Sum", roleThrottles, "throttles/min"},
		{"AWS/DynamoDB", "WriteThrottleEvents", "Sum", roleThrottles, "throttles/min"},
		{"AWS/DynamoDB", "ThrottledRequests", "Sum", roleThrottles, "throttled/min"},
		{"AWS/DynamoDB", "SystemErrors", "Sum", roleErrors, "errors/min"},
		{"AWS/DynamoDB", "UserErrors", "Sum", roleClientErrors, "errors/min"},
		{"AWS/DynamoDB", "SuccessfulRequestLatency", "Average", roleLatency, "ms"},
	},
	TypeRDS: {
		{"AWS/RDS", "CPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/RDS", "CPUCreditBalance", "Average", roleCredits, "credits"},
		{"AWS/RDS", "DatabaseConnections", "Maximum", roleConnections, "connections"},
		{"AWS/RDS", "FreeableMemory", "Average", roleFreeMemory, "bytes"},
		{"AWS/RDS", "FreeStorageSpace", "Average", roleFreeStorage, "bytes"},
		{"AWS/RDS", "ReadLatency", "Average", roleLatency, "s"},
		{"AWS/RDS", "WriteLatency", "Average", roleLatency, "s"},
		{"AWS/RDS", "ReplicaLag", "Average", roleLag, "s"},
		{"AWS/RDS", "AuroraReplicaLag", "Average", roleLag, "ms"},
	},
	TypeSQS: {
		{"AWS/SQS", "NumberOfMessagesSent", "Sum", roleRequests, "messages/min"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", roleBacklog, "messages"},
		{"AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", roleBacklog, "s"},
	},
	TypeNATGateway: {
		{"AWS/NATGateway", "ErrorPortAllocation", "Sum", roleLimitHit, "errors/min"},
		{"AWS/NATGateway", "PacketsDropCount", "Sum", roleErrors, "packets/min"},
		{"AWS/NATGateway", "ActiveConnectionCount", "Maximum", roleOther, "connections"},
		{"AWS/NATGateway", "ConnectionAttemptCount", "Sum", roleOther, "connections/min"},
		{"AWS/NATGateway", "BytesOutToDestination", "Sum", roleOther, "bytes/min"},
	},
	TypeEBS: {
		{"AWS/EBS", "BurstBalance", "Average", roleCredits, "%"},
		// A 0 or 1 each minute: its Sum counts the minutes over the limit.
		{"AWS/EBS", "VolumeIOPSExceededCheck", "Sum", roleLimitHit, ""},
		{"AWS/EBS", "VolumeQueueLength", "Average", roleQueue, "operations"},
		{"AWS/EBS", "VolumeReadOps", "Sum", roleOther, "operations/min"},
		{"AWS/EBS", "VolumeWriteOps", "Sum", roleOther, "operations/min"},
		{"AWS/EBS", "VolumeTotalReadTime", "Sum", roleOther, "s/min"},
	},
	TypeAurora: {
		{"AWS/RDS", "CPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/RDS", "DatabaseConnections", "Maximum", roleConnections, "connections"},
		{"AWS/RDS", "CommitLatency", "Average", roleLatency, "ms"},
		{"AWS/RDS", "Deadlocks", "Sum", roleErrors, "deadlocks/min"},
		{"AWS/RDS", "AuroraReplicaLagMaximum", "Maximum", roleLag, "ms"},
	},
	TypeSNS: {
		{"AWS/SNS", "NumberOfMessagesPublished", "Sum", roleRequests, "messages/min"},
		{"AWS/SNS", "NumberOfNotificationsFailed", "Sum", roleErrors, "notifications/min"},
		{"AWS/SNS", "NumberOfNotificationsDelivered", "Sum", roleOther, "notifications/min"},
	},
	TypeStepFunctions: {
		{"AWS/States", "ExecutionsStarted", "Sum", roleRequests, "executions/min"},
		{"AWS/States", "ExecutionsFailed", "Sum", roleErrors, "executions/min"},
		{"AWS/States", "ExecutionsTimedOut", "Sum", roleErrors, "executions/min"},
		{"AWS/States", "ExecutionThrottled", "Sum", roleThrottles, "throttled/min"},
		{"AWS/States", "ExecutionTime", "Average", roleLatency, "ms"},
	},
	TypeElastiCache: {
		{"AWS/ElastiCache", "EngineCPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/ElastiCache", "CPUUtilization", "Average", roleUtilisation, "%"},
		{"AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "Average", roleMemory, "%"},
		{"AWS/ElastiCache", "Evictions", "Sum", roleLimitHit, "evictions/min"},
		{"AWS/ElastiCache", "CurrConnections", "Maximum", roleConnections, "connections"},
		{"AWS/ElastiCache", "CacheHits", "Sum", roleOther, "hits/min"},
		{"AWS/ElastiCache", "CacheMisses", "Sum", roleOther, "misses/min"},
	},
}

// specFor finds the catalogue entry for a metric, or a guess from its name.
func specFor(resourceType ResourceType, m Metric) metricSpec {
	for _, s := range catalog[resourceType] {
		if s.Namespace == m.Namespace && s.Name == m.Name {
			return s
		}
	}
	n := strings.ToLower(m.Name)
	spec := metricSpec{Namespace: m.Namespace, Name: m.Name, Stat: "Average"}
	switch {
	case strings.Contains(n, "throttl"):
		spec.Role, spec.Stat = roleThrottles, "Sum"
	case strings.Contains(n, "5xx") || strings.Contains(n, "error") || strings.Contains(n, "fault"):
		spec.Role, spec.Stat = roleErrors, "Sum"
	case strings.Contains(n, "latency") || strings.Contains(n, "duration") || strings.Contains(n, "responsetime"):
		spec.Role = roleLatency
	case strings.Contains(n, "count") || strings.Contains(n, "invocations"):
		spec.Role, spec.Stat = roleRequests, "Sum"
	case strings.Contains(n, "cpu"):
		spec.Role = roleUtilisation
	case strings.Contains(n, "age") || strings.Contains(n, "visible"):
		spec.Role, spec.Stat = roleBacklog, "Maximum"
	}
	return spec
}

// metricKey is the query id of a resource's metric.
func metricKey(resource string, s metricSpec) string {
	return resource + "|" + s.Namespace + "|" + s.Name
}

// unit is how a resource's metric reads to people at the resolution it was
// read at: a count per period is per 5 minutes on 5-minute data, not per
// minute as the catalogue writes it. A source that read the metric at
// another period than the investigation's (EC2 basic monitoring, data too
// old for short periods) says so in Series.Period, and other units then
// name the period too.
func (r *run) unit(resource string, spec metricSpec) string {
	step := r.periodOf(resource, spec)
	if step > time.Minute && strings.HasSuffix(spec.Unit, "/min") {
		return strings.TrimSuffix(spec.Unit, "min") + ago(step)
	}
	if step != r.step {
		return strings.TrimSpace(spec.Unit + " (" + ago(step) + " periods)")
	}
	return spec.Unit
}

// periodOf is the period a resource's metric was read at, as its source
// said; the investigation's step when the source did not say, or the
// metrics are not read (yet, or at all).
func (r *run) periodOf(resource string, spec metricSpec) time.Duration {
	if r.metrics != nil {
		select {
		case <-r.metrics.done:
			if s, ok := r.metrics.val[metricKey(resource, spec)]; ok && r.metrics.err == nil && s.Period > 0 {
				return s.Period
			}
		default:
		}
	}
	return r.step
}
