package mototest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// ALBWorld is the incident of awstest's ALB world, built in moto through
// the AWS APIs: the web-alb load balancer forwards to the web-tg target
// group, whose targets are the three instances of the web-asg Auto Scaling
// group, and /jobs/* to the forge-jobs function, which an SQS queue and
// the forge-templates table's stream trigger. Beside it, not on the
// alarm's path: the forge ECS service, the forge-db database and the
// forge-api REST API, each with an alarm of its own.
//
// Its metrics span the 100 minutes up to Now. From Onset one
// instance, Bad, fails: the load balancer's target 5XX and response time
// rise, and Bad's CPU and memory run far above its peers', which stay
// where they were; Bad logs error lines. The web-alb-target-5xx alarm is
// set to ALARM.
type ALBWorld struct {
	// Now is the minute the telemetry ends at, Onset when the bad instance
	// began to fail, and Fired the second after the alarm was set to ALARM.
	Now, Onset, Fired time.Time

	// Alarm watches the load balancer's target 5XX; the other alarms watch
	// the resources beside it.
	Alarm                           string
	DBAlarm, APIAlarm, ServiceAlarm string

	LoadBalancer, LoadBalancerDim string
	TargetGroup, Group            string
	// Instances are the group's, sorted; Bad is the one that fails.
	Instances []string
	Bad       string

	Function, Queue, Table        string
	Cluster, Service, DB, API     string
	AppLogGroup, FunctionLogGroup string

	// what the steps pass on
	clients         clients
	cfg             aws.Config
	endpoint        string
	vpc, sg         string
	subnets         []string
	queueARN, fnARN string
}

type clients struct {
	ec2    *ec2.Client
	elb    *elb.Client
	asg    *autoscaling.Client
	cw     *cloudwatch.Client
	logs   *cloudwatchlogs.Client
	lambda *lambda.Client
	ddb    *dynamodb.Client
	ecs    *ecs.Client
	rds    *rds.Client
	apigw  *apigateway.Client
	xray   *xray.Client
}

// CloudWatchJSON switches a CloudWatch client to AWS JSON 1.0, which moto
// speaks, from the SDK's RPC v2 CBOR, which it does not.
func CloudWatchJSON(o *cloudwatch.Options) {
	o.Protocol = awsjson.New10(cwschemas.GraniteServiceVersion20100801)
}

// uncompressed sends PutMetricData's body as it is: moto 5.2.1's server
// un-gzips a request body twice (moto_server/utilities.py, then
// core/responses.py) and fails on the SDK's compressed bodies (over 10 KB).
// The bot never writes metrics; only the world's writer needs this.
func uncompressed(o *cloudwatch.Options) { o.DisableRequestCompression = true }

// BuildALBWorld creates the world in the server: the resources first,
// then the telemetry of the 100 minutes before the present minute, and
// last the alarm's state, at Fired.
func (s *Server) BuildALBWorld(ctx context.Context) (*ALBWorld, error) {
	cfg, err := s.Config(ctx)
	if err != nil {
		return nil, err
	}
	w := &ALBWorld{
		Alarm: "web-alb-target-5xx", DBAlarm: "forge-db-cpu", APIAlarm: "forge-api-5xx", ServiceAlarm: "forge-worker-cpu",
		LoadBalancer: "web-alb", TargetGroup: "web-tg", Group: "web-asg",
		Function: "forge-jobs", Queue: "forge-jobs-queue", Table: "forge-templates",
		Cluster: "forge", Service: "forge-worker", DB: "forge-db", API: "forge-api",
		AppLogGroup: "/app/bot-forge", FunctionLogGroup: "/aws/lambda/forge-jobs",
		cfg: cfg, endpoint: s.Endpoint,
		clients: clients{
			ec2:    ec2.NewFromConfig(cfg),
			elb:    elb.NewFromConfig(cfg),
			asg:    autoscaling.NewFromConfig(cfg),
			cw:     cloudwatch.NewFromConfig(cfg, CloudWatchJSON, uncompressed),
			logs:   cloudwatchlogs.NewFromConfig(cfg),
			lambda: lambda.NewFromConfig(cfg),
			ddb:    dynamodb.NewFromConfig(cfg),
			ecs:    ecs.NewFromConfig(cfg),
			rds:    rds.NewFromConfig(cfg),
			apigw:  apigateway.NewFromConfig(cfg),
			xray:   xray.NewFromConfig(cfg),
		},
	}
	type step struct {
		what string
		fn   func(context.Context) error
	}
	run := func(steps ...step) error {
		for _, st := range steps {
			if err := st.fn(ctx); err != nil {
				return fmt.Errorf("building the ALB world in moto: %s: %w", st.what, err)
			}
		}
		return nil
	}
	if err := run(
		step{"network", w.network},
		step{"load balancer", w.loadBalancer},
		step{"auto scaling group", w.autoScalingGroup},
		step{"table", w.table},
		step{"function", w.function},
		step{"ECS service", w.ecsService},
		step{"database", w.database},
		step{"REST API", w.restAPI},
	); err != nil {
		return nil, err
	}
	// The telemetry ends at the present minute, so that the alarm fires
	// within a minute or so of its newest point, as it does on AWS.
	w.Now = time.Now().UTC().Truncate(time.Minute)
	w.Onset = w.Now.Add(-4 * time.Minute)
	if err := run(
		step{"metrics", w.putMetrics},
		step{"logs", w.putLogs},
		step{"traces", w.putTraces},
		step{"alarms", w.alarms},
	); err != nil {
		return nil, err
	}
	w.Fired = time.Now().UTC().Truncate(time.Second)
	return w, nil
}

var azs = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

func (w *ALBWorld) network(ctx context.Context) error {
	c := w.clients.ec2
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		return err
	}
	w.vpc = aws.ToString(vpc.Vpc.VpcId)
	for i, az := range azs {
		sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: aws.String(w.vpc), AvailabilityZone: aws.String(az), CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i)),
		})
		if err != nil {
			return err
		}
		w.subnets = append(w.subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("web"), Description: aws.String("web instances"), VpcId: aws.String(w.vpc),
	})
	if err != nil {
		return err
	}
	w.sg = aws.ToString(sg.GroupId)
	return nil
}

func (w *ALBWorld) loadBalancer(ctx context.Context) error {
	c := w.clients.elb
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String(w.LoadBalancer), Subnets: w.subnets, SecurityGroups: []string{w.sg},
		Type: elbtypes.LoadBalancerTypeEnumApplication, Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing,
	})
	if err != nil {
		return err
	}
	lbARN := aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	// The CloudWatch dimension is the ARN's tail: app/NAME/ID.
	w.LoadBalancerDim = lbARN[strings.Index(lbARN, ":loadbalancer/")+len(":loadbalancer/"):]
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String(w.TargetGroup), TargetType: elbtypes.TargetTypeEnumInstance,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), VpcId: aws.String(w.vpc),
	})
	if err != nil {
		return err
	}
	_, err = c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroups[0].TargetGroupArn}},
	})
	return err
}

func (w *ALBWorld) targetGroupARN(ctx context.Context, name string) (string, error) {
	out, err := w.clients.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
}

// autoScalingGroup launches three instances, one per zone, in a group
// attached to the target group.
func (w *ALBWorld) autoScalingGroup(ctx context.Context) error {
	images, err := w.clients.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil {
		return err
	}
	if len(images.Images) == 0 {
		return fmt.Errorf("moto has no image owned by amazon")
	}
	sort.Slice(images.Images, func(i, j int) bool {
		return aws.ToString(images.Images[i].ImageId) < aws.ToString(images.Images[j].ImageId)
	})
	_, err = w.clients.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceTypeM5Large,
			SecurityGroupIds: []string{w.sg},
		},
	})
	if err != nil {
		return err
	}
	tgARN, err := w.targetGroupARN(ctx, w.TargetGroup)
	if err != nil {
		return err
	}
	_, err = w.clients.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(w.Group),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(3), MaxSize: aws.Int32(6), DesiredCapacity: aws.Int32(3),
		VPCZoneIdentifier: aws.String(strings.Join(w.subnets, ",")),
		TargetGroupARNs:   []string{tgARN},
	})
	if err != nil {
		return err
	}
	out, err := w.clients.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{w.Group}})
	if err != nil {
		return err
	}
	for _, in := range out.AutoScalingGroups[0].Instances {
		w.Instances = append(w.Instances, aws.ToString(in.InstanceId))
	}
	if len(w.Instances) != 3 {
		return fmt.Errorf("the group has %d instances, want 3", len(w.Instances))
	}
	sort.Strings(w.Instances)
	w.Bad = w.Instances[1]
	// The group registers its instances with the target group; check that
	// moto did, rather than register them by hand and hide it if not.
	th, err := w.clients.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return err
	}
	if len(th.TargetHealthDescriptions) != len(w.Instances) {
		return fmt.Errorf("the target group has %d targets, want the group's %d instances", len(th.TargetHealthDescriptions), len(w.Instances))
	}
	return nil
}

// table is the forge-templates table, with a stream the function reads.
func (w *ALBWorld) table(ctx context.Context) error {
	_, err := w.clients.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(w.Table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage},
	})
	return err
}

// function is forge-jobs: a target of the load balancer for /jobs/*,
// triggered by the forge-jobs queue and the table's stream.
func (w *ALBWorld) function(ctx context.Context) error {
	role, err := w.createRole(ctx, "forge-jobs-role")
	if err != nil {
		return fmt.Errorf("IAM role: %w", err)
	}
	fn, err := w.clients.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(w.Function), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("index.handler"),
		Role: aws.String(role), Code: &lambdatypes.FunctionCode{ZipFile: handlerZip()},
		MemorySize: aws.Int32(256), Timeout: aws.Int32(30),
	})
	if err != nil {
		return err
	}
	w.fnARN = aws.ToString(fn.FunctionArn)
	if w.queueARN, err = w.createQueue(ctx, w.Queue); err != nil {
		return fmt.Errorf("SQS queue: %w", err)
	}
	if _, err := w.clients.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(w.Function), EventSourceArn: aws.String(w.queueARN), BatchSize: aws.Int32(10),
	}); err != nil {
		return fmt.Errorf("SQS trigger: %w", err)
	}
	tbl, err := w.clients.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(w.Table)})
	if err != nil {
		return err
	}
	if _, err := w.clients.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(w.Function), EventSourceArn: tbl.Table.LatestStreamArn, StartingPosition: lambdatypes.EventSourcePositionLatest,
	}); err != nil {
		return fmt.Errorf("table stream trigger: %w", err)
	}
	// The load balancer sends /jobs/* to the function.
	tg, err := w.clients.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String("jobs-tg"), TargetType: elbtypes.TargetTypeEnumLambda,
	})
	if err != nil {
		return err
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := w.clients.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{
		TargetGroupArn: tgARN, Targets: []elbtypes.TargetDescription{{Id: aws.String(w.fnARN)}},
	}); err != nil {
		return fmt.Errorf("lambda target: %w", err)
	}
	lbs, err := w.clients.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{w.LoadBalancer}})
	if err != nil {
		return err
	}
	ls, err := w.clients.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		return err
	}
	_, err = w.clients.elb.CreateRule(ctx, &elb.CreateRuleInput{
		ListenerArn: ls.Listeners[0].ListenerArn, Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/jobs/*"}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}},
	})
	return err
}

// handlerZip is a deployment package; moto stores it and never runs it
// here (nothing invokes the function).
func handlerZip() []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("index.py")
	io.WriteString(f, "def handler(event, context):\n    return {'statusCode': 200}\n")
	zw.Close()
	return buf.Bytes()
}

func (w *ALBWorld) ecsService(ctx context.Context) error {
	c := w.clients.ecs
	// A tag on the cluster keeps moto 5.2.1's GetResources from failing
	// (500, "'NoneType' object is not iterable") whenever it lists ECS
	// clusters, as it does for a call without ResourceTypeFilters: it
	// reads an untagged cluster's tags as None.
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName: aws.String(w.Cluster), Tags: []ecstypes.Tag{{Key: aws.String("team"), Value: aws.String("forge")}},
	}); err != nil {
		return err
	}
	td, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(w.Service),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("worker"), Image: aws.String("public.ecr.aws/example/forge-worker:1.4.2"), Memory: aws.Int32(512),
			LogConfiguration: &ecstypes.LogConfiguration{LogDriver: ecstypes.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecs/forge-worker", "awslogs-region": Region, "awslogs-stream-prefix": "worker",
			}},
		}},
	})
	if err != nil {
		return err
	}
	_, err = c.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(w.Cluster), ServiceName: aws.String(w.Service),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2),
	})
	if err != nil {
		return err
	}
	_, err = w.clients.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/ecs/forge-worker")})
	return err
}

func (w *ALBWorld) database(ctx context.Context) error {
	_, err := w.clients.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(w.DB), Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"),
		AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("forge"), MasterUserPassword: aws.String("not-a-secret-1"),
	})
	return err
}

// restAPI is forge-api: POST /jobs proxies to the function.
func (w *ALBWorld) restAPI(ctx context.Context) error {
	c := w.clients.apigw
	api, err := c.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String(w.API)})
	if err != nil {
		return err
	}
	res, err := c.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: api.Id})
	if err != nil {
		return err
	}
	var root *string
	for _, r := range res.Items {
		if aws.ToString(r.Path) == "/" {
			root = r.Id
		}
	}
	jobs, err := c.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: root, PathPart: aws.String("jobs")})
	if err != nil {
		return err
	}
	if _, err := c.PutMethod(ctx, &apigateway.PutMethodInput{
		RestApiId: api.Id, ResourceId: jobs.Id, HttpMethod: aws.String("POST"), AuthorizationType: aws.String("NONE"),
	}); err != nil {
		return err
	}
	_, err = c.PutIntegration(ctx, &apigateway.PutIntegrationInput{
		RestApiId: api.Id, ResourceId: jobs.Id, HttpMethod: aws.String("POST"),
		Type: "AWS_PROXY", IntegrationHttpMethod: aws.String("POST"),
		Uri: aws.String("arn:aws:apigateway:" + Region + ":lambda:path/2015-03-31/functions/" + w.fnARN + "/invocations"),
	})
	return err
}

// level is a metric's value at t: a few percent of deterministic wobble
// around a level that, from the onset, moves on the load balancer and the
// bad instance only.
func (w *ALBWorld) level(ns, name, inst string, t time.Time) float64 {
	after := !t.Before(w.Onset)
	k := float64(t.Unix()/60) * 0.7
	wobble := 1 + 0.03*math.Sin(k+float64(len(name)+len(inst)))
	bad := inst != "" && inst == w.Bad && after
	switch ns + " " + name {
	case "AWS/ApplicationELB RequestCount":
		return math.Round(2400 * wobble)
	case "AWS/ApplicationELB HTTPCode_Target_5XX_Count":
		if after {
			return math.Round(780 * wobble)
		}
		return math.Round(1 + math.Sin(k))
	case "AWS/ApplicationELB HTTPCode_ELB_5XX_Count":
		return 0
	case "AWS/ApplicationELB HTTPCode_Target_4XX_Count":
		return math.Round(12 * wobble)
	case "AWS/ApplicationELB TargetResponseTime":
		if after {
			return 0.9 * wobble
		}
		return 0.045 * wobble
	case "AWS/ApplicationELB HealthyHostCount":
		return 3
	case "AWS/ApplicationELB UnHealthyHostCount":
		return 0
	case "AWS/EC2 CPUUtilization":
		if bad {
			return 97 * (1 + (wobble-1)/3)
		}
		return 22 * wobble
	case "AWS/EC2 StatusCheckFailed":
		return 0
	case "CWAgent mem_used_percent":
		if bad {
			return 94 * (1 + (wobble-1)/3)
		}
		return 41 * wobble
	case "AWS/AutoScaling GroupDesiredCapacity", "AWS/AutoScaling GroupInServiceInstances":
		return 3
	case "AWS/Lambda Invocations":
		return math.Round(60 * wobble)
	case "AWS/Lambda Errors", "AWS/Lambda Throttles":
		return 0
	case "AWS/Lambda Duration":
		return 120 * wobble
	case "AWS/DynamoDB ConsumedReadCapacityUnits":
		return math.Round(1200 * wobble)
	case "AWS/DynamoDB SuccessfulRequestLatency":
		return 4 * wobble
	case "AWS/SQS NumberOfMessagesSent":
		return math.Round(60 * wobble)
	case "AWS/SQS ApproximateNumberOfMessagesVisible":
		return math.Round(3 * wobble)
	case "AWS/RDS CPUUtilization", "AWS/ECS CPUUtilization":
		return 30 * wobble
	case "AWS/RDS DatabaseConnections":
		return math.Round(40 * wobble)
	case "AWS/ApiGateway Count":
		return math.Round(300 * wobble)
	case "AWS/ApiGateway 5XXError":
		return 0
	case "AWS/ApiGateway Latency":
		return 80 * wobble
	}
	panic("no level for " + ns + " " + name)
}

// seriesDef is one series the world puts: a metric with its dimensions,
// and the instance it belongs to, if any.
type seriesDef struct {
	ns, name, inst string
	dims           []cwtypes.Dimension
}

// series are the metrics put. moto answers GetMetricData in time
// proportional to every point it holds times every period asked, so the
// world puts the series an investigation reads on this topology, not every
// metric AWS would publish.
func (w *ALBWorld) series() []seriesDef {
	var out []seriesDef
	add := func(ns string, kv []string, names ...string) {
		var ds []cwtypes.Dimension
		inst := ""
		for i := 0; i < len(kv); i += 2 {
			ds = append(ds, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
			if kv[i] == "InstanceId" {
				inst = kv[i+1]
			}
		}
		for _, n := range names {
			out = append(out, seriesDef{ns: ns, name: n, inst: inst, dims: ds})
		}
	}
	add("AWS/ApplicationELB", []string{"LoadBalancer", w.LoadBalancerDim}, "RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count",
		"HTTPCode_Target_4XX_Count", "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount")
	for _, in := range w.Instances {
		add("AWS/EC2", []string{"InstanceId", in}, "CPUUtilization", "StatusCheckFailed")
		add("CWAgent", []string{"InstanceId", in}, "mem_used_percent")
	}
	add("AWS/AutoScaling", []string{"AutoScalingGroupName", w.Group}, "GroupDesiredCapacity", "GroupInServiceInstances")
	add("AWS/Lambda", []string{"FunctionName", w.Function}, "Invocations", "Errors", "Throttles", "Duration")
	add("AWS/DynamoDB", []string{"TableName", w.Table}, "ConsumedReadCapacityUnits", "SuccessfulRequestLatency")
	add("AWS/SQS", []string{"QueueName", w.Queue}, "NumberOfMessagesSent", "ApproximateNumberOfMessagesVisible")
	add("AWS/RDS", []string{"DBInstanceIdentifier", w.DB}, "CPUUtilization", "DatabaseConnections")
	add("AWS/ECS", []string{"ClusterName", w.Cluster, "ServiceName", w.Service}, "CPUUtilization")
	add("AWS/ApiGateway", []string{"ApiName", w.API}, "Count", "5XXError", "Latency")
	return out
}

// putMetrics puts one point a minute of every series for the 100 minutes
// before Now.
func (w *ALBWorld) putMetrics(ctx context.Context) error {
	byNS := map[string][]cwtypes.MetricDatum{}
	for _, s := range w.series() {
		for t := w.Now.Add(-100 * time.Minute); !t.After(w.Now); t = t.Add(time.Minute) {
			byNS[s.ns] = append(byNS[s.ns], cwtypes.MetricDatum{
				MetricName: aws.String(s.name), Dimensions: s.dims, Timestamp: aws.Time(t),
				Value: aws.Float64(w.level(s.ns, s.name, s.inst, t)),
			})
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		data := byNS[ns]
		for len(data) > 0 {
			n := min(len(data), 1000) // PutMetricData takes up to 1,000 metrics a call
			if _, err := w.clients.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data[:n]}); err != nil {
				return err
			}
			data = data[n:]
		}
	}
	return nil
}

func (w *ALBWorld) alarms(ctx context.Context) error {
	put := func(name, ns, metric string, stat cwtypes.Statistic, threshold float64, dims ...cwtypes.Dimension) error {
		_, err := w.clients.cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), Namespace: aws.String(ns), MetricName: aws.String(metric), Dimensions: dims,
			Statistic: stat, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3), Threshold: aws.Float64(threshold),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		})
		return err
	}
	d := func(k, v string) cwtypes.Dimension {
		return cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)}
	}
	if err := put(w.Alarm, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", cwtypes.StatisticSum, 50, d("LoadBalancer", w.LoadBalancerDim)); err != nil {
		return err
	}
	if err := put(w.DBAlarm, "AWS/RDS", "CPUUtilization", cwtypes.StatisticAverage, 80, d("DBInstanceIdentifier", w.DB)); err != nil {
		return err
	}
	if err := put(w.APIAlarm, "AWS/ApiGateway", "5XXError", cwtypes.StatisticSum, 10, d("ApiName", w.API)); err != nil {
		return err
	}
	if err := put(w.ServiceAlarm, "AWS/ECS", "CPUUtilization", cwtypes.StatisticAverage, 80, d("ClusterName", w.Cluster), d("ServiceName", w.Service)); err != nil {
		return err
	}
	_, err := w.clients.cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(w.Alarm), StateValue: cwtypes.StateValueAlarm,
		StateReason: aws.String("Threshold Crossed: 3 datapoints were greater than the threshold (50.0)."),
	})
	return err
}

// putLogs writes the instances' application log, one stream per instance
// (as the CloudWatch agent names them), and the function's log.
func (w *ALBWorld) putLogs(ctx context.Context) error {
	c := w.clients.logs
	put := func(group, stream string, events []logtypes.InputLogEvent) error {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
			return err
		}
		_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events})
		return err
	}
	for _, g := range []string{w.AppLogGroup, w.FunctionLogGroup} {
		if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(g)}); err != nil {
			return err
		}
	}
	start := w.Now.Add(-100 * time.Minute)
	for _, in := range w.Instances {
		var events []logtypes.InputLogEvent
		for t := start; t.Before(w.Now); t = t.Add(time.Minute) {
			for i := 0; i < 10; i++ {
				at := t.Add(time.Duration(i) * 6 * time.Second)
				events = append(events, logtypes.InputLogEvent{
					Timestamp: aws.Int64(at.UnixMilli()), Message: aws.String(fmt.Sprintf("INFO request %04x served in %d ms", at.Unix()%65536, 38+i)),
				})
				if in == w.Bad && !t.Before(w.Onset) {
					events = append(events, logtypes.InputLogEvent{
						Timestamp: aws.Int64(at.Add(time.Second).UnixMilli()),
						Message:   aws.String(fmt.Sprintf("ERROR request %04x failed: render reply: open /var/lib/bot-forge/templates/reply.tmpl: no such file or directory", at.Unix()%65536)),
					})
				}
			}
		}
		if err := put(w.AppLogGroup, in, events); err != nil {
			return err
		}
	}
	var events []logtypes.InputLogEvent
	for t := start; t.Before(w.Now); t = t.Add(time.Minute) {
		events = append(events,
			logtypes.InputLogEvent{Timestamp: aws.Int64(t.UnixMilli()), Message: aws.String("START RequestId: 8f5c Version: $LATEST")},
			logtypes.InputLogEvent{Timestamp: aws.Int64(t.Add(120 * time.Millisecond).UnixMilli()), Message: aws.String("REPORT RequestId: 8f5c Duration: 118.20 ms")},
		)
	}
	return put(w.FunctionLogGroup, "2025/01/01/[$LATEST]8f5c", events)
}

// putTraces sends one traced request a minute per instance, through
// PutTraceSegments; from the onset the bad instance's fault.
func (w *ALBWorld) putTraces(ctx context.Context) error {
	var docs []string
	for t := w.Now.Add(-70 * time.Minute); t.Before(w.Now); t = t.Add(time.Minute) {
		for i, in := range w.Instances {
			id := fmt.Sprintf("1-%08x-%024x", t.Unix(), i+1)
			seg := map[string]any{
				"name": "bot-forge", "id": fmt.Sprintf("%016x", t.Unix()*4+int64(i)), "trace_id": id,
				"start_time": float64(t.Unix()), "end_time": float64(t.Unix()) + 0.05, "origin": "AWS::EC2::Instance",
				"aws":  map[string]any{"ec2": map[string]any{"instance_id": in, "availability_zone": azs[i]}},
				"http": map[string]any{"request": map[string]any{"method": "POST", "url": "https://web.example.com/reply"}, "response": map[string]any{"status": 200}},
			}
			if in == w.Bad && !t.Before(w.Onset) {
				seg["fault"] = true
				seg["http"].(map[string]any)["response"] = map[string]any{"status": 500}
			}
			b, err := json.Marshal(seg)
			if err != nil {
				return err
			}
			docs = append(docs, string(b))
		}
	}
	for len(docs) > 0 {
		n := min(len(docs), 50)
		out, err := w.clients.xray.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs[:n]})
		if err != nil {
			return err
		}
		if len(out.UnprocessedTraceSegments) > 0 {
			return fmt.Errorf("%d segments unprocessed: %s", len(out.UnprocessedTraceSegments), aws.ToString(out.UnprocessedTraceSegments[0].Message))
		}
		docs = docs[n:]
	}
	return nil
}

// createRole creates an IAM role Lambda may assume. The module has no IAM
// client (the bot never calls IAM), so this is one signed Query call.
func (w *ALBWorld) createRole(ctx context.Context, name string) (string, error) {
	form := url.Values{
		"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {name},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}
	body, err := w.signed(ctx, "iam", "application/x-www-form-urlencoded", "", []byte(form.Encode()))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`<Arn>([^<]+)</Arn>`).FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no role ARN in %q", body)
	}
	return string(m[1]), nil
}

// createQueue creates an SQS queue and returns its ARN: signed calls of
// SQS's JSON protocol (the module has no SQS client either).
func (w *ALBWorld) createQueue(ctx context.Context, name string) (string, error) {
	call := func(op string, in, out any) error {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, err := w.signed(ctx, "sqs", "application/x-amz-json-1.0", "AmazonSQS."+op, b)
		if err != nil {
			return err
		}
		return json.Unmarshal(body, out)
	}
	var created struct{ QueueUrl string }
	if err := call("CreateQueue", map[string]any{"QueueName": name}, &created); err != nil {
		return "", err
	}
	var attrs struct{ Attributes map[string]string }
	if err := call("GetQueueAttributes", map[string]any{"QueueUrl": created.QueueUrl, "AttributeNames": []string{"QueueArn"}}, &attrs); err != nil {
		return "", err
	}
	if attrs.Attributes["QueueArn"] == "" {
		return "", fmt.Errorf("no QueueArn for %s", created.QueueUrl)
	}
	return attrs.Attributes["QueueArn"], nil
}

// signed POSTs a body to the server signed with SigV4 for a service (moto
// routes a request by the service its signature names).
func (w *ALBWorld) signed(ctx context.Context, service, contentType, target string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	creds, err := w.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, sha256Hex(body), service, Region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", service, target, resp.Status, out)
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TagStack tags the load balancer, the database and the ECS service with a
// CloudFormation stack's name, through each service's own tagging call, as
// CloudFormation does for the resources it makes.
func (w *ALBWorld) TagStack(ctx context.Context, stack string) error {
	lbs, err := w.clients.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{w.LoadBalancer}})
	if err != nil {
		return fmt.Errorf("tagging the load balancer: %w", err)
	}
	_, err = w.clients.elb.AddTags(ctx, &elb.AddTagsInput{
		ResourceArns: []string{aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn)},
		Tags:         []elbtypes.Tag{{Key: aws.String(stackTag), Value: aws.String(stack)}},
	})
	if err != nil {
		return fmt.Errorf("tagging the load balancer: %w", err)
	}
	dbs, err := w.clients.rds.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(w.DB)})
	if err != nil {
		return fmt.Errorf("tagging the database: %w", err)
	}
	_, err = w.clients.rds.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{
		ResourceName: dbs.DBInstances[0].DBInstanceArn,
		Tags:         []rdstypes.Tag{{Key: aws.String(stackTag), Value: aws.String(stack)}},
	})
	if err != nil {
		return fmt.Errorf("tagging the database: %w", err)
	}
	svcs, err := w.clients.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(w.Cluster), Services: []string{w.Service}})
	if err != nil {
		return fmt.Errorf("tagging the ECS service: %w", err)
	}
	_, err = w.clients.ecs.TagResource(ctx, &ecs.TagResourceInput{
		ResourceArn: svcs.Services[0].ServiceArn,
		Tags:        []ecstypes.Tag{{Key: aws.String(stackTag), Value: aws.String(stack)}},
	})
	if err != nil {
		return fmt.Errorf("tagging the ECS service: %w", err)
	}
	return nil
}

const stackTag = "aws:cloudformation:stack-name"
