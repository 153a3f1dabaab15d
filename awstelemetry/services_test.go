package awstelemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// The serverless story of lambda-concurrency-limit.yaml: the ingest-api
// REST API integrates with the ingest-fn function, which sends to the
// events-queue queue and is fed by the ingest-dedupe table's stream.
func installServerless(srv *awstest.Server) {
	srv.Handle("API Gateway.GetRestApis", func(r *awstest.Request) any {
		if r.String("position") == "" {
			return map[string]any{"item": []any{map[string]any{"id": "zz99", "name": "other-api"}}, "position": "p2"}
		}
		return map[string]any{"item": []any{map[string]any{"id": "a1b2c3d4e5", "name": "ingest-api"}}}
	})
	srv.Handle("API Gateway.GetResources", func(r *awstest.Request) any {
		if r.String("restapi_id") != "a1b2c3d4e5" || r.String("embed") != "methods" {
			return &awstest.Error{Status: 404, Code: "NotFoundException", Message: "Invalid API identifier specified " + r.String("restapi_id")}
		}
		return map[string]any{"item": []any{
			map[string]any{"id": "r00t", "path": "/"},
			map[string]any{"id": "x1y2z3", "path": "/ingest", "resourceMethods": map[string]any{
				"POST": map[string]any{"httpMethod": "POST", "methodIntegration": map[string]any{
					"type": "AWS_PROXY", "httpMethod": "POST",
					"uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:ingest-fn/invocations",
				}},
			}},
			map[string]any{"id": "h1", "path": "/legacy", "resourceMethods": map[string]any{
				"GET": map[string]any{"httpMethod": "GET", "methodIntegration": map[string]any{"type": "HTTP_PROXY", "uri": "https://legacy.example.com/v1/{proxy}"}},
			}},
		}}
	})
	srv.Handle("Lambda.GetFunctionConfiguration", func(r *awstest.Request) any {
		if r.String("FunctionName") != "ingest-fn" {
			return &awstest.Error{Status: 404, Code: "ResourceNotFoundException", Message: "Function not found"}
		}
		return map[string]any{
			"FunctionName": "ingest-fn", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:ingest-fn",
			"MemorySize": 1024, "Timeout": 30, "Runtime": "provided.al2023", "State": "Active",
			"LastModified": "2024-12-01T08:00:00.000+0000",
		}
	})
	srv.Reply("Lambda.GetFunctionConcurrency", map[string]any{"ReservedConcurrentExecutions": 200})
	srv.Handle("Lambda.ListEventSourceMappings", func(r *awstest.Request) any {
		return map[string]any{"EventSourceMappings": []any{map[string]any{
			"UUID": "14e0db71", "State": "Enabled", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:" + r.String("FunctionName"),
			"EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/ingest-dedupe/stream/2024-11-01T00:00:00.000",
		}}}
	})
	srv.Handle("DynamoDB.DescribeTable", func(r *awstest.Request) any {
		return map[string]any{"Table": map[string]any{
			"TableName": r.String("TableName"), "TableStatus": "ACTIVE",
			"ProvisionedThroughput": map[string]any{"ReadCapacityUnits": 50, "WriteCapacityUnits": 10},
		}}
	})
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{
		map[string]any{"ReferenceId": 0, "Name": "clients", "Type": "client", "Edges": []any{awstest.Edge(1, 1000, 0, 0.1)}},
		map[string]any{"ReferenceId": 1, "Name": "ingest-api/prod", "Type": "AWS::ApiGateway::Stage", "Edges": []any{awstest.Edge(2, 1000, 0, 0.1)}},
		map[string]any{"ReferenceId": 2, "Name": "ingest-fn", "Type": "AWS::Lambda", "Edges": []any{awstest.Edge(3, 1000, 0, 0.09)}},
		map[string]any{"ReferenceId": 3, "Name": "ingest-fn", "Type": "AWS::Lambda::Function", "Edges": []any{awstest.Edge(4, 1000, 0, 0.01)}},
		map[string]any{"ReferenceId": 4, "Name": "events-queue", "Type": "AWS::SQS::Queue", "Edges": []any{}},
	}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	// An account without tags.
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
	srv.Handle("Service Quotas.GetServiceQuota", func(r *awstest.Request) any {
		values := map[string]float64{"lambda/L-B99A9384": 1000, "apigateway/L-8A5B8E43": 10000, "dynamodb/L-CF0CBE56": 40000, "dynamodb/L-AB614373": 40000}
		v, ok := values[r.String("ServiceCode")+"/"+r.String("QuotaCode")]
		if !ok {
			return &awstest.Error{Status: 400, Code: "NoSuchResourceException", Message: "no such quota"}
		}
		return map[string]any{"Quota": map[string]any{"ServiceCode": r.String("ServiceCode"), "QuotaCode": r.String("QuotaCode"), "QuotaName": "quota " + r.String("QuotaCode"), "Value": v}}
	})
}

func TestTopologyServerlessOverRESTJSON(t *testing.T) {
	srv, c := newServerClient(t)
	installServerless(srv)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	topo, err := s.Topology(ctx, investigate.Alarm{Name: "ingest-api-5xx", Resource: "ingest-api",
		Metric: investigate.Metric{Namespace: "AWS/ApiGateway", Name: "5XXError", Dims: map[string]string{"ApiName": "ingest-api"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	api, _ := resource(topo, "ingest-api")
	if api.Type != investigate.TypeAPIGateway || api.Config["api_id"] != "a1b2c3d4e5" || api.Dims["ApiName"] != "ingest-api" ||
		api.ARN != "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5" {
		t.Errorf("api = %+v", api)
	}
	fn, _ := resource(topo, "ingest-fn")
	if fn.Type != investigate.TypeLambda || fn.Config["memory"] != "1024" || fn.Config["timeout"] != "30" || fn.Config["reserved_concurrency"] != "200" ||
		fn.LogGroup != "/aws/lambda/ingest-fn" || fn.Dims["FunctionName"] != "ingest-fn" || fn.ARN == "" {
		t.Errorf("function = %+v", fn)
	}
	q, _ := resource(topo, "events-queue")
	if q.Type != investigate.TypeSQS || q.Dims["QueueName"] != "events-queue" {
		t.Errorf("queue = %+v", q)
	}
	table, _ := resource(topo, "ingest-dedupe")
	if table.Config["mode"] != "provisioned" || table.Config["rcu"] != "50" || table.Config["wcu"] != "10" {
		t.Errorf("table = %+v", table)
	}
	ext, _ := resource(topo, "legacy.example.com")
	if ext.Type != investigate.TypeExternal || ext.URL != "https://legacy.example.com" {
		t.Errorf("external = %+v", ext)
	}
	for _, rel := range [][3]string{
		{"ingest-api", "ingest-fn", investigate.RelTargets},
		{"ingest-api", "legacy.example.com", investigate.RelTargets},
		{"ingest-fn", "events-queue", investigate.RelCalls},
		{"ingest-dedupe", "ingest-fn", investigate.RelTargets},
	} {
		if !hasRel(topo, rel[0], rel[1], rel[2]) {
			t.Errorf("missing relation %v in %+v", rel, topo.Relations)
		}
	}
	for _, r := range topo.Relations {
		if r.From == r.To {
			t.Errorf("self relation %+v", r)
		}
	}
	if n := srv.Count("API Gateway.GetRestApis"); n != 2 {
		t.Errorf("GetRestApis pages = %d", n)
	}
	for _, op := range []string{"Lambda.GetFunctionConfiguration", "Lambda.GetFunctionConcurrency", "Lambda.ListEventSourceMappings"} {
		if n := srv.Count(op); n != 1 {
			t.Errorf("%s called %d times", op, n)
		}
	}

	quotas, err := s.Quotas(ctx, topo.Resources)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, q := range quotas {
		got[q.Resource+" "+q.Code] = q.Value
	}
	if got["ingest-fn L-B99A9384"] != 1000 || got["ingest-api L-8A5B8E43"] != 10000 || got["ingest-dedupe L-CF0CBE56"] != 40000 {
		t.Errorf("quotas = %v", got)
	}

	// Traces: API Gateway's stage is the API, the Lambda service and
	// function nodes one function, which is its own host.
	groups, err := s.Traces(ctx, investigate.TraceQuery{Start: time.Now().Add(-time.Hour), End: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"client>ingest-api@": true, "ingest-api>ingest-fn@ingest-fn": true, "ingest-fn>events-queue@": true}
	for _, g := range groups {
		k := g.Caller + ">" + g.Callee + "@" + g.Instance
		if !want[k] {
			t.Errorf("unexpected group %s: %+v", k, g)
		}
		delete(want, k)
		if g.Requests != 1000 {
			t.Errorf("group %s requests %d", k, g.Requests)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing groups %v in %+v", want, groups)
	}
}

// The container story: the checkout ECS service calls the orders-db RDS
// instance; a deployment started 20 minutes before the onset, and RDS
// failed over.
func installContainers(srv *awstest.Server, onset time.Time) {
	srv.Reply("ECS.DescribeServices", map[string]any{"services": []any{map[string]any{
		"serviceName": "checkout", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/prod/checkout",
		"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "desiredCount": 4, "runningCount": 3,
		"launchType": "FARGATE", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42",
		"deployments": []any{
			map[string]any{"id": "ecs-svc/1111", "status": "PRIMARY", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42",
				"createdAt": onset.Add(-20 * time.Minute), "updatedAt": onset.Add(-15 * time.Minute), "rolloutState": "COMPLETED", "desiredCount": 4, "runningCount": 3},
			map[string]any{"id": "ecs-svc/0000", "status": "INACTIVE", "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:41",
				"createdAt": onset.Add(-48 * time.Hour), "rolloutState": "COMPLETED"},
		},
	}}, "failures": []any{}})
	srv.Reply("ECS.DescribeTaskDefinition", map[string]any{"taskDefinition": map[string]any{
		"family": "checkout", "revision": 42,
		"containerDefinitions": []any{
			map[string]any{"name": "envoy"},
			map[string]any{"name": "checkout", "logConfiguration": map[string]any{"logDriver": "awslogs", "options": map[string]any{
				"awslogs-group": "/ecs/checkout", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "checkout"}}},
		},
	}})
	tasks := containerTasks(onset)
	srv.Handle("ECS.ListTasks", func(r *awstest.Request) any { return awstest.ListTasks(r, tasks) })
	srv.Handle("ECS.DescribeTasks", func(r *awstest.Request) any { return awstest.DescribeTasks(r, tasks) })
	srv.Reply("XRay.GetServiceGraph", map[string]any{"Services": []any{
		map[string]any{"ReferenceId": 1, "Name": "checkout", "Type": "AWS::ECS::Container", "Edges": []any{awstest.Edge(2, 500, 25, 0.02)}},
		map[string]any{"ReferenceId": 2, "Name": "orders-db", "Type": "AWS::RDS::DBInstance", "Edges": []any{}},
	}})
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	srv.Reply("CloudWatch Logs.DescribeLogGroups", map[string]any{"logGroups": []any{}})
	srv.Handle("RDS.DescribeDBInstances", func(r *awstest.Request) any {
		if r.String("Filters.Filter.1.Name") != "db-instance-id" || r.String("Filters.Filter.1.Values.Value.1") != "orders-db" {
			return &awstest.Error{Status: 400, Code: "InvalidParameterValue", Message: "unexpected filter"}
		}
		return map[string]any{"DBInstances": awstest.List{Member: "DBInstance", Items: []any{map[string]any{
			"DBInstanceIdentifier": "orders-db", "DBInstanceClass": "db.r6g.large", "Engine": "postgres", "EngineVersion": "16.3",
			"DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db", "AvailabilityZone": "us-east-1b",
			"MultiAZ": true, "AllocatedStorage": 200, "DBInstanceStatus": "available",
		}}}}
	})
	srv.Reply("RDS.DescribeEvents", map[string]any{"Events": awstest.List{Member: "Event", Items: []any{
		map[string]any{"SourceIdentifier": "orders-db", "SourceType": "db-instance", "Date": onset.Add(-time.Minute),
			"Message": "Multi-AZ instance failover started.", "EventCategories": awstest.List{Member: "EventCategory", Items: []any{"failover"}},
			"SourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders-db"},
		map[string]any{"SourceIdentifier": "other-db", "SourceType": "db-instance", "Date": onset.Add(-time.Minute), "Message": "elsewhere"},
	}}})
	srv.Reply("CloudTrail.LookupEvents", map[string]any{"Events": []any{}})
	srv.Handle("Resource Groups Tagging API.GetResources", func(r *awstest.Request) any { return awstest.GetResources(r, nil, 0) })
}

func TestTopologyAndChangesContainers(t *testing.T) {
	onset := ts("2024-12-05T14:00:00Z")
	srv, c := newServerClient(t, func(o *Options) { o.Now = func() time.Time { return onset.Add(5 * time.Minute) } })
	installContainers(srv, onset)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	topo, err := s.Topology(ctx, investigate.Alarm{Name: "checkout-cpu",
		Metric: investigate.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dims: map[string]string{"ClusterName": "prod", "ServiceName": "checkout"}}})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	svc, _ := resource(topo, "checkout")
	if svc.Type != investigate.TypeECS || svc.LogGroup != "/ecs/checkout" || svc.Config["tasks"] != "3" || svc.Config["desired"] != "4" ||
		svc.Config["cluster"] != "prod" || svc.Dims["ClusterName"] != "prod" || svc.Dims["ServiceName"] != "checkout" || svc.Config["launch_type"] != "FARGATE" {
		t.Errorf("ecs service = %+v", svc)
	}
	db, _ := resource(topo, "orders-db")
	if db.Type != investigate.TypeRDS || db.Config["instance_class"] != "db.r6g.large" || db.Config["engine"] != "postgres" || db.AZ != "us-east-1b" ||
		db.Dims["DBInstanceIdentifier"] != "orders-db" || db.Config["multi_az"] != "true" {
		t.Errorf("rds = %+v", db)
	}
	if !hasRel(topo, "checkout", "orders-db", investigate.RelCalls) {
		t.Errorf("relations = %+v", topo.Relations)
	}

	changes, err := s.Changes(ctx, onset.Add(-time.Hour), onset.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("changes = %+v", changes)
	}
	dep, fo := changes[0], changes[1]
	if dep.Event != "ServiceDeployment" || dep.Resource != "checkout" || dep.Actor != "ecs.amazonaws.com" || !dep.Time.Equal(onset.Add(-20*time.Minute)) ||
		!strings.HasSuffix(dep.Params["taskDefinition"], "checkout:42") {
		t.Errorf("deployment = %+v", dep)
	}
	if fo.Event != "RDSFailover" || fo.Resource != "orders-db" || fo.Actor != "rds.amazonaws.com" || fo.Params["message"] != "Multi-AZ instance failover started." {
		t.Errorf("failover = %+v", fo)
	}

	quotas, err := s.Quotas(ctx, topo.Resources)
	if err == nil || len(quotas) != 0 {
		// The fake has no Fargate quota: the only quota fails, so the
		// source fails.
		t.Errorf("quotas = %+v, err %v", quotas, err)
	}
}

func TestAssumeRoleNamesTheSession(t *testing.T) {
	srv, c := newServerClient(t, func(o *Options) {
		o.RoleARN = "arn:aws:iam::210987654321:role/unstuck-read"
		o.ExternalID = "incident-bot"
	})
	srv.Reply("STS.AssumeRole", assumeRoleOK())
	var signedWith string
	srv.Handle("CloudWatch.DescribeAlarms", func(r *awstest.Request) any {
		signedWith = r.HTTP.Header.Get("Authorization")
		return awstest.ALBAlarm()
	})
	srv.Reply("CloudWatch.DescribeAlarmHistory", map[string]any{})
	if _, err := c.NewSession().Alarm(context.Background(), "web-alb-target-5xx"); err != nil {
		t.Fatal(err)
	}
	var assume awstest.Call
	for _, call := range srv.Calls() {
		if call.Op == "AssumeRole" {
			assume = call
		}
	}
	if assume.Params["RoleArn"] != "arn:aws:iam::210987654321:role/unstuck-read" || assume.Params["RoleSessionName"] != "unstuck" || assume.Params["ExternalId"] != "incident-bot" {
		t.Errorf("AssumeRole = %v", assume.Params)
	}
	if !strings.Contains(signedWith, "Credential=ASIAASSUMEDKEY/") {
		t.Errorf("call not signed with the assumed role: %s", signedWith)
	}
	if c.CallsByOperation()["STS.AssumeRole"] != 1 {
		t.Errorf("calls = %v", c.CallsByOperation())
	}
}

// TestEndpointFromEnvironment: AWS_ENDPOINT_URL_<SERVICE> and AWS_REGION
// reach the clients through the SDK's own configuration chain.
func TestEndpointFromEnvironment(t *testing.T) {
	srv := awstest.New()
	defer srv.Close()
	other := awstest.New()
	defer other.Close()
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL", other.URL)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH", srv.URL)
	var region string
	srv.Handle("CloudWatch.DescribeAlarms", func(r *awstest.Request) any {
		region = r.HTTP.Header.Get("Authorization")
		return awstest.ALBAlarm()
	})
	srv.Reply("CloudWatch.DescribeAlarmHistory", map[string]any{})
	other.Reply("DynamoDB.DescribeTable", map[string]any{"Table": map[string]any{"TableName": "t", "BillingModeSummary": map[string]any{"BillingMode": "PAY_PER_REQUEST"}}})
	c, err := New(context.Background(), Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region() != "eu-west-1" {
		t.Errorf("region = %s", c.Region())
	}
	s := c.NewSession()
	if _, err := s.Alarm(context.Background(), "web-alb-target-5xx"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(region, "/eu-west-1/monitoring/") {
		t.Errorf("signed for %s", region)
	}
	topo, _ := s.Topology(ctxTimeout(t, 5*time.Second), investigate.Alarm{Metric: investigate.Metric{Dims: map[string]string{"TableName": "t"}}})
	if r, _ := resource(topo, "t"); r.Config["mode"] != "on-demand" || other.Count("DynamoDB.DescribeTable") != 1 || srv.Count("DynamoDB.DescribeTable") != 0 {
		t.Errorf("AWS_ENDPOINT_URL not used: %+v", r)
	}
}

func TestNewNeedsARegion(t *testing.T) {
	_, err := New(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("err = %v", err)
	}
}

func TestCloudTrailLimiterIsShared(t *testing.T) {
	a := cloudTrailLimiter("us-east-1", Options{Profile: "prod"})
	b := cloudTrailLimiter("us-east-1", Options{Profile: "prod"})
	other := cloudTrailLimiter("eu-west-1", Options{Profile: "prod"})
	if a != b || a == other {
		t.Error("limiters are not one per account and region")
	}
	if a.Limit() != 2 || a.Burst() != 1 {
		t.Errorf("limit %v burst %d", a.Limit(), a.Burst())
	}
}
