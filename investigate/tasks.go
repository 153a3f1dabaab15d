package investigate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Tasks of an ECS service. The topology lists a service's running tasks as
// its members (RelMemberOf), each with its zone, the task definition
// revision it runs and when it started; Container Insights with enhanced
// observability publishes each task's CPU and memory, and the awslogs
// driver gives each task a log stream of its own, PREFIX/CONTAINER/TASK-ID.
// So tasks are peers like the instances of an Auto Scaling group, and the
// peer comparison (check_component.go) and the zones (zones.go) read them
// as they read instances. What tasks add is their revision: during a
// rolling deploy the tasks of the new revision run beside those of the old
// one, and when the failing ones are the tasks of one revision and the
// healthy ones run another, what the failing ones share is the revision —
// a change the team made, whose move is to roll the service back, not to
// replace the tasks (a replacement runs the same revision).

// Config keys of a task, as the topology sources fill them.
const (
	// TaskDefinitionKey is the task definition the task runs, as its ARN
	// or family:revision.
	TaskDefinitionKey = "task_definition"
	// StartedAtKey is when the task started, RFC 3339.
	StartedAtKey = "started_at"
)

// streamOwner is the resource a log stream belongs to: a task whose id ends
// the stream's name (the awslogs driver names a task's stream
// PREFIX/CONTAINER/TASK-ID), else the stream itself (an instance's stream
// is named by its id).
func (g *graph) streamOwner(stream string) string {
	if i := strings.LastIndexByte(stream, '/'); i >= 0 && i < len(stream)-1 {
		if r, ok := g.byID[stream[i+1:]]; ok && r.Type == TypeECSTask {
			return r.ID
		}
	}
	return stream
}

// byOwner sums lines by stream into lines by the resource each stream
// belongs to.
func (g *graph) byOwner(byStream map[string]int) map[string]int {
	out := make(map[string]int, len(byStream))
	for s, n := range byStream {
		out[g.streamOwner(s)] += n
	}
	return out
}

// taskDef is a task definition as family and revision.
type taskDef struct {
	family   string
	revision int
}

func (d taskDef) String() string { return d.family + ":" + strconv.Itoa(d.revision) }

// parseTaskDef reads a task definition ARN
// (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION) or
// FAMILY:REVISION.
func parseTaskDef(s string) (taskDef, bool) {
	if i := strings.Index(s, "task-definition/"); i >= 0 {
		s = s[i+len("task-definition/"):]
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return taskDef{}, false
	}
	rev, err := strconv.Atoi(s[i+1:])
	if err != nil || rev <= 0 {
		return taskDef{}, false
	}
	return taskDef{family: s[:i], revision: rev}, true
}

// taskDefOf is the task definition a task runs, when the topology says.
func (g *graph) taskDefOf(id string) (taskDef, bool) {
	r, ok := g.byID[id]
	if !ok || r.Type != TypeECSTask {
		return taskDef{}, false
	}
	return parseTaskDef(r.Config[TaskDefinitionKey])
}

// startedAt is when a task started, zero when unknown.
func (g *graph) startedAt(id string) time.Time {
	if r, ok := g.byID[id]; ok {
		if t, err := time.Parse(time.RFC3339, r.Config[StartedAtKey]); err == nil {
			return t
		}
	}
	return time.Time{}
}

// revisionFailure is a revision of a service's task definition whose tasks
// fail while those of another revision do not.
type revisionFailure struct {
	service string
	bad     taskDef
	good    []taskDef
	failing []string // every task of the group that runs bad
	healthy []string
	since   time.Time // when the first failing task started, if known
}

// failingRevision finds, in a group of tasks, the revision whose tasks all
// fail while the tasks of the other revisions do not: at least two failing,
// all on one revision, every task of that revision among them, a healthy
// task on another revision, and the failing revision the newer one (a
// higher revision of the same family, or tasks started after every
// healthy one), so that rolling back moves away from it.
func failingRevision(g *graph, tasks []string, failing map[string]bool) (revisionFailure, bool) {
	var rf revisionFailure
	defs := map[string]taskDef{}
	for _, t := range tasks {
		d, ok := g.taskDefOf(t)
		if !ok {
			return revisionFailure{}, false
		}
		defs[t] = d
	}
	found := false
	for _, t := range tasks {
		if !failing[t] {
			continue
		}
		if found && defs[t] != rf.bad {
			return revisionFailure{}, false // failures on two revisions
		}
		rf.bad, found = defs[t], true
	}
	if !found {
		return revisionFailure{}, false
	}
	for _, t := range tasks {
		switch {
		case defs[t] == rf.bad && !failing[t]:
			return revisionFailure{}, false // a healthy task of the same revision
		case defs[t] == rf.bad:
			rf.failing = append(rf.failing, t)
		case failing[t]:
			return revisionFailure{}, false
		default:
			rf.healthy = append(rf.healthy, t)
			if !slices.Contains(rf.good, defs[t]) {
				rf.good = append(rf.good, defs[t])
			}
		}
	}
	if len(rf.failing) < 2 || len(rf.healthy) == 0 {
		return revisionFailure{}, false
	}
	for _, t := range rf.failing {
		if s := g.startedAt(t); !s.IsZero() && (rf.since.IsZero() || s.Before(rf.since)) {
			rf.since = s
		}
	}
	if !newer(g, rf) {
		return revisionFailure{}, false
	}
	sort.Slice(rf.good, func(i, j int) bool { return rf.good[i].revision > rf.good[j].revision })
	rf.service = g.group(rf.failing[0])
	return rf, rf.service != ""
}

// newer reports whether the failing revision is the one deployed last: a
// higher revision than each healthy one of its family, and, against
// another family, tasks started after every healthy task.
func newer(g *graph, rf revisionFailure) bool {
	for _, d := range rf.good {
		if d.family == rf.bad.family {
			if d.revision >= rf.bad.revision {
				return false
			}
			continue
		}
		if rf.since.IsZero() {
			return false
		}
		for _, h := range rf.healthy {
			if s := g.startedAt(h); s.IsZero() || !s.Before(rf.since) {
				return false
			}
		}
	}
	return true
}

// revisionCandidates turns the tasks of one revision that fail together,
// while the tasks of an older revision beside them do not, into an
// own-change candidate on their service, which takes their findings;
// cands are the check's candidates by host, from which the failing tasks'
// are removed.
func (r *run) revisionCandidates(cands map[string]*candidate) ([]*candidate, []*finding) {
	var out []*candidate
	var findings []*finding
	for _, hosts := range r.g.peerGroups() {
		if r.g.typeOf(hosts[0]) != TypeECSTask {
			continue
		}
		failing := map[string]bool{}
		for _, h := range hosts {
			if c := cands[h]; c != nil && c.score >= zoneFailScore {
				failing[h] = true
			}
		}
		rf, ok := failingRevision(r.g, hosts, failing)
		if !ok {
			continue
		}
		c := &candidate{cause: CauseOwnChange, resource: rf.service, apart: true, members: rf.failing}
		for _, h := range rf.failing {
			m := cands[h]
			c.score = noisyOr(c.score, m.score)
			c.evidence = appendUnique(c.evidence, m.evidence...)
			delete(cands, h)
		}
		var good []string
		for _, d := range rf.good {
			good = append(good, d.String())
		}
		at, started := r.onset, ""
		if !rf.since.IsZero() {
			at, started = rf.since, fmt.Sprintf(", started from %s on", Clock(rf.since))
		}
		f := &finding{Finding: Finding{
			Kind: FindingMetric, Check: CheckComponent, Resource: rf.service, Time: at,
			Summary: fmt.Sprintf("the tasks of %s that fail since %s (%s) are every task running %s%s, while its tasks running %s show nothing (%s): what the failing ones share is the new revision",
				rf.service, Clock(r.onset), strings.Join(rf.failing, ", "), rf.bad, started, strings.Join(good, " and "), strings.Join(rf.healthy, ", ")),
		}, weight: 0.85}
		findings = append(findings, f)
		c.evidence = appendUnique(c.evidence, f)
		c.actions, c.prevention = revisionActions(r, rf)
		out = append(out, c)
	}
	return out, findings
}

// revisionActions are the moves for a revision whose tasks fail: roll the
// service back to the revision its healthy tasks run.
func revisionActions(r *run, rf revisionFailure) ([]Action, []string) {
	cluster := "<cluster>"
	if res := r.g.byID[rf.service]; res != nil && res.Config["cluster"] != "" {
		cluster = res.Config["cluster"]
	} else if res := r.g.byID[rf.failing[0]]; res != nil && res.Config["cluster"] != "" {
		cluster = res.Config["cluster"]
	}
	name := rf.service
	if res := r.g.byID[rf.service]; res != nil && res.Name != "" {
		name = res.Name
	}
	prev := rf.good[0]
	return []Action{
			{ActionRollback, fmt.Sprintf("Roll %s back to %s, the revision its healthy tasks run: aws ecs update-service --cluster %s --service %s --task-definition %s (its tasks on %s fail: %s)",
				rf.service, prev, cluster, name, prev, rf.bad, strings.Join(rf.failing, ", "))},
		},
		[]string{
			fmt.Sprintf("Turn on the deployment circuit breaker with rollback for %s (deploymentCircuitBreaker enable and rollback), and make the target group's health check exercise the path that failed, so a bad revision rolls back by itself", rf.service),
			fmt.Sprintf("Alarm on %s's errors per task during a deployment (CloudWatch alarms on the deployment), not only on the load balancer total", rf.service),
		}
}

// previousRevision is the revision an ECS service ran before a deploy, as
// its tasks tell: the newest revision of the family below the one the
// deploy set (its taskDefinition parameter, else the newest its tasks
// run), with the command that rolls back to it.
func (r *run) previousRevision(service string, ch Change) (taskDef, string, bool) {
	var defs []taskDef
	for _, t := range r.g.tasksOf(service) {
		if d, ok := r.g.taskDefOf(t); ok {
			defs = append(defs, d)
		}
	}
	if len(defs) == 0 {
		return taskDef{}, "", false
	}
	deployed, ok := parseTaskDef(ch.Params["taskDefinition"])
	if !ok {
		deployed = slices.MaxFunc(defs, func(a, b taskDef) int { return a.revision - b.revision })
	}
	var prev taskDef
	for _, d := range defs {
		if d.family == deployed.family && d.revision < deployed.revision && d.revision > prev.revision {
			prev = d
		}
	}
	if prev.revision == 0 {
		return taskDef{}, "", false
	}
	res := r.g.byID[service]
	cluster, name := or(res.Config["cluster"], "<cluster>"), or(res.Name, service)
	return prev, fmt.Sprintf("aws ecs update-service --cluster %s --service %s --task-definition %s", cluster, name, prev), true
}

// taskActions are the moves for one task failing apart from its peers:
// stop it, and its service starts a fresh one in its place; or take it
// out of its load balancer's target group and keep it to look at.
func taskActions(r *run, task string) []Action {
	svc := r.g.group(task)
	cluster := "<cluster>"
	if res := r.g.byID[task]; res != nil && res.Config["cluster"] != "" {
		cluster = res.Config["cluster"]
	}
	restart := Action{ActionRestart, fmt.Sprintf("Stop task %s (aws ecs stop-task --cluster %s --task %s --reason \"fails apart from its peers\"): %s starts a fresh one in its place", task, cluster, task, or(svc, "its service"))}
	exclude := Action{ActionExclude, fmt.Sprintf("Stop routing work to task %s while its peers carry the load: deregister its address from its target group (aws elbv2 deregister-targets), and keep it to look at", task)}
	var albs []string
	if svc != "" {
		for _, e := range r.g.entriesOf(svc) {
			if r.g.typeOf(e) == TypeALB {
				albs = append(albs, e)
			}
		}
	}
	if len(albs) > 0 {
		exclude.Detail = fmt.Sprintf("Stop routing work to task %s while its peers carry the load: deregister its address from the target group of %s (aws elbv2 deregister-targets), and keep it to look at", task, albs[0])
	}
	return []Action{restart, exclude}
}

// tasksOf are the running tasks of an ECS service that the topology lists.
func (g *graph) tasksOf(service string) []string {
	var out []string
	for _, m := range g.related(service, RelMemberOf, false) {
		if g.typeOf(m) == TypeECSTask {
			out = append(out, m)
		}
	}
	return out
}

// withTasks is ids with the tasks of the ECS services among them.
func (g *graph) withTasks(ids []string) []string {
	out := append([]string(nil), ids...)
	for _, id := range ids {
		if g.typeOf(id) == TypeECS {
			out = append(out, g.tasksOf(id)...)
		}
	}
	return out
}
