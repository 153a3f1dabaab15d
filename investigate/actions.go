package investigate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The first actions and prevention steps, concrete for the resource's type.
// Every action is proposed; the bot never executes one.

func componentActions(r *run, host string, exhausted bool) ([]Action, []string) {
	entries := r.g.entriesOf(host)
	group := r.g.group(host)
	var exclude, restart Action
	switch {
	case len(entries) > 0:
		exclude = Action{ActionExclude, fmt.Sprintf("Deregister %s from the target group of %s so its peers take its traffic", host, entries[0])}
	case r.g.typeOf(host) == TypeEC2:
		exclude = Action{ActionExclude, fmt.Sprintf("Take %s out of service (stop sending it work) while its peers carry the load", host)}
	default:
		exclude = Action{ActionExclude, fmt.Sprintf("Stop routing work to %s while its peers carry the load", host)}
	}
	switch {
	case group != "":
		restart = Action{ActionRestart, fmt.Sprintf("Replace %s: set it unhealthy in %s (aws autoscaling set-instance-health --health-status Unhealthy) so a fresh instance takes its place", host, group)}
	default:
		restart = Action{ActionRestart, fmt.Sprintf("Restart the application on %s (or reboot it) and watch its errors", host)}
	}
	actions := []Action{exclude, restart}
	if exhausted {
		actions = []Action{restart, exclude}
	}
	if r.g.typeOf(host) == TypeECSTask {
		// A task is replaced by stopping it: its service starts another.
		actions = taskActions(r, host)
	}
	prevention := []string{
		"Make the load balancer's health check exercise the path that failed (a deep health check), so a failing instance leaves rotation by itself",
		fmt.Sprintf("Alarm on errors per instance (logs or traces by %s), not only on the load balancer total", dimFor(r.g.typeOf(host))),
	}
	if exhausted {
		prevention = append(prevention, "Alarm on memory and disk per instance at 80%, and find what grows (a leak, unrotated logs)")
	}
	return actions, prevention
}

// busyActions are the moves for a part whose CPU is pinned or memory full
// while its traffic is not up: something in it burns the CPU or holds the
// memory.
func busyActions(r *run, id string) ([]Action, []string) {
	actions, _ := componentActions(r, id, true)
	return actions, []string{
		fmt.Sprintf("Profile what burns %s's CPU or holds its memory (a continuous profiler, or a heap or thread dump before the restart) and fix it", id),
		fmt.Sprintf("Alarm on %s's CPU and memory against its own traffic, and make its health check fail when it stops answering in time", id),
	}
}

// unknownClientActions are the moves for load on a resource that its known
// callers did not send.
func unknownClientActions(r *run, id string) ([]Action, []string) {
	return []Action{
			{ActionBlock, fmt.Sprintf("Find who sends %s the extra load (CloudTrail data events, Contributor Insights, access logs by caller) and throttle or stop it", id)},
			{ActionScale, fmt.Sprintf("If the load is legitimate, give %s the capacity for it", id)},
		},
		[]string{
			fmt.Sprintf("Give every client of %s its own budget (per-client rate limits, a separate table or replica for batch work)", id),
			fmt.Sprintf("Alarm on %s's load per caller, not only on its errors", id),
		}
}

// unitActions are the moves for the part behind the alarm when it fails by
// itself: nothing it depends on, no limit, no single host and no change
// explains it.
func unitActions(r *run, id string) ([]Action, []string) {
	what := id
	switch r.g.typeOf(id) {
	case TypeLambda:
		what = "the function " + id + " (publish the last good version to its alias if its code or configuration changed)"
	case TypeECS, TypeService:
		what = id + "'s tasks or instances, one at a time,"
	}
	return []Action{
			{ActionRestart, fmt.Sprintf("Restart %s and watch whether it recovers; if it was deployed recently, roll it back instead", what)},
			{ActionExclude, fmt.Sprintf("If only part of %s fails, take that part out of rotation", id)},
		},
		[]string{
			fmt.Sprintf("Give %s a health check that exercises the path that failed, so a stuck process is replaced by itself", id),
			fmt.Sprintf("Alarm on %s's own errors and latency, not only on the entry in front of it", id),
		}
}

func dimFor(typ ResourceType) string {
	switch typ {
	case TypeEC2:
		return "instance"
	case TypeECS, TypeECSTask:
		return "task"
	case TypeLambda:
		return "function"
	}
	return "host"
}

// dependencyActions are the moves for a failing dependency. refused says
// its calls are refused (access denied, a disabled key): failing over to
// a replica or another Region under the same policy or key would not help,
// so the move is to shed what can wait and restore the access.
func dependencyActions(ctx context.Context, r *run, dep string, health, refused bool) ([]Action, []string) {
	rs := r.g.byID[dep]
	// Its callers call it directly, or through the entries in front of it.
	callers := r.g.related(dep, RelCalls, false)
	for _, e := range r.g.entriesOf(dep) {
		callers = append(callers, r.g.related(e, RelCalls, false)...)
	}
	slices.Sort(callers)
	callers = slices.Compact(callers)
	caller := "its callers"
	if len(callers) > 0 {
		caller = strings.Join(callers, ", ")
	}
	if refused && r.g.typeOf(dep) != TypeExternal {
		return []Action{
				{ActionExclude, fmt.Sprintf("Shed or queue the calls from %s to %s that can wait: they are refused, and a replica or another Region under the same policy or key would refuse them too", caller, dep)},
				{ActionRollback, fmt.Sprintf("Find what took the access away (a change to %s's resource policy, the callers' IAM role or its KMS key, in CloudTrail) and restore it", dep)},
			},
			[]string{
				fmt.Sprintf("Review changes to %s's policies, the roles that call it and its key before they are applied", dep),
				fmt.Sprintf("Alarm on %s's access-denied errors from its callers' side", dep),
			}
	}
	switch r.g.typeOf(dep) {
	case TypeExternal:
		url := ""
		if rs != nil && rs.URL != "" {
			url = " (" + rs.URL + ")"
		}
		return []Action{{ActionExclude, fmt.Sprintf("Fail away from %s%s: open the circuit breaker in %s, serve a degraded response or switch to the fallback provider", dep, url, caller)}},
			[]string{
				fmt.Sprintf("Give the calls from %s to %s a timeout, retries with backoff and a circuit breaker", caller, dep),
				fmt.Sprintf("Subscribe to %s's status page and alarm on its error rate from the caller's side", dep),
			}
	case TypeRDS:
		if !health && !r.isReplica(ctx, dep) {
			// A database of the team's own that misbehaves by itself (slow
			// storage, a stuck engine) has a standby to fail over to; a
			// replica that lags is taken out of the read path instead.
			return []Action{
					{ActionRestart, fmt.Sprintf("Fail %s over to its standby (reboot with failover), or restart it if it has none, and watch its latency", dep)},
					{ActionExclude, fmt.Sprintf("Meanwhile shed or queue the calls from %s that can wait", caller)},
				},
				[]string{
					fmt.Sprintf("Run %s Multi-AZ and rehearse the failover", dep),
					fmt.Sprintf("Alarm on %s's read and write latency and its disk queue, not only on the callers' errors", dep),
				}
		}
		if src := r.g.related(dep, RelReplicaOf, true); len(src) > 0 && !health {
			// A replica whose source is known: the reads go there.
			return []Action{{ActionExclude, fmt.Sprintf("Take %s out of the read path: send the reads of %s to its source %s (or another replica) until it catches up", dep, caller, src[0])}},
				[]string{
					fmt.Sprintf("Alarm on %s's ReplicaLag, and let its readers fall back to %s when it lags", dep, src[0]),
					fmt.Sprintf("Size %s to apply %s's write load (instance class, parallel replication)", dep, src[0]),
				}
		}
		fallthrough
	case TypeDynamoDB, TypeSQS:
		follow := ""
		if health {
			follow = ", and follow the AWS Health event"
		}
		return []Action{{ActionExclude, fmt.Sprintf("Fail away from %s: shed or queue the calls from %s, fail over to a replica or another Region if one is set up%s", dep, caller, follow)}},
			[]string{
				fmt.Sprintf("Plan a failover for %s (global table, read replica, Multi-AZ) and rehearse it", dep),
				"Subscribe the team to AWS Health events for the account (EventBridge rule to the incident channel)",
			}
	case TypeElastiCache:
		follow := ""
		if health {
			follow = ", and follow the AWS Health event"
		}
		return cacheDependencyActions(dep, caller, follow)
	case TypeAurora:
		return auroraDependencyActions(dep, caller, health)
	case TypeService:
		return []Action{{ActionExclude, fmt.Sprintf("Fail away from %s: turn off the feature that needs it in %s, or route to a healthy version of it", dep, caller)}},
			[]string{fmt.Sprintf("Give the calls from %s to %s a timeout and a circuit breaker, and alarm on that edge's fault rate", caller, dep)}
	}
	return []Action{{ActionExclude, fmt.Sprintf("Fail away from %s: stop sending it work from %s until it recovers", dep, caller)}},
		[]string{fmt.Sprintf("Add a timeout and a circuit breaker to the calls to %s", dep)}
}

func limitActions(r *run, id string, quota *Quota) ([]Action, []string) {
	if actions, prevention, ok := infraLimitActions(r, id); ok {
		return actions, prevention
	}
	rs := r.g.byID[id]
	conf := map[string]string{}
	if rs != nil {
		conf = rs.Config
	}
	switch r.g.typeOf(id) {
	case TypeLambda:
		actions := []Action{{ActionScale, fmt.Sprintf("Raise the concurrency available to %s", id)}}
		switch {
		case conf["reserved_concurrency"] != "":
			actions[0].Detail = fmt.Sprintf("Raise the reserved concurrency of %s (now %s): aws lambda put-function-concurrency", id, conf["reserved_concurrency"])
		case quota != nil:
			// An increase takes hours to days: relief comes first.
			actions = []Action{
				{ActionScale, fmt.Sprintf("Reserve concurrency for %s (aws lambda put-function-concurrency) so other functions cannot starve it under %s (now %s), and hold back the least urgent functions' bursts", id, strings.TrimPrefix(quota.Name, "the "), num(quota.Value))},
				{ActionScale, fmt.Sprintf("Request a higher %s (now %s) through Service Quotas; it can take hours to days", strings.TrimPrefix(quota.Name, "the "), num(quota.Value))},
			}
		}
		return actions,
			[]string{
				fmt.Sprintf("Alarm on %s ConcurrentExecutions at 80%% of its limit", id),
				"Put a queue or API throttling in front of bursts so they are absorbed instead of throttled",
			}
	case TypeDynamoDB:
		return []Action{{ActionScale, fmt.Sprintf("Raise the provisioned capacity of %s (now %s RCU / %s WCU) or switch it to on-demand", id, or(conf["rcu"], "?"), or(conf["wcu"], "?"))}},
			[]string{fmt.Sprintf("Enable auto scaling on %s with a target of 70%%, and alarm on its throttle events", id)}
	case TypeRDS:
		return []Action{{ActionScale, fmt.Sprintf("Relieve %s: raise max_connections (now %s) or the instance class (%s), and put RDS Proxy or a pool in front of it", id, or(conf["max_connections"], "default"), or(conf["instance_class"], "current"))}},
			[]string{
				fmt.Sprintf("Alarm on %s DatabaseConnections at 80%% of max_connections", id),
				"Bound each client's connection pool so the sum stays under the database's limit",
			}
	case TypeEC2:
		if strings.HasPrefix(conf["instance_type"], "t") {
			return []Action{{ActionScale, fmt.Sprintf("Give %s CPU: switch its credit specification to unlimited, or move it to a fixed-performance type (m5/c5)", id)}},
				[]string{fmt.Sprintf("Alarm on %s CPUCreditBalance before it reaches zero; size burstable instances for the sustained load", id)}
		}
		return []Action{{ActionScale, fmt.Sprintf("Add capacity next to %s (raise the Auto Scaling group's desired count) or move it to a larger type", id)}},
			[]string{fmt.Sprintf("Alarm on %s's saturation (CPU, memory, disk at 80%%)", id)}
	case TypeECS:
		if quota != nil {
			// An increase takes hours to days: relief comes first.
			return []Action{
					{ActionScale, fmt.Sprintf("Free capacity under %s (now %s) so %s can place the tasks it asks for: scale in the least urgent services", strings.TrimPrefix(quota.Name, "the "), num(quota.Value), id)},
					{ActionScale, fmt.Sprintf("Request a higher %s (now %s) through Service Quotas; it can take hours to days", strings.TrimPrefix(quota.Name, "the "), num(quota.Value))},
				},
				[]string{fmt.Sprintf("Alarm on the account's usage at 80%% of %s", strings.TrimPrefix(quota.Name, "the "))}
		}
		return []Action{{ActionScale, fmt.Sprintf("Raise the desired task count of %s, or its task's CPU and memory", id)}},
			[]string{fmt.Sprintf("Target-track %s on CPU and memory at 60–70%%", id)}
	}
	return []Action{{ActionScale, fmt.Sprintf("Raise the limit %s runs into, or add capacity behind it", id)}},
		[]string{fmt.Sprintf("Alarm on %s's usage at 80%% of its limit", id)}
}

func changeActions(r *run, cause Cause, resource string, ch Change) ([]Action, []string) {
	who := actorName(ch.Actor)
	if cause == CauseSystemChange {
		if group := r.g.byID[resource]; group != nil && group.Type == TypeASG && reclaimed(ch) {
			return []Action{{ActionScale, fmt.Sprintf("Restore the capacity of %s: AWS took instances away (%s at %s); let it launch replacements in other instance types, zones or On-Demand (a mixed instances policy), and raise its desired count meanwhile", resource, ch.Event, Clock(ch.Time))}},
				[]string{
					fmt.Sprintf("Spread %s over several instance types and zones, with Capacity Rebalancing for its Spot instances", resource),
					fmt.Sprintf("Keep enough headroom in %s that losing its largest Spot pool does not overload the rest", resource),
				}
		}
		if group := r.g.byID[resource]; group != nil && group.Type == TypeASG || strings.Contains(ch.Source, "autoscaling") {
			return []Action{{ActionScale, fmt.Sprintf("Restore the capacity of %s: raise its desired count back, and suspend the scaling action that removed it (%s at %s)", resource, ch.Event, Clock(ch.Time))}},
				[]string{
					fmt.Sprintf("Review %s's scaling policies and schedules against the traffic at that hour", resource),
					"Scale in on a metric that reflects load with a cooldown, not on a fixed schedule",
				}
		}
		if r.g.typeOf(resource) == TypeRDS && dbMoved(ch) {
			// After a failover or a restart the database answers at its
			// new primary, cold; clients that keep pooled connections or
			// a cached address of the old one fail until they reconnect.
			callers := r.g.related(resource, RelCalls, false)
			who := "the services that connect to " + resource
			if len(callers) > 0 {
				who = strings.Join(callers, ", ")
			}
			// A change the system made is scaled for (the method's
			// first move); the reconnecting follows at once.
			return []Action{
					{ActionScale, fmt.Sprintf("Give %s room while it settles on its new primary after %s at %s (a larger class, or shed the heaviest reads), and watch its connections come back", resource, ch.Event, Clock(ch.Time))},
					{ActionRestart, fmt.Sprintf("Recycle the database connections of %s (restart them one at a time): their pooled connections or cached DNS may still point at %s's old primary", who, resource)},
				},
				[]string{
					"Keep DNS caching short in the clients (a JVM's networkaddress.cache.ttl of a few seconds) and make their pools validate connections, so a failover heals itself",
					fmt.Sprintf("Put RDS Proxy in front of %s: it holds the clients' connections across a failover", resource),
				}
		}
		return []Action{{ActionScale, fmt.Sprintf("Add capacity to absorb what AWS changed on %s (%s at %s)", resource, ch.Event, Clock(ch.Time))}},
			[]string{fmt.Sprintf("Subscribe to AWS Health and scheduled events for %s", resource)}
	}
	var step string
	switch {
	case strings.Contains(ch.Event, "FunctionCode"):
		step = fmt.Sprintf("Roll %s back to the previous version: point its alias at the last good version, or redeploy the previous build", resource)
	case strings.Contains(ch.Event, "UpdateService"), strings.Contains(ch.Event, "Deployment"):
		step = fmt.Sprintf("Roll back %s to its previous task definition or release (the deploy by %s at %s)", resource, who, Clock(ch.Time))
		if prev, cmd, ok := r.previousRevision(resource, ch); ok {
			// Its tasks say which revision ran before (tasks.go).
			step = fmt.Sprintf("Roll %s back to %s, the revision before the deploy by %s at %s: %s", resource, prev, who, Clock(ch.Time), cmd)
		}
	case strings.Contains(ch.Event, "Concurrency"):
		step = fmt.Sprintf("Restore %s's concurrency setting as it was before %s by %s at %s", resource, ch.Event, who, Clock(ch.Time))
	case strings.Contains(ch.Event, "Policy"):
		step = fmt.Sprintf("Revert the policy on %s to the version before %s by %s at %s", resource, ch.Event, who, Clock(ch.Time))
	case strings.HasPrefix(ch.Event, "Revoke"), strings.HasPrefix(ch.Event, "Authorize"):
		step = fmt.Sprintf("Restore the rules of %s as they were before %s by %s at %s", resource, ch.Event, who, Clock(ch.Time))
	case strings.HasPrefix(ch.Event, "Disable"), strings.HasPrefix(ch.Event, "ScheduleKeyDeletion"):
		step = fmt.Sprintf("Re-enable %s (undo %s by %s at %s)", resource, ch.Event, who, Clock(ch.Time))
	default:
		step = fmt.Sprintf("Undo %s on %s by %s at %s: restore the previous value", ch.Event, resource, who, Clock(ch.Time))
	}
	prevention := []string{
		fmt.Sprintf("Ship changes to %s through a pipeline with a canary and automatic rollback on this alarm", resource),
		"Review changes to shared resources (policies, keys, security groups, limits) before they are applied, and announce them in the ops channel",
	}
	if changeActor(ch) == actorPerson {
		prevention = append(prevention, fmt.Sprintf("Make %s a change under code review (infrastructure as code) rather than a console or CLI edit", ch.Event))
	}
	return []Action{{ActionRollback, step}}, prevention
}

func trafficActions(r *run, entry string, mix bool, what string) ([]Action, []string) {
	if mix {
		return []Action{
				{ActionBlock, fmt.Sprintf("Block or rate-limit the new traffic at %s (a WAF rate-based rule on the client or path that surged)", entry)},
				{ActionScale, fmt.Sprintf("If the traffic is legitimate, add capacity behind %s", entry)},
			},
			[]string{
				fmt.Sprintf("Put a rate-based WAF rule or per-client throttling on %s", entry),
				"Alarm on a change in request mix (requests per client or path), not only on totals",
			}
	}
	return []Action{{ActionScale, fmt.Sprintf("Add capacity behind %s for the higher traffic", entry)}},
		[]string{fmt.Sprintf("Scale %s's targets on request count per target, ahead of the limits", entry)}
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// isReplica reports whether a database is a replica of another: the
// topology says so, or it reports a replica lag.
func (r *run) isReplica(ctx context.Context, id string) bool {
	if len(r.g.related(id, RelReplicaOf, true)) > 0 {
		return true
	}
	for _, spec := range catalog[r.g.typeOf(id)] {
		if spec.Role == roleLag {
			if _, ok := r.series(ctx, id, spec); ok {
				return true
			}
		}
	}
	return false
}

// dbMovedRE matches what says a database moved to another host or
// restarted: a failover, a reboot, a recovery, maintenance applied.
var dbMovedRE = regexp.MustCompile(`(?i)failover|fail over|reboot|restart|recover|maintenance|patching`)

// dbMoved reports whether an AWS action on a database moved it or
// restarted it.
func dbMoved(ch Change) bool {
	return dbMovedRE.MatchString(ch.Event + " " + ch.Message)
}
