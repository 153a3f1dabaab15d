package scenario

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// fnv64a is the FNV-1a 64-bit hash of s.
func fnv64a(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// SeedOf is the seed of a scenario whose file gives none: the FNV-1a 64-bit
// hash of its name, as an int64.
func SeedOf(name string) int64 { return int64(fnv64a(name)) }

// partition is the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// defaultARN is the ARN of a resource whose file gives none, in the form AWS
// uses for its type. Random-looking parts (an ALB's id, an Auto Scaling
// group's UUID) are derived from the name, so they are stable. ec2 instances,
// security groups and KMS keys are named by their id, as in AWS. service and
// external resources are not AWS resources: they have no ARN ("").
func defaultARN(typ, id, name, account, region string) string {
	pt := partition(region)
	switch typ {
	case "alb":
		return fmt.Sprintf("arn:%s:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%016x", pt, region, account, name, fnv64a("alb/"+name))
	case "apigw":
		return fmt.Sprintf("arn:%s:apigateway:%s::/restapis/%s", pt, region, name)
	case "ec2":
		return fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", pt, region, account, id)
	case "asg":
		a, b := fnv64a("asg/"+name), fnv64a("asg2/"+name)
		uuid := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
		return fmt.Sprintf("arn:%s:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", pt, region, account, uuid, name)
	case "ecs":
		return "" // needs the cluster: see ecsARN
	case "lambda":
		return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", pt, region, account, name)
	case "dynamodb":
		return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", pt, region, account, name)
	case "rds":
		return fmt.Sprintf("arn:%s:rds:%s:%s:db:%s", pt, region, account, name)
	case "sqs":
		return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", pt, region, account, name)
	case "nat":
		return fmt.Sprintf("arn:%s:ec2:%s:%s:natgateway/%s", pt, region, account, name)
	case "ebs":
		return fmt.Sprintf("arn:%s:ec2:%s:%s:volume/%s", pt, region, account, name)
	case "sns":
		return fmt.Sprintf("arn:%s:sns:%s:%s:%s", pt, region, account, name)
	case "sfn":
		return fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", pt, region, account, name)
	case "aurora":
		return fmt.Sprintf("arn:%s:rds:%s:%s:cluster:%s", pt, region, account, name)
	case "elasticache":
		return fmt.Sprintf("arn:%s:elasticache:%s:%s:cluster:%s", pt, region, account, name)
	case "iam-role":
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", pt, account, strings.TrimPrefix(name, "/"))
	case "iam-policy":
		return fmt.Sprintf("arn:%s:iam::%s:policy/%s", pt, account, strings.TrimPrefix(name, "/"))
	case "security-group":
		return fmt.Sprintf("arn:%s:ec2:%s:%s:security-group/%s", pt, region, account, id)
	case "kms-key":
		return fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", pt, region, account, id)
	case "parameter":
		return fmt.Sprintf("arn:%s:ssm:%s:%s:parameter/%s", pt, region, account, strings.TrimPrefix(name, "/"))
	case "other":
		return fmt.Sprintf("arn:%s:other:%s:%s:%s", pt, region, account, name)
	}
	return ""
}

// taskARN is the ARN of an ECS task in the long form AWS uses since 2018,
// with the cluster's name.
func taskARN(cluster, id, account, region string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:task/%s/%s", partition(region), region, account, cluster, id)
}

func ecsARN(cluster, name, account, region string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:service/%s/%s", partition(region), region, account, cluster, name)
}

// validARN says whether s has the shape arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE.
func validARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] != "" && parts[5] != ""
}
