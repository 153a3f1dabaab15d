package awstelemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/unstuck/unstuck/investigate"
)

// Changes lists the window's changes, read outward from its end: see
// ChangesAround.
func (s *Session) Changes(ctx context.Context, start, end time.Time) ([]investigate.Change, error) {
	return s.ChangesAround(ctx, start, end, end)
}

// ChangesAround lists the window's management events: CloudTrail's write
// events (LookupEvents with ReadOnly=false, within CloudTrail's limit of 2
// requests per second shared by all investigations, and a budget of
// MaxChangePages pages read nearest focus first), and, for the resources
// the session's topology found, the changes the system made: Auto Scaling
// activities, ECS deployments and RDS events. A CloudTrail failure is an
// error only when nothing else was read; otherwise it is, like the others'
// failures and every part a budget left unread, a problem (the report's
// unavailable).
func (s *Session) ChangesAround(ctx context.Context, start, end, focus time.Time) (changes []investigate.Change, err error) {
	defer recoverTo(&err, "cloudtrail changes")
	ctx = s.ctx(ctx)
	var (
		wg     sync.WaitGroup
		system []investigate.Change
	)
	spawn(&wg, s.problem, func() {
		system = s.systemChanges(ctx, start, end)
	})
	changes, err = s.trailChanges(ctx, start, end, focus)
	wg.Wait()
	if err != nil {
		if len(changes) == 0 && len(system) == 0 {
			return nil, err
		}
		// What was read stands (the system's changes, CloudTrail's pages
		// before it failed); the failure is a part left unread.
		s.problem(err)
	}
	changes = append(changes, system...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Time.Before(changes[j].Time) })
	return changes, nil
}

// ErrChangesTruncated says that a budget of pages ran out before a
// window's changes were all read.
var ErrChangesTruncated = errors.New("changes not all read")

// The spans around the focus that CloudTrail is read in first: the hour
// before it (an onset precedes its alarm's firing, and a change weighs
// little an hour before the onset) and a little after.
const (
	nearBefore = time.Hour
	nearAfter  = 10 * time.Minute
)

// span is a time range, both ends included (as LookupEvents takes them).
type span struct{ start, end time.Time }

func (sp span) empty() bool { return sp.end.Before(sp.start) }

// trailChanges reads CloudTrail's write events of [start, end]. One page
// over the whole window comes first: a quiet window fits in it. When there
// is more and that page reached back into the span around focus (the
// hour before it, a little after), the pages that follow are the nearest
// to focus, newest first. When it did not (a busy account investigated
// hours after the firing), the rest is read in spans nearest focus first:
// the span around it, then what is before, then what is after. So what
// the budget leaves unread is far from the onset, and each span it leaves
// unread is a problem that names it.
func (s *Session) trailChanges(ctx context.Context, start, end, focus time.Time) ([]investigate.Change, error) {
	if focus.Before(start) || focus.After(end) {
		focus = end
	}
	rd := &trailReader{s: s, budget: s.c.opts.MaxChangePages, seen: map[string]bool{}}
	whole := span{start, end}
	first, err := rd.read(ctx, whole, 1, nil)
	if err != nil || first.complete {
		return rd.out, err
	}
	near := span{maxTime(start, focus.Add(-nearBefore)), minTime(end, focus.Add(nearAfter))}
	covered := first.oldest
	if covered.IsZero() {
		covered = end
	}
	type part struct {
		span
		token *string
	}
	// A token goes with the query it came from: the whole window's.
	parts := []part{{whole, first.next}}
	if covered.After(near.end) {
		parts = []part{
			{span: span{near.start, near.end}},
			{span: span{start, near.start}},
			{span: span{near.end, covered}},
		}
	}
	var unread []span
	for _, p := range parts {
		if p.empty() {
			continue
		}
		res, err := rd.read(ctx, p.span, rd.budget, p.token)
		if err != nil {
			return nil, err
		}
		if !res.complete {
			u := p.span
			if p.token != nil {
				u.end = covered
			}
			if !res.oldest.IsZero() {
				u.end = res.oldest
			}
			unread = append(unread, u)
		}
	}
	if len(unread) > 0 {
		var parts []string
		for _, u := range unread {
			parts = append(parts, u.start.UTC().Format(time.RFC3339)+" to "+u.end.UTC().Format(time.RFC3339))
		}
		s.addProblems(fmt.Errorf("cloudtrail lookup events: %d pages read (the budget), nearest %s first; the write events from %s were not read: %w",
			rd.pages, focus.UTC().Format(time.RFC3339), strings.Join(parts, " and from "), ErrChangesTruncated))
	}
	return rd.out, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// trailReader reads LookupEvents pages within a budget, each event once.
type trailReader struct {
	s      *Session
	budget int
	pages  int
	seen   map[string]bool
	out    []investigate.Change
}

// spanRead is what reading a span gave: whether it was read to its end,
// the oldest event time read (zero when none), and the token of the page
// after the last one read.
type spanRead struct {
	complete bool
	oldest   time.Time
	next     *string
}

// read pages through a span's write events, newest first, for at most
// limit pages of the budget, from the page token names (the first when
// nil; a token goes with the query it came from, the whole window's).
func (rd *trailReader) read(ctx context.Context, sp span, limit int, token *string) (spanRead, error) {
	var res spanRead
	in := &cloudtrail.LookupEventsInput{
		StartTime:        aws.Time(sp.start),
		EndTime:          aws.Time(sp.end),
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyReadOnly, AttributeValue: aws.String("false")}},
		MaxResults:       aws.Int32(50),
		NextToken:        token,
	}
	for n := 0; n < limit && rd.budget > 0; n++ {
		if err := rd.s.c.ctLimit.Wait(ctx); err != nil {
			return res, wrap("cloudtrail lookup events", err)
		}
		out, err := rd.s.c.api.trail.LookupEvents(ctx, in)
		if err != nil {
			return res, wrap("cloudtrail lookup events", err)
		}
		rd.budget--
		rd.pages++
		for _, ev := range out.Events {
			if t := aws.ToTime(ev.EventTime); !t.IsZero() && (res.oldest.IsZero() || t.Before(res.oldest)) {
				res.oldest = t
			}
			if id := aws.ToString(ev.EventId); id != "" {
				if rd.seen[id] {
					continue
				}
				rd.seen[id] = true
			}
			rd.out = append(rd.out, parseTrailEvent(ev))
		}
		if aws.ToString(out.NextToken) == "" {
			res.complete = true
			return res, nil
		}
		in.NextToken = out.NextToken
		res.next = out.NextToken
	}
	return res, nil
}

// trailRecord is the part of a CloudTrail event record the adapter reads
// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
type trailRecord struct {
	EventID     string    `json:"eventID"`
	EventTime   time.Time `json:"eventTime"`
	EventName   string    `json:"eventName"`
	EventSource string    `json:"eventSource"`
	ErrorCode   string    `json:"errorCode"`
	ReadOnly    *bool     `json:"readOnly"`
	// EventType is AwsApiCall, AwsServiceEvent, AwsConsoleAction or
	// AwsConsoleSignIn.
	EventType string `json:"eventType"`
	// ManagementEvent is false for data events; older records lack it.
	ManagementEvent *bool           `json:"managementEvent"`
	EventCategory   string          `json:"eventCategory"`
	UserIdentity    trailIdentity   `json:"userIdentity"`
	Request         json.RawMessage `json:"requestParameters"`
	// ServiceDetails is what an AwsServiceEvent acted on.
	ServiceDetails json.RawMessage `json:"serviceEventDetails"`
	Resources      []struct {
		ARN  string `json:"ARN"`
		Type string `json:"type"`
	} `json:"resources"`
	SourceIP string `json:"sourceIPAddress"`
}

type trailIdentity struct {
	Type           string `json:"type"`
	PrincipalID    string `json:"principalId"`
	ARN            string `json:"arn"`
	InvokedBy      string `json:"invokedBy"`
	UserName       string `json:"userName"`
	SessionContext struct {
		SessionIssuer struct {
			Type     string `json:"type"`
			ARN      string `json:"arn"`
			UserName string `json:"userName"`
		} `json:"sessionIssuer"`
		// EC2RoleDelivery is set when the credentials came from an
		// instance's metadata service: software on the instance.
		EC2RoleDelivery string `json:"ec2RoleDelivery"`
	} `json:"sessionContext"`
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
	id := rec.UserIdentity
	ch.EventType = rec.EventType
	ch.Identity = id.Type
	if iss := id.SessionContext.SessionIssuer; iss.Type == "Role" {
		ch.Role = iss.UserName
		if ch.Role == "" {
			ch.Role = arnTail(iss.ARN)
		}
	}
	ch.InvokedBy = id.InvokedBy
	ch.ByService = madeByService(rec)
	ch.Routine = routineRecord(rec, ch.ByService)
	if a := trailActor(id, rec.SourceIP); a != "" {
		ch.Actor = a
	}
	if ch.ByService && (ch.Actor == "" || ch.Actor == awsInternal) && ch.Source != "" {
		// AWS acting on its own names no principal: the service is the actor.
		ch.Actor = ch.Source
	}
	ch.Params = flattenParams(rec.Request)
	ch.Resource = changedResource(ch.Source, ch.Params)
	if ch.Resource == "" {
		for _, r := range rec.Resources {
			if r.ARN != "" {
				ch.Resource = r.ARN
				break
			}
		}
	}
	if ch.Resource == "" {
		// A service event names what it acted on in its details.
		ch.Resource = changedResource(ch.Source, flattenParams(rec.ServiceDetails))
	}
	return ch
}

// awsInternal is what CloudTrail puts for the caller of AWS's own actions.
const awsInternal = "AWS Internal"

// madeByService reports whether AWS made a change: a service event (not
// a call to a public API), a call by a service principal, a call through
// a service-linked role, or a call by a service with no principal behind
// it. A service calling with a person's session (CloudFormation, the
// console's helpers: invokedBy with the person's ARN) is the person's.
func madeByService(rec trailRecord) bool {
	id := rec.UserIdentity
	switch {
	case rec.EventType == "AwsServiceEvent", id.Type == "AWSService":
		return true
	case strings.Contains(id.SessionContext.SessionIssuer.ARN, ":role/aws-service-role/"):
		return true
	case id.ARN == "" && id.InvokedBy != "":
		return true
	}
	return false
}

// agentSources are the services whose writes agents on a host make all
// the time: log streams and groups, metrics, traces, Systems Manager's
// check-ins and inventory, GuardDuty's runtime telemetry.
var agentSources = map[string]bool{
	"logs.amazonaws.com": true, "monitoring.amazonaws.com": true, "xray.amazonaws.com": true,
	"ssm.amazonaws.com": true, "ec2messages.amazonaws.com": true, "ssmmessages.amazonaws.com": true,
	"guardduty.amazonaws.com": true,
}

// instanceSession matches an instance id as a role session's name, which
// is how EC2 names the sessions of an instance profile's role.
var instanceSession = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)

// routineRecord reports whether a record is never a change the team made:
// a data event (managementEvent false), a console sign-in, or an agent's
// write: a call to one of agentSources made with an instance's own
// credentials (delivered by its metadata service, or a session named
// after the instance).
func routineRecord(rec trailRecord, byService bool) bool {
	if rec.ManagementEvent != nil && !*rec.ManagementEvent || strings.EqualFold(rec.EventCategory, "Data") {
		return true
	}
	if strings.EqualFold(rec.EventType, "AwsConsoleSignIn") {
		return true
	}
	id := rec.UserIdentity
	fromHost := id.SessionContext.EC2RoleDelivery != "" || id.SessionContext.SessionIssuer.UserName == "aws:ec2-instance" ||
		id.Type == "AssumedRole" && instanceSession.MatchString(arnTail(id.ARN))
	return !byService && fromHost && agentSources[rec.EventSource]
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
			for _, k := range slices.Sorted(maps.Keys(x)) {
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

// resourceParam is a request parameter that names the changed resource,
// with how to turn its value into the id the topology uses.
type resourceParam struct {
	key string
	id  func(string) string
}

// sourceResourceParams are, per event source, the parameters that name
// what its calls change, most specific first; they are read before
// resourceParams, whose names mean the same in every service.
var sourceResourceParams = map[string][]resourceParam{
	"logs.amazonaws.com":           {{"logGroupName", nil}, {"logGroupIdentifier", logGroupName}, {"resourceArn", logGroupName}, {"destinationName", nil}},
	"ssm.amazonaws.com":            {{"name", nil}, {"instanceId", nil}, {"windowId", nil}, {"documentName", nil}},
	"cloudtrail.amazonaws.com":     {{"name", arnTail}, {"trailName", arnTail}},
	"sns.amazonaws.com":            {{"topicArn", arnTail}, {"subscriptionArn", nil}},
	"events.amazonaws.com":         {{"rule", nil}, {"name", nil}, {"eventBusName", nil}},
	"secretsmanager.amazonaws.com": {{"secretId", nil}, {"name", nil}},
	"cloudformation.amazonaws.com": {{"stackName", nil}},
	"monitoring.amazonaws.com":     {{"alarmName", nil}, {"alarmNames.0", nil}, {"dashboardName", nil}},
	"elasticache.amazonaws.com":    {{"replicationGroupId", nil}, {"cacheClusterId", nil}},
	"kinesis.amazonaws.com":        {{"streamName", nil}, {"streamARN", arnTail}},
	"states.amazonaws.com":         {{"stateMachineArn", arnTail}},
	"route53.amazonaws.com":        {{"hostedZoneId", nil}},
	"guardduty.amazonaws.com":      {{"detectorId", nil}},
	"wafv2.amazonaws.com":          {{"name", nil}, {"id", nil}},
	"ec2.amazonaws.com":            {{"instanceIdSet.0", nil}, {"launchTemplateName", nil}, {"launchTemplateId", nil}, {"volumeId", nil}, {"networkAclId", nil}, {"routeTableId", nil}},
	"kms.amazonaws.com":            {{"keyId", nil}, {"targetKeyId", nil}, {"aliasName", nil}},
}

// resourceParams are the request parameters that name the changed
// resource in any service, most specific first.
var resourceParams = []resourceParam{
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
	{"groupName", nil},
	{"instanceProfileName", nil},
	{"bucketName", nil},
	{"keyId", nil},
	{"clusterName", nil},
	{"cluster", arnTail},
}

// changedResource is the id of the resource a change's parameters name.
func changedResource(source string, p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	for _, list := range [][]resourceParam{sourceResourceParams[source], resourceParams} {
		for _, rp := range list {
			v := p[rp.key]
			if v == "" {
				continue
			}
			if rp.id != nil {
				v = rp.id(v)
			}
			return v
		}
	}
	return ""
}

// logGroupName is the log group a Logs identifier or ARN names
// ("arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*" → NAME).
func logGroupName(v string) string {
	if i := strings.Index(v, ":log-group:"); i >= 0 {
		v = v[i+len(":log-group:"):]
		if j := strings.Index(v, ":"); j >= 0 {
			v = v[:j]
		}
	}
	return v
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
// resources: Auto Scaling activities, ECS deployments and service events,
// RDS events. They wait for the session's topology when one is being read
// (the engine reads changes and the topology at the same time).
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
	add(ecsServiceEvents(ix.ecsServices, start, end)...)
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

// maxSystemPages is how many pages of 100 scaling activities (per group)
// or RDS events one window reads.
const maxSystemPages = 5

// scalingActivities are an Auto Scaling group's activities in the window.
// DescribeScalingActivities has no time filter; its pages are read until
// one reaches back past start, within maxSystemPages: "Activities are
// sorted by start time. Activities still in progress are described first"
// (the API reference), newest first. A budget that runs out first is a
// problem that says how far back it read.
func (s *Session) scalingActivities(ctx context.Context, group string, start, end time.Time) ([]investigate.Change, error) {
	in := &autoscaling.DescribeScalingActivitiesInput{AutoScalingGroupName: aws.String(group), MaxRecords: aws.Int32(100)}
	var (
		acts   []astypes.Activity
		oldest time.Time
	)
	for page := 0; ; page++ {
		if page == maxSystemPages {
			s.addProblems(fmt.Errorf("autoscaling describe scaling activities of %s: %d pages read (the budget), back to %s; the older activities of the window were not read: %w",
				group, page, oldest.UTC().Format(time.RFC3339), ErrChangesTruncated))
			break
		}
		out, err := s.c.api.asg.DescribeScalingActivities(ctx, in)
		if err != nil {
			if page > 0 {
				// What was read stands; the rest is a problem.
				s.addProblems(wrap("autoscaling describe scaling activities of "+group, err))
				break
			}
			return nil, wrap("autoscaling describe scaling activities", err)
		}
		acts = append(acts, out.Activities...)
		for _, a := range out.Activities {
			if t := aws.ToTime(a.StartTime); !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
		if aws.ToString(out.NextToken) == "" || !oldest.IsZero() && oldest.Before(start) {
			break
		}
		in.NextToken = out.NextToken
	}
	var chs []investigate.Change
	for _, a := range acts {
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
		ch := investigate.Change{
			ID: aws.ToString(a.ActivityId), Time: t, Event: event, Source: "autoscaling.amazonaws.com",
			Resource: res, Actor: "autoscaling.amazonaws.com", ByService: true,
			Message: investigate.Truncate(aws.ToString(a.StatusMessage), maxParamValue),
			Params: map[string]string{
				"autoScalingGroupName": group,
				"description":          investigate.Truncate(desc, maxParamValue),
				"cause":                investigate.Truncate(aws.ToString(a.Cause), maxParamValue),
				"status":               string(a.StatusCode),
			},
		}
		if a.StatusCode == astypes.ScalingActivityStatusCodeFailed || a.StatusCode == astypes.ScalingActivityStatusCodeCancelled {
			// It changed nothing; its StatusMessage says why.
			ch.Error = string(a.StatusCode)
		}
		chs = append(chs, ch)
	}
	return chs, nil
}

// rdsEvents are the RDS events of the topology's DB instances, every
// page (Marker) of the window's within maxSystemPages; a budget that runs
// out is a problem.
func (s *Session) rdsEvents(ctx context.Context, dbs []string, start, end time.Time) ([]investigate.Change, error) {
	want := map[string]bool{}
	for _, d := range dbs {
		want[d] = true
	}
	in := &rds.DescribeEventsInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end),
		SourceType: rdstypes.SourceTypeDbInstance, MaxRecords: aws.Int32(100),
	}
	var events []rdstypes.Event
	for page := 0; ; page++ {
		if page == maxSystemPages {
			s.addProblems(fmt.Errorf("rds describe events: %d pages of 100 read (the budget); the window's other DB instance events were not read: %w",
				page, ErrChangesTruncated))
			break
		}
		out, err := s.c.api.rds.DescribeEvents(ctx, in)
		if err != nil {
			if page > 0 {
				s.addProblems(wrap("rds describe events", err))
				break
			}
			return nil, wrap("rds describe events", err)
		}
		events = append(events, out.Events...)
		if aws.ToString(out.Marker) == "" {
			break
		}
		in.Marker = out.Marker
	}
	var chs []investigate.Change
	for _, e := range events {
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
			ID:        fmt.Sprintf("rds:%s:%d", id, t.Unix()),
			Time:      t,
			Event:     "RDS" + camel(cat),
			Source:    "rds.amazonaws.com",
			Resource:  id,
			Actor:     "rds.amazonaws.com",
			ByService: true,
			Message:   investigate.Truncate(aws.ToString(e.Message), maxParamValue),
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
