package awstelemetry

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/unstuck/unstuck/investigate"
)

// describeTables describes DynamoDB tables: capacity mode and provisioned
// capacity.
func (b *topoBuilder) describeTables(ctx context.Context, names []string) {
	var wg sync.WaitGroup
	for _, name := range names {
		spawn(&wg, b.errs.add, func() {
			r := investigate.Resource{ID: name, Type: investigate.TypeDynamoDB, Name: name, Dims: map[string]string{"TableName": name}}
			out, err := b.s.c.api.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				b.errs.add(wrap("dynamodb describe table", err))
				b.add(r)
				return
			}
			if t := out.Table; t != nil {
				r.ARN = aws.ToString(t.TableArn)
				r.Config = tableConfig(t)
			}
			b.add(r)
			if t := out.Table; t != nil && t.SSEDescription != nil {
				b.encryptedBy(aws.ToString(t.SSEDescription.KMSMasterKeyArn), name)
			}
		})
	}
	wg.Wait()
}

func tableConfig(t *ddbtypes.TableDescription) map[string]string {
	c := map[string]string{"mode": "provisioned"}
	if t.BillingModeSummary != nil && t.BillingModeSummary.BillingMode == ddbtypes.BillingModePayPerRequest {
		c["mode"] = "on-demand"
	}
	if pt := t.ProvisionedThroughput; pt != nil && c["mode"] == "provisioned" {
		c["rcu"] = strconv.FormatInt(aws.ToInt64(pt.ReadCapacityUnits), 10)
		c["wcu"] = strconv.FormatInt(aws.ToInt64(pt.WriteCapacityUnits), 10)
	}
	if od := t.OnDemandThroughput; od != nil && c["mode"] == "on-demand" {
		if v := aws.ToInt64(od.MaxReadRequestUnits); v > 0 {
			c["max_read_request_units"] = strconv.FormatInt(v, 10)
		}
		if v := aws.ToInt64(od.MaxWriteRequestUnits); v > 0 {
			c["max_write_request_units"] = strconv.FormatInt(v, 10)
		}
	}
	if t.TableStatus != "" {
		c["status"] = string(t.TableStatus)
	}
	return c
}

// describeDBInstances describes RDS instances in one call.
func (b *topoBuilder) describeDBInstances(ctx context.Context, ids []string) {
	add := func(db rdstypes.DBInstance) {
		id := aws.ToString(db.DBInstanceIdentifier)
		c := map[string]string{
			"instance_class": aws.ToString(db.DBInstanceClass),
			"engine":         aws.ToString(db.Engine),
			"engine_version": aws.ToString(db.EngineVersion),
			"multi_az":       strconv.FormatBool(aws.ToBool(db.MultiAZ)),
			"status":         aws.ToString(db.DBInstanceStatus),
		}
		if db.AllocatedStorage != nil {
			c["allocated_storage_gb"] = strconv.Itoa(int(*db.AllocatedStorage))
		}
		b.add(investigate.Resource{
			ID: id, Type: investigate.TypeRDS, Name: id, ARN: aws.ToString(db.DBInstanceArn),
			AZ: aws.ToString(db.AvailabilityZone), Dims: map[string]string{"DBInstanceIdentifier": id}, Config: c,
		})
		account := arnAccount(aws.ToString(db.DBInstanceArn))
		for _, g := range db.VpcSecurityGroups {
			b.attachGroup(aws.ToString(g.VpcSecurityGroupId), "", account, id)
		}
		if aws.ToBool(db.StorageEncrypted) {
			b.encryptedBy(aws.ToString(db.KmsKeyId), id)
		}
		// A replica and its source: in another Region the source is an
		// ARN, described by that Region's endpoint, not this one's.
		src := aws.ToString(db.ReadReplicaSourceDBInstanceIdentifier)
		if strings.HasPrefix(src, "arn:") {
			if region, _ := arnRegionAccount(src); region == b.s.c.region {
				src = src[strings.LastIndex(src, ":")+1:]
			} else {
				src = ""
			}
		}
		if src != "" {
			b.relate(id, src, investigate.RelReplicaOf)
			b.want(investigate.TypeRDS, src)
		}
		for i, rep := range db.ReadReplicaDBInstanceIdentifiers {
			if strings.HasPrefix(rep, "arn:") || i >= 5 {
				continue
			}
			b.relate(rep, id, investigate.RelReplicaOf)
			b.want(investigate.TypeRDS, rep)
		}
		b.clusterOfInstance(id, aws.ToString(db.DBClusterIdentifier))
	}
	out, err := b.s.c.api.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{
		Filters: []rdstypes.Filter{{Name: aws.String("db-instance-id"), Values: ids}},
	})
	if err != nil {
		b.errs.add(wrap("rds describe db instances", err))
		for _, id := range ids {
			b.add(investigate.Resource{ID: id, Type: investigate.TypeRDS, Name: id, Dims: map[string]string{"DBInstanceIdentifier": id}})
		}
		return
	}
	for _, db := range out.DBInstances {
		add(db)
	}
}

// ecsServiceInfo is what the changes source needs of an ECS service.
type ecsServiceInfo struct {
	cluster, service string
	deployments      []ecsDeployment
	// events are the service's latest events (DescribeServices gives
	// the last 100).
	events []ecstypes.ServiceEvent
}

type ecsDeployment struct {
	id, status, rollout, taskDef string
	created, updated             time.Time
}

// describeECSServices describes ECS services (ids "cluster/service"): task
// counts, launch type, deployments and the awslogs group of their task
// definition.
func (b *topoBuilder) describeECSServices(ctx context.Context, ids []string) {
	byCluster := map[string][]string{}
	for _, id := range ids {
		cluster, svc, ok := strings.Cut(id, "/")
		if !ok {
			continue
		}
		byCluster[cluster] = append(byCluster[cluster], svc)
	}
	var wg sync.WaitGroup
	for cluster, svcs := range byCluster {
		sort.Strings(svcs)
		for len(svcs) > 0 {
			n := min(len(svcs), 10)
			batch := svcs[:n]
			svcs = svcs[n:]
			spawn(&wg, b.errs.add, func() {
				b.describeECSBatch(ctx, cluster, batch)
			})
		}
	}
	wg.Wait()
}

func (b *topoBuilder) describeECSBatch(ctx context.Context, cluster string, svcs []string) {
	out, err := b.s.c.api.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: svcs})
	if err != nil {
		b.errs.add(wrap("ecs describe services", err))
		for _, s := range svcs {
			b.add(investigate.Resource{ID: s, Type: investigate.TypeECS, Name: s, Dims: map[string]string{"ClusterName": cluster, "ServiceName": s}})
		}
		return
	}
	var wg sync.WaitGroup
	for _, svc := range out.Services {
		name := aws.ToString(svc.ServiceName)
		r := investigate.Resource{
			ID: name, Type: investigate.TypeECS, Name: name, ARN: aws.ToString(svc.ServiceArn),
			Dims: map[string]string{"ClusterName": cluster, "ServiceName": name},
			Config: map[string]string{
				"cluster": cluster,
				"tasks":   strconv.Itoa(int(svc.RunningCount)),
				"desired": strconv.Itoa(int(svc.DesiredCount)),
			},
		}
		if svc.LaunchType != "" {
			r.Config["launch_type"] = string(svc.LaunchType)
		}
		if nc := svc.NetworkConfiguration; nc != nil && nc.AwsvpcConfiguration != nil {
			for _, g := range nc.AwsvpcConfiguration.SecurityGroups {
				b.attachGroup(g, "", arnAccount(aws.ToString(svc.ServiceArn)), name)
			}
		}
		info := ecsServiceInfo{cluster: cluster, service: name}
		for _, d := range svc.Deployments {
			info.deployments = append(info.deployments, ecsDeployment{
				id: aws.ToString(d.Id), status: aws.ToString(d.Status), rollout: string(d.RolloutState),
				taskDef: aws.ToString(d.TaskDefinition), created: aws.ToTime(d.CreatedAt), updated: aws.ToTime(d.UpdatedAt),
			})
		}
		info.events = svc.Events
		b.mu.Lock()
		b.ecsServices = append(b.ecsServices, info)
		b.mu.Unlock()
		td := aws.ToString(svc.TaskDefinition)
		spawn(&wg, b.errs.add, func() {
			if td != "" {
				r.LogGroup = b.taskDefinition(ctx, td, name, arnAccount(aws.ToString(svc.ServiceArn)))
			}
			b.add(r)
		})
		spawn(&wg, b.errs.add, func() {
			b.describeTasks(ctx, cluster, name)
		})
	}
	wg.Wait()
}

// taskDefinition reads a service's task definition: it returns the
// awslogs group of its first container that has one, and relates the
// service to the task role its tasks assume and the parameters and secrets
// its containers read (secrets[].valueFrom). account is the service's.
func (b *topoBuilder) taskDefinition(ctx context.Context, td, service, account string) string {
	out, err := b.s.c.api.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td)})
	if err != nil {
		b.errs.add(wrap("ecs describe task definition", err))
		return ""
	}
	if out.TaskDefinition == nil {
		return ""
	}
	b.assumedBy(aws.ToString(out.TaskDefinition.TaskRoleArn), service)
	group := ""
	for _, c := range out.TaskDefinition.ContainerDefinitions {
		if c.LogConfiguration != nil && group == "" {
			group = c.LogConfiguration.Options["awslogs-group"]
		}
		for _, sec := range c.Secrets {
			b.readBy(aws.ToString(sec.ValueFrom), account, service)
		}
	}
	return group
}
