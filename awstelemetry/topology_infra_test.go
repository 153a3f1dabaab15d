package awstelemetry

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// ec2Filter returns the values of the EC2 query filter named name, and
// whether the call has it.
func ec2Filter(r *awstest.Request, name string) ([]string, bool) {
	for n := 1; ; n++ {
		got, ok := r.Params[fmt.Sprintf("Filter.%d.Name", n)]
		if !ok {
			return nil, false
		}
		if got != name {
			continue
		}
		var vals []string
		for m := 1; ; m++ {
			v, ok := r.Params[fmt.Sprintf("Filter.%d.Value.%d", n, m)]
			if !ok {
				return vals, true
			}
			vals = append(vals, v.(string))
		}
	}
}

// installInfra answers for a NAT gateway with two addresses, and an
// instance with a gp2 root volume, as EC2's API reference shapes
// DescribeNatGateways (natGatewaySet, natGatewayAddressSet), DescribeVolumes
// (volumeSet, attachmentSet) and DescribeInstances (blockDeviceMapping).
// DescribeVolumes answers volumes with err instead when it is set.
func installInfra(srv *awstest.Server, volumesErr *awstest.Error) {
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
	srv.Handle("EC2.DescribeNatGateways", func(r *awstest.Request) any {
		ids, ok := ec2Filter(r, "nat-gateway-id")
		if !ok || !slices.Contains(ids, "nat-0c4e7a19b3d5f2806") {
			return map[string]any{"natGatewaySet": []any{}}
		}
		return map[string]any{"natGatewaySet": []any{map[string]any{
			"natGatewayId": "nat-0c4e7a19b3d5f2806", "subnetId": "subnet-0a1b2c3d", "vpcId": "vpc-0f1e2d3c",
			"state": "available", "connectivityType": "public", "createTime": ts("2024-02-01T09:00:00Z"),
			"natGatewayAddressSet": []any{
				map[string]any{"allocationId": "eipalloc-01", "networkInterfaceId": "eni-01", "privateIp": "10.0.0.10", "publicIp": "198.51.100.10", "isPrimary": true, "status": "succeeded"},
				map[string]any{"allocationId": "eipalloc-02", "networkInterfaceId": "eni-01", "privateIp": "10.0.0.11", "publicIp": "198.51.100.11", "isPrimary": false, "status": "succeeded"},
			},
			"tagSet": []any{map[string]any{"key": "Name", "value": "egress-a"}},
		}}}
	})
	srv.Handle("EC2.DescribeInstances", func(r *awstest.Request) any {
		want, err := awstest.SelectInstances(r, []string{"i-0c83e5a07d49f6b12"})
		if err != nil {
			return err
		}
		if !want["i-0c83e5a07d49f6b12"] {
			return map[string]any{"reservationSet": []any{}}
		}
		return map[string]any{"reservationSet": []any{map[string]any{
			"reservationId": "r-01", "ownerId": "123456789012", "instancesSet": []any{map[string]any{
				"instanceId": "i-0c83e5a07d49f6b12", "instanceType": "r5.large",
				"placement":     map[string]any{"availabilityZone": "us-east-1a"},
				"instanceState": map[string]any{"code": 16, "name": "running"},
				"blockDeviceMapping": []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{
					"volumeId": "vol-0d94f6b18e5a07c23", "status": "attached", "attachTime": ts("2024-03-01T10:00:00Z"), "deleteOnTermination": true,
				}}},
			}},
		}}}
	})
	srv.Handle("EC2.DescribeVolumes", func(r *awstest.Request) any {
		if volumesErr != nil {
			return volumesErr
		}
		ids, ok := ec2Filter(r, "volume-id")
		if !ok || !slices.Contains(ids, "vol-0d94f6b18e5a07c23") {
			return map[string]any{"volumeSet": []any{}}
		}
		return map[string]any{"volumeSet": []any{map[string]any{
			"volumeId": "vol-0d94f6b18e5a07c23", "size": 200, "availabilityZone": "us-east-1a", "status": "in-use",
			"createTime": ts("2024-03-01T10:00:00Z"), "volumeType": "gp2", "iops": 600, "encrypted": true, "multiAttachEnabled": false,
			"attachmentSet": []any{map[string]any{
				"volumeId": "vol-0d94f6b18e5a07c23", "instanceId": "i-0c83e5a07d49f6b12", "device": "/dev/xvda",
				"status": "attached", "attachTime": ts("2024-03-01T10:00:00Z"), "deleteOnTermination": true,
			}},
		}}}
	})
}

func TestTopologyNATGatewayAlarm(t *testing.T) {
	srv, c := newServerClient(t)
	installInfra(srv, nil)
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "nat-ports",
		Metric: investigate.Metric{Namespace: "AWS/NATGateway", Name: "ErrorPortAllocation", Dims: map[string]string{"NatGatewayId": "nat-0c4e7a19b3d5f2806"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	nat, ok := byID(topo)["nat-0c4e7a19b3d5f2806"]
	if !ok {
		t.Fatalf("no NAT gateway in %+v", topo.Resources)
	}
	if nat.Type != investigate.TypeNATGateway || nat.Name != "egress-a" || nat.Dims["NatGatewayId"] != "nat-0c4e7a19b3d5f2806" {
		t.Errorf("nat = %+v", nat)
	}
	for k, want := range map[string]string{"addresses": "2", "connections_per_destination": "110000", "state": "available", "subnet_id": "subnet-0a1b2c3d"} {
		if got := nat.Config[k]; got != want {
			t.Errorf("config %s = %q, want %q", k, got, want)
		}
	}
	if n := srv.Count("EC2.DescribeNatGateways"); n != 1 {
		t.Errorf("%d DescribeNatGateways calls, want 1", n)
	}
}

// TestTopologyInstanceVolumes: an instance's EBS volumes come from its
// block device mappings, described in one call; a volume that cannot be
// described stays, by its id, with the problem said.
func TestTopologyInstanceVolumes(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      *awstest.Error
		baseline string
		problems int
	}{
		{"described", nil, "600", 0},
		{"denied", awstest.Denied("UnauthorizedOperation"), "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, cl := newServerClient(t)
			installInfra(srv, c.err)
			s := cl.NewSession()
			topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "db-cpu",
				Metric: investigate.Metric{Namespace: "AWS/EC2", Name: "CPUUtilization", Dims: map[string]string{"InstanceId": "i-0c83e5a07d49f6b12"}}})
			if err != nil || len(s.Problems()) != c.problems {
				t.Fatalf("err %v, problems %v (want %d)", err, s.Problems(), c.problems)
			}
			vol, ok := byID(topo)["vol-0d94f6b18e5a07c23"]
			if !ok || vol.Type != investigate.TypeEBS || vol.Dims["VolumeId"] != "vol-0d94f6b18e5a07c23" {
				t.Fatalf("volume = %+v (found %v)", vol, ok)
			}
			if got := vol.Config["baseline_iops"]; got != c.baseline {
				t.Errorf("baseline_iops = %q, want %q (config %v)", got, c.baseline, vol.Config)
			}
			want := investigate.Relation{From: "i-0c83e5a07d49f6b12", To: "vol-0d94f6b18e5a07c23", Kind: investigate.RelUses}
			if !slices.Contains(topo.Relations, want) {
				t.Errorf("relations %+v lack %+v", topo.Relations, want)
			}
		})
	}
}

func TestVolumeAlarmDescribesItsInstance(t *testing.T) {
	srv, c := newServerClient(t)
	installInfra(srv, nil)
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "burst",
		Metric: investigate.Metric{Namespace: "AWS/EBS", Name: "BurstBalance", Dims: map[string]string{"VolumeId": "vol-0d94f6b18e5a07c23"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	res := byID(topo)
	if vol := res["vol-0d94f6b18e5a07c23"]; vol.Config["bursts"] != "true" || vol.Config["instance"] != "i-0c83e5a07d49f6b12" || vol.AZ != "us-east-1a" {
		t.Errorf("volume = %+v", vol)
	}
	if in, ok := res["i-0c83e5a07d49f6b12"]; !ok || in.Config["instance_type"] != "r5.large" {
		t.Errorf("its instance = %+v (found %v)", in, ok)
	}
	if n := srv.Count("EC2.DescribeVolumes"); n != 1 {
		t.Errorf("%d DescribeVolumes calls, want 1", n)
	}
}

func byID(t investigate.Topology) map[string]investigate.Resource {
	m := map[string]investigate.Resource{}
	for _, r := range t.Resources {
		m[r.ID] = r
	}
	return m
}

// TestTopologyCacheClusterAlarm: an alarm on a cache cluster's node names
// it by CacheClusterId; DescribeCacheClusters, answered in the ElastiCache
// API reference's shape (CacheClusters of CacheCluster), gives its engine,
// node type and replication group.
func TestTopologyCacheClusterAlarm(t *testing.T) {
	srv, c := newServerClient(t)
	installInfra(srv, nil)
	srv.Handle("ElastiCache.DescribeCacheClusters", func(r *awstest.Request) any {
		if id := r.String("CacheClusterId"); id != "sessions-001" {
			return &awstest.Error{Status: 404, Code: "CacheClusterNotFound", Message: "CacheCluster " + id + " not found."}
		}
		return map[string]any{"CacheClusters": awstest.List{Member: "CacheCluster", Items: []any{map[string]any{
			"CacheClusterId": "sessions-001", "CacheNodeType": "cache.r6g.large", "Engine": "redis", "EngineVersion": "7.1.0",
			"CacheClusterStatus": "available", "NumCacheNodes": 1, "PreferredAvailabilityZone": "us-east-1b",
			"ReplicationGroupId": "sessions", "ARN": "arn:aws:elasticache:us-east-1:123456789012:cluster:sessions-001",
			"CacheClusterCreateTime": ts("2024-01-10T08:00:00Z"),
		}}}}
	})
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "sessions-memory",
		Metric: investigate.Metric{Namespace: "AWS/ElastiCache", Name: "DatabaseMemoryUsagePercentage", Dims: map[string]string{"CacheClusterId": "sessions-001"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	cc, ok := byID(topo)["sessions-001"]
	if !ok || cc.Type != investigate.TypeElastiCache || cc.AZ != "us-east-1b" || cc.ARN != "arn:aws:elasticache:us-east-1:123456789012:cluster:sessions-001" {
		t.Fatalf("cluster = %+v (found %v)", cc, ok)
	}
	for k, want := range map[string]string{"engine": "redis", "node_type": "cache.r6g.large", "nodes": "1", "replication_group": "sessions", "max_connections": "65000"} {
		if got := cc.Config[k]; got != want {
			t.Errorf("config %s = %q, want %q", k, got, want)
		}
	}
}

// installAurora answers for the Aurora cluster orders of a writer and a
// reader, in the RDS API reference's shapes: DescribeDBClusters (DBClusters
// of DBCluster, DBClusterMembers of DBClusterMember) and DescribeDBInstances
// (DBInstances of DBInstance, with its DBClusterIdentifier).
func installAurora(srv *awstest.Server) {
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
	srv.Handle("RDS.DescribeDBClusters", func(r *awstest.Request) any {
		if r.String("Filters.Filter.1.Name") != "db-cluster-id" || r.String("Filters.Filter.1.Values.Value.1") != "orders" {
			return map[string]any{"DBClusters": awstest.List{Member: "DBCluster"}}
		}
		return map[string]any{"DBClusters": awstest.List{Member: "DBCluster", Items: []any{map[string]any{
			"DBClusterIdentifier": "orders", "DBClusterArn": "arn:aws:rds:us-east-1:123456789012:cluster:orders",
			"Engine": "aurora-postgresql", "EngineVersion": "16.4", "Status": "available", "MultiAZ": true,
			"Endpoint":       "orders.cluster-c1a2b3.us-east-1.rds.amazonaws.com",
			"ReaderEndpoint": "orders.cluster-ro-c1a2b3.us-east-1.rds.amazonaws.com",
			"DBClusterMembers": awstest.List{Member: "DBClusterMember", Items: []any{
				map[string]any{"DBInstanceIdentifier": "orders-a", "IsClusterWriter": true, "PromotionTier": 1},
				map[string]any{"DBInstanceIdentifier": "orders-b", "IsClusterWriter": false, "PromotionTier": 1},
			}},
		}}}}
	})
	srv.Handle("RDS.DescribeDBInstances", func(r *awstest.Request) any {
		var items []any
		for n := 1; ; n++ {
			id := r.String(fmt.Sprintf("Filters.Filter.1.Values.Value.%d", n))
			if id == "" {
				break
			}
			if id != "orders-a" && id != "orders-b" {
				continue
			}
			items = append(items, map[string]any{
				"DBInstanceIdentifier": id, "DBInstanceClass": "db.r6g.large", "Engine": "aurora-postgresql", "EngineVersion": "16.4",
				"DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:" + id, "AvailabilityZone": "us-east-1a",
				"DBInstanceStatus": "available", "DBClusterIdentifier": "orders",
			})
		}
		return map[string]any{"DBInstances": awstest.List{Member: "DBInstance", Items: items}}
	})
}

// TestTopologyAuroraCluster: an alarm on a cluster (DBClusterIdentifier)
// or on one of its instances finds the cluster and its members, each with
// its role.
func TestTopologyAuroraCluster(t *testing.T) {
	for _, c := range []struct {
		name string
		dims map[string]string
	}{
		{"on the cluster", map[string]string{"DBClusterIdentifier": "orders"}},
		{"on its reader", map[string]string{"DBInstanceIdentifier": "orders-b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, cl := newServerClient(t)
			installAurora(srv)
			s := cl.NewSession()
			topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "orders-cpu",
				Metric: investigate.Metric{Namespace: "AWS/RDS", Name: "CPUUtilization", Dims: c.dims}})
			if err != nil || len(s.Problems()) > 0 {
				t.Fatalf("err %v, problems %v", err, s.Problems())
			}
			res := byID(topo)
			if o := res["orders"]; o.Type != investigate.TypeAurora || o.Config["writer"] != "orders-a" || o.Config["engine"] != "aurora-postgresql" || o.Dims["DBClusterIdentifier"] != "orders" {
				t.Errorf("cluster = %+v", o)
			}
			for id, role := range map[string]string{"orders-a": "writer", "orders-b": "reader"} {
				m := res[id]
				if m.Type != investigate.TypeRDS || m.Config["cluster_role"] != role || m.Config["db_cluster"] != "orders" || m.Config["instance_class"] != "db.r6g.large" {
					t.Errorf("%s = %+v", id, m)
				}
				if want := (investigate.Relation{From: id, To: "orders", Kind: investigate.RelMemberOf}); !slices.Contains(topo.Relations, want) {
					t.Errorf("relations lack %+v", want)
				}
			}
		})
	}
}

// installHandoff answers for the topic order-events and the state machine
// fulfil, in the SNS API reference's shape for GetTopicAttributes (an
// Attributes map of entry key/value) and the Step Functions API
// reference's for DescribeStateMachine.
func installHandoff(srv *awstest.Server) {
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
	srv.Reply("STS.GetCallerIdentity", awstest.CallerIdentity("123456789012", "test"))
	const topic = "arn:aws:sns:us-east-1:123456789012:order-events"
	srv.Handle("SNS.GetTopicAttributes", func(r *awstest.Request) any {
		if r.String("TopicArn") != topic {
			return &awstest.Error{Status: 404, Code: "NotFound", Message: "Topic does not exist"}
		}
		entry := func(k, v string) any { return map[string]any{"key": k, "value": v} }
		return map[string]any{"Attributes": awstest.List{Member: "entry", Items: []any{
			entry("TopicArn", topic), entry("SubscriptionsConfirmed", "3"), entry("SubscriptionsPending", "0"),
			entry("DisplayName", "order events"), entry("KmsMasterKeyId", "alias/aws/sns"),
		}}}
	})
	const machine = "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"
	srv.Handle("SFN.DescribeStateMachine", func(r *awstest.Request) any {
		if r.String("stateMachineArn") != machine {
			return &awstest.Error{Status: 400, Code: "StateMachineDoesNotExist", Message: "State Machine Does Not Exist: '" + r.String("stateMachineArn") + "'"}
		}
		return map[string]any{
			"stateMachineArn": machine, "name": "fulfil", "status": "ACTIVE", "type": "STANDARD",
			"definition":   `{"StartAt":"Pick","States":{"Pick":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:pick","End":true}}}`,
			"roleArn":      "arn:aws:iam::123456789012:role/fulfil-sfn",
			"creationDate": ts("2024-05-01T09:00:00Z"),
			"loggingConfiguration": map[string]any{"level": "ERROR", "includeExecutionData": false, "destinations": []any{
				map[string]any{"cloudWatchLogsLogGroup": map[string]any{"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/fulfil:*"}},
			}},
		}
	})
}

// TestTopologyTopicAndStateMachine: an alarm names a topic by TopicName
// and a state machine by StateMachineArn; one describe call each.
func TestTopologyTopicAndStateMachine(t *testing.T) {
	for _, c := range []struct {
		name, id string
		dims     map[string]string
		op       string
		check    func(investigate.Resource) bool
	}{
		{"topic", "order-events", map[string]string{"TopicName": "order-events"}, "SNS.GetTopicAttributes", func(r investigate.Resource) bool {
			return r.Type == investigate.TypeSNS && r.ARN == "arn:aws:sns:us-east-1:123456789012:order-events" && r.Config["subscribers"] == "3" && r.Config["kms_key"] == "alias/aws/sns"
		}},
		{"state machine", "fulfil", map[string]string{"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"}, "SFN.DescribeStateMachine", func(r investigate.Resource) bool {
			return r.Type == investigate.TypeStepFunctions && r.Config["workflow"] == "standard" && r.LogGroup == "/aws/vendedlogs/states/fulfil" &&
				r.Dims["StateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:fulfil"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, cl := newServerClient(t)
			installHandoff(srv)
			s := cl.NewSession()
			topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "a", Account: "123456789012",
				Metric: investigate.Metric{Namespace: "AWS/X", Name: "Y", Dims: c.dims}})
			if err != nil || len(s.Problems()) > 0 {
				t.Fatalf("err %v, problems %v", err, s.Problems())
			}
			if r, ok := byID(topo)[c.id]; !ok || !c.check(r) {
				t.Errorf("%s = %+v (found %v)", c.id, r, ok)
			}
			if n := srv.Count(c.op); n != 1 {
				t.Errorf("%d %s calls, want 1", n, c.op)
			}
		})
	}
}
