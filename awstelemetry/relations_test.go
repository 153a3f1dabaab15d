package awstelemetry

import (
	"strconv"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

const (
	relAcct      = "123456789012"
	relDBKey     = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
	relTableKey  = "arn:aws:kms:us-east-1:123456789012:key/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	relSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:checkout/db-password-Ab12Cd"
)

// installRelations is the checkout ECS service (tasks in two security
// groups, a task role, secrets from SSM and Secrets Manager) reading a
// PostgreSQL replica (its own group, encrypted, a replica of orders-db)
// and a table encrypted with a customer managed key, all as the APIs
// answer them.
func installRelations(srv *awstest.Server) {
	srv.Reply("ECS.DescribeServices", map[string]any{"services": []any{map[string]any{
		"serviceName": "checkout", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/checkout",
		"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "desiredCount": 2, "runningCount": 2,
		"launchType": "FARGATE", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:7",
		"networkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{
			"subnets": []any{"subnet-0a1b2c3d"}, "securityGroups": []any{"sg-0aaa1111bbbb2222c", "sg-0ddd3333eeee4444f"}, "assignPublicIp": "DISABLED",
		}},
	}}, "failures": []any{}})
	srv.Reply("ECS.DescribeTaskDefinition", map[string]any{"taskDefinition": map[string]any{
		"family": "checkout", "revision": 7,
		"taskRoleArn":      "arn:aws:iam::123456789012:role/service/checkout-task",
		"executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
		"containerDefinitions": []any{map[string]any{
			"name":             "checkout",
			"logConfiguration": map[string]any{"logDriver": "awslogs", "options": map[string]any{"awslogs-group": "/ecs/checkout"}},
			"secrets": []any{
				map[string]any{"name": "FLAGS", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/checkout/prod/flags"},
				map[string]any{"name": "DB_PASSWORD", "valueFrom": relSecretARN + ":password::"},
				map[string]any{"name": "REGION_NAME", "valueFrom": "checkout-region"},
			},
		}},
	}})
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{
		map[string]any{"ReferenceId": 1, "Name": "checkout", "Type": "AWS::ECS::Container", "Edges": []any{awstest.Edge(2, 500, 0, 0.02), awstest.Edge(3, 500, 0, 0.01)}},
		map[string]any{"ReferenceId": 2, "Name": "orders-db-ro", "Type": "AWS::RDS::DBInstance", "Edges": []any{}},
		map[string]any{"ReferenceId": 3, "Name": "carts", "Type": "AWS::DynamoDB::Table", "Edges": []any{}},
	}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	srv.Reply("CloudWatch Logs.DescribeLogGroups", map[string]any{"logGroups": []any{}})
	srv.Handle("RDS.DescribeDBInstances", func(r *awstest.Request) any {
		dbs := map[string]map[string]any{
			"orders-db-ro": {
				"DBInstanceIdentifier": "orders-db-ro", "DBInstanceClass": "db.r6g.large", "Engine": "postgres",
				"DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db-ro", "DBInstanceStatus": "available",
				"VpcSecurityGroups": awstest.List{Member: "VpcSecurityGroupMembership", Items: []any{
					map[string]any{"VpcSecurityGroupId": "sg-0fff5555aaaa6666b", "Status": "active"},
				}},
				"StorageEncrypted": true, "KmsKeyId": relDBKey,
				"ReadReplicaSourceDBInstanceIdentifier": "orders-db",
			},
			"orders-db": {
				"DBInstanceIdentifier": "orders-db", "DBInstanceClass": "db.r6g.xlarge", "Engine": "postgres",
				"DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db", "DBInstanceStatus": "available",
				"VpcSecurityGroups": awstest.List{Member: "VpcSecurityGroupMembership", Items: []any{
					map[string]any{"VpcSecurityGroupId": "sg-0fff5555aaaa6666b", "Status": "active"},
				}},
				"StorageEncrypted": true, "KmsKeyId": relDBKey,
				"ReadReplicaDBInstanceIdentifiers": awstest.List{Member: "ReadReplicaDBInstanceIdentifier", Items: []any{"orders-db-ro"}},
			},
		}
		var items []any
		for i := 1; ; i++ {
			id := r.String("Filters.Filter.1.Values.Value." + strconv.Itoa(i))
			if id == "" {
				break
			}
			if db, ok := dbs[id]; ok {
				items = append(items, db)
			}
		}
		return map[string]any{"DBInstances": awstest.List{Member: "DBInstance", Items: items}}
	})
	srv.Handle("DynamoDB.DescribeTable", func(r *awstest.Request) any {
		return map[string]any{"Table": map[string]any{
			"TableName": r.String("TableName"), "TableStatus": "ACTIVE", "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/" + r.String("TableName"),
			"BillingModeSummary": map[string]any{"BillingMode": "PAY_PER_REQUEST"},
			"SSEDescription":     map[string]any{"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": relTableKey},
		}}
	})
	// The services' tasks, which this world does not look into.
	srv.Handle("ECS.ListTasks", func(r *awstest.Request) any { return awstest.ListTasks(r, nil) })
	srv.Handle("ECS.DescribeTasks", func(r *awstest.Request) any { return awstest.DescribeTasks(r, nil) })
	srv.Reply("RDS.DescribeEvents", map[string]any{"Events": awstest.List{Member: "Event", Items: []any{}}})
	srv.Reply("CloudTrail.LookupEvents", map[string]any{"Events": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
}

func TestTopologyRelationsContainers(t *testing.T) {
	srv, c := newServerClient(t)
	installRelations(srv)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	topo, err := s.Topology(ctx, investigate.Alarm{Name: "checkout-cpu",
		Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dims: map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	for _, rel := range [][3]string{
		{"sg-0aaa1111bbbb2222c", "checkout", investigate.RelAttachedTo},
		{"sg-0ddd3333eeee4444f", "checkout", investigate.RelAttachedTo},
		{"checkout-task", "checkout", investigate.RelAssumedBy},
		{"/checkout/prod/flags", "checkout", investigate.RelReadBy},
		{"checkout/db-password", "checkout", investigate.RelReadBy},
		{"checkout-region", "checkout", investigate.RelReadBy},
		{"sg-0fff5555aaaa6666b", "orders-db-ro", investigate.RelAttachedTo},
		{"sg-0fff5555aaaa6666b", "orders-db", investigate.RelAttachedTo},
		{"0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "orders-db-ro", investigate.RelEncrypts},
		{"orders-db-ro", "orders-db", investigate.RelReplicaOf},
		{"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "carts", investigate.RelEncrypts},
	} {
		if !hasRel(topo, rel[0], rel[1], rel[2]) {
			t.Errorf("missing relation %v in %+v", rel, topo.Relations)
		}
	}
	// The execution role pulls images and secrets for ECS; the tasks do
	// not assume it.
	if hasRel(topo, "ecsTaskExecutionRole", "checkout", investigate.RelAssumedBy) {
		t.Errorf("the execution role is related as assumed by the tasks")
	}
	tests := []struct {
		id, typ, name, arn string
	}{
		{"sg-0aaa1111bbbb2222c", string(investigate.TypeSecurityGroup), "", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0aaa1111bbbb2222c"},
		{"checkout-task", string(investigate.TypeIAMRole), "checkout-task", "arn:aws:iam::123456789012:role/service/checkout-task"},
		{"/checkout/prod/flags", string(investigate.TypeParameter), "/checkout/prod/flags", "arn:aws:ssm:us-east-1:123456789012:parameter/checkout/prod/flags"},
		{"checkout/db-password", string(investigate.TypeParameter), "checkout/db-password", relSecretARN},
		{"checkout-region", string(investigate.TypeParameter), "checkout-region", "arn:aws:ssm:us-east-1:123456789012:parameter/checkout-region"},
		{"0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", string(investigate.TypeKMSKey), "", relDBKey},
	}
	for _, tt := range tests {
		r, ok := resource(topo, tt.id)
		if !ok || string(r.Type) != tt.typ || r.Name != tt.name || r.ARN != tt.arn {
			t.Errorf("%s = %+v (found %v), want type %s name %q arn %s", tt.id, r, ok, tt.typ, tt.name, tt.arn)
		}
	}
	// What CloudTrail's changes name finds them: a group's id, a role's
	// name, a parameter's name, a secret's ARN, a key's ARN.
	for _, ref := range []string{"sg-0fff5555aaaa6666b", "checkout-task", "/checkout/prod/flags", relSecretARN, relTableKey} {
		if _, ok := topo.Find(ref); !ok {
			t.Errorf("Find(%q) finds nothing", ref)
		}
	}
	// The source was described: it was wanted by its replica.
	if db, _ := resource(topo, "orders-db"); db.Config["instance_class"] != "db.r6g.xlarge" {
		t.Errorf("source = %+v", db)
	}
	// No call beyond the describes the topology made before.
	for _, op := range []string{"ECS.DescribeTaskDefinition", "ECS.DescribeServices"} {
		if n := srv.Count(op); n != 1 {
			t.Errorf("%s called %d times", op, n)
		}
	}
}

func TestTopologyRelationsFunction(t *testing.T) {
	srv, c := newServerClient(t)
	srv.Reply("Lambda.GetFunctionConfiguration", map[string]any{
		"FunctionName": "pay-fn", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:pay-fn",
		"MemorySize": 512, "Timeout": 10, "Runtime": "nodejs22.x", "State": "Active",
		"Role":      "arn:aws:iam::123456789012:role/pay-fn-role",
		"KMSKeyArn": relTableKey,
		"VpcConfig": map[string]any{"SubnetIds": []any{"subnet-1"}, "SecurityGroupIds": []any{"sg-0123456789abcdef0"}, "VpcId": "vpc-1"},
		"Environment": map[string]any{"Variables": map[string]any{
			"FLAGS_PARAM":   "/pay/prod/flags",
			"DB_SECRET":     relSecretARN,
			"CACHE_DIR":     "/tmp/cache",
			"CONFIG_FILE":   "/var/task/config.json",
			"UPSTREAM":      "https://api.example.com/v1",
			"STAGE":         "prod",
			"SINGLE":        "/flags",
			"OTHER_ACCOUNT": "arn:aws:sns:us-east-1:123456789012:topic",
		}},
	})
	srv.Reply("Lambda.GetFunctionConcurrency", map[string]any{})
	srv.Reply("Lambda.ListEventSourceMappings", map[string]any{"EventSourceMappings": []any{}})
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 10*time.Second), investigate.Alarm{Name: "pay-errors",
		Metric: investigate.Metric{Namespace: "AWS/Lambda", Name: "Errors", Dims: map[string]string{"FunctionName": "pay-fn"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	want := map[[3]string]bool{
		{"sg-0123456789abcdef0", "pay-fn", investigate.RelAttachedTo}:               true,
		{"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "pay-fn", investigate.RelEncrypts}: true,
		{"pay-fn-role", "pay-fn", investigate.RelAssumedBy}:                         true,
		{"/pay/prod/flags", "pay-fn", investigate.RelReadBy}:                        true,
		{"checkout/db-password", "pay-fn", investigate.RelReadBy}:                   true,
	}
	for _, r := range topo.Relations {
		k := [3]string{r.From, r.To, r.Kind}
		if !want[k] {
			t.Errorf("unexpected relation %v", k)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("missing relations %v", want)
	}
}

func TestTopologyRelationsInstances(t *testing.T) {
	srv, w, c := newALBClient(t)
	srv.Reply("Elastic Load Balancing v2.DescribeLoadBalancers", map[string]any{"LoadBalancers": []any{map[string]any{
		"LoadBalancerArn": awstest.LBARN, "LoadBalancerName": "web-alb", "Type": "application", "Scheme": "internet-facing",
		"SecurityGroups": []any{"sg-0a1b2c3d4e5f60789"},
	}}})
	srv.Handle("EC2.DescribeInstances", func(r *awstest.Request) any {
		want, err := awstest.SelectInstances(r, w.Instances)
		if err != nil {
			return err
		}
		var items []any
		for _, id := range w.Instances {
			if want[id] {
				items = append(items, map[string]any{
					"instanceId": id, "instanceType": "m5.large", "instanceState": map[string]any{"code": 16, "name": "running"},
					"groupSet": []any{map[string]any{"groupId": "sg-0fedcba9876543210", "groupName": "web-instances"}},
				})
			}
		}
		return map[string]any{"reservationSet": []any{map[string]any{"reservationId": "r-1", "ownerId": w.Account, "instancesSet": items}}}
	})
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, err := s.Alarm(ctx, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := s.Topology(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range w.Instances {
		if !hasRel(topo, "sg-0fedcba9876543210", id, investigate.RelAttachedTo) {
			t.Errorf("instance %s: no attached-to from its group in %+v", id, topo.Relations)
		}
	}
	if !hasRel(topo, "sg-0a1b2c3d4e5f60789", "web-alb", investigate.RelAttachedTo) {
		t.Errorf("load balancer: no attached-to from its group")
	}
	if g, _ := resource(topo, "sg-0fedcba9876543210"); g.Name != "web-instances" || g.Type != investigate.TypeSecurityGroup {
		t.Errorf("group = %+v", g)
	}
}

func TestParameterOf(t *testing.T) {
	tests := []struct {
		ref           string
		ok            bool
		id, arn, from string
	}{
		{"arn:aws:ssm:us-east-1:123456789012:parameter/checkout/prod/flags", true, "/checkout/prod/flags", "arn:aws:ssm:us-east-1:123456789012:parameter/checkout/prod/flags", "ssm"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/flat", true, "flat", "arn:aws:ssm:us-east-1:123456789012:parameter/flat", "ssm"},
		{relSecretARN, true, "checkout/db-password", relSecretARN, "secretsmanager"},
		{relSecretARN + ":password:AWSCURRENT:", true, "checkout/db-password", relSecretARN, "secretsmanager"},
		{"/checkout/prod/flags", true, "/checkout/prod/flags", "arn:aws:ssm:eu-west-1:123456789012:parameter/checkout/prod/flags", "ssm"},
		{"checkout-region", true, "checkout-region", "arn:aws:ssm:eu-west-1:123456789012:parameter/checkout-region", "ssm"},
		{"arn:aws:sns:eu-west-1:123456789012:topic", false, "", "", ""},
		{"two words", false, "", "", ""},
		{"", false, "", "", ""},
	}
	for _, tt := range tests {
		r, ok := parameterOf(tt.ref, "eu-west-1", relAcct)
		if ok != tt.ok || r.ID != tt.id || r.ARN != tt.arn || r.Config["store"] != tt.from {
			t.Errorf("parameterOf(%q) = %+v, %v; want %q %q %s %v", tt.ref, r, ok, tt.id, tt.arn, tt.from, tt.ok)
		}
	}
}

func TestEnvParameter(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"/checkout/prod/flags", true},
		{"/wholesale/prod/feature.checkout.v2", true},
		{relSecretARN, true},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/x", true},
		{"/tmp/cache", false},
		{"/var/task/config.json", false},
		{"/flags", false},
		{"/a//b", false},
		{"https://api.example.com/v1", false},
		{"prod", false},
		{"arn:aws:sns:us-east-1:123456789012:topic", false},
	}
	for _, tt := range tests {
		if got := envParameter(tt.v); got != tt.want {
			t.Errorf("envParameter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
