package awstelemetry

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	xtypes "github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/unstuck/unstuck/investigate"
)

// Traces aggregates X-Ray's traced requests of a window by edge and
// instance. The service graph gives each edge's requests, faults, errors,
// throttles and latency; the trace summaries split the edges into a
// service by the instance that served them and give the exceptions of
// failed requests; BatchGetTraces reads a few failed traces whose
// summaries carry no exception message. X-Ray nodes are named as the
// topology names them (clients "client"; clients of a service behind a load
// balancer the load balancer).
func (s *Session) Traces(ctx context.Context, q investigate.TraceQuery) (groups []investigate.TraceGroup, err error) {
	defer recoverTo(&err, "xray traces")
	ctx = s.ctx(ctx)
	ix := s.topology(ctx, false)

	var (
		wg       sync.WaitGroup
		services []xtypes.Service
		sums     []xtypes.TraceSummary
		sumErr   error
	)
	sumCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	spawn(&wg, func(err error) { sumErr = err }, func() {
		sums, sumErr = s.traceSummaries(sumCtx, q.Start, q.End)
	})
	services, err = s.serviceGraph(ctx, q.Start, q.End)
	if err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	wg.Wait()
	if sumErr != nil {
		// The graph alone still gives every edge's totals.
		s.addProblems(sumErr)
		sums = nil
	}
	agg := aggregateTraces(ix, services, sums)
	if ids := agg.unexplained(5); len(ids) > 0 {
		out, err := s.c.api.xray.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: ids})
		if err != nil {
			s.addProblems(wrap("xray batch get traces", err))
		} else {
			agg.explain(out.Traces)
		}
	}
	return agg.result(), nil
}

// traceSummaries reads the window's trace summaries, paginated, up to
// Options.MaxTraceSummaries.
func (s *Session) traceSummaries(ctx context.Context, start, end time.Time) ([]xtypes.TraceSummary, error) {
	var sums []xtypes.TraceSummary
	p := xray.NewGetTraceSummariesPaginator(s.c.api.xray, &xray.GetTraceSummariesInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	for p.HasMorePages() && len(sums) < s.c.opts.MaxTraceSummaries {
		out, err := p.NextPage(ctx)
		if err != nil {
			return sums, wrap("xray get trace summaries", err)
		}
		sums = append(sums, out.TraceSummaries...)
	}
	if len(sums) > s.c.opts.MaxTraceSummaries {
		sums = sums[:s.c.opts.MaxTraceSummaries]
	}
	return sums, nil
}

// groupKey is one (edge, instance).
type groupKey struct{ caller, callee, instance string }

type groupAcc struct {
	investigate.TraceGroup
	latencySum time.Duration
	latencyN   int
	exceptions map[string]int
}

type edgeTotals struct {
	caller, callee                      string
	requests, faults, errors, throttles int
	latency                             time.Duration
}

// traceAgg is the aggregation in progress.
type traceAgg struct {
	ix     *topoIndex
	edges  []edgeTotals // from the service graph, in graph order
	groups map[groupKey]*groupAcc
	order  []groupKey
}

// nodeID names an X-Ray node as the topology does.
func (ix *topoIndex) nodeID(name, typ string) string {
	if ix != nil {
		if id, ok := ix.xrayIDs[typ+"|"+name]; ok {
			return id
		}
	}
	id, _ := xrayNode(name, typ)
	return id
}

// caller maps "client" to the load balancer in front of a service.
func (ix *topoIndex) caller(caller, callee string) string {
	if caller == clientID && ix != nil {
		if e := ix.entryOf[callee]; e != "" {
			return e
		}
	}
	return caller
}

func aggregateTraces(ix *topoIndex, services []xtypes.Service, sums []xtypes.TraceSummary) *traceAgg {
	a := &traceAgg{ix: ix, groups: map[groupKey]*groupAcc{}}
	type node struct {
		id  string
		typ investigate.ResourceType
	}
	byRef := map[int32]node{}
	for _, n := range services {
		_, typ := xrayNode(aws.ToString(n.Name), aws.ToString(n.Type))
		byRef[aws.ToInt32(n.ReferenceId)] = node{ix.nodeID(aws.ToString(n.Name), aws.ToString(n.Type)), typ}
	}
	edgeAt := map[[2]string]int{}
	for _, n := range services {
		from := byRef[aws.ToInt32(n.ReferenceId)]
		for _, e := range n.Edges {
			to, ok := byRef[aws.ToInt32(e.ReferenceId)]
			if !ok || to.id == from.id {
				continue
			}
			caller := ix.caller(from.id, to.id)
			k := [2]string{caller, to.id}
			i, ok := edgeAt[k]
			if !ok {
				i = len(a.edges)
				edgeAt[k] = i
				a.edges = append(a.edges, edgeTotals{caller: caller, callee: to.id})
			}
			et := &a.edges[i]
			if st := e.SummaryStatistics; st != nil {
				total := int(aws.ToInt64(st.TotalCount))
				if total > 0 {
					// request-weighted mean of the merged edges
					avg := time.Duration(aws.ToFloat64(st.TotalResponseTime) / float64(total) * float64(time.Second))
					et.latency = time.Duration((float64(et.latency)*float64(et.requests) + float64(avg)*float64(total)) / float64(et.requests+total))
				}
				et.requests += total
				if f := st.FaultStatistics; f != nil {
					et.faults += int(aws.ToInt64(f.TotalCount))
				}
				if es := st.ErrorStatistics; es != nil {
					et.throttles += int(aws.ToInt64(es.ThrottleCount))
					et.errors += int(aws.ToInt64(es.TotalCount) - aws.ToInt64(es.ThrottleCount))
				}
			}
		}
	}
	for _, ts := range sums {
		a.addSummary(ts)
	}
	return a
}

// addSummary charges one traced request to the edges it went through, each
// with the instance that served it where that can be told.
func (a *traceAgg) addSummary(ts xtypes.TraceSummary) {
	in := map[string]bool{} // resource ids in the trace
	for _, sid := range ts.ServiceIds {
		in[a.ix.nodeID(aws.ToString(sid.Name), aws.ToString(sid.Type))] = true
	}
	entry := ""
	if ts.EntryPoint != nil {
		entry = a.ix.nodeID(aws.ToString(ts.EntryPoint.Name), aws.ToString(ts.EntryPoint.Type))
	}
	faultAt, errorAt := rootCauseServices(a.ix, ts)
	instances := summaryInstances(ts)
	services := 0
	for _, sid := range ts.ServiceIds {
		if _, typ := xrayNode(aws.ToString(sid.Name), aws.ToString(sid.Type)); typ == investigate.TypeService {
			services++
		}
	}
	for _, e := range a.edges {
		isEntry := e.callee == entry && e.caller == a.ix.caller(clientID, e.callee)
		if !isEntry && !(in[e.caller] && in[e.callee]) {
			continue
		}
		g := a.group(groupKey{e.caller, e.callee, a.servedBy(e.caller, e.callee, instances, services)})
		g.Requests++
		failed := true
		switch {
		case (isEntry && aws.ToBool(ts.HasFault)) || (!isEntry && faultAt[e.callee]):
			g.Faults++
		case (isEntry && aws.ToBool(ts.HasThrottle)) || (!isEntry && aws.ToBool(ts.HasThrottle) && errorAt[e.callee]):
			g.Throttles++
		case (isEntry && aws.ToBool(ts.HasError)) || (!isEntry && errorAt[e.callee]):
			g.Errors++
		default:
			failed = false
		}
		if isEntry && ts.ResponseTime != nil {
			g.latencySum += time.Duration(*ts.ResponseTime * float64(time.Second))
			g.latencyN++
		}
		if !failed {
			continue
		}
		for _, x := range summaryExceptions(a.ix, ts, e.callee, isEntry) {
			g.exceptions[x]++
		}
		if len(g.TraceIDs) < 3 {
			g.TraceIDs = append(g.TraceIDs, aws.ToString(ts.Id))
		}
	}
}

// servedBy is the host of an edge's requests in one trace: for a call into
// a service, the one instance of the trace that runs it (a function is its
// own host); for a call into an AWS resource or an external dependency,
// the caller's instance, whose segment made the call. "" when it cannot be
// told.
func (a *traceAgg) servedBy(caller, callee string, instances []string, services int) string {
	if a.ix != nil {
		if r, ok := a.ix.byID[callee]; ok && r.Type == investigate.TypeLambda {
			return callee
		}
		hosts := a.ix.runsOn[callee]
		if r, ok := a.ix.byID[callee]; len(hosts) == 0 && ok && r.Type != investigate.TypeService {
			if cr, ok := a.ix.byID[caller]; ok && cr.Type == investigate.TypeLambda {
				return caller
			}
			hosts = a.ix.runsOn[caller]
		}
		if len(hosts) > 0 {
			found := ""
			for _, in := range instances {
				for _, h := range hosts {
					if h == in {
						if found != "" && found != in {
							return ""
						}
						found = in
					}
				}
			}
			return found
		}
	}
	if services == 1 && len(instances) == 1 {
		return instances[0]
	}
	return ""
}

func (a *traceAgg) group(k groupKey) *groupAcc {
	g, ok := a.groups[k]
	if !ok {
		g = &groupAcc{TraceGroup: investigate.TraceGroup{Caller: k.caller, Callee: k.callee, Instance: k.instance}, exceptions: map[string]int{}}
		a.groups[k] = g
		a.order = append(a.order, k)
	}
	return g
}

// rootCauseServices are the resources a trace's faults and errors are
// rooted at.
func rootCauseServices(ix *topoIndex, ts xtypes.TraceSummary) (faults, errs map[string]bool) {
	faults, errs = map[string]bool{}, map[string]bool{}
	for _, rc := range ts.FaultRootCauses {
		for _, s := range rc.Services {
			faults[ix.nodeID(aws.ToString(s.Name), aws.ToString(s.Type))] = true
		}
	}
	for _, rc := range ts.ErrorRootCauses {
		for _, s := range rc.Services {
			errs[ix.nodeID(aws.ToString(s.Name), aws.ToString(s.Type))] = true
		}
	}
	return faults, errs
}

// summaryExceptions are the exception messages of a trace's root causes at
// the callee (every root cause, for the entry edge).
func summaryExceptions(ix *topoIndex, ts xtypes.TraceSummary, callee string, entry bool) []string {
	var out []string
	add := func(name, typ string, path [][]xtypes.RootCauseException) {
		if !entry && ix.nodeID(name, typ) != callee {
			return
		}
		for _, xs := range path {
			for _, x := range xs {
				if m := exceptionText(aws.ToString(x.Name), aws.ToString(x.Message)); m != "" {
					out = append(out, m)
				}
			}
		}
	}
	for _, rc := range ts.FaultRootCauses {
		for _, s := range rc.Services {
			var path [][]xtypes.RootCauseException
			for _, e := range s.EntityPath {
				path = append(path, e.Exceptions)
			}
			add(aws.ToString(s.Name), aws.ToString(s.Type), path)
		}
	}
	for _, rc := range ts.ErrorRootCauses {
		for _, s := range rc.Services {
			var path [][]xtypes.RootCauseException
			for _, e := range s.EntityPath {
				path = append(path, e.Exceptions)
			}
			add(aws.ToString(s.Name), aws.ToString(s.Type), path)
		}
	}
	return out
}

// exceptionText is "Name: message", as the exception reads in a log; a
// message that already starts with the name (or its last dotted part)
// stands alone.
func exceptionText(name, msg string) string {
	msg = strings.TrimSpace(msg)
	short := name[strings.LastIndex(name, ".")+1:]
	switch {
	case msg == "":
		return name
	case name == "" || strings.HasPrefix(msg, name) || strings.HasPrefix(msg, short):
		return msg
	}
	return name + ": " + msg
}

// unexplained are up to n failed traces of groups that have no exception
// message.
func (a *traceAgg) unexplained(n int) []string {
	var ids []string
	for _, k := range a.order {
		g := a.groups[k]
		if g.Faults+g.Errors+g.Throttles == 0 || len(g.exceptions) > 0 {
			continue
		}
		for _, id := range g.TraceIDs {
			if len(ids) < n {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// explain adds the exceptions recorded in whole traces' failed segments to
// the groups that cite those traces.
func (a *traceAgg) explain(traces []xtypes.Trace) {
	byTrace := map[string][]string{}
	for _, tr := range traces {
		for _, seg := range tr.Segments {
			var d segmentDoc
			if json.Unmarshal([]byte(aws.ToString(seg.Document)), &d) == nil {
				byTrace[aws.ToString(tr.Id)] = append(byTrace[aws.ToString(tr.Id)], segmentExceptions(d)...)
			}
		}
	}
	for _, k := range a.order {
		g := a.groups[k]
		if len(g.exceptions) > 0 {
			continue
		}
		for _, id := range g.TraceIDs {
			for _, m := range byTrace[id] {
				g.exceptions[m]++
			}
		}
	}
}

// segmentExceptions are the distinct exception messages of a segment's
// failed parts (an exception recorded on nested subsegments counts once).
func segmentExceptions(d segmentDoc) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(d segmentDoc)
	walk = func(d segmentDoc) {
		if (d.Fault || d.Error || d.Throttle) && len(d.Cause) > 0 && d.Cause[0] == '{' {
			var c segmentCause
			if json.Unmarshal(d.Cause, &c) == nil {
				for _, x := range c.Exceptions {
					if m := exceptionText(x.Type, x.Message); m != "" && !seen[m] {
						seen[m] = true
						out = append(out, m)
					}
				}
			}
		}
		for _, sub := range d.Subs {
			walk(sub)
		}
	}
	walk(d)
	return out
}

// result returns the aggregation: for each edge, its per-instance groups
// from the summaries and, when the graph counted more than the summaries
// (they are capped), a group without instance for the rest; an edge the
// summaries did not split is one group with the graph's counts.
func (a *traceAgg) result() []investigate.TraceGroup {
	var out []investigate.TraceGroup
	for _, e := range a.edges {
		var (
			mine                       []*groupAcc
			req, fault, errs, throttle int
		)
		for _, k := range a.order {
			if k.caller == e.caller && k.callee == e.callee {
				g := a.groups[k]
				mine = append(mine, g)
				req += g.Requests
				fault += g.Faults
				errs += g.Errors
				throttle += g.Throttles
			}
		}
		var rest *groupAcc
		for _, g := range mine {
			if g.Instance == "" {
				rest = g
			}
		}
		if rest == nil && (e.requests > req || len(mine) == 0) {
			rest = &groupAcc{TraceGroup: investigate.TraceGroup{Caller: e.caller, Callee: e.callee}, exceptions: map[string]int{}}
			if a.ix != nil {
				if r, ok := a.ix.byID[e.callee]; ok && r.Type == investigate.TypeLambda {
					rest.Instance = e.callee
				}
			}
			mine = append(mine, rest)
		}
		if rest != nil {
			rest.Requests += max(0, e.requests-req)
			rest.Faults += max(0, e.faults-fault)
			rest.Errors += max(0, e.errors-errs)
			rest.Throttles += max(0, e.throttles-throttle)
		}
		for _, g := range mine {
			tg := g.TraceGroup
			if g.latencyN > 0 {
				tg.Latency = g.latencySum / time.Duration(g.latencyN)
			} else {
				tg.Latency = e.latency
			}
			tg.Exceptions = topExceptions(g.exceptions)
			if tg.Requests == 0 && len(tg.Exceptions) == 0 {
				continue
			}
			out = append(out, tg)
		}
	}
	return out
}

func topExceptions(m map[string]int) []investigate.TraceException {
	out := make([]investigate.TraceException, 0, len(m))
	for msg, n := range m {
		out = append(out, investigate.TraceException{Message: msg, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Message < out[j].Message
	})
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}
