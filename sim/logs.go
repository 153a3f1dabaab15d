package sim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Logs. A log group is a list of sources; a source writes one kind of line
// (one template) to one log stream at a rate that may vary by the minute.
// Lines are never materialised: the count in each minute is drawn from a
// hash (Poisson around rate × the active part of the minute), and the lines
// of a minute are spread evenly over its active part, so that any window,
// even one that cuts a minute, gets a count consistent with every other.

type logSource struct {
	key     uint64
	stream  string
	text    string
	pattern string
	sample  string
	// rate is lines per minute at t when the source is active.
	rate func(t time.Time) float64
	// win, when set, is when the source writes (a log item's window).
	win *scenario.Window
}

type logGroup struct {
	name    string
	sources []*logSource
}

var placeholders = strings.NewReplacer("{n}", "<*>", "{id}", "<*>", "{ip}", "<*>", "{ms}", "<*>", "{uuid}", "<*>")

// fill replaces each placeholder of text with a value drawn from h.
func fill(text string, h uint64) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(text, '{')
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		rest := text[i:]
		h = mix64(h + 1)
		switch {
		case strings.HasPrefix(rest, "{n}"):
			b.WriteString(strconv.FormatUint(1+h%9999, 10))
			text = rest[3:]
		case strings.HasPrefix(rest, "{id}"):
			b.WriteString(hex(h, 16))
			text = rest[4:]
		case strings.HasPrefix(rest, "{ip}"):
			fmt.Fprintf(&b, "10.%d.%d.%d", h%256, (h>>8)%256, 1+(h>>16)%254)
			text = rest[4:]
		case strings.HasPrefix(rest, "{ms}"):
			b.WriteString(strconv.FormatUint(3+h%400, 10))
			text = rest[4:]
		case strings.HasPrefix(rest, "{uuid}"):
			b.WriteString(uuid(h, mix64(h)))
			text = rest[6:]
		default:
			b.WriteByte('{')
			text = rest[1:]
		}
	}
}

// place is where a service's lines go: a host's log stream and its share of
// the host's traffic.
type place struct {
	host   *node
	stream string
	share  float64
	// win, when set, is when the stream is written: a task's from its
	// start on, the task it replaced's until then.
	win *scenario.Window
}

// places are the log streams of host h: an instance's, a function's, an
// ecs service's tasks', or one task's (tasks.go).
func (m *Sim) places(h *node) []place {
	switch {
	case h.svc != nil:
		return []place{{host: h.svc, stream: taskStream(h), share: 1, win: taskWindow(h)}}
	case len(h.listed) > 0:
		return m.taskPlaces(h)
	}
	streams := h.streams
	if len(streams) == 0 {
		streams = []string{h.name}
	}
	out := make([]place, len(streams))
	for i, s := range streams {
		out[i] = place{host: h, stream: s, share: 1 / float64(len(streams))}
	}
	return out
}

func (m *Sim) addSource(group string, src *logSource) {
	g, ok := m.groups[group]
	if !ok {
		g = &logGroup{name: group}
		m.groups[group] = g
		m.groupNames = append(m.groupNames, group)
	}
	g.sources = append(g.sources, src)
}

func (m *Sim) newSource(stream, text string, rate func(time.Time) float64, parts ...string) *logSource {
	k := m.key(append([]string{"log", stream, text}, parts...)...)
	return &logSource{key: k, stream: stream, text: text, pattern: placeholders.Replace(text), sample: fill(text, k), rate: rate}
}

// apiPaths are a service's request paths and their shares of its traffic.
func (m *Sim) apiPaths(id string) []struct {
	line  string
	share float64
} {
	pool := []string{
		"GET /v1/%s 200", "GET /v1/%s/items 200", "POST /v1/%s 201", "GET /v1/%s/search 200",
		"PUT /v1/%s/settings 200", "GET /v1/%s/status 200", "POST /v1/%s/events 202",
	}
	k := m.key("paths", id)
	start := int(k % uint64(len(pool)))
	shares := []float64{0.45, 0.25, 0.2, 0.1}
	out := make([]struct {
		line  string
		share float64
	}, len(shares))
	for i, s := range shares {
		out[i].line = fmt.Sprintf(pool[(start+i*3)%len(pool)], id)
		out[i].share = s
	}
	return out
}

// serviceSources are the healthy lines a service (or a function or ECS
// service with no service on it, named by id) writes at place p, given its
// requests per second there.
func (m *Sim) serviceSources(id string, calls []*node, p place, rps func(time.Time) float64, healthChecked bool) []*logSource {
	rpm := func(t time.Time) float64 { return rps(t) * 60 }
	var out []*logSource
	for _, path := range m.apiPaths(id) {
		share := path.share
		out = append(out, m.newSource(p.stream, "INFO request {id} "+path.line+" {ms}ms", func(t time.Time) float64 { return share * rpm(t) }, id))
	}
	if healthChecked {
		out = append(out, m.newSource(p.stream, "INFO request {id} GET /health 200 {ms}ms", func(time.Time) float64 { return 2 }, id))
	}
	out = append(out,
		m.newSource(p.stream, "WARN client closed connection before response was sent", func(t time.Time) float64 { return 0.1*p.share + 0.0004*rpm(t) }, id),
		m.newSource(p.stream, "ERROR upstream request timed out after {ms}ms, retrying (attempt 1/3)", func(t time.Time) float64 { return 0.02*p.share + 0.0002*rpm(t) }, id),
	)
	for i, c := range calls {
		if i == 2 {
			break
		}
		out = append(out, m.newSource(p.stream, "WARN slow response from "+c.r.ID+": {ms}ms", func(t time.Time) float64 { return 0.03*p.share + 0.0003*rpm(t) }, id))
	}
	return out
}

// platformSources are the lines Lambda writes for every invocation.
func (m *Sim) platformSources(f *node, p place, rps func(time.Time) float64) []*logSource {
	rpm := func(t time.Time) float64 { return rps(t) * 60 }
	mem := f.memory()
	used := int(float64(mem) * (0.25 + 0.2*unit(m.key("memused", f.r.ID))))
	return []*logSource{
		m.newSource(p.stream, "START RequestId: {uuid} Version: $LATEST", rpm),
		m.newSource(p.stream, "END RequestId: {uuid}", rpm),
		m.newSource(p.stream, fmt.Sprintf("REPORT RequestId: {uuid}\tDuration: {ms} ms\tBilled Duration: {ms} ms\tMemory Size: %d MB\tMax Memory Used: %d MB", mem, used), rpm),
	}
}

func (m *Sim) buildLogs() {
	m.groups = map[string]*logGroup{}
	checked := map[*node]bool{} // hosts an ALB health-checks
	for _, e := range m.nodes {
		if e.r.Type != investigate.TypeALB {
			continue
		}
		for _, t := range e.targets {
			checked[t] = true
			for _, mb := range t.members {
				checked[mb] = true
			}
		}
	}
	// pseudo is the stream of a service with no host.
	pseudo := func(id string) place { return place{stream: id + "/" + hex(m.key("stream", id), 16), share: 1} }
	placesOf := map[*node][]place{}
	for _, n := range m.nodes {
		switch {
		case n.r.Type == investigate.TypeService:
			var ps []place
			for _, h := range n.hosts {
				for _, p := range m.places(h) {
					ps = append(ps, p)
					v := n.onHost[h]
					share := p.share
					rps := func(t time.Time) float64 { return share * m.traffic(v, t) }
					srcs := m.serviceSources(n.r.ID, n.calls, p, rps, checked[h] && h.is(investigate.TypeEC2, investigate.TypeECS))
					for _, src := range srcs {
						src.win = p.win
						m.addSource(n.logGroup, src)
						if g := h.hostGroup(); g != "" && g != n.logGroup {
							m.addSource(g, src)
						}
					}
					if h.r.Type == investigate.TypeLambda {
						for _, src := range m.platformSources(h, p, rps) {
							m.addSource(h.hostGroup(), src)
						}
					}
				}
			}
			if len(n.hosts) == 0 {
				p := pseudo(n.r.ID)
				ps = append(ps, p)
				v := n.flow
				for _, src := range m.serviceSources(n.r.ID, n.calls, p, func(t time.Time) float64 { return m.traffic(v, t) }, false) {
					m.addSource(n.logGroup, src)
				}
			}
			placesOf[n] = ps
		case n.is(investigate.TypeLambda, investigate.TypeECS) && len(n.services) == 0:
			v := n.flow
			for _, p := range m.places(n) {
				share := p.share
				rps := func(t time.Time) float64 { return share * m.traffic(v, t) }
				for _, src := range m.serviceSources(n.r.ID, nil, p, rps, checked[n] && n.r.Type == investigate.TypeECS) {
					src.win = p.win
					m.addSource(n.hostGroup(), src)
				}
				if n.r.Type == investigate.TypeLambda {
					for _, src := range m.platformSources(n, p, rps) {
						m.addSource(n.hostGroup(), src)
					}
				}
			}
		}
	}

	for i := range m.sc.Logs {
		it := &m.sc.Logs[i]
		svc := m.byID[it.Service]
		if svc != nil && svc.r.Type != investigate.TypeService {
			svc = nil
		}
		group := it.Group
		if group == "" && svc != nil {
			group = svc.logGroup
		}
		if group == "" {
			continue
		}
		var ps []place
		switch {
		case it.Zone != "":
			// Every host of the service in the zone writes the lines.
			for _, h := range m.nodes {
				if svc != nil && !slices.Contains(svc.hosts, h) && (h.svc == nil || !slices.Contains(svc.hosts, h.svc)) {
					continue
				}
				switch {
				case h.svc != nil && h.r.AZ == it.Zone:
					ps = append(ps, m.places(h)...) // a listed task there
				case h.isHost() && len(h.listed) == 0 && h.r.AZ == it.Zone:
					ps = append(ps, m.places(h)...)
				}
			}
		case it.On != "":
			if h, ok := m.byID[it.On]; ok {
				ps = m.places(h)
			} else {
				ps = []place{{stream: it.On, share: 1}}
				for _, n := range m.nodes { // a task id names its stream
					for _, s := range n.streams {
						if s == it.On || strings.HasSuffix(s, "/"+it.On) {
							ps = []place{{host: n, stream: s, share: 1}}
						}
					}
				}
			}
		case svc != nil:
			for _, p := range placesOf[svc] {
				if p.host != nil {
					p.share /= float64(len(svc.hosts))
				}
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			ps = []place{pseudo(group)}
		}
		// The text is the line as written: the level is the author's to put
		// in it (most do), never prefixed by the simulator.
		text := it.Text
		for _, p := range ps {
			rate := it.PerMin * p.share
			src := m.newSource(p.stream, text, func(time.Time) float64 { return rate }, "item", strconv.Itoa(i))
			src.win = clip(it.Window, p.win)
			m.addSource(group, src)
			if svc != nil && group == svc.logGroup && p.host != nil {
				if g := p.host.hostGroup(); g != "" && g != group {
					m.addSource(g, src)
				}
			}
		}
	}
	sort.Strings(m.groupNames)
}

// linesIn is how many lines src writes in minute mm that fall in [lo, hi).
func (m *Sim) linesIn(src *logSource, mm, lo, hiT time.Time) int {
	pa, pb := mm, mm.Add(time.Minute)
	if s := m.sc.Start(); pa.Before(s) {
		pa = s
	}
	if e := m.sc.End(); pb.After(e) {
		pb = e
	}
	ramp := 1.0
	if w := src.win; w != nil {
		if !w.At.IsZero() && pa.Before(w.At) {
			pa = w.At
		}
		if !w.Until.IsZero() && pb.After(w.Until) {
			pb = w.Until
		}
		if pa.Before(pb) {
			ramp = rampAt(*w, pa.Add(pb.Sub(pa)/2))
		}
	}
	if !pa.Before(pb) {
		return 0
	}
	span := pb.Sub(pa)
	lambda := src.rate(mm) * ramp * float64(span) / float64(time.Minute)
	n := poisson(lambda, hi(src.key, mm.Unix()))
	if n == 0 {
		return 0
	}
	if !pa.Before(lo) && !pb.After(hiT) {
		return n
	}
	// Line j is at pa + (j+0.5)/n * span.
	idx := func(t time.Time) int {
		if !t.After(pa) {
			return 0
		}
		if !t.Before(pb) {
			return n
		}
		j := int(math.Ceil(float64(n)*float64(t.Sub(pa))/float64(span) - 0.5))
		return max(0, min(n, j))
	}
	return max(0, idx(hiT)-idx(lo))
}

// Logs summarises one log group's lines in [q.Start, q.End): how many lines,
// by stream, and the most frequent patterns.
func (m *Sim) Logs(ctx context.Context, q investigate.LogQuery) (investigate.LogStats, error) {
	if err := m.call(ctx, KindLogs); err != nil {
		return investigate.LogStats{}, err
	}
	g, ok := m.groups[q.Group]
	if !ok {
		return investigate.LogStats{}, &investigate.NotFoundError{Kind: "log group", Name: q.Group, Candidates: investigate.ClosestNames(q.Group, m.groupNames, 3)}
	}
	stats := investigate.LogStats{Group: q.Group, ByStream: map[string]int{}}
	lo, hiT, ok := m.clip(q.Start, q.End)
	if !ok {
		return stats, nil
	}
	type agg struct{ p investigate.LogPattern }
	pats := map[string]*agg{}
	for _, src := range g.sources {
		total := 0
		for mm := lo.Truncate(time.Minute); mm.Before(hiT); mm = mm.Add(time.Minute) {
			total += m.linesIn(src, mm, lo, hiT)
		}
		if total == 0 {
			continue
		}
		stats.Lines += total
		stats.ByStream[src.stream] += total
		stats.BytesScanned += int64(total) * int64(len(src.sample)+1)
		a := pats[src.pattern]
		if a == nil {
			a = &agg{p: investigate.LogPattern{Pattern: src.pattern, ByStream: map[string]int{}, Sample: src.sample}}
			pats[src.pattern] = a
		}
		a.p.Count += total
		a.p.ByStream[src.stream] += total
	}
	list := make([]*agg, 0, len(pats))
	for _, a := range pats {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].p.Count != list[j].p.Count {
			return list[i].p.Count > list[j].p.Count
		}
		return list[i].p.Pattern < list[j].p.Pattern
	})
	for i, a := range list {
		if i == 25 {
			break
		}
		stats.Patterns = append(stats.Patterns, a.p)
	}
	return stats, nil
}
