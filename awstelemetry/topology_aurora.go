package awstelemetry

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/unstuck/unstuck/investigate"
)

// describeDBClusters describes Aurora clusters in one call: engine, status,
// and their DB instances, each a member of its cluster as its writer or a
// reader, described in turn.
func (b *topoBuilder) describeDBClusters(ctx context.Context, ids []string) {
	out, err := b.s.c.api.rds.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{
		Filters: []rdstypes.Filter{{Name: aws.String("db-cluster-id"), Values: ids}},
	})
	if err != nil {
		b.errs.add(wrap("rds describe db clusters", err))
		for _, id := range ids {
			b.add(auroraResource(id))
		}
		return
	}
	for _, c := range out.DBClusters {
		r := auroraResource(aws.ToString(c.DBClusterIdentifier))
		r.ARN = aws.ToString(c.DBClusterArn)
		r.Config = map[string]string{
			"engine":         aws.ToString(c.Engine),
			"engine_version": aws.ToString(c.EngineVersion),
			"status":         aws.ToString(c.Status),
			"multi_az":       strconv.FormatBool(aws.ToBool(c.MultiAZ)),
			"instances":      strconv.Itoa(len(c.DBClusterMembers)),
		}
		for _, m := range c.DBClusterMembers {
			id := aws.ToString(m.DBInstanceIdentifier)
			role := "reader"
			if aws.ToBool(m.IsClusterWriter) {
				role = "writer"
				r.Config["writer"] = id
			}
			b.add(investigate.Resource{ID: id, Type: investigate.TypeRDS, Dims: map[string]string{"DBInstanceIdentifier": id}, Config: map[string]string{"db_cluster": r.ID, "cluster_role": role}})
			b.relate(id, r.ID, investigate.RelMemberOf)
			b.want(investigate.TypeRDS, id)
		}
		b.add(r)
	}
}

func auroraResource(id string) investigate.Resource {
	return investigate.Resource{ID: id, Type: investigate.TypeAurora, Name: id, Dims: map[string]string{"DBClusterIdentifier": id}}
}

// clusterOfInstance makes a DB instance a member of the Aurora cluster
// DescribeDBInstances says it is in, and asks for the cluster.
func (b *topoBuilder) clusterOfInstance(instance, cluster string) {
	if cluster == "" {
		return
	}
	b.add(investigate.Resource{ID: instance, Config: map[string]string{"db_cluster": cluster}})
	b.relate(instance, cluster, investigate.RelMemberOf)
	b.want(investigate.TypeAurora, cluster)
}
