package investigate

import (
	"maps"
	"slices"
	"sort"
)

// maxScopeDistance is how many relations away from the alarm's resource a
// resource may be and still be in scope.
const maxScopeDistance = 8

// graph indexes a topology for the walks the checks make.
type graph struct {
	byID map[string]*Resource
	out  map[string][]Relation // by From
	in   map[string][]Relation // by To
	// dist is the number of relations between a resource and the alarm's
	// resource; resources not connected to it are absent.
	dist map[string]int
	// far are the resources the topology returned that no relation connects
	// to the alarm's resource (a queue's consumer, where the source knows no
	// event source mapping; what only shares its tags, RelSameApp): still
	// in scope, weighed as distant.
	far  []string
	root string
	// below and above hold each resource's dependencies and dependents,
	// computed once: the walks ask for them many times, from several
	// checks at once.
	below, above map[string][]string
	// peers are the peer groups, computed once with the scope.
	peers [][]string
	// reach holds, for each resource a change can act through by the
	// relations that carry no requests, what it reaches (see reachOf).
	reach map[string]map[string]hop
}

// hop is how a change to one resource reaches another: the first
// relation of the path, from the changed resource to Next.
type hop struct {
	Kind string
	Next string
}

func newGraph(t Topology, root string) *graph {
	g := &graph{
		byID: map[string]*Resource{},
		out:  map[string][]Relation{},
		in:   map[string][]Relation{},
		dist: map[string]int{},
		root: root,
	}
	for i := range t.Resources {
		g.byID[t.Resources[i].ID] = &t.Resources[i]
	}
	for _, r := range t.Relations {
		// A relation may name something the source did not describe (an
		// X-Ray remote node): it is still a node of the graph.
		for _, id := range []string{r.From, r.To} {
			if _, ok := g.byID[id]; !ok {
				g.byID[id] = &Resource{ID: id, Type: TypeOther}
			}
		}
		g.out[r.From] = append(g.out[r.From], r)
		g.in[r.To] = append(g.in[r.To], r)
	}
	g.below, g.above = map[string][]string{}, map[string][]string{}
	for id := range g.byID {
		g.below[id] = g.dependenciesOf(id)
		g.above[id] = g.dependentsOf(id)
	}
	g.reach = map[string]map[string]hop{}
	for id := range g.byID {
		if rs := g.reachOf(id); len(rs) > 0 {
			g.reach[id] = rs
		}
	}
	if _, ok := g.byID[root]; !ok {
		return g
	}
	g.dist[root] = 0
	queue := []string{root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if g.dist[id] >= maxScopeDistance {
			continue
		}
		for _, n := range g.neighbours(id) {
			if _, seen := g.dist[n]; !seen {
				g.dist[n] = g.dist[id] + 1
				queue = append(queue, n)
			}
		}
	}
	for _, r := range t.Resources {
		if _, ok := g.dist[r.ID]; !ok && catalog[r.Type] != nil {
			g.far = append(g.far, r.ID)
		}
	}
	sort.Strings(g.far)
	g.peers = g.findPeerGroups()
	return g
}

// neighbours are the resources one relation away from id, but for
// RelSameApp: sharing a tag says nothing of how close two resources are.
// From a security group, key, parameter or role the walk does not go on to
// the other resources it serves.
func (g *graph) neighbours(id string) []string {
	var ns []string
	for _, r := range g.out[id] {
		if r.Kind != RelSameApp && !servesFrom(r.Kind) {
			ns = append(ns, r.To)
		}
	}
	for _, r := range g.in[id] {
		if r.Kind != RelSameApp {
			ns = append(ns, r.From)
		}
	}
	return ns
}

// has reports whether a resource is in scope, near or far.
func (g *graph) has(id string) bool {
	if _, ok := g.dist[id]; ok {
		return true
	}
	for _, f := range g.far {
		if f == id {
			return true
		}
	}
	return false
}

// inScope returns the ids of the resources connected to the alarm's
// resource, nearest first, then by id, and then the far ones.
func (g *graph) inScope() []string {
	ids := make([]string, 0, len(g.dist))
	for id := range g.dist {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if g.dist[ids[i]] != g.dist[ids[j]] {
			return g.dist[ids[i]] < g.dist[ids[j]]
		}
		return ids[i] < ids[j]
	})
	return append(ids, g.far...)
}

// proximity weighs a hypothesis about a resource by how close it is to the
// alarm's resource: what is connected to it explains it better than what
// merely exists in the account.
func (g *graph) proximity(id string) float64 {
	switch d := g.distance(id); {
	case d < 0:
		return 0.6
	case d <= 3:
		return 1
	default:
		return 0.85
	}
}

func (g *graph) related(id, kind string, outgoing bool) []string {
	rels := g.in[id]
	if outgoing {
		rels = g.out[id]
	}
	var ids []string
	for _, r := range rels {
		if r.Kind != kind {
			continue
		}
		if outgoing {
			ids = append(ids, r.To)
		} else {
			ids = append(ids, r.From)
		}
	}
	sort.Strings(ids)
	return ids
}

// hosts are the instances, tasks or functions a service runs on.
func (g *graph) hosts(service string) []string { return g.related(service, RelRunsOn, true) }

// servicesOn are the services running on a host.
func (g *graph) servicesOn(host string) []string { return g.related(host, RelRunsOn, false) }

// targets are what an entry resource sends traffic to.
func (g *graph) targets(entry string) []string { return g.related(entry, RelTargets, true) }

// entriesOf are the entry resources that target a host.
func (g *graph) entriesOf(host string) []string { return g.related(host, RelTargets, false) }

// callees are what a service calls.
func (g *graph) callees(service string) []string { return g.related(service, RelCalls, true) }

// group is the Auto Scaling group of an instance, or the ECS service of a
// task, if any (not the Aurora cluster a database instance is a member
// of: see clusterOf).
func (g *graph) group(instance string) string {
	for _, x := range g.related(instance, RelMemberOf, true) {
		if g.typeOf(x) != TypeAurora {
			return x
		}
	}
	return ""
}

func (g *graph) typeOf(id string) ResourceType {
	if r, ok := g.byID[id]; ok {
		return r.Type
	}
	return ""
}

// distance is the number of relations from the alarm's resource, or -1 when
// the resource is not connected to it.
func (g *graph) distance(id string) int {
	if d, ok := g.dist[id]; ok {
		return d
	}
	return -1
}

// downstream is the set of resources an entry's traffic reaches: its
// targets, the services on them and their hosts, what those call.
func (g *graph) downstream(entry string) map[string]bool {
	seen := map[string]bool{entry: true}
	queue := []string{entry}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		var next []string
		for _, r := range g.out[id] {
			if r.Kind != RelSameApp && !carriesNoRequests(r.Kind) {
				next = append(next, r.To) // targets, calls, runs-on
			}
		}
		next = append(next, g.servicesOn(id)...)
		next = append(next, g.related(id, RelMemberOf, false)...) // a group's members
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}

// reachOf is what a change to id can break through the relations that
// carry no requests: what a security group is attached to, what a key
// encrypts, what reads a parameter, what assumes a role, the replicas of
// a database changed; and on through them (a key that encrypts a parameter
// reaches what reads the parameter). A host reached brings the services
// running on it, a service reached the hosts it runs on (but not the
// other hosts of a service reached through one of them). Each resource
// reached comes with the first relation of its path.
func (g *graph) reachOf(id string) map[string]hop {
	next := func(x string) []hop {
		var out []hop
		for _, r := range g.out[x] {
			if servesFrom(r.Kind) {
				out = append(out, hop{r.Kind, r.To})
			}
		}
		// A change to a database reaches its replicas; what reaches the
		// database (its security group) is not the replicas' own.
		for _, r := range g.in[x] {
			if r.Kind == RelReplicaOf && x == id {
				out = append(out, hop{RelReplicaOf, r.From})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Next < out[j].Next })
		return out
	}
	out := map[string]hop{}
	var queue []string
	for _, h := range next(id) {
		if _, seen := out[h.Next]; !seen && h.Next != id {
			out[h.Next] = h
			queue = append(queue, h.Next)
		}
	}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, h := range next(x) {
			if _, seen := out[h.Next]; !seen && h.Next != id {
				out[h.Next] = out[x]
				queue = append(queue, h.Next)
			}
		}
	}
	for _, x := range slices.Sorted(maps.Keys(out)) {
		for _, n := range append(g.servicesOn(x), g.hosts(x)...) {
			if _, seen := out[n]; !seen && n != id {
				out[n] = out[x]
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// reaches reports whether a change to changed can break id through the
// relations that carry no requests, and by which first relation.
func (g *graph) reaches(changed, id string) (hop, bool) {
	h, ok := g.reach[changed][id]
	return h, ok
}

// peerGroups are the sets of hosts that do the same work: the targets of an
// entry resource, the hosts of a service, the members of an Auto Scaling
// group, the tasks of an ECS service. Only groups of two or more in scope
// count.
func (g *graph) peerGroups() [][]string { return g.peers }

func (g *graph) findPeerGroups() [][]string {
	seen := map[string]bool{}
	var groups [][]string
	add := func(ids []string) {
		var in []string
		for _, id := range ids {
			if g.has(id) {
				in = append(in, id)
			}
		}
		if len(in) < 2 {
			return
		}
		key := ""
		for _, id := range in {
			key += id + ","
		}
		if !seen[key] {
			seen[key] = true
			groups = append(groups, in)
		}
	}
	for _, id := range g.inScope() {
		switch g.typeOf(id) {
		case TypeALB:
			// A target group's targets do the same work; an API's
			// integrations serve different routes, and are no peers.
			add(g.targets(id))
		case TypeService:
			add(g.hosts(id))
		case TypeASG, TypeECS:
			// A group's instances, a service's tasks.
			add(g.related(id, RelMemberOf, false))
		}
	}
	return groups
}

// logGroups are the log groups of the resources in scope, each with the
// resource whose logs it holds.
func (g *graph) logGroups() map[string]string {
	groups := map[string]string{}
	for _, id := range g.inScope() {
		r := g.byID[id]
		if r.LogGroup == "" {
			continue
		}
		// A service's view of its logs wins over its host's.
		if owner, ok := groups[r.LogGroup]; ok && g.typeOf(owner) == TypeService {
			continue
		}
		groups[r.LogGroup] = id
	}
	return groups
}

// serviceOfGroup is the service that writes a log group: the owner itself, or
// the service running on the owning host.
func (g *graph) serviceOfGroup(owner string) string {
	if g.typeOf(owner) == TypeService {
		return owner
	}
	if s := g.servicesOn(owner); len(s) > 0 {
		return s[0]
	}
	return owner
}

// dependencies are what a resource's work depends on: what it targets, runs
// on, calls or uses (its volume, its NAT gateway), a group's members, and the services on a host with what they
// call (a function's duration includes the table it waits on).
func (g *graph) dependencies(id string) []string { return g.below[id] }

func (g *graph) dependenciesOf(id string) []string {
	var out []string
	for _, rel := range g.out[id] {
		if rel.Kind == RelTargets || rel.Kind == RelRunsOn || rel.Kind == RelCalls || rel.Kind == RelUses {
			out = append(out, rel.To)
		}
	}
	out = append(out, g.related(id, RelMemberOf, false)...)
	for _, svc := range g.servicesOn(id) {
		out = append(out, svc)
		out = append(out, g.callees(svc)...)
	}
	return others(out, id)
}

// dependents are the resources whose work depends on id: the inverse of
// dependencies.
func (g *graph) dependents(id string) []string { return g.above[id] }

func (g *graph) dependentsOf(id string) []string {
	var out []string
	for _, rel := range g.in[id] {
		switch rel.Kind {
		case RelTargets, RelRunsOn, RelUses:
			out = append(out, rel.From)
		case RelCalls:
			out = append(out, rel.From)
			out = append(out, g.hosts(rel.From)...)
		}
	}
	return others(out, id)
}

// samePart reports whether two resources are one part of the system: a
// service and a host it runs on.
func (g *graph) samePart(a, b string) bool {
	return slices.Contains(g.hosts(a), b) || slices.Contains(g.hosts(b), a)
}

// others sorts ids, without repeats and without id itself.
func others(ids []string, id string) []string {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return slices.DeleteFunc(ids, func(x string) bool { return x == id })
}

// alarmUnit is the part of the system behind the alarm itself: its resource
// and what serves its requests — targets, the hosts and groups they run on,
// the services on those hosts — but not what those services call.
func (g *graph) alarmUnit() map[string]bool {
	unit := map[string]bool{g.root: true}
	queue := []string{g.root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		var next []string
		for _, rel := range g.out[id] {
			if rel.Kind == RelTargets || rel.Kind == RelRunsOn {
				next = append(next, rel.To)
			}
		}
		next = append(next, g.related(id, RelMemberOf, false)...)
		next = append(next, g.servicesOn(id)...)
		for _, n := range next {
			if !unit[n] {
				unit[n] = true
				queue = append(queue, n)
			}
		}
	}
	return unit
}

// label is how a resource reads in a sentence: its id, and its name where
// that differs.
func (g *graph) label(id string) string {
	r, ok := g.byID[id]
	if !ok || r.Name == "" || r.Name == id {
		return id
	}
	return id + " (" + r.Name + ")"
}
