package awstelemetry

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
)

// apiInterfaces are the narrow interfaces, by the SDK service id whose
// client satisfies each.
var apiInterfaces = map[string]reflect.Type{
	"CloudWatch":                  reflect.TypeFor[cloudwatchAPI](),
	"CloudWatch Logs":             reflect.TypeFor[logsAPI](),
	"XRay":                        reflect.TypeFor[xrayAPI](),
	"CloudTrail":                  reflect.TypeFor[cloudtrailAPI](),
	"Elastic Load Balancing v2":   reflect.TypeFor[elbAPI](),
	"EC2":                         reflect.TypeFor[ec2API](),
	"Auto Scaling":                reflect.TypeFor[autoscalingAPI](),
	"Lambda":                      reflect.TypeFor[lambdaAPI](),
	"ECS":                         reflect.TypeFor[ecsAPI](),
	"RDS":                         reflect.TypeFor[rdsAPI](),
	"DynamoDB":                    reflect.TypeFor[dynamodbAPI](),
	"ElastiCache":                 reflect.TypeFor[elasticacheAPI](),
	"SNS":                         reflect.TypeFor[snsAPI](),
	"SFN":                         reflect.TypeFor[sfnAPI](),
	"API Gateway":                 reflect.TypeFor[apigatewayAPI](),
	"Health":                      reflect.TypeFor[healthAPI](),
	"Service Quotas":              reflect.TypeFor[quotasAPI](),
	"Resource Groups Tagging API": reflect.TypeFor[taggingAPI](),
	"STS":                         reflect.TypeFor[stsAPI](),
}

type policyDoc struct {
	Statement []struct {
		Effect   string `json:"Effect"`
		Action   any    `json:"Action"`
		Resource any    `json:"Resource"`
	} `json:"Statement"`
}

func policyActions(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc policyDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/iam-policy.json: %v", err)
	}
	actions := map[string]bool{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement effect %q", st.Effect)
		}
		switch a := st.Action.(type) {
		case string:
			actions[a] = true
		case []any:
			for _, x := range a {
				actions[x.(string)] = true
			}
		}
	}
	return actions
}

// TestPolicyMatchesOperations: the policy allows exactly the actions of the
// operations table — none missing, none extra, no wildcards, nothing that
// writes.
func TestPolicyMatchesOperations(t *testing.T) {
	policy := policyActions(t)
	want := map[string]bool{}
	for _, op := range Operations {
		if op.Action != "" { // needs no permission
			want[op.Action] = true
		}
	}
	for a := range want {
		if !policy[a] {
			t.Errorf("docs/iam-policy.json lacks %s", a)
		}
	}
	for a := range policy {
		if !want[a] {
			t.Errorf("docs/iam-policy.json allows %s, which the code never calls", a)
		}
		verb := a[strings.Index(a, ":")+1:]
		if strings.Contains(a, "*") {
			t.Errorf("wildcard action %s", a)
		}
		readOnly := verb == "GET" || verb == "AssumeRole" || verb == "StartQuery" || verb == "StopQuery" || verb == "BatchGetTraces" || verb == "LookupEvents"
		for _, p := range []string{"Describe", "Get", "List"} {
			readOnly = readOnly || strings.HasPrefix(verb, p)
		}
		if !readOnly {
			t.Errorf("action %s does not read", a)
		}
	}
}

// TestInterfacesMatchOperations: every method of the narrow API interfaces
// is in the operations table, and every table entry (but STS's, which
// stscreds calls) is a method of one.
func TestInterfacesMatchOperations(t *testing.T) {
	table := map[string]bool{}
	for _, op := range Operations {
		table[op.Service+"."+op.Name] = true
	}
	methods := map[string]bool{"STS.AssumeRole": true}
	for svc, it := range apiInterfaces {
		if _, ok := awstest.ServiceByID(svc); !ok {
			t.Errorf("fake server does not speak %s", svc)
		}
		for i := 0; i < it.NumMethod(); i++ {
			op := svc + "." + it.Method(i).Name
			methods[op] = true
			if !table[op] {
				t.Errorf("%s is called (a method of the %s interface) but not in Operations", op, it)
			}
		}
	}
	var extra []string
	for op := range table {
		if !methods[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("Operations lists calls no interface makes: %v", extra)
	}
	// The apis struct has one field per interface.
	if n := reflect.TypeFor[apis]().NumField(); n != len(apiInterfaces) {
		t.Errorf("apis has %d fields, apiInterfaces %d", n, len(apiInterfaces))
	}
}
