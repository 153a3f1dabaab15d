package awstelemetry

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Topology finds the resources around an alarm: from the alarm's resource
// through the load balancer's target groups and targets, the instances and
// their Auto Scaling groups, functions and their event sources, ECS
// services, databases and tables, API Gateway integrations, X-Ray's
// service graph for the application services and what they call, and what
// shares the application tags of the alarm's resource (its CloudFormation
// stack, or its app, application or service tag: see widenBySameApp),
// related to it by investigate.RelSameApp.
//
// A part that cannot be read (X-Ray denied, one describe throttled) is left
// out: the topology comes back with what was found, and the session's
// Problems list the parts that failed. Only a failure to describe anything
// at all is an error.
func (s *Session) Topology(ctx context.Context, alarm investigate.Alarm) (t investigate.Topology, err error) {
	defer recoverTo(&err, "topology")
	done := s.beginTopology()
	defer close(done)
	ctx = s.ctx(ctx)

	b := newTopoBuilder(s)
	b.account = alarm.Account
	rootID, rootType := resourceFromDims(alarm.Metric.Dims)
	if alarm.Resource != "" && alarm.Resource != rootID {
		// The alarm names its resource otherwise (a metric-math alarm's
		// other metric): describe what the id tells.
		rootID, rootType = alarm.Resource, typeFromID(alarm.Resource)
		b.wantFromDims(rootType, rootID, map[string]string{"LoadBalancer": rootID})
	} else {
		b.wantFromDims(rootType, rootID, alarm.Metric.Dims)
	}

	// X-Ray's graph needs only the window, so it runs beside the describes.
	win := topologyWindow(alarm, s.c.opts.Now())
	var xg *xrayGraph
	var xerr error
	var wg sync.WaitGroup
	spawn(&wg, func(err error) { xerr = err }, func() {
		xg, xerr = s.readXRayGraph(ctx, win.start, win.end)
	})
	b.expand(ctx)
	wg.Wait()
	if xerr != nil {
		b.errs.add(xerr)
	} else if xg != nil {
		b.addXRay(ctx, xg)
		b.expand(ctx)
	}
	// Last, what shares the alarm's resource's application tags and
	// nothing above found.
	b.widenBySameApp(ctx, rootID)
	b.expand(ctx)
	t = b.topology()
	errs := b.errs.list()
	s.setTopology(b.index(t))
	s.addProblems(errs...)
	if len(t.Resources) == 0 && len(errs) > 0 {
		return t, &PartialError{What: "topology", Errs: errs}
	}
	return t, nil
}

type window struct{ start, end time.Time }

// typeFromID guesses a resource's type from the shape of its id.
func typeFromID(id string) investigate.ResourceType {
	switch {
	case strings.HasPrefix(id, "i-"):
		return investigate.TypeEC2
	case strings.HasPrefix(id, "nat-"):
		return investigate.TypeNATGateway
	case strings.HasPrefix(id, "vol-"):
		return investigate.TypeEBS
	case strings.HasPrefix(id, "arn:") && strings.Contains(id, ":function:"):
		return investigate.TypeLambda
	}
	return ""
}

// topologyWindow is the window whose traffic X-Ray's service graph shows:
// the hour before the alarm last went into ALARM and a little after.
func topologyWindow(a investigate.Alarm, now time.Time) window {
	fired := time.Time{}
	for _, h := range a.History {
		if h.To == "ALARM" {
			fired = h.Time
		}
	}
	if fired.IsZero() || fired.After(now) {
		return window{now.Add(-time.Hour), now}
	}
	end := fired.Add(10 * time.Minute)
	if end.After(now) {
		end = now
	}
	return window{fired.Add(-time.Hour), end}
}

// topoBuilder collects resources and relations; the describers add to it
// concurrently and ask for more resources to describe.
type topoBuilder struct {
	s    *Session
	errs errorList

	mu       sync.Mutex
	res      map[string]*investigate.Resource
	order    []string
	rels     map[investigate.Relation]bool
	relOrder []investigate.Relation
	// wants are resources to describe, by type, and done those described.
	wants map[investigate.ResourceType]map[string]bool
	done  map[string]bool
	// what later sources need
	runsOn      map[string]map[string]bool
	ecsServices []ecsServiceInfo
	entryOfSvc  map[string]string
	xrayIDs     map[string]string // X-Ray node "type|name" → resource id
	// account is the alarm's account, for the ARNs the describers build.
	account string
}

func newTopoBuilder(s *Session) *topoBuilder {
	return &topoBuilder{
		s:          s,
		res:        map[string]*investigate.Resource{},
		rels:       map[investigate.Relation]bool{},
		wants:      map[investigate.ResourceType]map[string]bool{},
		done:       map[string]bool{},
		runsOn:     map[string]map[string]bool{},
		entryOfSvc: map[string]string{},
		xrayIDs:    map[string]string{},
	}
}

// add merges a resource into the topology: fields already set stay, maps
// are merged.
func (b *topoBuilder) add(r investigate.Resource) {
	if r.ID == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.res[r.ID]
	if !ok {
		c := r
		b.res[r.ID] = &c
		b.order = append(b.order, r.ID)
		return
	}
	if cur.Type == "" || (cur.Type == investigate.TypeOther && r.Type != "") {
		cur.Type = r.Type
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&cur.Name, r.Name}, {&cur.ARN, r.ARN}, {&cur.AZ, r.AZ}, {&cur.LogGroup, r.LogGroup}, {&cur.URL, r.URL},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	cur.Tags = mergeMap(cur.Tags, r.Tags)
	cur.Dims = mergeMap(cur.Dims, r.Dims)
	cur.Config = mergeMap(cur.Config, r.Config)
}

func mergeMap(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		if _, ok := dst[k]; !ok && v != "" {
			dst[k] = v
		}
	}
	return dst
}

func (b *topoBuilder) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.res[id]
	return ok
}

func (b *topoBuilder) relate(from, to, kind string) {
	if from == "" || to == "" || from == to {
		return
	}
	r := investigate.Relation{From: from, To: to, Kind: kind}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.rels[r] {
		b.rels[r] = true
		b.relOrder = append(b.relOrder, r)
	}
	if kind == investigate.RelRunsOn {
		if b.runsOn[from] == nil {
			b.runsOn[from] = map[string]bool{}
		}
		b.runsOn[from][to] = true
	}
}

// want asks for a resource to be described.
func (b *topoBuilder) want(typ investigate.ResourceType, id string) {
	if id == "" || typ == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done[string(typ)+"|"+id] {
		return
	}
	if b.wants[typ] == nil {
		b.wants[typ] = map[string]bool{}
	}
	b.wants[typ][id] = true
}

// wantFromDims asks for the alarm's resource. Types without a describer
// are added from their dimensions.
func (b *topoBuilder) wantFromDims(typ investigate.ResourceType, id string, dims map[string]string) {
	switch typ {
	case investigate.TypeALB:
		b.want(typ, dims["LoadBalancer"])
	case investigate.TypeECS:
		b.want(typ, dims["ClusterName"]+"/"+dims["ServiceName"])
	case investigate.TypeSQS:
		b.add(sqsResource(id, b.s.c.region, ""))
	case investigate.TypeStepFunctions:
		// Described by its ARN, the one dimension AWS/States has.
		b.want(typ, dims["StateMachineArn"])
	case "":
		if id != "" {
			b.add(investigate.Resource{ID: id, Type: investigate.TypeOther, Dims: dims})
		}
	default:
		b.want(typ, id)
	}
}

// takeWants returns and clears the resources to describe.
func (b *topoBuilder) takeWants() map[investigate.ResourceType][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[investigate.ResourceType][]string{}
	for typ, ids := range b.wants {
		for id := range ids {
			if !b.done[string(typ)+"|"+id] {
				b.done[string(typ)+"|"+id] = true
				out[typ] = append(out[typ], id)
			}
		}
	}
	b.wants = map[investigate.ResourceType]map[string]bool{}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

// Caps keep one investigation's describes bounded.
const (
	maxDescribedPerType = 25
	maxExpandRounds     = 4
)

// expand describes what is wanted, round after round, each round's types
// concurrently, until nothing new is wanted.
func (b *topoBuilder) expand(ctx context.Context) {
	for round := 0; round < maxExpandRounds; round++ {
		wants := b.takeWants()
		if len(wants) == 0 {
			return
		}
		var wg sync.WaitGroup
		for typ, ids := range wants {
			if len(ids) > maxDescribedPerType && typ != investigate.TypeEC2 {
				ids = ids[:maxDescribedPerType]
			}
			fn := b.describer(typ)
			if fn == nil {
				continue
			}
			spawn(&wg, b.errs.add, func() {
				fn(ctx, ids)
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			b.errs.add(wrap("topology", ctx.Err()))
			return
		}
	}
}

func (b *topoBuilder) describer(typ investigate.ResourceType) func(context.Context, []string) {
	switch typ {
	case investigate.TypeALB:
		return b.describeLoadBalancers
	case investigate.TypeEC2:
		return b.describeInstances
	case investigate.TypeASG:
		return b.describeGroups
	case investigate.TypeLambda:
		return b.describeFunctions
	case investigate.TypeDynamoDB:
		return b.describeTables
	case investigate.TypeRDS:
		return b.describeDBInstances
	case investigate.TypeECS:
		return b.describeECSServices
	case investigate.TypeAPIGateway:
		return b.describeRestAPIs
	case investigate.TypeNATGateway:
		return b.describeNatGateways
	case investigate.TypeEBS:
		return b.describeVolumes
	case investigate.TypeElastiCache:
		return b.describeCacheClusters
	case investigate.TypeAurora:
		return b.describeDBClusters
	case investigate.TypeSNS:
		return b.describeTopics
	case investigate.TypeStepFunctions:
		return b.describeStateMachines
	}
	return nil
}

// topology returns the result: resources in discovery order (the alarm's
// first), relations whose ends both exist.
func (b *topoBuilder) topology() investigate.Topology {
	b.mu.Lock()
	defer b.mu.Unlock()
	var t investigate.Topology
	for _, id := range b.order {
		t.Resources = append(t.Resources, *b.res[id])
	}
	for _, r := range b.relOrder {
		_, okF := b.res[r.From]
		_, okT := b.res[r.To]
		if okF && okT {
			t.Relations = append(t.Relations, r)
		}
	}
	return t
}

// topoIndex is what a session remembers of its topology for the sources
// that run after it.
type topoIndex struct {
	byID map[string]investigate.Resource
	// runsOn are the hosts of each service.
	runsOn map[string][]string
	// entryOf is the entry resource (a load balancer) in front of a service
	// that X-Ray sees called by clients.
	entryOf map[string]string
	// xrayIDs maps X-Ray nodes ("type|name") to resource ids.
	xrayIDs     map[string]string
	ecsServices []ecsServiceInfo
}

func (b *topoBuilder) index(t investigate.Topology) *topoIndex {
	b.mu.Lock()
	defer b.mu.Unlock()
	ix := &topoIndex{
		byID:        map[string]investigate.Resource{},
		runsOn:      map[string][]string{},
		entryOf:     map[string]string{},
		xrayIDs:     map[string]string{},
		ecsServices: append([]ecsServiceInfo(nil), b.ecsServices...),
	}
	for _, r := range t.Resources {
		ix.byID[r.ID] = r
	}
	for svc, hosts := range b.runsOn {
		ix.runsOn[svc] = slices.Sorted(maps.Keys(hosts))
	}
	for k, v := range b.entryOfSvc {
		ix.entryOf[k] = v
	}
	for k, v := range b.xrayIDs {
		ix.xrayIDs[k] = v
	}
	return ix
}

func (ix *topoIndex) ofType(typ investigate.ResourceType) []string {
	if ix == nil {
		return nil
	}
	var ids []string
	for id, r := range ix.byID {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// beginTopology marks a topology read under way, so that sources which
// use its result (changes) can wait for it.
func (s *Session) beginTopology() chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	s.topoDone = ch
	s.mu.Unlock()
	return ch
}

func (s *Session) setTopology(ix *topoIndex) {
	s.mu.Lock()
	s.topo = ix
	s.mu.Unlock()
}

// topology returns the session's topology index, waiting (within ctx) for
// one being read; nil when there is none.
func (s *Session) topology(ctx context.Context, wait bool) *topoIndex {
	s.mu.Lock()
	done := s.topoDone
	s.mu.Unlock()
	if wait && done != nil {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topo
}

// Problems are the parts that sources returning partial results could not
// read (for logs and diagnostics; the engine sees whole-source failures).
func (s *Session) Problems() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.problems...)
}

func (s *Session) problem(err error) { s.addProblems(err) }

func (s *Session) addProblems(errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range errs {
		if e != nil {
			s.problems = append(s.problems, e)
		}
	}
}
