package awstelemetry

// Operation is one AWS operation the package calls and the IAM action that
// allows it.
type Operation struct {
	// Service is the SDK's service id and Name the operation, as the SDK
	// names them (the counters use "Service.Name").
	Service string
	Name    string
	// Action is the IAM action (apigateway's actions are HTTP verbs); empty
	// for an operation that needs no permission.
	Action string
}

// Operations lists every operation the package may call. docs/iam-policy.json
// allows exactly these actions; tests check that the two agree, that every
// method of the narrow API interfaces is here, and that every call made in
// the tests is here.
var Operations = []Operation{
	{"CloudWatch", "DescribeAlarms", "cloudwatch:DescribeAlarms"},
	{"CloudWatch", "DescribeAlarmHistory", "cloudwatch:DescribeAlarmHistory"},
	{"CloudWatch", "GetMetricData", "cloudwatch:GetMetricData"},
	{"CloudWatch", "DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmsForMetric"},
	{"CloudWatch Logs", "StartQuery", "logs:StartQuery"},
	{"CloudWatch Logs", "GetQueryResults", "logs:GetQueryResults"},
	{"CloudWatch Logs", "StopQuery", "logs:StopQuery"},
	{"CloudWatch Logs", "DescribeLogGroups", "logs:DescribeLogGroups"},
	{"XRay", "GetServiceGraph", "xray:GetServiceGraph"},
	{"XRay", "GetTraceSummaries", "xray:GetTraceSummaries"},
	{"XRay", "BatchGetTraces", "xray:BatchGetTraces"},
	{"CloudTrail", "LookupEvents", "cloudtrail:LookupEvents"},
	{"Elastic Load Balancing v2", "DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers"},
	{"Elastic Load Balancing v2", "DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroups"},
	{"Elastic Load Balancing v2", "DescribeTargetHealth", "elasticloadbalancing:DescribeTargetHealth"},
	{"EC2", "DescribeInstances", "ec2:DescribeInstances"},
	{"EC2", "DescribeNatGateways", "ec2:DescribeNatGateways"},
	{"EC2", "DescribeVolumes", "ec2:DescribeVolumes"},
	{"Auto Scaling", "DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingGroups"},
	{"Auto Scaling", "DescribeScalingActivities", "autoscaling:DescribeScalingActivities"},
	{"Lambda", "GetFunctionConfiguration", "lambda:GetFunctionConfiguration"},
	{"Lambda", "GetFunctionConcurrency", "lambda:GetFunctionConcurrency"},
	{"Lambda", "ListEventSourceMappings", "lambda:ListEventSourceMappings"},
	{"ECS", "DescribeServices", "ecs:DescribeServices"},
	{"ECS", "DescribeTaskDefinition", "ecs:DescribeTaskDefinition"},
	{"ECS", "ListTasks", "ecs:ListTasks"},
	{"ECS", "DescribeTasks", "ecs:DescribeTasks"},
	{"RDS", "DescribeDBInstances", "rds:DescribeDBInstances"},
	{"RDS", "DescribeDBClusters", "rds:DescribeDBClusters"},
	{"RDS", "DescribeEvents", "rds:DescribeEvents"},
	{"DynamoDB", "DescribeTable", "dynamodb:DescribeTable"},
	{"ElastiCache", "DescribeCacheClusters", "elasticache:DescribeCacheClusters"},
	{"API Gateway", "GetRestApis", "apigateway:GET"},
	{"API Gateway", "GetResources", "apigateway:GET"},
	{"API Gateway", "GetStages", "apigateway:GET"},
	{"SNS", "GetTopicAttributes", "sns:GetTopicAttributes"},
	{"SFN", "DescribeStateMachine", "states:DescribeStateMachine"},
	{"Health", "DescribeEvents", "health:DescribeEvents"},
	{"Health", "DescribeAffectedEntities", "health:DescribeAffectedEntities"},
	{"Health", "DescribeEventDetails", "health:DescribeEventDetails"},
	{"Service Quotas", "GetServiceQuota", "servicequotas:GetServiceQuota"},
	{"Service Quotas", "GetAWSDefaultServiceQuota", "servicequotas:GetAWSDefaultServiceQuota"},
	{"Resource Groups Tagging API", "GetResources", "tag:GetResources"},
	{"STS", "AssumeRole", "sts:AssumeRole"},
	// "No permissions are required to perform this operation. If an
	// administrator attaches a policy to your identity that explicitly
	// denies access to the sts:GetCallerIdentity action, you can still
	// perform this operation." (GetCallerIdentity, STS API reference.)
	{"STS", "GetCallerIdentity", ""},
}
