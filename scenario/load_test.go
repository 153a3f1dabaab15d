package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestExamples loads the copies of the shared examples and checks resolved
// values: defaults, times, ARNs, rates.
func TestExamples(t *testing.T) {
	files, err := LoadAll(os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*File{}
	for _, f := range files {
		byName[f.Scenario.Name] = f
	}
	if len(byName) != 3 {
		t.Fatalf("loaded %d scenarios, want 3", len(byName))
	}
	alb := byName["alb-5xx-one-bad-instance"]
	ddb := byName["dynamodb-policy-change"]
	lam := byName["lambda-concurrency-limit"]
	if alb == nil || ddb == nil || lam == nil {
		t.Fatalf("missing examples: %v", byName)
	}
	res := func(f *File, id string) *Resource {
		r, ok := f.Scenario.Resource(id)
		if !ok {
			t.Fatalf("%s: no resource %s", f.Path, id)
		}
		return r
	}
	cases := []struct {
		name      string
		got, want any
	}{
		// defaults
		{"path", alb.Path, "alb-5xx-one-bad-instance.yaml"},
		{"account default", ddb.Scenario.Account, "123456789012"},
		{"region default", ddb.Scenario.Region, "us-east-1"},
		{"history default", ddb.Scenario.History, 3 * time.Hour},
		{"step default", lam.Scenario.Step, time.Minute},
		{"seed from name", lam.Scenario.Seed, SeedOf("lambda-concurrency-limit")},
		{"seeds differ", alb.Scenario.Seed != ddb.Scenario.Seed, true},
		{"period default", ddb.Scenario.Alarm.Period, time.Minute},
		{"comparison default", ddb.Scenario.Alarm.Comparison, "GreaterThanThreshold"},
		{"alarm dims default", ddb.Scenario.Alarm.Dims == nil, true},
		{"name default", res(ddb, "orders-fn").Name, "orders-fn"},
		{"rps default", res(alb, "web-alb").RPS, 40.0},
		{"ec2 instance type", res(alb, "i-0c5e1a2b3d4f50001").InstanceType, "m5.large"},
		{"log group default", res(ddb, "reports").LogGroup, "/app/reports"},
		{"log group given", res(ddb, "orders").LogGroup, "/aws/lambda/orders-fn"},
		{"dynamodb mode", res(ddb, "orders-table").Mode, "on-demand"},
		{"expect onset_within default", lam.Expect.OnsetWithin, 5 * time.Minute},

		// alarm
		{"alarm metric", alb.Scenario.Alarm.Namespace + " " + alb.Scenario.Alarm.MetricName, "AWS/ApplicationELB HTTPCode_Target_5XX_Count"},
		{"alarm resource", alb.Scenario.Alarm.Resource, "web-alb"},
		{"alarm threshold", lam.Scenario.Alarm.Threshold, 100.0},
		{"alarm stat", lam.Scenario.Alarm.Stat, "Sum"},

		// times
		{"onset", alb.Scenario.Onset, mustTime("2024-12-03T10:30:00Z")},
		{"fires", alb.Scenario.Alarm.Fires, mustTime("2024-12-03T10:33:00Z")},
		{"start", alb.Scenario.Start(), mustTime("2024-12-03T07:30:00Z")},
		{"end", alb.Scenario.End(), mustTime("2024-12-03T11:03:00Z")},
		{"metric at offset", alb.Scenario.Metrics[2].At, mustTime("2024-12-03T09:50:00Z")},
		{"metric ramp", alb.Scenario.Metrics[2].Ramp, 30 * time.Minute},
		{"metric until default", alb.Scenario.Metrics[2].Until, mustTime("2024-12-03T11:03:00Z")},
		{"metric at -history is start", ddb.Scenario.Metrics[3].At, ddb.Scenario.Start()},
		{"metric value", *lam.Scenario.Metrics[2].Value, 9000.0},
		{"metric line", lam.Scenario.Metrics[2].Line, 30},
		{"change at", alb.Scenario.Changes[0].At, mustTime("2024-12-03T08:30:00Z")},
		{"note at", ddb.Scenario.Notes[0].At, mustTime("2024-12-03T14:06:00Z")},
		{"onset UTC", ddb.Scenario.Onset.Location(), time.UTC},

		// ARNs
		{"alb arn", res(alb, "web-alb").ARN, "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb/" + fmt.Sprintf("%016x", fnv64a("alb/web-alb"))},
		{"ec2 arn", res(alb, "i-0c5e1a2b3d4f50002").ARN, "arn:aws:ec2:us-east-1:123456789012:instance/i-0c5e1a2b3d4f50002"},
		{"sg arn", res(alb, "sg-0bastion").ARN, "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0bastion"},
		{"asg arn prefix", strings.HasPrefix(res(alb, "web-asg").ARN, "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:"), true},
		{"asg arn suffix", strings.HasSuffix(res(alb, "web-asg").ARN, ":autoScalingGroupName/web-asg"), true},
		{"apigw arn", res(ddb, "orders-api").ARN, "arn:aws:apigateway:us-east-1::/restapis/orders-api"},
		{"lambda arn", res(ddb, "orders-fn").ARN, "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"},
		{"dynamodb arn", res(ddb, "orders-table").ARN, "arn:aws:dynamodb:us-east-1:123456789012:table/orders-table"},
		{"sqs arn", res(lam, "events-queue").ARN, "arn:aws:sqs:us-east-1:123456789012:events-queue"},
		{"service has no arn", res(ddb, "orders").ARN, ""},
		{"external has no arn", res(ddb, "payments-api").ARN, ""},

		// type fields, references
		{"targets", res(alb, "web-alb").Targets, []string{"i-0c5e1a2b3d4f50001", "i-0c5e1a2b3d4f50002", "i-0c5e1a2b3d4f50003"}},
		{"asg", res(alb, "i-0c5e1a2b3d4f50003").ASG, "web-asg"},
		{"asg sizes", [3]int{res(alb, "web-asg").Min, res(alb, "web-asg").Max, res(alb, "web-asg").Desired}, [3]int{3, 6, 3}},
		{"az", res(alb, "i-0c5e1a2b3d4f50003").AZ, "us-east-1c"},
		{"lambda memory", res(lam, "ingest-fn").Memory, 1024},
		{"lambda timeout", res(lam, "ingest-fn").Timeout, 30},
		{"runs_on", res(ddb, "orders").RunsOn, []string{"orders-fn"}},
		{"calls", res(ddb, "orders").Calls, []string{"orders-table", "payments-api"}},
		{"url", res(ddb, "payments-api").URL, "https://api.payments.example.com"},

		// items
		{"log rate per minute", alb.Scenario.Logs[0].PerMin, 800.0},
		{"log group from service", alb.Scenario.Logs[0].Group, "/app/bot-forge"},
		{"log group from service given", ddb.Scenario.Logs[0].Group, "/aws/lambda/orders-fn"},
		{"log on", alb.Scenario.Logs[0].On, "i-0c5e1a2b3d4f50003"},
		{"log level", alb.Scenario.Logs[0].Level, "error"},
		{"trace edge", alb.Scenario.Traces[0].Caller + ">" + alb.Scenario.Traces[0].Callee, "web-alb>bot-forge"},
		{"trace fault", *alb.Scenario.Traces[0].Fault, 1.0},
		{"trace error unset", alb.Scenario.Traces[0].Error == nil, true},
		{"trace client", ddb.Scenario.Traces[1].Caller, "client"},
		{"trace throttle", *lam.Scenario.Traces[0].Throttle, 0.17},
		{"change arn resource", lam.Scenario.Changes[0].Resource, "arn:aws:ssm:us-east-1:123456789012:parameter/ingest/batch-size"},
		{"change params", ddb.Scenario.Changes[0].Params, map[string]string{"resourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders-table"}},
		{"quota", lam.Scenario.Quotas[0], QuotaItem{Resource: "ingest-fn", Service: "lambda", Code: "L-B99A9384", Name: "Concurrent executions", Value: 1000}},
		{"note", ddb.Scenario.Notes[0].Author, "bob"},

		// expect
		{"expect cause", alb.Expect.Causes, []string{"component"}},
		{"expect resources", alb.Expect.Resources, []string{"i-0c5e1a2b3d4f50003"}},
		{"expect actions", alb.Expect.Actions, []string{"exclude", "restart"}},
		{"expect cause ddb", ddb.Expect.Causes, []string{"own-change"}},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestSharedExamples loads the examples beside FORMAT.md, when they are there.
func TestSharedExamples(t *testing.T) {
	const dir = "../../shared/scenarios"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no %s: %v", dir, err)
	}
	shared := os.DirFS(dir)
	files, err := LoadAll(shared, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Errorf("loaded %d files from %s, want at least 3", len(files), dir)
	}
	for _, f := range files {
		a, _ := fs.ReadFile(shared, f.Path)
		b, err := os.ReadFile("testdata/" + f.Path)
		if err == nil && !bytes.Equal(a, b) {
			t.Logf("testdata/%s differs from %s/%s: copy it again", f.Path, dir, f.Path)
		}
	}
}

// TestDefaults checks the defaults the examples do not show.
func TestDefaults(t *testing.T) {
	doc := `name: defaults
title: t
onset: 2024-12-03T10:30:00+01:00
region: eu-west-1
account: "000000000042"
seed: 7
alarm: {name: a, resource: q, metric: AWS/SQS ApproximateAgeOfOldestMessage, stat: p99.9, threshold: 60, fires: "2024-12-03T09:35:00Z", comparison: LessThanLowerOrGreaterThanUpperThreshold, dims: {QueueName: q}}
resources:
  - {id: q, type: sqs}
  - {id: api, type: apigw}
  - {id: svc, type: ecs}
  - {id: svc2, type: ecs, cluster: prod, name: orders}
  - {id: role, type: iam-role, name: deployer}
  - {id: pol, type: iam-policy}
  - {id: key-1, type: kms-key}
  - {id: param, type: parameter, name: /app/flag}
  - {id: misc, type: other}
  - {id: db, type: rds, engine: postgres}
  - {id: t, type: dynamodb, mode: provisioned, rcu: 5, wcu: 10}
  - {id: fn, type: lambda, reserved_concurrency: 0}
  - {id: i-1, type: ec2}
  - {id: s, type: service, runs_on: [fn]}
logs:
  - {group: /custom/group, level: warn, rate: 3/m, text: x, until: +10m}
  - {service: s, level: info, rate: 0.5/s, text: y}
traces:
  - {edge: s>q, latency: 1.5s}
health:
  - {at: "2024-12-03T09:00:00Z", service: SQS, type: T, status: closed}
expect:
  cause: [limit, component]
  resource: q
  action: scale
  onset_within: 2m
`
	f, err := Parse("d.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	r := func(id string) *Resource { x, _ := s.Resource(id); return x }
	onset := mustTime("2024-12-03T09:30:00Z")
	cases := []struct {
		name      string
		got, want any
	}{
		{"onset in UTC", s.Onset, onset},
		{"seed given", s.Seed, int64(7)},
		{"fires instant", s.Alarm.Fires, mustTime("2024-12-03T09:35:00Z")},
		{"stat percentile", s.Alarm.Stat, "p99.9"},
		{"dims", s.Alarm.Dims, map[string]string{"QueueName": "q"}},
		{"sqs arn", r("q").ARN, "arn:aws:sqs:eu-west-1:000000000042:q"},
		{"apigw rps default", r("api").RPS, 20.0},
		{"ecs cluster default", r("svc").Cluster, "default"},
		{"ecs arn", r("svc").ARN, "arn:aws:ecs:eu-west-1:000000000042:service/default/svc"},
		{"ecs arn with name", r("svc2").ARN, "arn:aws:ecs:eu-west-1:000000000042:service/prod/orders"},
		{"iam role arn (global)", r("role").ARN, "arn:aws:iam::000000000042:role/deployer"},
		{"iam policy arn", r("pol").ARN, "arn:aws:iam::000000000042:policy/pol"},
		{"kms arn", r("key-1").ARN, "arn:aws:kms:eu-west-1:000000000042:key/key-1"},
		{"ssm arn", r("param").ARN, "arn:aws:ssm:eu-west-1:000000000042:parameter/app/flag"},
		{"other arn", r("misc").ARN, "arn:aws:other:eu-west-1:000000000042:misc"},
		{"rds arn", r("db").ARN, "arn:aws:rds:eu-west-1:000000000042:db:db"},
		{"rds engine", r("db").Engine, "postgres"},
		{"provisioned", [3]any{r("t").Mode, r("t").RCU, r("t").WCU}, [3]any{"provisioned", 5, 10}},
		{"reserved concurrency 0", *r("fn").ReservedConcurrency, 0},
		{"ec2 default type", r("i-1").InstanceType, "m5.large"},
		{"log group only", [2]string{s.Logs[0].Service, s.Logs[0].Group}, [2]string{"", "/custom/group"}},
		{"log window default at", s.Logs[0].At, s.Start()},
		{"log window until", s.Logs[0].Until, onset.Add(10 * time.Minute)},
		{"log rate /m", s.Logs[0].PerMin, 3.0},
		{"log rate /s", s.Logs[1].PerMin, 30.0},
		{"trace latency", *s.Traces[0].Latency, 1500 * time.Millisecond},
		{"trace window default", [2]time.Time{s.Traces[0].At, s.Traces[0].Until}, [2]time.Time{s.Start(), s.End()}},
		{"health at", s.Health[0].At, mustTime("2024-12-03T09:00:00Z")},
		{"expect causes", f.Expect.Causes, []string{"limit", "component"}},
		{"expect resource scalar", f.Expect.Resources, []string{"q"}},
		{"expect action scalar", f.Expect.Actions, []string{"scale"}},
		{"onset_within", f.Expect.OnsetWithin, 2 * time.Minute},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if f, err := Parse("n.yaml", []byte(strings.Replace(doc, "expect:\n  cause: [limit, component]\n  resource: q\n  action: scale\n  onset_within: 2m\n", "", 1)), nil); err != nil || f.Expect != nil {
		t.Errorf("without expect: got %v, %v; want a nil Expect", f, err)
	}
}

// TestSilentAndPercentileItems: a metric item may stop a series (silent),
// or every series of its resource when it names no metric, and may move a
// series' p90 and p99 beside or without its average.
func TestSilentAndPercentileItems(t *testing.T) {
	doc := `name: gaps
title: t
onset: 2024-12-03T10:30:00Z
alarm: {name: a, resource: web, metric: AWS/ApplicationELB TargetResponseTime, stat: p99, threshold: 1, fires: +3m}
resources:
  - {id: web, type: alb, targets: [i-1, i-2]}
  - {id: i-1, type: ec2}
  - {id: i-2, type: ec2}
metrics:
  - {resource: i-1, at: +0m, silent: true}
  - {resource: i-2, metric: AWS/EC2 CPUUtilization, at: +1m, until: +5m, silent: true}
  - {resource: web, metric: AWS/ApplicationELB TargetResponseTime, at: +0m, ramp: 1m, p99: 2.5}
  - {resource: web, metric: AWS/ApplicationELB TargetResponseTime, at: +10m, value: 0.2, p90: 0.4, p99: 3}
`
	f, err := Parse("g.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Scenario.Metrics
	onset := mustTime("2024-12-03T10:30:00Z")
	f64 := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"whole resource silent", [3]any{m[0].Silent, m[0].Namespace, m[0].MetricName}, [3]any{true, "", ""}},
		{"silent window", [2]time.Time{m[0].At, m[0].Until}, [2]time.Time{onset, f.Scenario.End()}},
		{"one series silent", [3]any{m[1].Silent, m[1].MetricName, m[1].Until}, [3]any{true, "CPUUtilization", onset.Add(5 * time.Minute)}},
		{"not silent", m[2].Silent, false},
		{"p99 alone", [4]any{f64(m[2].P99), f64(m[2].P90), f64(m[2].Value), m[2].Ramp}, [4]any{2.5, nil, nil, time.Minute}},
		{"p90 and p99 beside value", [3]any{f64(m[3].Value), f64(m[3].P90), f64(m[3].P99)}, [3]any{0.2, 0.4, 3.0}},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestExpectSealed checks that nothing reachable from a Scenario is an Expect.
func TestExpectSealed(t *testing.T) {
	target := reflect.TypeFor[Expect]()
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		if ty == target {
			t.Errorf("Scenario reaches Expect through %s", path)
			return
		}
		if seen[ty] {
			return
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(ty.Elem(), path+"[]")
		case reflect.Map:
			walk(ty.Key(), path+"{key}")
			walk(ty.Elem(), path+"{}")
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		case reflect.Interface, reflect.Func, reflect.Chan:
			t.Errorf("Scenario has a %s at %s, which could lead anywhere", ty.Kind(), path)
		}
	}
	walk(reflect.TypeFor[Scenario](), "Scenario")
}

const csvDoc = `name: csv-test
title: csv
onset: 2024-12-03T10:30:00Z
history: 1h
alarm: {name: a, resource: fn, metric: AWS/Lambda Errors, stat: Sum, threshold: 1, fires: +2m}
resources: [{id: fn, type: lambda}]
metrics:
  - {resource: fn, metric: AWS/Lambda Errors, csv: CSV}
`

func TestCSV(t *testing.T) {
	onset := mustTime("2024-12-03T10:30:00Z")
	start := onset.Add(-time.Hour)
	pt := func(t time.Time, v float64) Point { return Point{Time: t, Value: v} }
	cases := []struct {
		name string
		path string // the csv field
		data string // the file at sc/data/a.csv, "" for none
		want []Point
		// or an error:
		file  string
		line  int
		field string
		msg   string
	}{
		{name: "header and offsets", path: "data/a.csv", data: "timestamp,value\n-1h,1\n-59m,2.5\n+0s,3\n",
			want: []Point{pt(start, 1), pt(start.Add(time.Minute), 2.5), pt(onset, 3)}},
		{name: "instants", path: "data/a.csv", data: "2024-12-03T10:00:00Z,5\n2024-12-03T10:00:30+00:00, 6\n",
			want: []Point{pt(mustTime("2024-12-03T10:00:00Z"), 5), pt(mustTime("2024-12-03T10:00:30Z"), 6)}},
		{name: "values only spread from start", path: "data/a.csv", data: "value\n1\n2\n3\n",
			want: []Point{pt(start, 1), pt(start.Add(time.Minute), 2), pt(start.Add(2*time.Minute), 3)}},
		{name: "empty timestamps", path: "./data/a.csv", data: "# a comment\n,7\n,8\n",
			want: []Point{pt(start, 7), pt(start.Add(time.Minute), 8)}},
		{name: "crlf and bom", path: "data/a.csv", data: "\ufefftimestamp,value\r\n+1m,1\r\n",
			want: []Point{pt(onset.Add(time.Minute), 1)}},
		{name: "bad value", path: "data/a.csv", data: "timestamp,value\n-1h,1\n-59m,x\n",
			file: "sc/data/a.csv", line: 3, field: "metrics[0].csv", msg: `bad value "x" (want a number)`},
		{name: "bad timestamp", path: "data/a.csv", data: "-1h,1\n59m,2\n",
			file: "sc/data/a.csv", line: 2, field: "metrics[0].csv", msg: `bad time "59m"`},
		{name: "mixed", path: "data/a.csv", data: "-1h,1\n,2\n",
			file: "sc/data/a.csv", line: 2, field: "metrics[0].csv", msg: `some rows have a timestamp and some do not`},
		{name: "out of order", path: "data/a.csv", data: "-1h,1\n-2h,2\n",
			file: "sc/data/a.csv", line: 2, field: "metrics[0].csv", msg: `timestamp "-2h" is not after the row before ("-1h")`},
		{name: "three fields", path: "data/a.csv", data: "-1h,1,2\n",
			file: "sc/data/a.csv", line: 1, field: "metrics[0].csv", msg: `want timestamp,value, found 3 fields`},
		{name: "no rows", path: "data/a.csv", data: "timestamp,value\n",
			file: "sc/x.yaml", line: 8, field: "metrics[0].csv", msg: `csv "sc/data/a.csv" has no rows`},
		{name: "missing file", path: "data/b.csv", data: "1\n",
			file: "sc/x.yaml", line: 8, field: "metrics[0].csv", msg: `cannot read csv "sc/data/b.csv": file does not exist`},
		{name: "escapes", path: "../../a.csv", data: "1\n",
			file: "sc/x.yaml", line: 8, field: "metrics[0].csv", msg: `bad csv path "../../a.csv" (it leads out`},
		{name: "absolute", path: "/etc/a.csv", data: "1\n",
			file: "sc/x.yaml", line: 8, field: "metrics[0].csv", msg: `bad csv path "/etc/a.csv"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"sc/x.yaml":     {Data: []byte(strings.Replace(csvDoc, "CSV", c.path, 1))},
				"sc/data/a.csv": {Data: []byte(c.data)},
			}
			f, err := Load(fsys, "sc/x.yaml")
			if c.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				got := f.Scenario.Metrics[0].CSV
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %v, want %v", got, c.want)
				}
				if m := f.Scenario.Metrics[0]; m.Value != nil || m.Baseline != nil {
					t.Errorf("value/baseline set with csv: %v %v", m.Value, m.Baseline)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want an ErrorList", err)
			}
			for _, e := range list {
				if e.File == c.file && e.Line == c.line && e.Field == c.field && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no error %s:%d: %s: ...%s...; got:\n%v", c.file, c.line, c.field, c.msg, err)
		})
	}
}

func TestLoadAll(t *testing.T) {
	doc := func(name string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(strings.Replace(csvDoc, "csv-test", name, 1))}
	}
	fsys := fstest.MapFS{
		"s/b.yml":            doc("two"),
		"s/a.yaml":           doc("one"),
		"s/data/a.csv":       {Data: []byte("1\n2\n")},
		"s/notes.txt":        {Data: []byte("not a scenario")},
		"s/sub/c.yaml":       {Data: []byte("not: loaded")},
		"dup/a.yaml":         doc("same"),
		"dup/b.yaml":         doc("same"),
		"dup/c.yaml":         {Data: []byte("name: BAD\n")},
		"dup/data/a.csv":     {Data: []byte("1\n")},
		"empty/readme.md":    {Data: []byte("x")},
		"missing/data/a.csv": {Data: []byte("1\n")},
	}
	fsys["s/a.yaml"].Data = bytes.Replace(fsys["s/a.yaml"].Data, []byte("CSV"), []byte("data/a.csv"), 1)
	fsys["s/b.yml"].Data = bytes.Replace(fsys["s/b.yml"].Data, []byte("CSV"), []byte("data/a.csv"), 1)
	fsys["dup/a.yaml"].Data = bytes.Replace(fsys["dup/a.yaml"].Data, []byte("CSV"), []byte("data/a.csv"), 1)
	fsys["dup/b.yaml"].Data = bytes.Replace(fsys["dup/b.yaml"].Data, []byte("CSV"), []byte("data/a.csv"), 1)

	files, err := LoadAll(fsys, "s")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path+"="+f.Scenario.Name)
	}
	if want := []string{"s/a.yaml=one", "s/b.yml=two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	files, err = LoadAll(fsys, "dup")
	if files != nil {
		t.Errorf("got files with an error")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want an ErrorList", err)
	}
	var dup, bad bool
	for _, e := range list {
		if e.File == "dup/b.yaml" && e.Line == 1 && e.Field == "name" && strings.Contains(e.Msg, `duplicate name "same" (also the name of dup/a.yaml:1`) {
			dup = true
		}
		if e.File == "dup/c.yaml" && e.Field == "name" && strings.Contains(e.Msg, `bad name "BAD"`) {
			bad = true
		}
	}
	if !dup || !bad {
		t.Errorf("want a duplicate name error for dup/b.yaml and a bad name for dup/c.yaml; got:\n%v", err)
	}

	if files, err := LoadAll(fsys, "empty"); err != nil || len(files) != 0 {
		t.Errorf("empty folder: got %v, %v", files, err)
	}
	_, err = LoadAll(fsys, "nope")
	var e *Error
	if !errors.As(err, &e) || e.File != "nope" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: got %v", err)
	}
	_, err = Load(fsys, "s/none.yaml")
	if !errors.As(err, &e) || e.File != "s/none.yaml" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}
