package awstelemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// tableByName answers DescribeTable for the tables named, by the name asked.
func tableByName(names ...string) awstest.Handler {
	return func(r *awstest.Request) any {
		n := r.String("TableName")
		for _, want := range names {
			if n == want {
				return map[string]any{"Table": map[string]any{
					"TableName": n, "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/" + n,
					"TableStatus": "ACTIVE", "BillingModeSummary": map[string]any{"BillingMode": "PAY_PER_REQUEST"},
				}}
			}
		}
		return &awstest.Error{Status: 400, Code: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + n + " not found"}
	}
}

// stackWorld is the ALB world with a table and a queue of the same
// CloudFormation stack that no relation reaches, and a table of another
// stack.
func stackWorld(t *testing.T) (*awstest.Server, *awstest.ALBWorld, *Client) {
	w := awstest.NewALBWorld()
	stack := map[string]string{"aws:cloudformation:stack-name": awstest.StackName}
	w.Tagged = append(w.Tagged,
		awstest.Tagged{ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/forge-sessions", Tags: stack},
		awstest.Tagged{ARN: "arn:aws:sqs:us-east-1:123456789012:forge-jobs", Tags: stack},
		// not a type the topology describes
		awstest.Tagged{ARN: "arn:aws:s3:::forge-assets", Tags: stack},
		awstest.Tagged{ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/billing", Tags: map[string]string{"aws:cloudformation:stack-name": "billing-prod"}},
	)
	srv, c := newServerClient(t, func(o *Options) {
		o.Now = func() time.Time { return w.Fires }
		o.Present = func() time.Time { return w.Present }
	})
	w.Install(srv)
	srv.Handle("DynamoDB.DescribeTable", tableByName("forge-templates", "forge-sessions", "billing"))
	return srv, w, c
}

// TestTopologyWidensToTheStack: the load balancer's tags come from the
// Tagging API (its describe carries none); what shares its stack and the
// topology had not found is added, described, and related to it by
// same-app; what the topology found otherwise (the instances, the table
// X-Ray shows) is not; another stack's table is left out.
func TestTopologyWidensToTheStack(t *testing.T) {
	srv, _, c := stackWorld(t)
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
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
	alb, _ := resource(topo, "web-alb")
	if alb.Tags["aws:cloudformation:stack-name"] != awstest.StackName {
		t.Errorf("web-alb tags = %v", alb.Tags)
	}
	table, ok := resource(topo, "forge-sessions")
	if !ok || table.Type != investigate.TypeDynamoDB || table.ARN == "" || table.Config["mode"] != "on-demand" {
		t.Errorf("forge-sessions = %+v, %v: want it described", table, ok)
	}
	queue, ok := resource(topo, "forge-jobs")
	if !ok || queue.Type != investigate.TypeSQS || queue.Dims["QueueName"] != "forge-jobs" {
		t.Errorf("forge-jobs = %+v, %v", queue, ok)
	}
	for _, id := range []string{"forge-sessions", "forge-jobs"} {
		if !hasRel(topo, "web-alb", id, investigate.RelSameApp) {
			t.Errorf("web-alb -same-app-> %s missing: %v", id, topo.Relations)
		}
	}
	if _, ok := resource(topo, "billing"); ok {
		t.Error("another stack's table is in the topology")
	}
	for _, r := range topo.Relations {
		if r.Kind == investigate.RelSameApp && r.To != "forge-sessions" && r.To != "forge-jobs" {
			t.Errorf("same-app relation to %s, which the topology found otherwise", r.To)
		}
	}
	var byARN, byTag int
	for _, call := range srv.Calls() {
		if call.Op != "GetResources" || call.Service != "Resource Groups Tagging API" {
			continue
		}
		if _, ok := call.Params["ResourceARNList"]; ok {
			byARN++
			continue
		}
		byTag++
		f, _ := call.Params["TagFilters"].([]any)
		if len(f) != 1 || f[0].(map[string]any)["Key"] != "aws:cloudformation:stack-name" {
			t.Errorf("TagFilters = %v", call.Params["TagFilters"])
		}
	}
	if byARN != 1 || byTag != 1 {
		t.Errorf("GetResources: %d by ARN, %d by tag; want 1 and 1", byARN, byTag)
	}
}

// TestTopologyWideningWithinBudget: a stack larger than the page budget is
// cut, and the cut is a problem the report lists in unavailable.
func TestTopologyWideningWithinBudget(t *testing.T) {
	srv, w, c := stackWorld(t)
	w.TagPageSize = 1
	var names []string
	for i := range 2 * maxTagPages {
		n := "forge-shard-" + string(rune('a'+i))
		names = append(names, n)
		w.Tagged = append(w.Tagged, awstest.Tagged{ARN: "arn:aws:dynamodb:us-east-1:123456789012:table/" + n, Tags: map[string]string{"aws:cloudformation:stack-name": awstest.StackName}})
	}
	srv.Handle("DynamoDB.DescribeTable", tableByName(append(names, "forge-templates", "forge-sessions")...))
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, err := s.Alarm(ctx, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Topology(ctx, a); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range s.Usage().Unavailable {
		found = found || (u.Source == "aws" && strings.Contains(u.Error, "share the tag"))
	}
	if !found {
		t.Errorf("unavailable = %v; want the cut widening", s.Usage().Unavailable)
	}
	if n := srv.Count("Resource Groups Tagging API.GetResources"); n != maxTagPages+1 {
		t.Errorf("%d GetResources calls; want the budget of %d pages and one call for the load balancer's tags", n, maxTagPages)
	}
}

// TestAppTagPrecedence: the stack name first, then app, application and
// service, keys in any case, kept as the resource spells them.
func TestAppTagPrecedence(t *testing.T) {
	for _, tc := range []struct {
		tags       map[string]string
		key, value string
	}{
		{map[string]string{"Service": "api", "App": "shop", "aws:cloudformation:stack-name": "shop-prod"}, "aws:cloudformation:stack-name", "shop-prod"},
		{map[string]string{"Service": "api", "Application": "shop-app", "APP": "shop"}, "APP", "shop"},
		{map[string]string{"Service": "api", "application": "shop-app"}, "application", "shop-app"},
		{map[string]string{"SERVICE": "api", "Name": "web"}, "SERVICE", "api"},
		{map[string]string{"app": "", "service": "api"}, "service", "api"},
		{map[string]string{"Name": "web"}, "", ""},
	} {
		k, v, ok := appTag(tc.tags)
		if k != tc.key || v != tc.value || ok != (tc.key != "") {
			t.Errorf("appTag(%v) = %q, %q, %v; want %q, %q", tc.tags, k, v, ok, tc.key, tc.value)
		}
	}
}

func TestResourceFromARN(t *testing.T) {
	for _, tc := range []struct {
		arn      string
		typ      investigate.ResourceType
		id, want string
		ok       bool
	}{
		{"arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", investigate.TypeEC2, "i-0abc", "i-0abc", true},
		{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/50dc", investigate.TypeALB, "web-alb", "app/web-alb/50dc", true},
		{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/nlb/50dc", "", "", "", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:worker", investigate.TypeLambda, "worker", "worker", true},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/orders", investigate.TypeDynamoDB, "orders", "orders", true},
		{"arn:aws:rds:us-east-1:123456789012:db:orders-db", investigate.TypeRDS, "orders-db", "orders-db", true},
		{"arn:aws:ecs:us-east-1:123456789012:service/prod/checkout", investigate.TypeECS, "checkout", "prod/checkout", true},
		{"arn:aws:ecs:us-east-1:123456789012:service/checkout", "", "", "", false},
		{"arn:aws:sqs:us-east-1:123456789012:jobs", investigate.TypeSQS, "jobs", "jobs", true},
		{"arn:aws:s3:::assets", "", "", "", false},
		{"not-an-arn", "", "", "", false},
	} {
		typ, id, want, ok := resourceFromARN(tc.arn)
		if typ != tc.typ || id != tc.id || want != tc.want || ok != tc.ok {
			t.Errorf("resourceFromARN(%s) = %s, %s, %s, %v", tc.arn, typ, id, want, ok)
		}
	}
}
