package awstelemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/unstuck/unstuck/investigate"
)

// Changes lists the window's management events: CloudTrail's write events
// (LookupEvents with ReadOnly=false, every page within CloudTrail's limit
// of 2 requests per second, shared by all investigations), and, for the
// resources the session's topology found, the changes the system made:
// Auto Scaling activities, ECS deployments and RDS events. Only a
// CloudTrail failure is an error; the others are problems.
func (s *Session) Changes(ctx context.Context, start, end time.Time) (changes []investigate.Change, err error) {
	defer recoverTo(&err, "cloudtrail changes")
	ctx = s.ctx(ctx)
	sysCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		system []investigate.Change
	)
	spawn(&wg, s.problem, func() {
		system = s.systemChanges(sysCtx, start, end)
	})
	changes, err = s.trailChanges(ctx, start, end)
	if err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	changes = append(changes, system...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Time.Before(changes[j].Time) })
	return changes, nil
}

// trailChanges pages through CloudTrail's write events of the window.
func (s *Session) trailChanges(ctx context.Context, start, end time.Time) ([]investigate.Change, error) {
	in := &cloudtrail.LookupEventsInput{
		StartTime:        aws.Time(start),
		EndTime:          aws.Time(end),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyReadOnly, AttributeValue: aws.String("false")}},
		MaxResults:       aws.Int32(50),
	}
	var out []investigate.Change
	for page := 0; page < s.c.opts.MaxChangePages; page++ {
		if err := s.c.ctLimit.Wait(ctx); err != nil {
			return nil, wrap("cloudtrail lookup events", err)
		}
		res, err := s.c.api.trail.LookupEvents(ctx, in)
		if err != nil {
			return nil, wrap("cloudtrail lookup events", err)
		}
		for _, ev := range res.Events {
			out = append(out, parseTrailEvent(ev))
		}
		if aws.ToString(res.NextToken) == "" {
			break
		}
		in.NextToken = res.NextToken
	}
	return out, nil
}

// trailRecord is the part of a CloudTrail event record the adapter reads.
type trailRecord struct {
	EventID      string          `json:"eventID"`
	EventTime    time.Time       `json:"eventTime"`
	EventName    string          `json:"eventName"`
	EventSource  string          `json:"eventSource"`
	ErrorCode    string          `json:"errorCode"`
	ReadOnly     *bool           `json:"readOnly"`
	UserIdentity trailIdentity   `json:"userIdentity"`
	Request      json.RawMessage `json:"requestParameters"`
	Resources    []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
	SourceIP string `json:"sourceIPAddress"`
}

type trailIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	InvokedBy   string `json:"invokedBy"`
	UserName    string `json:"userName"`
}

// parseTrailEvent turns a LookupEvents event into a Change; its
// CloudTrailEvent JSON gives the identity, error, parameters and resources.
func parseTrailEvent(ev cttypes.Event) investigate.Change {
	ch := investigate.Change{
		ID:     aws.ToString(ev.EventId),
		Time:   aws.ToTime(ev.EventTime),
		Event:  aws.ToString(ev.EventName),
		Source: aws.ToString(ev.EventSource),
		Actor:  aws.ToString(ev.Username),
	}
	ch.ReadOnly = strings.EqualFold(aws.ToString(ev.ReadOnly), "true")
	var rec trailRecord
	if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &rec); err == nil {
		ch = changeFromRecord(rec, ch)
	}
	if ch.Resource == "" {
		for _, r := range ev.Resources {
			if n := aws.ToString(r.ResourceName); n != "" {
				ch.Resource = n
				break
			}
		}
	}
	return ch
}

// changeFromRecord fills a Change from a CloudTrail record; fields the
// record lacks keep base's values.
func changeFromRecord(rec trailRecord, base investigate.Change) investigate.Change {
	ch := base
	if rec.EventID != "" {
		ch.ID = rec.EventID
	}
	if !rec.EventTime.IsZero() {
		ch.Time = rec.EventTime
	}
	if rec.EventName != "" {
		ch.Event = rec.EventName
	}
	if rec.EventSource != "" {
		ch.Source = rec.EventSource
	}
	if rec.ReadOnly != nil {
		ch.ReadOnly = *rec.ReadOnly
	}
	ch.Error = rec.ErrorCode
	if a := trailActor(rec.UserIdentity, rec.SourceIP); a != "" {
		ch.Actor = a
	}
	ch.Params = flattenParams(rec.Request)
	ch.Resource = changedResource(ch.Params)
	if ch.Resource == "" {
		for _, r := range rec.Resources {
			if r.ARN != "" {
				ch.Resource = r.ARN
				break
			}
		}
	}
	return ch
}

// trailActor is who made a call: the identity's ARN, or the service
// principal for calls AWS services made.
func trailActor(id trailIdentity, sourceIP string) string {
	switch {
	case id.Type == "AWSService" && id.InvokedBy != "":
		return id.InvokedBy
	case id.ARN != "":
		return id.ARN
	case id.InvokedBy != "":
		return id.InvokedBy
	case strings.HasSuffix(sourceIP, ".amazonaws.com"):
		return sourceIP
	case id.UserName != "":
		return id.UserName
	}
	return id.PrincipalID
}

// Limits on the flattened request parameters of one change: how many,
// and the bytes of each value (the ellipsis of a cut one included).
const (
	maxParams     = 60
	maxParamValue = 300
)

// flattenParams flattens requestParameters to dotted keys
// ("provisionedThroughput.readCapacityUnits", "instancesSet.items.0.instanceId").
func flattenParams(raw json.RawMessage) map[string]string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if len(out) >= maxParams {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(joinKey(prefix, k), x[k])
			}
		case []any:
			for i, e := range x {
				walk(joinKey(prefix, strconv.Itoa(i)), e)
			}
		case nil:
		case string:
			out[prefix] = investigate.Truncate(x, maxParamValue)
		default:
			out[prefix] = investigate.Truncate(fmt.Sprint(x), maxParamValue)
		}
	}
	walk("", v)
	if len(out) == 0 {
		return nil
	}
	return out
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// resourceParams are the request parameters that name the changed
// resource, most specific first, each with how to turn its value into the
// id the topology uses.
var resourceParams = []struct {
	key string
	id  func(string) string
}{
	{"tableName", arnTail},
	{"functionName", functionNameFromARN},
	{"instanceId", nil},
	{"instancesSet.items.0.instanceId", nil},
	{"resourcesSet.items.0.resourceId", nil},
	{"groupId", nil},
	{"autoScalingGroupName", nil},
	{"dBInstanceIdentifier", nil},
	{"dBClusterIdentifier", nil},
	{"loadBalancerArn", lbNameFromDim},
	{"loadBalancerName", nil},
	{"targetGroupArn", arnTail},
	{"queueUrl", arnTail},
	{"service", arnTail},
	{"restApiId", nil},
	{"roleName", nil},
	{"policyArn", nil},
	{"userName", nil},
	{"bucketName", nil},
	{"keyId", nil},
	{"clusterName", nil},
	{"cluster", arnTail},
}

// changedResource is the id of the resource a change's parameters name.
func changedResource(p map[string]string) string {
	for _, rp := range resourceParams {
		v := p[rp.key]
		if v == "" {
			continue
		}
		if rp.id != nil {
			v = rp.id(v)
		}
		return v
	}
	return ""
}

// arnTail is the last path part of an ARN or URL ("table/NAME" → NAME,
// ".../queue-name" → queue-name, "targetgroup/NAME/ID" → NAME).
func arnTail(v string) string {
	if i := strings.Index(v, ":targetgroup/"); i >= 0 {
		return strings.SplitN(v[i+len(":targetgroup/"):], "/", 2)[0]
	}
	if !strings.HasPrefix(v, "arn:") && !strings.Contains(v, "://") {
		return v
	}
	v = strings.TrimSuffix(v, "/")
	if i := strings.LastIndexAny(v, "/:"); i >= 0 {
		return v[i+1:]
	}
	return v
}

// systemChanges are the changes the system made to the topology's
// resources: Auto Scaling activities, ECS deployments, RDS events. They
// wait for the session's topology when one is being read (the engine reads
// changes and the topology at the same time).
func (s *Session) systemChanges(ctx context.Context, start, end time.Time) []investigate.Change {
	ix := s.awaitTopology(ctx, time.Second)
	if ix == nil {
		return nil
	}
	var (
		mu  sync.Mutex
		out []investigate.Change
		wg  sync.WaitGroup
	)
	add := func(chs ...investigate.Change) {
		mu.Lock()
		out = append(out, chs...)
		mu.Unlock()
	}
	groups := ix.ofType(investigate.TypeASG)
	if len(groups) > 5 {
		groups = groups[:5]
	}
	for _, g := range groups {
		spawn(&wg, s.problem, func() {
			chs, err := s.scalingActivities(ctx, g, start, end)
			s.addProblems(err)
			add(chs...)
		})
	}
	if dbs := ix.ofType(investigate.TypeRDS); len(dbs) > 0 {
		spawn(&wg, s.problem, func() {
			chs, err := s.rdsEvents(ctx, dbs, start, end)
			s.addProblems(err)
			add(chs...)
		})
	}
	add(ecsDeployments(ix.ecsServices, start, end)...)
	wg.Wait()
	return out
}

// awaitTopology waits for the session's topology: for one to start (up to
// grace), then for it to end.
func (s *Session) awaitTopology(ctx context.Context, grace time.Duration) *topoIndex {
	deadline := time.Now().Add(grace)
	for {
		s.mu.Lock()
		started := s.topoDone != nil
		s.mu.Unlock()
		if started || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s.topology(ctx, true)
}

var activityInstance = regexp.MustCompile(`\bi-[0-9a-f]{8,17}\b`)

// scalingActivities are an Auto Scaling group's activities in the window.
func (s *Session) scalingActivities(ctx context.Context, group string, start, end time.Time) ([]investigate.Change, error) {
	out, err := s.c.api.asg.DescribeScalingActivities(ctx, &autoscaling.DescribeScalingActivitiesInput{
		AutoScalingGroupName: aws.String(group), MaxRecords: aws.Int32(100),
	})
	if err != nil {
		return nil, wrap("autoscaling describe scaling activities", err)
	}
	var chs []investigate.Change
	for _, a := range out.Activities {
		t := aws.ToTime(a.StartTime)
		if t.Before(start) || !t.Before(end) {
			continue
		}
		desc := aws.ToString(a.Description)
		event := "ScalingActivity"
		switch {
		case strings.HasPrefix(desc, "Launching"):
			event = "LaunchInstance"
		case strings.HasPrefix(desc, "Terminating"):
			event = "TerminateInstance"
		}
		res := group
		if m := activityInstance.FindString(desc); m != "" {
			res = m
		}
		chs = append(chs, investigate.Change{
			ID: aws.ToString(a.ActivityId), Time: t, Event: event, Source: "autoscaling.amazonaws.com",
			Resource: res, Actor: "autoscaling.amazonaws.com",
			Params: map[string]string{
				"autoScalingGroupName": group,
				"description":          investigate.Truncate(desc, maxParamValue),
				"cause":                investigate.Truncate(aws.ToString(a.Cause), maxParamValue),
				"status":               string(a.StatusCode),
			},
		})
	}
	return chs, nil
}

// rdsEvents are the RDS events of the topology's DB instances.
func (s *Session) rdsEvents(ctx context.Context, dbs []string, start, end time.Time) ([]investigate.Change, error) {
	want := map[string]bool{}
	for _, d := range dbs {
		want[d] = true
	}
	out, err := s.c.api.rds.DescribeEvents(ctx, &rds.DescribeEventsInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end),
		SourceType: rdstypes.SourceTypeDbInstance, MaxRecords: aws.Int32(100),
	})
	if err != nil {
		return nil, wrap("rds describe events", err)
	}
	var chs []investigate.Change
	for _, e := range out.Events {
		id := aws.ToString(e.SourceIdentifier)
		if !want[id] {
			continue
		}
		cat := "notification"
		if len(e.EventCategories) > 0 {
			cat = e.EventCategories[0]
		}
		t := aws.ToTime(e.Date)
		chs = append(chs, investigate.Change{
			ID:       fmt.Sprintf("rds:%s:%d", id, t.Unix()),
			Time:     t,
			Event:    "RDS" + camel(cat),
			Source:   "rds.amazonaws.com",
			Resource: id,
			Actor:    "rds.amazonaws.com",
			Params: map[string]string{
				"message":    investigate.Truncate(aws.ToString(e.Message), maxParamValue),
				"categories": strings.Join(e.EventCategories, ","),
				"sourceArn":  aws.ToString(e.SourceArn),
			},
		})
	}
	return chs, nil
}

func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// ecsDeployments are the ECS deployments that started in the window.
func ecsDeployments(svcs []ecsServiceInfo, start, end time.Time) []investigate.Change {
	var chs []investigate.Change
	for _, svc := range svcs {
		for _, d := range svc.deployments {
			if d.created.Before(start) || !d.created.Before(end) {
				continue
			}
			chs = append(chs, investigate.Change{
				ID: d.id, Time: d.created, Event: "ServiceDeployment", Source: "ecs.amazonaws.com",
				Resource: svc.service, Actor: "ecs.amazonaws.com",
				Params: map[string]string{
					"cluster": svc.cluster, "taskDefinition": d.taskDef, "status": d.status, "rolloutState": d.rollout,
				},
			})
		}
	}
	return chs
}
