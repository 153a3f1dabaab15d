package investigate

import (
	"fmt"
	"slices"
	"strconv"
)

// The limits of an ElastiCache cluster: its memory (past it, keys are
// evicted), its connections (maxclients, which cannot be raised) and its
// engine's one core.

// readSeries is a resource's metric as the run already read it; false when
// the metrics are not read yet, failed, or have no datapoints of it. It
// never waits: the first actions are written once the checks have read
// the metrics.
func (r *run) readSeries(id string, spec metricSpec) (Series, bool) {
	if r.metrics == nil {
		return Series{}, false
	}
	select {
	case <-r.metrics.done:
		if r.metrics.err != nil {
			return Series{}, false
		}
		s, ok := r.metrics.val[metricKey(id, spec)]
		return s, ok && len(s.Values) > 0
	default:
		return Series{}, false
	}
}

// nearCeiling reports whether a resource's metric of a role peaked since
// the onset at 90% or more of limit.
func (r *run) nearCeiling(id string, ro role, limit float64) bool {
	for _, spec := range catalog[r.g.typeOf(id)] {
		if spec.Role != ro || limit <= 0 {
			continue
		}
		if s, ok := r.readSeries(id, spec); ok && r.shiftOf(s, spec).peak >= 0.9*limit {
			return true
		}
	}
	return false
}

// cacheLimitActions are the first moves for an ElastiCache cluster at a
// limit: the one it reached — its connections, its engine's CPU, or else
// its memory — with the relief that works within minutes first.
func cacheLimitActions(r *run, id string, conf map[string]string) ([]Action, []string) {
	node := or(conf["node_type"], "its current one")
	if mem := conf["memory_gib"]; mem != "" {
		node += ", " + mem + " GiB"
	}
	maxConns, _ := strconv.ParseFloat(conf["max_connections"], 64)
	switch {
	case r.nearCeiling(id, roleConnections, maxConns):
		return []Action{
				{ActionScale, fmt.Sprintf("Spread the connections to %s over more nodes: add replicas and send reads to the reader endpoint, or add shards; its maxclients (%s) cannot be raised", id, or(conf["max_connections"], "65000"))},
				{ActionScale, fmt.Sprintf("Meanwhile make its clients hold fewer connections: bound their pools, and close idle ones (a lower timeout in %s's parameter group)", id)},
			},
			[]string{
				fmt.Sprintf("Alarm on %s CurrConnections at 80%% of its maxclients", id),
				"Size every client's connection pool so the sum over all hosts stays well under the cache's maxclients",
			}
	case r.nearCeiling(id, roleUtilisation, 100) && !r.nearCeiling(id, roleMemory, 100):
		return []Action{
				{ActionScale, fmt.Sprintf("Spread %s's commands: add shards (or replicas for reads), or scale it up to a node type with faster cores (now %s)", id, node)},
				{ActionScale, "Meanwhile find the commands that burn its engine CPU (SLOWLOG GET: KEYS, large sets, long scripts) and stop the client that sends them"},
			},
			[]string{
				fmt.Sprintf("Alarm on %s EngineCPUUtilization at 80%%: the engine runs its commands on one core", id),
				"Keep commands that walk many keys (KEYS, SMEMBERS of large sets, long scripts) off the cache's hot path",
			}
	}
	return []Action{
			{ActionScale, fmt.Sprintf("Give %s more memory: scale it up to a larger node type (now %s; aws elasticache modify-replication-group --cache-node-type ... --apply-immediately) or add shards (online resharding)", id, node)},
			{ActionScale, fmt.Sprintf("Meanwhile cut what %s holds: shorten the TTLs of the keys that grew, and delete those the application can rebuild", id)},
		},
		[]string{
			fmt.Sprintf("Alarm on %s DatabaseMemoryUsagePercentage at 80%% and on Evictions above 0", id),
			"Give every key a TTL, and an eviction policy that fits a cache (allkeys-lru) where keys may go",
		}
}

// cacheDependencyActions are the moves for an ElastiCache cluster that
// fails by itself (a failed node, AWS impairing it).
func cacheDependencyActions(id, caller, follow string) ([]Action, []string) {
	return []Action{
			{ActionExclude, fmt.Sprintf("Fail away from %s: have %s read from the source of truth and skip the cache where it can, and fail over to a replica (aws elasticache test-failover) if the primary is the one failing%s", id, caller, follow)},
		},
		[]string{
			fmt.Sprintf("Run %s with replicas in other zones and automatic failover (Multi-AZ), and rehearse a failover", id),
			fmt.Sprintf("Give the calls from %s to %s a short timeout and a fallback that skips the cache", caller, id),
		}
}

// cacheFallbacks lets an ElastiCache cluster at its limit take the failures
// of what its callers fall back to: a cache that evicts misses, and each
// miss is a read of the source of truth, so the database its callers also
// call slows down or fails because of the cache. It applies when the cache
// evicted from before the onset.
func (r *run) cacheFallbacks(cands []*candidate) {
	for _, l := range cands {
		if l.cause != CauseLimit || r.g.typeOf(l.resource) != TypeElastiCache || !r.evictedByOnset(l) {
			continue
		}
		callers := r.g.related(l.resource, RelCalls, false)
		for _, d := range cands {
			if d == l || d.change != nil || d.resource == l.resource || !(d.cause == CauseDependency || d.cause == CauseLimit) {
				continue
			}
			switch r.g.typeOf(d.resource) {
			case TypeExternal, TypeService, TypeElastiCache:
				// not a source of truth the cache stands for
				continue
			}
			for _, c := range callers {
				if slices.Contains(r.g.callees(c), d.resource) {
					l.takeFrom(d, 0.8, 0.5)
					break
				}
			}
		}
	}
}

// evictedByOnset reports whether a candidate rests on evictions that began
// by the onset.
func (r *run) evictedByOnset(c *candidate) bool {
	for _, f := range c.evidence {
		if f.spec.Role == roleLimitHit && !f.Time.After(r.onset.Add(2*r.step)) {
			return true
		}
	}
	return false
}
