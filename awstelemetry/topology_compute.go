package awstelemetry

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/unstuck/unstuck/investigate"
)

// describeLoadBalancers describes load balancers (ids are LoadBalancer
// dimension values or names), their target groups and the health of each
// target; instance and Lambda targets become "targets" relations.
func (b *topoBuilder) describeLoadBalancers(ctx context.Context, ids []string) {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, lbNameFromDim(id))
	}
	for len(names) > 0 {
		n := min(len(names), 20)
		batch := names[:n]
		names = names[n:]
		out, err := b.s.c.api.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: batch})
		if err != nil {
			b.errs.add(wrap("elbv2 describe load balancers", err))
			for _, name := range batch {
				b.add(investigate.Resource{ID: name, Type: investigate.TypeALB, Name: name})
			}
			continue
		}
		var wg sync.WaitGroup
		for _, lb := range out.LoadBalancers {
			spawn(&wg, b.errs.add, func() {
				b.describeLoadBalancer(ctx, lb)
			})
		}
		wg.Wait()
	}
}

func (b *topoBuilder) describeLoadBalancer(ctx context.Context, lb elbtypes.LoadBalancer) {
	name := aws.ToString(lb.LoadBalancerName)
	arn := aws.ToString(lb.LoadBalancerArn)
	r := investigate.Resource{
		ID: name, Type: investigate.TypeALB, Name: name, ARN: arn,
		Dims:   map[string]string{"LoadBalancer": elbDimension(arn, "loadbalancer/")},
		Config: map[string]string{"lb_type": string(lb.Type), "scheme": string(lb.Scheme)},
	}
	var azs []string
	for _, az := range lb.AvailabilityZones {
		azs = append(azs, aws.ToString(az.ZoneName))
	}
	sort.Strings(azs)
	r.Config["azs"] = strings.Join(azs, ",")

	tgs, err := b.s.c.api.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		b.errs.add(wrap("elbv2 describe target groups", err))
		b.add(r)
		return
	}
	var tgNames []string
	for _, tg := range tgs.TargetGroups {
		tgNames = append(tgNames, aws.ToString(tg.TargetGroupName))
	}
	r.Config["target_groups"] = strings.Join(tgNames, ",")
	b.add(r)
	for _, g := range lb.SecurityGroups {
		b.attachGroup(g, "", arnAccount(arn), name)
	}

	var wg sync.WaitGroup
	for _, tg := range tgs.TargetGroups {
		spawn(&wg, b.errs.add, func() {
			b.describeTargets(ctx, name, tg)
		})
	}
	wg.Wait()
}

func (b *topoBuilder) describeTargets(ctx context.Context, lbName string, tg elbtypes.TargetGroup) {
	th, err := b.s.c.api.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		b.errs.add(wrap("elbv2 describe target health", err))
		return
	}
	tgName := aws.ToString(tg.TargetGroupName)
	for _, d := range th.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		id := aws.ToString(d.Target.Id)
		conf := map[string]string{"target_group": tgName}
		if d.TargetHealth != nil {
			conf["target_health"] = string(d.TargetHealth.State)
			if d.TargetHealth.Reason != "" {
				conf["target_health_reason"] = string(d.TargetHealth.Reason)
			}
		}
		switch tg.TargetType {
		case elbtypes.TargetTypeEnumInstance:
			b.add(investigate.Resource{ID: id, Type: investigate.TypeEC2, Dims: map[string]string{"InstanceId": id}, Config: conf})
			b.relate(lbName, id, investigate.RelTargets)
			b.want(investigate.TypeEC2, id)
		case elbtypes.TargetTypeEnumLambda:
			fn := functionNameFromARN(id)
			b.relate(lbName, fn, investigate.RelTargets)
			b.want(investigate.TypeLambda, fn)
		}
	}
}

// elbDimension is the CloudWatch dimension value of a load balancer or
// target group ARN: "app/NAME/ID", "targetgroup/NAME/ID".
func elbDimension(arn, kind string) string {
	if i := strings.Index(arn, ":"+kind); i >= 0 {
		return arn[i+1+len(kind):]
	}
	return arn
}

// describeInstances describes EC2 instances: AZ, type, tags, and the Auto
// Scaling group they belong to.
//
// The ids come from target health, Auto Scaling groups and past X-Ray
// segments, so some may name instances terminated since. They go in an
// instance-id filter, not as InstanceIds: "If you specify an instance ID
// that is not valid, an error is returned" (EC2 API reference,
// DescribeInstances), and that one error would lose every instance of the
// call; a filter only selects ("If you specify filters, the output includes
// information for only those instances that meet the filter criteria").
// Instances terminated for more than about an hour are simply not listed.
func (b *topoBuilder) describeInstances(ctx context.Context, ids []string) {
	for len(ids) > 0 {
		n := min(len(ids), 200)
		batch := ids[:n]
		ids = ids[n:]
		p := ec2.NewDescribeInstancesPaginator(b.s.c.api.ec2, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: batch}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				b.errs.add(wrap("ec2 describe instances", err))
				break
			}
			for _, rsv := range out.Reservations {
				for _, in := range rsv.Instances {
					b.addInstance(in, aws.ToString(rsv.OwnerId))
				}
			}
		}
	}
}

func (b *topoBuilder) addInstance(in ec2types.Instance, owner string) {
	id := aws.ToString(in.InstanceId)
	r := investigate.Resource{
		ID:     id,
		Type:   investigate.TypeEC2,
		Dims:   map[string]string{"InstanceId": id},
		Config: map[string]string{"instance_type": string(in.InstanceType)},
		Tags:   map[string]string{},
	}
	if owner != "" {
		r.ARN = "arn:" + partitionOf(b.s.c.region) + ":ec2:" + b.s.c.region + ":" + owner + ":instance/" + id
	}
	if in.Placement != nil {
		r.AZ = aws.ToString(in.Placement.AvailabilityZone)
		// A zonal shift names the zone by its AZ ID (use1-az4), the same
		// zone in every account, where the name is not.
		if id := aws.ToString(in.Placement.AvailabilityZoneId); id != "" {
			r.Config["az_id"] = id
		}
	}
	if in.State != nil {
		r.Config["state"] = string(in.State.Name)
	}
	if in.Monitoring != nil {
		// Basic monitoring publishes every 5 minutes, detailed every
		// minute.
		switch in.Monitoring.State {
		case ec2types.MonitoringStateDisabled, ec2types.MonitoringStateDisabling:
			r.Config["monitoring"] = "basic"
		case ec2types.MonitoringStateEnabled, ec2types.MonitoringStatePending:
			r.Config["monitoring"] = "detailed"
		}
	}
	if in.LaunchTime != nil {
		r.Config["launch_time"] = in.LaunchTime.UTC().Format(time.RFC3339)
	}
	if in.CpuOptions != nil && in.CpuOptions.CoreCount != nil {
		r.Config["vcpus"] = strconv.Itoa(int(aws.ToInt32(in.CpuOptions.CoreCount) * max(1, aws.ToInt32(in.CpuOptions.ThreadsPerCore))))
	}
	group := ""
	for _, t := range in.Tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		switch k {
		case "Name":
			r.Name = v
		case "aws:autoscaling:groupName":
			group = v
		}
		// The application's tags are kept whatever the others, for
		// widenBySameApp.
		if len(r.Tags) < 20 || isAppTagKey(k) {
			r.Tags[k] = v
		}
	}
	b.add(r)
	b.instanceVolumes(in)
	if group != "" {
		b.relate(id, group, investigate.RelMemberOf)
		b.want(investigate.TypeASG, group)
	}
	for _, g := range in.SecurityGroups {
		b.attachGroup(aws.ToString(g.GroupId), aws.ToString(g.GroupName), owner, id)
	}
}

// describeGroups describes Auto Scaling groups: sizes and members.
func (b *topoBuilder) describeGroups(ctx context.Context, names []string) {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(b.s.c.api.asg, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			b.errs.add(wrap("autoscaling describe auto scaling groups", err))
			for _, n := range names {
				if !b.has(n) {
					b.add(investigate.Resource{ID: n, Type: investigate.TypeASG, Name: n, Dims: map[string]string{"AutoScalingGroupName": n}})
				}
			}
			return
		}
		for _, g := range out.AutoScalingGroups {
			name := aws.ToString(g.AutoScalingGroupName)
			b.add(investigate.Resource{
				ID: name, Type: investigate.TypeASG, Name: name, ARN: aws.ToString(g.AutoScalingGroupARN),
				Dims: map[string]string{"AutoScalingGroupName": name},
				Config: map[string]string{
					"min":       strconv.Itoa(int(aws.ToInt32(g.MinSize))),
					"max":       strconv.Itoa(int(aws.ToInt32(g.MaxSize))),
					"desired":   strconv.Itoa(int(aws.ToInt32(g.DesiredCapacity))),
					"instances": strconv.Itoa(len(g.Instances)),
				},
			})
			for i, in := range g.Instances {
				id := aws.ToString(in.InstanceId)
				b.relate(id, name, investigate.RelMemberOf)
				if i < 50 {
					b.want(investigate.TypeEC2, id)
				}
			}
		}
	}
}

// partitionOf is the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
