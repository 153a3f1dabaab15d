package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// Clients. Every request entering an entry resource comes from a client
// (an address, a user agent, on an API often an API key) and goes to a
// path. A healthy entry serves a spread of ordinary clients over its
// usual paths, in proportion to its traffic and failing as its error
// metrics say; a scenario's traffic items add the requests of one client
// or to one path. An API writes its requests to its access log group as
// API Gateway's JSON access log does, and a scenario's log lines in that
// group count as requests too; a load balancer's requests are known by
// what X-Ray samples of them (its access logs are in S3), so its counts
// are the sampled share.

// ordinaryClients is how many ordinary clients an entry has.
const ordinaryClients = 12

// accessLog is the requests of one entry, as log sources whose lines are
// requests.
type accessLog struct {
	entry *node
	// group is the access log group of an API; "" for a load balancer,
	// whose clients are known from X-Ray.
	group   string
	sources []*logSource
	// fields are each source's request fields (ip, user_agent,
	// api_key_id, path, status): "" for one that varies line to line.
	fields map[*logSource]reqFields
	// items are the scenario's traffic items on this entry.
	items []*scenario.TrafficItem
}

type reqFields struct {
	ip, userAgent, apiKeyID, path, status string
}

// client is one ordinary client of an entry.
type client struct {
	ip, userAgent, apiKeyID string
	weight                  float64
}

var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240405.002)",
	"okhttp/4.12.0",
	"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2",
	"Go-http-client/2.0",
	"axios/1.6.8",
	"curl/8.5.0",
}

// publicPrefixes are first octets of public address space.
var publicPrefixes = []int{18, 34, 35, 44, 52, 54, 81, 82, 86, 91, 93, 109, 141, 151, 176, 185, 188, 195, 212, 217}

// ordinary are an entry's ordinary clients, the first the busiest.
func (m *Sim) ordinary(e *node) []client {
	out := make([]client, ordinaryClients)
	sum := 0.0
	for i := range out {
		h := m.key("client", e.r.ID, strconv.Itoa(i))
		c := &out[i]
		c.ip = fmt.Sprintf("%d.%d.%d.%d", publicPrefixes[h%uint64(len(publicPrefixes))], (h>>8)%256, (h>>16)%256, 1+(h>>24)%254)
		c.userAgent = userAgents[(h>>32)%uint64(len(userAgents))]
		if e.r.Type == investigate.TypeAPIGateway && (h>>40)%3 != 0 {
			c.apiKeyID = keyID(mix64(h))
		}
		c.weight = 1 / float64(i+2)
		sum += c.weight
	}
	for i := range out {
		out[i].weight /= sum
	}
	return out
}

// keyID is an API key id as API Gateway makes them: ten lowercase letters
// and digits.
func keyID(h uint64) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = chars[h%36]
		h = mix64(h + uint64(i))
	}
	return string(b)
}

// entryPath is one of an entry's usual paths and its share of requests.
type entryPath struct {
	method, path, status string
	share                float64
}

// entryPaths are an entry's usual paths: those of the first service
// behind it, as that service logs them.
func (m *Sim) entryPaths(e *node) []entryPath {
	id := e.r.ID
	for _, t := range e.targets {
		if t.r.Type == investigate.TypeService {
			id = t.r.ID
			break
		}
		if len(t.services) > 0 {
			id = t.services[0].r.ID
			break
		}
	}
	var out []entryPath
	for _, p := range m.apiPaths(id) {
		f := strings.Fields(p.line)
		out = append(out, entryPath{f[0], f[1], f[2], p.share})
	}
	return out
}

// trafficWeight is how far item it is active at t, ramp included.
func (m *Sim) trafficWeight(it *scenario.TrafficItem, t time.Time) float64 {
	if !m.active(it.Window, t) {
		return 0
	}
	return rampAt(it.Window, t)
}

// itemsRate is the requests per second of an entry's traffic items at t,
// each counted by share(it) of its requests.
func (m *Sim) itemsRate(al *accessLog, t time.Time, share func(it *scenario.TrafficItem) float64) float64 {
	var sum float64
	for _, it := range al.items {
		if w := m.trafficWeight(it, t); w > 0 {
			sum += it.PerMin / 60 * w * share(it)
		}
	}
	return sum
}

func all(*scenario.TrafficItem) float64         { return 1 }
func answered(it *scenario.TrafficItem) float64 { return it.Fault + it.Error + it.Throttle }
func rejected(it *scenario.TrafficItem) float64 { return it.Error + it.Throttle }
func faulted(it *scenario.TrafficItem) float64  { return it.Fault }

// wrapLevel adds to the healthy level of one of an entry's series.
func (m *Sim) wrapLevel(e *node, ns, name string, add func(t time.Time) float64) {
	se := m.seriesOf(e, ns, name)
	if se == nil || se.def == nil || se.def.level == nil {
		return
	}
	old := se.def.level
	se.def.level = func(t time.Time) float64 { return old(t) + add(t) }
}

// buildClients adds the scenario's traffic items to their entries' metrics
// and traffic, and writes every entry's requests as its clients sent them.
// It runs after buildSeries and buildLogs.
func (m *Sim) buildClients() {
	m.access = map[string]*accessLog{}
	for _, e := range m.nodes {
		if !e.isEntry() {
			continue
		}
		al := &accessLog{entry: e, fields: map[*logSource]reqFields{}}
		if e.r.Type == investigate.TypeAPIGateway {
			al.group = e.r.AccessLog
		}
		for i := range m.sc.Traffic {
			if it := &m.sc.Traffic[i]; it.Entry == e.r.ID {
				al.items = append(al.items, it)
			}
		}
		m.access[e.r.ID] = al
		S := m.step.Seconds()
		if len(al.items) > 0 {
			perStep := func(share func(*scenario.TrafficItem) float64) func(time.Time) float64 {
				return func(t time.Time) float64 { return m.itemsRate(al, t, share) * S }
			}
			reqNS, reqName, rejName, faultName := nsAPIGW, "Count", "4XXError", "5XXError"
			if e.r.Type == investigate.TypeALB {
				reqNS, reqName, rejName, faultName = nsALB, "RequestCount", "HTTPCode_ELB_4XX_Count", "HTTPCode_ELB_5XX_Count"
			}
			m.wrapLevel(e, reqNS, reqName, perStep(all))
			m.wrapLevel(e, reqNS, rejName, perStep(rejected))
			m.wrapLevel(e, reqNS, faultName, perStep(faulted))
			for _, st := range m.streams {
				if st.entry == e {
					st.answered = func(t time.Time) float64 { return m.itemsRate(al, t, answered) }
				}
			}
		}
		m.writeRequests(al)
	}
	sort.Strings(m.groupNames)
}

// writeRequests makes the log sources of an entry's requests.
func (m *Sim) writeRequests(al *accessLog) {
	e := al.entry
	S := m.step.Seconds()
	ns, req := nsAPIGW, []string{"Count"}
	rej, flt := []string{"4XXError"}, []string{"5XXError"}
	if e.r.Type == investigate.TypeALB {
		ns, req = nsALB, []string{"RequestCount"}
		rej, flt = []string{"HTTPCode_Target_4XX_Count", "HTTPCode_ELB_4XX_Count"}, []string{"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"}
	}
	level := func(names []string, t time.Time) float64 {
		var sum float64
		for _, n := range names {
			sum += m.levelOf(e, ns, n, t, 0)
		}
		return sum / S
	}
	// behind is the share of the requests the entry let through that
	// failed with a 4xx and with a 5xx: what its error metrics count
	// beyond what it answered itself for the traffic items. Every client
	// meets them alike.
	behind := func(t time.Time) (s4, s5 float64) {
		passed := level(req, t) - m.itemsRate(al, t, answered)
		if passed <= 0 {
			return 0, 0
		}
		s4 = max(0, level(rej, t)-m.itemsRate(al, t, rejected)) / passed
		s5 = max(0, level(flt, t)-m.itemsRate(al, t, faulted)) / passed
		if s4+s5 > 1 {
			s4, s5 = s4/(s4+s5), s5/(s4+s5)
		}
		return s4, s5
	}
	outcome := []func(s4, s5 float64) float64{
		func(s4, s5 float64) float64 { return 1 - s4 - s5 },
		func(s4, _ float64) float64 { return s4 },
		func(_, s5 float64) float64 { return s5 },
	}
	statuses := func(ok string) []string {
		if e.r.Type == investigate.TypeAPIGateway {
			return []string{ok, "400", "502"}
		}
		return []string{ok, "404", "502"}
	}
	// A load balancer's clients are X-Ray's sampled requests.
	sampled := func(t time.Time) float64 { return 1 }
	if al.group == "" {
		sampled = func(t time.Time) float64 {
			if tr := m.traffic(e.flow, t); tr > 0 {
				return m.sampled(e.flow, t) / tr
			}
			return 1
		}
	}
	stream := hex(m.key("access", e.r.ID), 16) + hex(mix64(m.key("access", e.r.ID)), 16)
	add := func(f reqFields, method string, rate func(time.Time) float64, win *scenario.Window, parts ...string) {
		text := requestLine(e, f, method)
		src := m.newSource(stream, text, func(t time.Time) float64 { return rate(t) * 60 * sampled(t) }, append([]string{"request", e.r.ID}, parts...)...)
		src.win = win
		al.fields[src] = f
		if al.group != "" {
			m.addSource(al.group, src)
		} else {
			al.sources = append(al.sources, src)
		}
	}
	paths := m.entryPaths(e)
	clients := m.ordinary(e)
	for i, c := range clients {
		for j, p := range paths {
			for o, status := range statuses(p.status) {
				share, pick := c.weight*p.share, outcome[o]
				add(reqFields{c.ip, c.userAgent, c.apiKeyID, p.path, status}, p.method, func(t time.Time) float64 {
					return share * max(0, level(req, t)-m.itemsRate(al, t, all)) * pick(behind(t))
				}, nil, "ordinary", strconv.Itoa(i), strconv.Itoa(j), status)
			}
		}
	}

	for k, it := range al.items {
		type part struct {
			f      reqFields
			method string
			share  float64
		}
		var parts []part
		switch {
		case it.Client.IsZero():
			// A path that the ordinary clients call more.
			for _, c := range clients {
				parts = append(parts, part{reqFields{c.ip, c.userAgent, c.apiKeyID, it.Path, ""}, "GET", c.weight})
			}
		case it.Path == "":
			for _, p := range paths {
				parts = append(parts, part{reqFields{it.Client.IP, it.Client.UserAgent, it.Client.APIKeyID, p.path, ""}, p.method, p.share})
			}
		default:
			parts = []part{{reqFields{it.Client.IP, it.Client.UserAgent, it.Client.APIKeyID, it.Path, ""}, "GET", 1}}
		}
		perSec := it.PerMin / 60
		passed := 1 - it.Fault - it.Error - it.Throttle
		for pi, p := range parts {
			// What the entry answered itself.
			for _, o := range []struct {
				status string
				share  float64
			}{{"429", it.Throttle}, {"403", it.Error}, {"503", it.Fault}} {
				if o.share <= 0 {
					continue
				}
				f := p.f
				f.status = o.status
				rate := perSec * p.share * o.share
				add(f, p.method, func(time.Time) float64 { return rate }, &it.Window, "item", strconv.Itoa(k), strconv.Itoa(pi), o.status)
			}
			if passed <= 0 {
				continue
			}
			// What it let through, failing behind it like everyone's.
			for o, status := range statuses("200") {
				f := p.f
				f.status = status
				rate, pick := perSec*p.share*passed, outcome[o]
				add(f, p.method, func(t time.Time) float64 { return rate * pick(behind(t)) }, &it.Window, "item", strconv.Itoa(k), strconv.Itoa(pi), status)
			}
		}
	}
	if al.group != "" {
		// Every line of the group, a scenario's own among them.
		al.sources = m.groups[al.group].sources
		for _, src := range al.sources {
			if _, ok := al.fields[src]; !ok {
				if f, ok := parseRequest(src.text); ok {
					al.fields[src] = f
				}
			}
		}
	}
}

// requestLine is one request as an API's access log writes it, in JSON
// with the fields of API Gateway's access log variables
// ($context.identity.sourceIp as ip, and so on); for a load balancer, what
// X-Ray records of it.
func requestLine(e *node, f reqFields, method string) string {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	key := f.apiKeyID
	if key == "" {
		key = "-"
	}
	if e.r.Type == investigate.TypeALB {
		return `{"trace_id":"{uuid}","http":{"request":{"method":` + q(method) + `,"url":` + q("https://"+e.name+f.path) +
			`,"client_ip":` + q(f.ip) + `,"user_agent":` + q(f.userAgent) + `},"response":{"status":` + f.status + `}}}`
	}
	return `{"requestId":"{uuid}","ip":` + q(f.ip) + `,"apiKeyId":` + q(key) + `,"userAgent":` + q(f.userAgent) +
		`,"httpMethod":` + q(method) + `,"resourcePath":` + q(f.path) + `,"status":"` + f.status + `","responseLatency":"{ms}"}`
}

// requestKeys are the names a JSON access log line may give each field.
var requestKeys = map[string][]string{
	investigate.ClientIP:        {"ip", "sourceIp", "sourceIP", "clientIp", "client_ip", "remoteAddr"},
	investigate.ClientUserAgent: {"userAgent", "user_agent", "useragent", "httpUserAgent"},
	investigate.ClientAPIKey:    {"apiKeyId", "api_key_id"},
	investigate.ClientPath:      {"resourcePath", "path", "routeKey", "requestPath"},
	"status":                    {"status", "statusCode", "status_code", "httpStatus"},
}

// parseRequest reads the request fields of a JSON log line written by a
// scenario; a value with a placeholder varies line to line ("" for a
// client's fields; a path keeps it, as API Gateway's resourcePath keeps
// {id}).
func parseRequest(text string) (reqFields, bool) {
	var raw map[string]any
	if json.Unmarshal([]byte(text), &raw) != nil {
		return reqFields{}, false
	}
	get := func(key string) string {
		for _, k := range requestKeys[key] {
			v, ok := raw[k]
			if !ok {
				continue
			}
			s := ""
			switch x := v.(type) {
			case string:
				s = x
			case float64:
				s = strconv.FormatFloat(x, 'f', -1, 64)
			}
			if s == "-" {
				return ""
			}
			if key != investigate.ClientPath && placeholders.Replace(s) != s {
				return ""
			}
			return s
		}
		return ""
	}
	f := reqFields{get(investigate.ClientIP), get(investigate.ClientUserAgent), get(investigate.ClientAPIKey), get(investigate.ClientPath), get("status")}
	if f.status == "" && f.ip == "" && f.userAgent == "" && f.path == "" {
		return f, false
	}
	return f, true
}

// failedStatus reports whether a status is a 4xx or a 5xx.
func failedStatus(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 400
}

// Clients breaks the requests that entered an entry in [q.Start, q.End)
// down by client and path: from an API's access log group, or from the
// requests X-Ray sampled at a load balancer.
func (m *Sim) Clients(ctx context.Context, q investigate.ClientQuery) (investigate.ClientTraffic, error) {
	if err := m.call(ctx, KindClients); err != nil {
		return investigate.ClientTraffic{}, err
	}
	al := m.access[q.Entry.ID]
	if al == nil {
		ids := make([]string, 0, len(m.access))
		for id := range m.access {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		return investigate.ClientTraffic{}, &investigate.NotFoundError{Kind: "load balancer or API", Name: q.Entry.ID, Candidates: investigate.ClosestNames(q.Entry.ID, ids, 3)}
	}
	out := investigate.ClientTraffic{Entry: q.Entry.ID, Source: "X-Ray"}
	if al.group != "" {
		out.Source = "access log " + al.group
	}
	lo, hiT, ok := m.clip(q.Start, q.End)
	if !ok {
		return out, nil
	}
	type kv struct{ key, value string }
	counts := map[kv]*investigate.ClientCount{}
	for _, src := range al.sources {
		f, ok := al.fields[src]
		if !ok {
			continue
		}
		n := 0
		for mm := lo.Truncate(time.Minute); mm.Before(hiT); mm = mm.Add(time.Minute) {
			n += m.linesIn(src, mm, lo, hiT)
		}
		if n == 0 {
			continue
		}
		failed := 0
		if failedStatus(f.status) {
			failed = n
		}
		out.Requests += n
		out.Failed += failed
		if al.group != "" {
			out.BytesScanned += int64(n) * int64(len(src.sample)+1)
		}
		for _, x := range []kv{{investigate.ClientIP, f.ip}, {investigate.ClientUserAgent, f.userAgent}, {investigate.ClientAPIKey, f.apiKeyID}, {investigate.ClientPath, f.path}} {
			if x.value == "" {
				continue
			}
			c := counts[x]
			if c == nil {
				c = &investigate.ClientCount{Key: x.key, Value: x.value}
				counts[x] = c
			}
			c.Requests += n
			c.Failed += failed
		}
	}
	all := make([]investigate.ClientCount, 0, len(counts))
	for _, c := range counts {
		all = append(all, *c)
	}
	out.By = append(out.By, investigate.RankClients(all, 2*investigate.ClientTopN)...)
	return out, nil
}

// answeredFailures are the traced requests entering entry e in minute mm
// that the entry answered itself for its traffic items (a 429, a 4xx, a
// 5xx), which no edge behind it carries: X-Ray's sampled share of them.
func (m *Sim) answeredFailures(e *node, mm time.Time, h uint64) []failure {
	al := m.access[e.r.ID]
	if al == nil || len(al.items) == 0 {
		return nil
	}
	mid := mm.Add(30 * time.Second)
	f := 1.0
	if tr := m.traffic(e.flow, mid); tr > 0 {
		f = m.sampled(e.flow, mid) / tr
	}
	var out []failure
	for kind, share := range []func(*scenario.TrafficItem) float64{faulted, func(it *scenario.TrafficItem) float64 { return it.Error }, func(it *scenario.TrafficItem) float64 { return it.Throttle }} {
		var perMin float64
		for _, it := range al.items {
			perMin += it.PerMin * share(it) * m.windowWeight(it.Window, mm)
		}
		if n := poisson(math.Max(0, perMin*f), hi(h, int64(10+kind))); n > 0 {
			out = append(out, failure{kind, genericMsg(kind, e, true), n})
		}
	}
	return out
}
