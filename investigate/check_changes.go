package investigate

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Who made a change.
const (
	actorPerson  = "a person"
	actorCI      = "automation of the team"
	actorService = "an AWS service"
)

var ciActor = regexp.MustCompile(`(?i)(deploy|pipeline|github|gitlab|jenkins|codebuild|codepipeline|terraform|argo|spinnaker|circleci|buildkite|/ci\b|[-_]ci\b|\bci[-_/]|\bcd\b|automation|cloudformation)`)

// actorKind says whether a change was made by a person, by the team's
// automation, or by AWS itself (a service principal or a service-linked role).
func actorKind(actor string) string {
	a := strings.ToLower(actor)
	switch {
	case strings.HasSuffix(a, ".amazonaws.com"), strings.Contains(a, "awsservicerole"), strings.Contains(a, ":role/aws-service-role/"):
		return actorService
	case ciActor.MatchString(actor):
		return actorCI
	}
	return actorPerson
}

// changeActor is who made a change: AWS when its record says so, else
// what the actor's name says.
func changeActor(ch Change) string {
	if ch.ByService {
		return actorService
	}
	return actorKind(ch.Actor)
}

// actorName is the short name of an identity ARN: the session of an assumed
// role, the user of an IAM user, or the principal itself.
func actorName(actor string) string {
	if i := strings.LastIndex(actor, "/"); i >= 0 && strings.HasPrefix(actor, "arn:") {
		return actor[i+1:]
	}
	return actor
}

// harmlessSettings are settings whose change does not touch the traffic a
// resource serves: what it reports, how it is backed up, when it is
// maintained, what protects it from deletion. Lower case.
var harmlessSettings = map[string]bool{
	"monitoringinterval": true, "monitoringrolearn": true, "enableperformanceinsights": true,
	"performanceinsightsretentionperiod": true, "performanceinsightskmskeyid": true,
	"cloudwatchlogsexportconfiguration": true, "backupretentionperiod": true, "preferredbackupwindow": true,
	"preferredmaintenancewindow": true, "copytagstosnapshot": true, "deletionprotection": true,
	"automaticbackupreplicationretentionperiod": true, "pointintimerecoveryspecification": true,
	"contributorinsightsspecification": true, "tracingconfig": true, "loggingconfig": true,
	"tags": true, "description": true,
}

// changeRisk is risk, lowered for a modification whose parameters only
// touch harmless settings (a monitoring interval, a backup window): it
// names the resource that fails and still cannot have broken it.
func changeRisk(ch Change) float64 {
	r := risk(ch.Event)
	if len(ch.Params) == 0 || !(strings.HasPrefix(ch.Event, "Modify") || strings.HasPrefix(ch.Event, "Update")) {
		return r
	}
	settings := 0
	for k := range ch.Params {
		l := strings.ToLower(k)
		switch {
		case l == "applyimmediately", strings.HasSuffix(l, "identifier"), strings.HasSuffix(l, "name"),
			strings.HasSuffix(l, "arn") && l != "monitoringrolearn", strings.HasSuffix(l, "id"):
			// Which resource, not what changed in it.
			continue
		case !harmlessSettings[l]:
			return r
		}
		settings++
	}
	if settings == 0 {
		return r
	}
	return math.Min(r, 0.2)
}

// risk is how likely a kind of management event is to break what is running.
func risk(e string) float64 {
	switch {
	case awsAction.MatchString(e):
		// What AWS does to a running resource on its own: a failover, a
		// Spot instance reclaimed, maintenance applied.
		return 1
	case strings.HasPrefix(e, "Tag"), strings.HasPrefix(e, "Untag"),
		strings.Contains(e, "Dashboard"), strings.Contains(e, "MetricAlarm"), strings.HasPrefix(e, "PutMetric"):
		return 0.15
	case strings.HasPrefix(e, "Create") && !strings.Contains(e, "Deployment") && !strings.Contains(e, "Version"),
		strings.HasPrefix(e, "Authorize"):
		// New things and new access rarely break what runs.
		return 0.3
	case strings.HasPrefix(e, "Update"), strings.HasPrefix(e, "Put"), strings.HasPrefix(e, "Delete"),
		strings.HasPrefix(e, "Modify"), strings.HasPrefix(e, "Revoke"), strings.HasPrefix(e, "Disable"),
		strings.HasPrefix(e, "Attach"), strings.HasPrefix(e, "Detach"), strings.HasPrefix(e, "Deregister"),
		strings.HasPrefix(e, "Reboot"), strings.HasPrefix(e, "Stop"), strings.HasPrefix(e, "Terminate"),
		strings.HasPrefix(e, "SetDesired"), strings.HasPrefix(e, "Schedule"), strings.HasPrefix(e, "Rotate"),
		strings.HasPrefix(e, "Replace"), strings.HasPrefix(e, "Publish"), strings.HasPrefix(e, "Register"),
		strings.Contains(e, "Deployment"), strings.HasPrefix(e, "Failover"):
		return 1
	}
	return 0.6
}

// awsAction matches the events of AWS acting on a running resource: an RDS
// event of a failover, a restart, maintenance or a recovery, a Spot
// instance evicted or interrupted.
var awsAction = regexp.MustCompile(`Failover|Evict|Interrupt|^RDS(Availability|Maintenance|Recovery|Failure|SecurityPatching)`)

// reclaimedRE matches what says AWS took an instance away: a Spot
// eviction or interruption, a rebalance, an instance EC2 stopped or
// terminated ("taken out of service in response to an EC2 health check
// indicating it has been terminated or stopped", as Auto Scaling records
// a reclaimed Spot instance), one whose EC2 status checks failed. An
// instance replaced because the load balancer's health check failed is
// not: the application failed first.
var reclaimedRE = regexp.MustCompile(`(?i)evict|interrupt|rebalance|terminated or stopped|status checks? fail`)

// reclaimed reports whether a change took an instance away from its group
// for a reason of AWS's rather than a smaller desired count.
func reclaimed(ch Change) bool {
	return reclaimedRE.MatchString(ch.Event + " " + ch.Params["cause"] + " " + ch.Message)
}

// groupOf is the Auto Scaling group of a change's member: the group the
// topology puts it in, or the one its record names (an activity on an
// instance that is gone, which the topology no longer has).
func (r *run) groupOf(id string, ch Change) string {
	if g := r.g.group(id); g != "" {
		return g
	}
	if name := ch.Params["autoScalingGroupName"]; name != "" {
		if g := r.resolve(name); r.g.typeOf(g) == TypeASG {
			return g
		}
	}
	return ""
}

// IsDeploy reports whether an event ships new code or a new version.
func IsDeploy(event string) bool {
	for _, k := range []string{"FunctionCode", "UpdateService", "Deployment", "PublishVersion", "UpdateAlias", "RegisterTaskDefinition", "UpdateStage"} {
		if strings.Contains(event, k) {
			return true
		}
	}
	return false
}

// kindWords are what failures say when a kind of change breaks things. change
// is matched against "eventSource eventName"; words against the failures'
// own text (log lines, exceptions, Health events), lower-cased.
//
// weight says how specific the words are to that kind of change: a disabled
// key's error names KMS, while a timeout has many causes.
var kindWords = []struct {
	change *regexp.Regexp
	words  *regexp.Regexp
	weight float64
}{
	{regexp.MustCompile(`^kms\.`), regexp.MustCompile(`kms|kmsdisabled|kmsinvalidstate|kmsaccessdenied|decrypt|key is (not enabled|disabled|pending deletion)`), 0.9},
	{regexp.MustCompile(`^(iam|sts)\.|Policy|Permission`), regexp.MustCompile(`accessdenied|access denied|not authorized|forbidden|unauthori[sz]ed`), 0.8},
	// Only a change that takes access away breaks connectivity.
	{regexp.MustCompile(`Revoke|DeleteSecurityGroup|NetworkAcl|DeleteRoute|ReplaceRoute|ModifySecurityGroupRules|DisassociateRouteTable`), regexp.MustCompile(`connection (refused|reset|timed out)|connect timeout|i/o timeout|timed out|etimedout|unreachable|no route to host`), 0.5},
	{regexp.MustCompile(`^(ssm|secretsmanager)\.|Parameter|Secret`), regexp.MustCompile(`config|parameter|secret|syntaxerror|invalid json|unexpected token|parse error|failed to parse|missing required`), 0.5},
	{regexp.MustCompile(`Concurrency|Throughput|UpdateTable|Capacity|ModifyDB`), regexp.MustCompile(`throttl|rate exceeded|too many|provisionedthroughputexceeded|limit exceeded`), 0.5},
}

// mentioned says how the failures' words point at a change: 1 when they name
// its resource, kindWords' weight when they say what its kind of change
// breaks, else 0.
func mentioned(text string, ch Change, names []string) float64 {
	if text == "" {
		return 0
	}
	for _, n := range names {
		if len(n) >= 4 && strings.Contains(text, strings.ToLower(n)) {
			return 1
		}
	}
	for _, kw := range kindWords {
		if kw.change.MatchString(ch.Source+" "+ch.Event) && kw.words.MatchString(text) {
			return kw.weight
		}
	}
	return 0
}

// closeness weighs a change by how long before the onset it happened: 1 just
// before, 0.5 a quarter of an hour before, little after an hour.
func closeness(before time.Duration) float64 {
	return 1 / (1 + math.Pow(before.Minutes()/15, 2))
}

// checkChanges weighs the mutating management events before the onset by
// closeness in time and in topology, and by who made them.
func checkChanges(ctx context.Context, r *run) result {
	var res result
	changes, ok := get(ctx, r, "changes", r.changes)
	if !ok {
		return res
	}
	// The source's slice is its own (an adapter may cache it): sort a copy.
	changes = append([]Change(nil), changes...)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Time.Before(changes[j].Time) })
	shared := r.shared(ctx)
	text, fails := shared.errorText, shared.failing
	// The onset is known to a datapoint: a change within a minute after it
	// may still have caused it, a later one cannot.
	latest := r.onset.Add(min(r.step, time.Minute))
	for i := range changes {
		ch := changes[i]
		if ch.ReadOnly || ch.Error != "" || routine(ch) {
			continue
		}
		id := r.resolve(ch.Resource)
		names := changeNames(r, ch)
		who := changeActor(ch)
		culprit := id
		if culprit == "" {
			culprit = ch.Resource
		}
		if g := r.groupOf(id, ch); g != "" && who == actorService && (reclaimed(ch) || strings.HasPrefix(ch.Event, "Terminate")) {
			// AWS took a member away: what to act on is its group's
			// capacity, and the group is weighed.
			culprit, id = g, g
		}
		if culprit == "" {
			continue // nothing to roll back
		}

		if !ch.Time.Before(latest) {
			// A change after the onset cannot have caused it; say so when
			// it touches what failed, since people will suspect it.
			if _, inScope := r.g.dist[id]; inScope && risk(ch.Event) >= 1 && ch.Time.Before(r.onset.Add(time.Hour)) {
				res.findings = append(res.findings, &finding{Finding: Finding{
					Kind: FindingChange, Check: CheckChanges, Resource: culprit, Time: ch.Time,
					Summary: fmt.Sprintf("%s on %s by %s at %s came %s after the onset (%s): it cannot have caused it",
						ch.Event, culprit, actorName(ch.Actor), Clock(ch.Time), ago(ch.Time.Sub(r.onset)), Clock(r.onset)),
					Link: r.changeLink(ch),
				}, weight: 0.2})
			}
			continue
		}
		wt := closeness(r.onset.Sub(ch.Time))
		mention := mentioned(text, ch, names)
		var ws float64
		switch d := r.g.distance(id); {
		case d < 0:
			// Not in the topology: IAM, KMS, security groups, parameters.
			ws = 0.35
		case d <= 3:
			ws = 0.75
		default:
			ws = 0.35
		}
		if _, bad := fails[id]; bad {
			ws = 1
		}
		// What the changed resource serves fails: the rule of its
		// security group, the key of its table, a parameter it reads.
		through := r.failingThrough(id, fails)
		if through != "" {
			ws = 1
		}
		ws = math.Min(1, ws+0.5*mention)
		plaus := r.plausibility(ctx, ch, changes[:i])
		score := 0.9 * wt * ws * changeRisk(ch) * plaus
		if score < 0.02 {
			continue
		}
		what := EventWords(ch.Event)
		when := ago(r.onset.Sub(ch.Time)) + " before the onset"
		if ch.Time.After(r.onset) {
			when = ago(ch.Time.Sub(r.onset)) + " after the first bad datapoint"
		}
		summary := fmt.Sprintf("%s on %s by %s (%s) at %s, %s", what, culprit, actorName(ch.Actor), who, Clock(ch.Time), when)
		if p := paramsText(ch.Params); p != "" {
			summary += "; " + p
		}
		if through != "" {
			summary += "; " + through
		}
		if mention == 1 {
			summary += "; the errors since the onset name it"
		}
		f := &finding{Finding: Finding{
			Kind: FindingChange, Check: CheckChanges, Resource: culprit, Time: ch.Time,
			Summary: summary, Link: r.changeLink(ch), Event: ch.Event,
		}, weight: score}
		res.findings = append(res.findings, f)
		cause := CauseOwnChange
		if who == actorService {
			cause = CauseSystemChange
		}
		c := &candidate{cause: cause, resource: culprit, score: score, evidence: []*finding{f}, change: &changes[i], plausible: plaus}
		c.actions, c.prevention = changeActions(r, c.cause, culprit, ch)
		res.candidates = append(res.candidates, c)
	}
	return res
}

// failingThrough says how a change to id reaches a failing resource
// through the relations that carry no requests ("it is attached to
// billing-db, which fails since the onset"), or the caller whose calls into
// a failing resource fail (a role its host assumes); "" when it reaches
// none.
func (r *run) failingThrough(id string, fails map[string]string) string {
	if id == "" || r.g.reach[id] == nil {
		return ""
	}
	failing := slices.Sorted(maps.Keys(fails))
	for _, f := range failing {
		if h, ok := r.g.reaches(id, f); ok {
			if h.Next == f {
				return relationWords(h.Kind, h.Next) + ", which fails since the onset"
			}
			return relationWords(h.Kind, h.Next) + ", and " + f + " fails since the onset"
		}
	}
	for _, f := range failing {
		if fails[f] != "traces" {
			continue
		}
		for _, caller := range r.g.related(f, RelCalls, false) {
			if h, ok := r.g.reaches(id, caller); ok {
				return relationWords(h.Kind, h.Next) + ", and calls from " + caller + " to " + f + " fail since the onset"
			}
		}
	}
	return ""
}

// relationWords says how a changed resource relates to what it reaches.
func relationWords(kind, next string) string {
	switch kind {
	case RelAttachedTo:
		return "it is attached to " + next
	case RelEncrypts:
		return "it encrypts " + next
	case RelReadBy:
		return "it is read by " + next
	case RelAssumedBy:
		return "it is assumed by " + next
	case RelReplicaOf:
		return next + " is a read replica of it"
	}
	return "it reaches " + next
}

// routineEvents are the writes that services and agents make all the time:
// logs, metrics, traces, agents' check-ins. They are never a change the team
// made.
var routineEvents = map[string]bool{
	"CreateLogStream": true, "CreateLogGroup": true, "PutLogEvents": true,
	"PutMetricData": true, "PutTraceSegments": true, "PutTelemetryRecords": true,
	"UpdateInstanceInformation": true, "SendHeartbeat": true, "GetSessionToken": true,
}

// routine reports whether a management event is a routine write or a role
// assumption, by its name or by what its record says.
func routine(ch Change) bool {
	return ch.Routine || routineEvents[ch.Event] || strings.HasPrefix(ch.Event, "AssumeRole")
}

// changeNames are the ways the failures could name a change's resource: its
// reference, its topology id and name, and an ARN's last part.
func changeNames(r *run, ch Change) []string {
	id := r.resolve(ch.Resource)
	names := []string{ch.Resource, id}
	if res, ok := r.g.byID[id]; ok {
		names = append(names, res.Name)
	}
	if i := strings.LastIndexAny(ch.Resource, "/:"); i >= 0 {
		names = append(names, ch.Resource[i+1:])
	}
	// What the request named: a key id, a function, a group, a parameter's
	// path, as errors quote them.
	for k, v := range ch.Params {
		if identParam.MatchString(k) && !strings.ContainsAny(v, " ,") {
			names = append(names, v)
			if i := strings.LastIndexAny(v, "/:"); i >= 0 {
				names = append(names, v[i+1:])
			}
		}
	}
	return names
}

// identParam matches the request parameters that name what a change acted on.
var identParam = regexp.MustCompile(`(?i)(id|name|arn)$`)

// ago prints a duration the way people say it.
func ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// paramsText shows a change's parameters briefly, in a stable order.
func paramsText(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := p[k]
		if len(v) > 80 {
			v = v[:80] + "…"
		}
		parts = append(parts, k+"="+v)
		if len(parts) == 4 {
			break
		}
	}
	return strings.Join(parts, ", ")
}

// The plausibility table: which symptoms a kind of change can produce, from
// what it did rather than only its event name (risk weighs that). 1 is "can",
// less is "unlikely"; the kind is read from the event and its parameters.
//
//	kind of change                                   errors  latency  traffic
//	adds capacity (a scale-out: desired count up)     0.15    0.15     0.15
//	settings away from the serving path (backup        0.1     0.1      0.1
//	  retention, maintenance windows, tags, deletion
//	  protection, descriptions) and nothing else
//	access: IAM, policies, permissions, KMS keys       1       0.3      0.3
//	anything else (code, configuration, parameters,    1       1        1
//	  network rules, capacity taken away, limits)
//
// Adding capacity is often automation answering the very load that pages.
// Access taken away makes calls fail at once, and rarely only slower. How
// closely a change is linked to what failed (the same resource, its caller,
// the words of its errors) is weighed apart, in rank.
var plausibilityTable = map[changeKind]map[class]float64{
	kindAddsCapacity: {classErrors: 0.15, classLatency: 0.15, classTraffic: 0.15},
	kindInert:        {classErrors: 0.1, classLatency: 0.1, classTraffic: 0.1},
	kindAccess:       {classErrors: 1, classLatency: 0.3, classTraffic: 0.3},
}

// changeKind is a kind of change in the plausibility table.
type changeKind int

const (
	kindOther changeKind = iota
	kindAddsCapacity
	kindInert
	kindAccess
)

// accessChange matches the events that grant or take away access.
var accessChange = regexp.MustCompile(`^(iam|sts|kms)\.|Policy|Permission|Grant|DisableKey|ScheduleKeyDeletion`)

// plausibility is the table's value for a change and the alarm's symptom.
func (r *run) plausibility(ctx context.Context, ch Change, earlier []Change) float64 {
	p, ok := plausibilityTable[r.kindOf(ctx, ch, earlier)][r.primaryClass()]
	if !ok {
		return 1
	}
	return p
}

// kindOf reads a change's kind from its event and parameters.
func (r *run) kindOf(ctx context.Context, ch Change, earlier []Change) changeKind {
	if v, ok := desiredIn(ch); ok && r.addsCapacity(ctx, ch, v, earlier) {
		return kindAddsCapacity
	}
	inert, other := 0, 0
	for k := range ch.Params {
		switch {
		case inertParam.MatchString(k):
			inert++
		case !nameParam.MatchString(k):
			other++
		}
	}
	switch {
	case inert > 0 && other == 0:
		return kindInert
	case accessChange.MatchString(ch.Source + " " + ch.Event):
		return kindAccess
	}
	return kindOther
}

// inertParam matches request parameters that set what is away from a
// resource's serving path; nameParam those that only say which resource.
var (
	inertParam = regexp.MustCompile(`(?i)^(backupretentionperiod|preferredbackupwindow|preferredmaintenancewindow|copytagstosnapshot|deletionprotection|tags|tagkeys|tagspecifications|description)$`)
	nameParam  = regexp.MustCompile(`(?i)^(applyimmediately|dbinstanceidentifier|dbclusteridentifier|resourcearn|resourcename|tablename|functionname|cluster|service)$`)
)

// desiredIn is the desired count a scaling change sets, if it sets one.
func desiredIn(ch Change) (float64, bool) {
	for k, v := range ch.Params {
		switch strings.ToLower(k) {
		case "desiredcount", "desiredcapacity":
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// addsCapacity reports whether a desired count is more than the resource had
// just before: more than an earlier change set, or than its capacity metric.
func (r *run) addsCapacity(ctx context.Context, ch Change, v float64, earlier []Change) bool {
	key := func(c Change) string { return or(r.resolve(c.Resource), c.Resource) }
	id := r.resolve(ch.Resource)
	for i := len(earlier) - 1; i >= 0; i-- {
		if e := earlier[i]; key(e) == key(ch) {
			if prev, ok := desiredIn(e); ok {
				return v > prev
			}
		}
	}
	if rs, ok := r.g.byID[id]; ok {
		for _, spec := range catalog[rs.Type] {
			if spec.Role != roleCapacity {
				continue
			}
			if s, ok := r.series(ctx, id, spec); ok {
				if before := s.values(window{ch.Time.Add(-30 * time.Minute), ch.Time}); len(before) > 0 {
					return v > median(before)
				}
			}
		}
	}
	return false
}
