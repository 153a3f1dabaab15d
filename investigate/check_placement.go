package investigate

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// What AWS writes when it could not place a task or launch an instance for
// lack of room: ECS service events, the StatusMessage of a failed Auto
// Scaling activity, the error of a launch CloudTrail recorded. A quota
// refusal says a limit of the account was reached; a capacity refusal
// that there was no room where the group may run (the cluster's
// instances, an instance type in a zone). Either is a limit, and room is
// the move. A refusal for a task's own requirements (an attribute no
// instance has, a placement constraint) is neither: the task asks for
// what cannot be, and more room would not place it.
var (
	quotaRefusal    = regexp.MustCompile(`(?i)reached the limit|exceeded your .{0,80}limit|current .{0,40}limit of \d+ allows|vcpulimitexceeded|instancelimitexceeded|your quota allows for|limitexceeded`)
	capacityRefusal = regexp.MustCompile(`(?i)no container instance met all of its requirements|insufficient (cpu|memory|gpu|ports?|resources?)\b|do(es)? not have sufficient .{0,40}capacity|insufficientinstancecapacity|capacity is unavailable|insufficient capacity|unable to place a task`)
	notRoomRefusal  = regexp.MustCompile(`(?i)missing an attribute|placement constraint|memberof`)
)

// placing matches the records of AWS placing tasks or launching
// instances: ECS service events, Auto Scaling activities, and the launch
// calls CloudTrail records (by the group or the scheduler, or a person).
// Another call refused for a limit (a person's UpdateService over a
// quota of services) is that person's failed call, not a group short of
// room.
var placing = regexp.MustCompile(`^(ServiceEvent|LaunchInstance|ScalingActivity|RunInstances|RunTask|StartTask|CreateFleet|RequestSpotInstances)$`)

// refusalKind says whether AWS's words refuse a placement or launch for a
// quota, for capacity, or not for room at all ("").
func refusalKind(text string) string {
	switch {
	case quotaRefusal.MatchString(text):
		return "quota"
	case notRoomRefusal.MatchString(text):
		return ""
	case capacityRefusal.MatchString(text):
		return "capacity"
	}
	return ""
}

// refusalLookback is how long before the onset a refusal still counts: a
// group that could not grow then may have been short since.
const refusalLookback = 30 * time.Minute

// refusal is what AWS refused one group since a little before the onset.
type refusal struct {
	kind    string // quota or capacity
	first   time.Time
	count   int
	message string
	finding *finding
}

// refusals are the groups in scope that AWS could not place tasks or
// launch instances for, from a little before the onset to now, by id.
// The refusal of a member (an instance's failed launch) is its group's.
func (r *run) refusals(changes []Change) map[string]*refusal {
	out := map[string]*refusal{}
	for _, ch := range changes {
		text := strings.TrimSpace(ch.Message + " " + ch.Error)
		kind := refusalKind(text)
		if kind == "" || !placing.MatchString(ch.Event) || ch.Time.Before(r.onset.Add(-refusalLookback)) || ch.Time.After(r.now) {
			continue
		}
		id := r.resolve(ch.Resource)
		if g := r.groupOf(id, ch); g != "" {
			id = g
		}
		if id == "" {
			continue
		}
		if _, in := r.g.dist[id]; !in {
			continue
		}
		rf, ok := out[id]
		if !ok {
			rf = &refusal{kind: kind, first: ch.Time, message: or(ch.Message, ch.Error)}
			out[id] = rf
		}
		rf.count++
		if kind == "quota" && rf.kind != kind {
			// A quota, when AWS names one, says more than a shortage.
			rf.kind, rf.message = kind, or(ch.Message, ch.Error)
		}
		if ch.Time.Before(rf.first) {
			rf.first = ch.Time
			if refusalKind(rf.message) == kind {
				rf.message = or(ch.Message, ch.Error)
			}
		}
	}
	for id, rf := range out {
		what := "place the tasks"
		if r.g.typeOf(id) == TypeASG || r.g.typeOf(id) == TypeEC2 {
			what = "launch the instances"
		}
		times := ""
		if rf.count > 1 {
			times = fmt.Sprintf(" (%d times since)", rf.count)
		}
		rf.finding = &finding{Finding: Finding{
			Kind: FindingChange, Check: CheckLimits, Resource: id, Time: rf.first,
			Summary: fmt.Sprintf("AWS could not %s %s asks for at %s, %s%s: %q",
				what, id, Clock(rf.first), r.relOnset(rf.first), times, Truncate(rf.message, 300)),
		}, weight: 0.85, words: rf.message}
	}
	return out
}

// refusedRoom adds AWS's refusals to the limits found: a limit already
// found on the group (one that cannot grow, from its metrics; its CPU at
// the top) is the same limit, now with AWS's words for it and the moves
// that give it room, and a hard one: AWS refused work, so it is no busy
// part to restart. A refusal without them (a group whose desired and
// running counts are not published) is a limit of its own. A refusal
// before the onset weighs less the earlier it was.
func (r *run) refusedRoom(ctx context.Context, quotas []Quota, found []*candidate) result {
	var res result
	changes, ok := get(ctx, r, "changes", r.changes)
	if !ok {
		return res
	}
	refused := r.refusals(changes)
	ids := make([]string, 0, len(refused))
	for id := range refused {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rf := refused[id]
		res.findings = append(res.findings, rf.finding)
		score := 0.55
		if rf.first.Before(r.onset.Add(-2 * r.step)) {
			score *= r.alignment(rf.first)
		}
		quota := quotaOn(quotas, id, rf.kind)
		var c *candidate
		for _, g := range found {
			if g.resource != id || g.cause != CauseLimit {
				continue
			}
			if c == nil {
				c = g
				continue
			}
			// The group's other limit (its CPU at the top beside its
			// missing tasks) is one story with this one.
			c.score = noisyOr(c.score, g.score)
			c.evidence = appendUnique(c.evidence, g.evidence...)
			g.score = 0 // checkLimits drops it
		}
		if c == nil {
			c = &candidate{cause: CauseLimit, resource: id}
			res.candidates = append(res.candidates, c)
		}
		c.score = noisyOr(c.score, score)
		c.evidence = append(c.evidence, rf.finding)
		c.busy, c.saturation = false, false
		c.actions, c.prevention = roomActions(r, id, rf, quota)
	}
	return res
}

// quotaOn is the quota a refusal of its kind names on a resource, if
// the quotas read have one.
func quotaOn(quotas []Quota, id, kind string) *Quota {
	if kind != "quota" {
		return nil
	}
	for _, q := range quotas {
		if q.Resource == id {
			return &Quota{Resource: id, Service: q.Service, Code: q.Code, Name: "the " + q.Name, Value: q.Value}
		}
	}
	return nil
}

// roomActions are the moves for a group AWS cannot place or launch for:
// room first, where it can be had now; a quota increase, which takes
// hours to days, second.
func roomActions(r *run, id string, rf *refusal, quota *Quota) ([]Action, []string) {
	limit := "the limit AWS names"
	if quota != nil {
		limit = fmt.Sprintf("%s (now %s)", strings.TrimPrefix(quota.Name, "the "), num(quota.Value))
	}
	ecs := r.g.typeOf(id) == TypeECS
	if rf.kind == "quota" {
		what, others := "place the tasks it asks for", "services"
		if !ecs {
			what, others = "launch the instances it asks for", "instances or groups"
		}
		return []Action{
				{ActionScale, fmt.Sprintf("Free room under %s so %s can %s: scale in the least urgent %s that count against it", limit, id, what, others)},
				{ActionScale, fmt.Sprintf("Request a higher %s through Service Quotas; it can take hours to days", strings.TrimPrefix(limit, "the "))},
			},
			[]string{
				fmt.Sprintf("Alarm on the account's usage at 80%% of %s", strings.TrimPrefix(limit, "the ")),
				fmt.Sprintf("Alarm on %s running fewer than it asks for", id),
			}
	}
	if ecs {
		return []Action{
				{ActionScale, fmt.Sprintf("Give %s room to place its tasks: add container instances to its cluster (raise its capacity provider's Auto Scaling group, and its maximum if it is there), or scale in the least urgent services on the cluster", id)},
			},
			[]string{
				fmt.Sprintf("Let the cluster of %s grow with the tasks asked for (a capacity provider with managed scaling and headroom in its group's maximum)", id),
				fmt.Sprintf("Alarm on %s running fewer tasks than it asks for", id),
			}
	}
	return []Action{
			{ActionScale, fmt.Sprintf("Let %s launch where there is capacity: add instance types (a mixed instances policy) and the other zones' subnets, or On-Demand where it asks for Spot", id)},
		},
		[]string{
			fmt.Sprintf("Spread %s over several instance types and zones so one shortage cannot stop it from growing", id),
			fmt.Sprintf("Alarm on %s in service below its desired capacity", id),
		}
}
