package investigate

import (
	"fmt"
	"strconv"
)

// The limits of an Aurora cluster: its instances' connections and CPU. Its
// writer takes every write; its readers share the reads sent to the reader
// endpoint, and more readers can be added in minutes.

// auroraLimitActions are the first moves for an Aurora cluster at a limit.
func auroraLimitActions(r *run, id string, conf map[string]string) ([]Action, []string) {
	maxConns, _ := strconv.ParseFloat(conf["max_connections"], 64)
	writer := or(conf["writer"], "its writer")
	if r.nearCeiling(id, roleConnections, maxConns) {
		return []Action{
				{ActionScale, fmt.Sprintf("Relieve %s's connections: put RDS Proxy in front of it so its clients share pooled connections, and send the reads to its reader endpoint", id)},
				{ActionScale, fmt.Sprintf("Then raise max_connections in its parameter group (now %s per instance) or move %s to a larger instance class", or(conf["instance_max_connections"], "the default"), writer)},
			},
			[]string{
				fmt.Sprintf("Alarm on %s DatabaseConnections at 80%% of max_connections, per instance", id),
				"Bound each client's connection pool so the sum stays under the cluster's limit",
			}
	}
	return []Action{
			{ActionScale, fmt.Sprintf("Add an Aurora Replica to %s and send the reads to its reader endpoint (or turn on replica auto scaling), so %s keeps its CPU for the writes", id, writer)},
			{ActionScale, fmt.Sprintf("Then move %s to a larger instance class: modify a reader to it and fail over to it, so the writer changes in seconds", writer)},
		},
		[]string{
			fmt.Sprintf("Alarm on the CPU of %s's writer at 80%%, and on its commit latency", id),
			fmt.Sprintf("Run reader auto scaling on %s on the readers' CPU", id),
		}
}

// auroraMemberLimitActions are the first moves for an Aurora DB instance at
// a limit: a writer is relieved by moving reads off it and then by a larger
// class through a failover, a reader by more readers.
func auroraMemberLimitActions(r *run, id string, conf map[string]string) ([]Action, []string) {
	cluster := conf["db_cluster"]
	maxConns, _ := strconv.ParseFloat(conf["max_connections"], 64)
	if r.nearCeiling(id, roleConnections, maxConns) {
		return []Action{
				{ActionScale, fmt.Sprintf("Relieve %s's connections: put RDS Proxy in front of %s, and send reads to the reader endpoint", id, cluster)},
				{ActionScale, fmt.Sprintf("Then raise max_connections (now %s) or %s's instance class (%s)", or(conf["max_connections"], "default"), id, or(conf["instance_class"], "current"))},
			},
			[]string{
				fmt.Sprintf("Alarm on %s DatabaseConnections at 80%% of max_connections", id),
				"Bound each client's connection pool so the sum stays under the database's limit",
			}
	}
	if conf["cluster_role"] == "reader" {
		return []Action{
				{ActionScale, fmt.Sprintf("Add a reader to %s (or turn on replica auto scaling) so the reads spread past %s", cluster, id)},
			},
			[]string{fmt.Sprintf("Run reader auto scaling on %s on the readers' CPU", cluster)}
	}
	return []Action{
			{ActionScale, fmt.Sprintf("Take the reads off %s, %s's writer: send them to the reader endpoint, and add a reader if the readers are busy too", id, cluster)},
			{ActionScale, fmt.Sprintf("Then move %s to a larger instance class (now %s): modify a reader to it and fail over to it (aws rds failover-db-cluster --target-db-instance-identifier), so the switch takes seconds", id, or(conf["instance_class"], "current"))},
		},
		[]string{
			fmt.Sprintf("Alarm on %s's CPU at 80%% and on %s's commit latency", id, cluster),
			fmt.Sprintf("Keep a reader of %s the size of its writer, ready to fail over to", cluster),
		}
}

// auroraDependencyActions are the moves for an Aurora cluster that fails by
// itself: fail it over to a reader.
func auroraDependencyActions(id, caller string, health bool) ([]Action, []string) {
	follow := ""
	if health {
		follow = ", and follow the AWS Health event"
	}
	return []Action{
			{ActionRestart, fmt.Sprintf("Fail %s over to a reader (aws rds failover-db-cluster) and watch its latency%s", id, follow)},
			{ActionExclude, fmt.Sprintf("Meanwhile shed or queue the calls from %s that can wait", caller)},
		},
		[]string{
			fmt.Sprintf("Keep a reader of %s in another zone, the size of its writer, and rehearse the failover", id),
			fmt.Sprintf("Alarm on %s's commit latency and its writer's CPU, not only on the callers' errors", id),
		}
}

// memberLimits lets a DB instance at its limit take the failure of its
// Aurora cluster: the calls to the cluster fail because one of its
// instances (the writer, most often) can take no more.
func (r *run) memberLimits(cands []*candidate) {
	for _, l := range cands {
		if l.cause != CauseLimit || l.change != nil {
			continue
		}
		for _, c := range r.g.related(l.resource, RelMemberOf, true) {
			if r.g.typeOf(c) != TypeAurora {
				continue
			}
			for _, d := range cands {
				if d.resource == c && d.cause == CauseDependency && d.change == nil {
					l.takeFrom(d, 0.8, 0.5)
				}
			}
		}
	}
}
