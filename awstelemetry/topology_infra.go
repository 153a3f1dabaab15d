package awstelemetry

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/unstuck/unstuck/investigate"
)

// What hosts stand on without calling it by name, NAT gateways and EBS
// volumes, and the caches they keep data in.

// natPortsPerDestination is how many connections a NAT gateway holds to one
// destination at once for each of its addresses.
const natPortsPerDestination = 55000

// describeNatGateways describes NAT gateways in one call: their state,
// subnet, VPC and addresses (each adds natPortsPerDestination connections
// per destination).
func (b *topoBuilder) describeNatGateways(ctx context.Context, ids []string) {
	out, err := b.s.c.api.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{
		Filter: []ec2types.Filter{{Name: aws.String("nat-gateway-id"), Values: ids}},
	})
	if err != nil {
		b.errs.add(wrap("ec2 describe nat gateways", err))
		for _, id := range ids {
			b.add(natResource(id))
		}
		return
	}
	for _, g := range out.NatGateways {
		r := natResource(aws.ToString(g.NatGatewayId))
		r.Config = map[string]string{
			"state":             string(g.State),
			"connectivity_type": string(g.ConnectivityType),
			"subnet_id":         aws.ToString(g.SubnetId),
			"vpc_id":            aws.ToString(g.VpcId),
		}
		if n := len(g.NatGatewayAddresses); n > 0 {
			r.Config["addresses"] = strconv.Itoa(n)
			r.Config["connections_per_destination"] = strconv.Itoa(n * natPortsPerDestination)
		}
		for _, t := range g.Tags {
			if aws.ToString(t.Key) == "Name" {
				r.Name = aws.ToString(t.Value)
			}
		}
		b.add(r)
	}
}

func natResource(id string) investigate.Resource {
	return investigate.Resource{ID: id, Type: investigate.TypeNATGateway, Dims: map[string]string{"NatGatewayId": id}}
}

// describeVolumes describes EBS volumes in one call: type, size, IOPS and
// the instance each is attached to, which uses it.
func (b *topoBuilder) describeVolumes(ctx context.Context, ids []string) {
	out, err := b.s.c.api.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{
		Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: ids}},
	})
	if err != nil {
		b.errs.add(wrap("ec2 describe volumes", err))
		for _, id := range ids {
			b.add(volumeResource(id))
		}
		return
	}
	for _, v := range out.Volumes {
		r := volumeResource(aws.ToString(v.VolumeId))
		r.AZ = aws.ToString(v.AvailabilityZone)
		r.Config = volumeConfig(v)
		for _, t := range v.Tags {
			if aws.ToString(t.Key) == "Name" {
				r.Name = aws.ToString(t.Value)
			}
		}
		b.add(r)
		for _, a := range v.Attachments {
			if in := aws.ToString(a.InstanceId); in != "" {
				b.relate(in, r.ID, investigate.RelUses)
				b.want(investigate.TypeEC2, in)
			}
		}
	}
}

func volumeResource(id string) investigate.Resource {
	return investigate.Resource{ID: id, Type: investigate.TypeEBS, Dims: map[string]string{"VolumeId": id}}
}

// volumeConfig is a volume's settings, with the IOPS it sustains without
// burst credits: gp2 3 per GiB (100 to 16,000; DescribeVolumes reports that
// baseline as its Iops), gp3 and io1/io2 what is provisioned.
func volumeConfig(v ec2types.Volume) map[string]string {
	c := map[string]string{
		"volume_type": string(v.VolumeType),
		"state":       string(v.State),
	}
	size := int(aws.ToInt32(v.Size))
	if size > 0 {
		c["size_gib"] = strconv.Itoa(size)
	}
	iops := int(aws.ToInt32(v.Iops))
	switch v.VolumeType {
	case ec2types.VolumeTypeGp2:
		if size > 0 {
			iops = min(max(3*size, 100), 16000)
		}
		// Under 1,000 GiB the baseline is less than the 3,000 IOPS it
		// bursts to, on credits: BurstBalance.
		c["bursts"] = strconv.FormatBool(size < 1000)
	case ec2types.VolumeTypeSt1, ec2types.VolumeTypeSc1:
		c["bursts"] = "true"
	}
	if iops > 0 {
		c["iops"] = strconv.Itoa(iops)
		c["baseline_iops"] = strconv.Itoa(iops)
	}
	if t := aws.ToInt32(v.Throughput); t > 0 {
		c["throughput_mibps"] = strconv.Itoa(int(t))
	}
	for _, a := range v.Attachments {
		if in := aws.ToString(a.InstanceId); in != "" {
			c["instance"] = in
		}
	}
	return c
}

// instanceVolumes relates an instance to the EBS volumes DescribeInstances
// says are attached to it, and asks for them to be described.
func (b *topoBuilder) instanceVolumes(in ec2types.Instance) {
	id := aws.ToString(in.InstanceId)
	for _, m := range in.BlockDeviceMappings {
		if m.Ebs == nil {
			continue
		}
		if v := aws.ToString(m.Ebs.VolumeId); v != "" {
			b.relate(id, v, investigate.RelUses)
			b.want(investigate.TypeEBS, v)
		}
	}
}

// describeCacheClusters describes ElastiCache clusters, one call each (the
// API takes one id): engine, node type, nodes, replication group. A
// cluster's maxclients is 65,000 and cannot be changed.
func (b *topoBuilder) describeCacheClusters(ctx context.Context, ids []string) {
	var wg sync.WaitGroup
	for _, id := range ids {
		spawn(&wg, b.errs.add, func() {
			r := investigate.Resource{ID: id, Type: investigate.TypeElastiCache, Dims: map[string]string{"CacheClusterId": id}}
			out, err := b.s.c.api.cache.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)})
			if err != nil {
				b.errs.add(wrap("elasticache describe cache clusters", err))
				b.add(r)
				return
			}
			for _, cc := range out.CacheClusters {
				if aws.ToString(cc.CacheClusterId) != id {
					continue
				}
				r.ARN = aws.ToString(cc.ARN)
				r.AZ = aws.ToString(cc.PreferredAvailabilityZone)
				r.Config = map[string]string{
					"engine":          aws.ToString(cc.Engine),
					"engine_version":  aws.ToString(cc.EngineVersion),
					"node_type":       aws.ToString(cc.CacheNodeType),
					"status":          aws.ToString(cc.CacheClusterStatus),
					"max_connections": strconv.Itoa(cacheMaxClients),
				}
				if n := aws.ToInt32(cc.NumCacheNodes); n > 0 {
					r.Config["nodes"] = strconv.Itoa(int(n))
				}
				if g := aws.ToString(cc.ReplicationGroupId); g != "" {
					r.Config["replication_group"] = g
				}
			}
			b.add(r)
		})
	}
	wg.Wait()
}

// cacheMaxClients is ElastiCache's maxclients for Redis OSS and Valkey,
// and its Memcached max_simultaneous_connections default.
const cacheMaxClients = 65000
