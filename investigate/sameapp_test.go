package investigate

import (
	"slices"
	"testing"
)

// TestSameAppIsNoDependency: a resource that only shares the alarm's
// resource's tags (RelSameApp) is in scope, weighed as distant, and no walk
// from the alarm's resource follows the relation: it is neither a
// dependency nor a dependent, nor reached by the alarm's requests, nor
// part of the alarm's unit. Take the RelSameApp checks out of neighbours or
// downstream and this fails.
func TestSameAppIsNoDependency(t *testing.T) {
	topo := Topology{
		Resources: []Resource{
			{ID: "web-alb", Type: TypeALB},
			{ID: "i-1", Type: TypeEC2},
			{ID: "i-2", Type: TypeEC2},
			{ID: "sessions", Type: TypeDynamoDB},
			{ID: "worker", Type: TypeLambda},
		},
		Relations: []Relation{
			{From: "web-alb", To: "i-1", Kind: RelTargets},
			{From: "web-alb", To: "i-2", Kind: RelTargets},
			{From: "web-alb", To: "sessions", Kind: RelSameApp},
			{From: "web-alb", To: "worker", Kind: RelSameApp},
			{From: "i-1", To: "worker", Kind: RelSameApp},
		},
	}
	g := newGraph(topo, "web-alb")
	for _, id := range []string{"sessions", "worker"} {
		if !g.has(id) {
			t.Errorf("%s is out of scope; a resource of the same app is in it", id)
		}
		if d := g.distance(id); d != -1 {
			t.Errorf("distance(%s) = %d, want -1 (connected only by a shared tag)", id, d)
		}
		if p := g.proximity(id); p != 0.6 {
			t.Errorf("proximity(%s) = %v, want that of an unconnected resource", id, p)
		}
		if slices.Contains(g.dependents(id), "web-alb") || slices.Contains(g.dependents(id), "i-1") {
			t.Errorf("dependents(%s) = %v", id, g.dependents(id))
		}
		if g.downstream("web-alb")[id] {
			t.Errorf("the alarm's requests reach %s through a shared tag", id)
		}
		if g.alarmUnit()[id] {
			t.Errorf("%s is in the alarm's unit", id)
		}
	}
	if deps := g.dependencies("web-alb"); !slices.Equal(deps, []string{"i-1", "i-2"}) {
		t.Errorf("dependencies(web-alb) = %v, want its targets only", deps)
	}
	if deps := g.dependencies("i-1"); len(deps) != 0 {
		t.Errorf("dependencies(i-1) = %v", deps)
	}
	if d := g.distance("i-1"); d != 1 {
		t.Errorf("distance(i-1) = %d", d)
	}
	if peers := g.peerGroups(); len(peers) != 1 || !slices.Equal(peers[0], []string{"i-1", "i-2"}) {
		t.Errorf("peer groups = %v", peers)
	}
}
