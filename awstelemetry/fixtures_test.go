package awstelemetry

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// The AWS documentation's X-Ray outputs, served byte for byte.
func installXRayFixtures(t *testing.T, srv *awstest.Server) {
	for op, file := range map[string]string{
		"XRay.GetServiceGraph":   "xray/awsdocs-getservicegraph-output.json",
		"XRay.GetTraceSummaries": "xray/awsdocs-gettracesummaries-output.json",
		"XRay.BatchGetTraces":    "xray/awsdocs-batchgettraces-output.json",
	} {
		srv.Reply(op, awstest.Raw{ContentType: "application/json", Body: fixture(t, file)})
	}
}

func TestXRayFixturesTraces(t *testing.T) {
	srv, c := newServerClient(t)
	installXRayFixtures(t, srv)
	groups, err := c.NewSession().Traces(ctxTimeout(t, 5*time.Second), investigate.TraceQuery{Start: time.Unix(1528317567, 0), End: time.Unix(1528317589, 0)})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]investigate.TraceGroup{}
	for _, g := range groups {
		byKey[g.Caller+">"+g.Callee] = g
	}
	// The client node shares the service's name; it is still the client.
	entry := byKey["client>xray-sample.elasticbeanstalk.com"]
	if entry.Requests != 4 || entry.Errors != 1 || entry.Faults != 0 || entry.Latency != 68250*time.Microsecond {
		t.Errorf("entry = %+v (all %+v)", entry, groups)
	}
	table := byKey["xray-sample.elasticbeanstalk.com>awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA"]
	if table.Requests != 2 || table.Latency != 60*time.Millisecond {
		t.Errorf("table = %+v", table)
	}
	if sns := byKey["xray-sample.elasticbeanstalk.com>SNS"]; sns.Requests != 2 {
		t.Errorf("sns = %+v", sns)
	}
	if len(groups) != 3 {
		t.Errorf("groups = %+v", groups)
	}
}

func TestXRayFixturesTopology(t *testing.T) {
	srv, c := newServerClient(t)
	installXRayFixtures(t, srv)
	srv.Handle("DynamoDB.DescribeTable", func(r *awstest.Request) any {
		return map[string]any{"Table": map[string]any{"TableName": r.String("TableName"), "BillingModeSummary": map[string]any{"BillingMode": "PAY_PER_REQUEST"}}}
	})
	srv.Reply("CloudWatch Logs.DescribeLogGroups", map[string]any{"logGroups": []any{
		map[string]any{"logGroupName": "/aws/elasticbeanstalk/xray-sample.elasticbeanstalk.com"},
		map[string]any{"logGroupName": "/aws/elasticbeanstalk/xray-sample.elasticbeanstalk.com-old/var/log"},
	}})
	s := c.NewSession()
	topo, err := s.Topology(ctxTimeout(t, 5*time.Second), investigate.Alarm{Name: "x"})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v problems %v", err, s.Problems())
	}
	svc, _ := resource(topo, "xray-sample.elasticbeanstalk.com")
	if svc.Type != investigate.TypeService || svc.LogGroup != "/aws/elasticbeanstalk/xray-sample.elasticbeanstalk.com" {
		t.Errorf("service = %+v", svc)
	}
	table, _ := resource(topo, "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA")
	if table.Type != investigate.TypeDynamoDB || table.Config["mode"] != "on-demand" {
		t.Errorf("table = %+v", table)
	}
	if sns, _ := resource(topo, "SNS"); sns.Type != investigate.TypeOther {
		t.Errorf("sns = %+v", sns)
	}
	if !hasRel(topo, "xray-sample.elasticbeanstalk.com", "SNS", investigate.RelCalls) || len(topo.Relations) != 2 {
		t.Errorf("relations = %+v", topo.Relations)
	}
}

func TestXRayFixtureSegments(t *testing.T) {
	srv, c := newServerClient(t)
	installXRayFixtures(t, srv)
	out, err := c.api.xray.BatchGetTraces(context.Background(), &xray.BatchGetTracesInput{TraceIds: []string{"1-59602603-23fc5b688855d396af79b496"}})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := segmentFacts(out.Traces)
	if len(hosts) != 1 || len(hosts["Scorekeep"]) != 1 || hosts["Scorekeep"][0] != "i-0cd9e448944061b4a" {
		t.Errorf("hosts = %v", hosts)
	}

	// A faulted segment as the X-Ray daemon receives it: header line, then
	// the document. Its exception is recorded on five nested parts.
	raw := string(fixture(t, "xray/otel-rawsegment-ddbSample-fault.txt"))
	var d segmentDoc
	if err := json.Unmarshal([]byte(raw[strings.Index(raw, "\n")+1:]), &d); err != nil {
		t.Fatal(err)
	}
	if got := segmentExceptions(d); len(got) != 1 || got[0] != "ResourceNotFoundException: Requested resource not found" {
		t.Errorf("exceptions = %q", got)
	}
}

// trailEvents turns the documentation's CloudTrail records into
// LookupEvents events, as CloudTrail returns them (the record as the
// CloudTrailEvent string).
func trailEvents(t *testing.T, files ...string) []cttypes.Event {
	var events []cttypes.Event
	for _, f := range files {
		b := fixture(t, f)
		var recs struct {
			Records []json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(b, &recs); err != nil || len(recs.Records) == 0 {
			recs.Records = []json.RawMessage{b} // a single record
		}
		for _, r := range recs.Records {
			var head struct {
				EventID, EventName, EventSource string
				EventTime                       time.Time
			}
			_ = json.Unmarshal(r, &head)
			events = append(events, cttypes.Event{
				EventId: aws.String(head.EventID), EventName: aws.String(head.EventName), EventSource: aws.String(head.EventSource),
				EventTime: aws.Time(head.EventTime), ReadOnly: aws.String("false"), CloudTrailEvent: aws.String(string(r)),
			})
		}
	}
	return events
}

func TestChangesFromCloudTrailFixtures(t *testing.T) {
	events := trailEvents(t,
		"cloudtrail/awsdocs-dynamodb-records-createtable-updatetable.json",
		"cloudtrail/awsdocs-lambda-records-accessdenied-getfunction-deletefunction.json",
		"cloudtrail/awsdocs-records-updatetrail-errorcode.json",
		"cloudtrail/awsdocs-ecs-createcluster-assumedrole.json",
	)
	// Three pages, as LookupEvents returns them.
	ct := &fakeCloudTrail{pages: []*cloudtrail.LookupEventsOutput{
		{Events: events[:3], NextToken: aws.String("t1")},
		{Events: events[3:6], NextToken: aws.String("t2")},
		{Events: events[6:]},
	}}
	c := newWithAPIs("us-east-1", apis{trail: ct}, Options{})
	changes, err := c.NewSession().Changes(context.Background(), ts("2015-01-01T00:00:00Z"), ts("2019-01-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ct.inputs) != 3 || aws.ToString(ct.inputs[1].NextToken) != "t1" || aws.ToString(ct.inputs[2].NextToken) != "t2" {
		t.Fatalf("pages = %d", len(ct.inputs))
	}
	attr := ct.inputs[0].LookupAttributes
	if len(attr) != 1 || attr[0].AttributeKey != cttypes.LookupAttributeKeyReadOnly || aws.ToString(attr[0].AttributeValue) != "false" || aws.ToInt32(ct.inputs[0].MaxResults) != 50 {
		t.Errorf("lookup input = %+v", ct.inputs[0])
	}
	byEvent := map[string]investigate.Change{}
	for _, ch := range changes {
		byEvent[ch.Event] = ch
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].Time.Before(changes[i-1].Time) {
			t.Error("changes not oldest first")
		}
	}
	create := byEvent["CreateTable"]
	if create.Resource != "Music" || create.Actor != "arn:aws:sts::111122223333:assumed-role/users/bob" || create.Source != "dynamodb.amazonaws.com" ||
		create.Params["provisionedThroughput.readCapacityUnits"] != "10" || create.Params["keySchema.1.attributeName"] != "SongTitle" ||
		create.ID != "a8b5f864-480b-43bf-bc22-9b6d77910a29" || !create.Time.Equal(ts("2015-05-01T07:24:55Z")) {
		t.Errorf("CreateTable = %+v", create)
	}
	if upd := byEvent["UpdateTable"]; upd.Params["provisionedThroughput.writeCapacityUnits"] != "25" {
		t.Errorf("UpdateTable = %+v", upd)
	}
	denied := byEvent["GetFunction"]
	if denied.Error != "AccessDenied" || denied.Actor != "arn:aws:iam::999999999999:user/myUserName" || denied.Params != nil {
		t.Errorf("GetFunction = %+v", denied)
	}
	if del := byEvent["DeleteFunction"]; del.Resource != "basic-node-task" {
		t.Errorf("DeleteFunction = %+v", del)
	}
	if trail := byEvent["UpdateTrail"]; trail.Error != "TrailNotFoundException" || trail.Params["name"] != "myTrail2" {
		t.Errorf("UpdateTrail = %+v", trail)
	}
	if cl := byEvent["CreateCluster"]; cl.Resource != "default" || cl.Actor != "arn:aws:sts::123456789012:user/Mary_Major" {
		t.Errorf("CreateCluster = %+v", cl)
	}
}

func TestTrailActorAndResource(t *testing.T) {
	svc := trailRecord{EventName: "TerminateInstances", UserIdentity: trailIdentity{Type: "AWSService", InvokedBy: "autoscaling.amazonaws.com"},
		Request: json.RawMessage(`{"instancesSet":{"items":[{"instanceId":"i-0c5e1a2b3d4f50003"}]}}`)}
	ch := changeFromRecord(svc, investigate.Change{})
	if ch.Actor != "autoscaling.amazonaws.com" || ch.Resource != "i-0c5e1a2b3d4f50003" {
		t.Errorf("change = %+v", ch)
	}
	for params, want := range map[string]string{
		`{"functionName":"arn:aws:lambda:us-east-1:123456789012:function:ingest-fn:live"}`:                              "ingest-fn",
		`{"groupId":"sg-0bastion","ipPermissions":{}}`:                                                                  "sg-0bastion",
		`{"loadBalancerArn":"arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/web-alb/50dc"}`:                "web-alb",
		`{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web-tg/73e2"}`:                       "web-tg",
		`{"queueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/events-queue"}`:                                  "events-queue",
		`{"tableName":"arn:aws:dynamodb:us-east-1:123:table/forge-templates"}`:                                          "forge-templates",
		`{"cluster":"prod","service":"arn:aws:ecs:us-east-1:123:service/prod/checkout","taskDefinition":"checkout:43"}`: "checkout",
		`{"policyArn":"arn:aws:iam::123456789012:policy/ddb-read","roleName":"bot-forge"}`:                              "bot-forge",
		`{"dBInstanceIdentifier":"orders-db","applyImmediately":true,"dBInstanceClass":"db.r6g.xlarge"}`:                "orders-db",
	} {
		ch := changeFromRecord(trailRecord{Request: json.RawMessage(params)}, investigate.Change{})
		if ch.Resource != want {
			t.Errorf("%s → %q, want %q", params, ch.Resource, want)
		}
	}
	// No id in the parameters: the record's resource ARN.
	rec := trailRecord{Request: json.RawMessage(`{"name":"/ingest/batch-size","overwrite":true}`)}
	rec.Resources = append(rec.Resources, struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	}{ARN: "arn:aws:ssm:us-east-1:123456789012:parameter/ingest/batch-size"})
	if ch := changeFromRecord(rec, investigate.Change{}); ch.Resource != "arn:aws:ssm:us-east-1:123456789012:parameter/ingest/batch-size" {
		t.Errorf("ssm change resource = %q", ch.Resource)
	}
	// Long values and many keys are bounded.
	long := `{"policyDocument":"` + strings.Repeat("x", 5000) + `"}`
	if ch := changeFromRecord(trailRecord{Request: json.RawMessage(long)}, investigate.Change{}); len(ch.Params["policyDocument"]) > maxParamValue+4 {
		t.Errorf("value not truncated: %d", len(ch.Params["policyDocument"]))
	}
}

func TestChangesKeepCloudTrailsRate(t *testing.T) {
	ct := &fakeCloudTrail{endless: true}
	c := newWithAPIs("us-east-1", apis{trail: ct}, Options{MaxChangePages: 4})
	c.ctLimit = cloudTrailLimiter("us-east-1", Options{Profile: "rate-test"})
	start := time.Now()
	// Two investigations at once share the limit: 8 requests at 2/s.
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := c.NewSession().Changes(context.Background(), time.Now().Add(-time.Hour), time.Now())
			done <- err
		}()
	}
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 3400*time.Millisecond {
		t.Errorf("8 LookupEvents calls took %s; CloudTrail allows 2 a second", el)
	}
	if len(ct.inputs) != 8 {
		t.Errorf("calls = %d", len(ct.inputs))
	}
}
