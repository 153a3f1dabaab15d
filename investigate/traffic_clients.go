package investigate

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// Who sends the traffic. The requests entering a load balancer or an API
// are broken down by client (API key, address, user agent) and by path,
// before and since the onset. When one client or one path sent most of
// the surge, or most of the new failures, while its requests grew far
// more than everyone else's, that client is the change in the inputs, and
// it is named: blocking that key, address or user agent is the move, not
// finding out who sends the load.

// clientShift is one client, or one path, that took over an entry's
// traffic or its failures.
type clientShift struct {
	// named are the key → value that identify it (ClientKeys' keys), in
	// ClientKeys' order.
	named []ClientCount
	// surge says it sent most of a surge; otherwise most of the new
	// failures.
	surge bool
	// share is its share of the entry's requests since the onset.
	share float64
	f     *finding
}

// value is the value of one key of the shift, or "".
func (c *clientShift) value(key string) string {
	for _, n := range c.named {
		if n.Key == key {
			return n.Value
		}
	}
	return ""
}

// clientShift reads who sent an entry's requests before and since the
// onset, and returns the client or path that took them over, or nil.
func (r *run) clientShift(ctx context.Context, entry string) *clientShift {
	rs := r.g.byID[entry]
	if r.src.Clients == nil || rs == nil || (rs.Type != TypeALB && rs.Type != TypeAPIGateway) || r.baseline.end.Sub(r.baseline.start) < min(minBaseline, r.step) || !r.during.end.After(r.during.start) {
		return nil
	}
	ask := func(w window) *pending[ClientTraffic] {
		return call(ctx, r, true, func(ctx context.Context) (ClientTraffic, error) {
			ct, err := r.src.Clients.Clients(ctx, ClientQuery{Entry: *rs, Start: w.start, End: w.end})
			r.bytes.Add(ct.BytesScanned)
			return ct, err
		})
	}
	pb, pd := ask(r.baseline), ask(r.during)
	before, okB := get(ctx, r, "clients "+entry, pb)
	during, okD := get(ctx, r, "clients "+entry, pd)
	if !okB || !okD {
		return nil
	}
	return r.dominant(entry, before, during)
}

// dominant finds, among the values of each key since the onset, the one
// that sent most of the surge or of the new failures, with requests that
// grew far beyond everyone else's. Counts are weighed by their Poisson
// noise; there is no absolute floor.
func (r *run) dominant(entry string, before, during ClientTraffic) *clientShift {
	mB, mD := r.baseline.end.Sub(r.baseline.start).Minutes(), r.during.end.Sub(r.during.start).Minutes()
	if mB <= 0 || mD <= 0 || during.Requests == 0 {
		return nil
	}
	k := mD / mB // scales a count before to the window since the onset
	z := func(during, before float64) float64 {
		return (during - before*k) / math.Sqrt(during+before*k*k+1)
	}
	tB, tD := float64(before.Requests), float64(during.Requests)
	surge := tD - tB*k
	surged := z(tD, tB) >= anomalyZ
	newFailed := float64(during.Failed) - float64(before.Failed)*k
	failing := z(float64(during.Failed), float64(before.Failed)) >= anomalyZ

	if !surged && !failing {
		return nil
	}
	// beforeOf is a value's requests and failures before the onset: a
	// value missing from a full list had at most the last one's.
	beforeOf := func(c ClientCount) (float64, float64) {
		var last *ClientCount
		n := 0
		for i, b := range before.By {
			if b.Key != c.Key {
				continue
			}
			if b.Value == c.Value {
				return float64(b.Requests), float64(b.Failed)
			}
			last = &before.By[i]
			n++
		}
		if n >= ClientTopN && last != nil {
			return float64(last.Requests), float64(last.Failed)
		}
		return 0, 0
	}
	type pick struct {
		c                    ClientCount
		b, excess, share     float64
		ofSurge, ofNewFailed bool
	}
	best := map[string]pick{}
	for _, c := range during.By {
		d := float64(c.Requests)
		b, bf := beforeOf(c)
		// What it sent beyond growing like everyone else.
		growth := 1.0
		if rest := (tB - b) * k; rest > 0 {
			growth = math.Max(0, (tD-d)/rest)
		}
		excess := d - b*k*growth
		if excess <= 0 || excess/math.Sqrt(d+1) < anomalyZ || excess < 0.3*d {
			continue
		}
		p := pick{c: c, b: b, excess: excess, share: d / tD}
		p.ofSurge = surged && surge > 0 && excess >= 0.5*surge
		p.ofNewFailed = failing && newFailed > 0 && c.Key != ClientPath &&
			float64(c.Failed)-bf*k >= 0.5*newFailed
		if !p.ofSurge && !p.ofNewFailed {
			continue
		}
		if old, ok := best[c.Key]; !ok || p.excess > old.excess {
			best[c.Key] = p
		}
	}
	if len(best) == 0 {
		return nil
	}
	cs := &clientShift{}
	var lead pick
	for _, key := range ClientKeys {
		p, ok := best[key]
		if !ok {
			continue
		}
		cs.named = append(cs.named, p.c)
		if lead.c.Key == "" || (key != ClientPath && lead.c.Key == ClientPath) {
			lead = p
		}
		cs.surge = cs.surge || p.ofSurge
	}
	cs.share = lead.share

	what := "of the requests"
	if !cs.surge {
		what = fmt.Sprintf("of the requests, and %s%% of the failed ones,", num(100*float64(lead.c.Failed)/math.Max(1, float64(during.Failed))))
	}
	subject := "one client sends"
	if lead.c.Key == ClientPath {
		subject = "one path gets"
	}
	kind, link := FindingTrace, ""
	if g, ok := strings.CutPrefix(during.Source, "access log "); ok {
		kind = FindingLog
		link = LogsLink(r.alarmDef.Region, []string{g}, clientQuery(lead.c.Value), r.onset.Add(-baselineLength), r.now)
	}
	from := ""
	if during.Source != "" {
		from = " (" + during.Source + ")"
	}
	cs.f = &finding{Finding: Finding{
		Kind: kind, Check: CheckTraffic, Resource: entry, Time: r.onset,
		Summary: fmt.Sprintf("%s %s%% %s entering %s since %s%s: %s; %s requests/min (%s before)",
			subject, num(100*cs.share), what, entry, Clock(r.onset), from, describeClient(cs.named),
			num(float64(lead.c.Requests)/mD), num(lead.b/mB)),
		Before: ptr(lead.b / mB), During: ptr(float64(lead.c.Requests) / mD), Unit: "requests/min", Link: link,
	}, weight: 0.85, words: describeClient(cs.named)}
	return cs
}

// clientQuery is a Logs Insights query for the lines that carry value.
func clientQuery(value string) string {
	return "fields @timestamp, @message | filter @message like " + insightsQuote(value) + " | sort @timestamp desc | limit 100"
}

func insightsQuote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ").Replace(v) + `"`
}

// clientWords names each key's value as people say it.
var clientWords = map[string]string{
	ClientAPIKey:    "API key %s",
	ClientIP:        "address %s",
	ClientUserAgent: "user agent %s",
	ClientPath:      "path %s",
}

// describeClient names a client: "API key k7x2m9q4ab, address 203.0.113.7,
// user agent python-requests/2.31.0, path /v1/search".
func describeClient(named []ClientCount) string {
	parts := make([]string, 0, len(named))
	for _, n := range named {
		parts = append(parts, fmt.Sprintf(clientWords[n.Key], n.Value))
	}
	return strings.Join(parts, ", ")
}

// clientActions are the moves against one client, or one path, that took
// over an entry's traffic: block it by what identifies it best, concretely.
func clientActions(r *run, entry string, cs *clientShift) ([]Action, []string) {
	key, ip, ua, path := cs.value(ClientAPIKey), cs.value(ClientIP), cs.value(ClientUserAgent), cs.value(ClientPath)
	var steps []string
	if key != "" {
		steps = append(steps, fmt.Sprintf("move API key %s to a usage plan with a low rate limit, or disable it (aws apigateway update-api-key, patch /enabled to false)", key))
	}
	if ip != "" {
		steps = append(steps, fmt.Sprintf("block address %s at %s's WAF web ACL (an IP set rule, or a rate-based rule keyed on the address)", ip, entry))
	}
	if ua != "" && (key == "" || ip == "") {
		steps = append(steps, fmt.Sprintf("block user agent %s at the WAF (a rule on the User-Agent header, rate-based if other clients share it)", ua))
	}
	if path != "" && key == "" && ip == "" && ua == "" {
		steps = append(steps, fmt.Sprintf("rate-limit requests to %s at %s (a WAF rate-based rule scoped to that path) and find what calls it so much", path, entry))
	}
	who := describeClient(cs.named)
	why := "most of the surge"
	if !cs.surge {
		why = "most of the new failures"
	}
	block := fmt.Sprintf("Block the client behind %s at %s: %s. It sends %s%% of the requests since %s (%s)",
		why, entry, strings.Join(steps, "; "), num(100*cs.share), Clock(r.onset), who)
	if key == "" && ip == "" && ua == "" {
		block = fmt.Sprintf("Throttle the traffic behind %s at %s: %s. It is %s%% of the requests since %s",
			why, entry, strings.Join(steps, "; "), num(100*cs.share), Clock(r.onset))
	}
	scale := fmt.Sprintf("If this client is legitimate, agree a rate with its owner and add capacity behind %s for it", entry)
	if key == "" && ip == "" && ua == "" {
		scale = fmt.Sprintf("If the traffic to %s is legitimate, add capacity behind %s for it", path, entry)
	}
	prevention := []string{
		fmt.Sprintf("Put a rate-based WAF rule on %s keyed on the client's address, so one client cannot take it over", entry),
		"Alarm on requests per client and per path (access log by API key, address and user agent), not only on totals",
	}
	if r.g.typeOf(entry) == TypeAPIGateway {
		prevention[0] = fmt.Sprintf("Give every API key of %s a usage plan with rate and burst limits, and put a rate-based WAF rule on the stage", entry)
	}
	return []Action{{ActionBlock, block}, {ActionScale, scale}}, prevention
}
