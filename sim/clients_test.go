package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/scenario"
)

// clientsDoc is an API in front of a function, and a load balancer; from
// the onset one client floods the API's search path, and the API throttles
// a third of its requests.
const clientsDoc = `name: clients-test
title: one client floods the search API
onset: 2025-03-04T09:00:00Z
history: 2h
alarm: {name: api-4xx, resource: api, metric: AWS/ApiGateway 4XXError, stat: Sum, threshold: 100, fires: +4m}
resources:
  - {id: api, type: apigw, rps: 50, targets: [fn]}
  - {id: fn, type: lambda}
  - {id: search, type: service, runs_on: [fn]}
  - {id: web, type: alb, rps: 30, targets: [box]}
  - {id: box, type: ec2}
traffic:
  - {entry: api, client: {ip: 203.0.113.7, user_agent: python-requests/2.31.0, api_key_id: k7x2m9q4ab}, path: /v1/search, rate: 150/s, at: +0m, throttle: 0.3}
logs:
  - group: /aws/apigateway/api/access
    at: +0m
    level: info
    rate: 5/s
    text: '{"requestId":"{uuid}","ip":"198.51.100.9","apiKeyId":"-","userAgent":"AcmeSync/4.2.0","httpMethod":"GET","resourcePath":"/v1/items/{id}","status":"200"}'
`

func clientsSim(t *testing.T, doc string) (*Sim, *scenario.Scenario) {
	t.Helper()
	f, err := scenario.Parse("clients.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(f.Scenario, Options{}), f.Scenario
}

func clientsOf(t *testing.T, s *Sim, entry string, start, end time.Time) investigate.ClientTraffic {
	t.Helper()
	ct, err := s.Clients(bg, investigate.ClientQuery{Entry: investigate.Resource{ID: entry}, Start: start, End: end})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// top is the busiest value of key.
func top(ct investigate.ClientTraffic, key string) investigate.ClientCount {
	for _, c := range ct.By {
		if c.Key == key {
			return c
		}
	}
	return investigate.ClientCount{}
}

func count(ct investigate.ClientTraffic, key, value string) investigate.ClientCount {
	for _, c := range ct.By {
		if c.Key == key && c.Value == value {
			return c
		}
	}
	return investigate.ClientCount{}
}

func TestClientsSurge(t *testing.T) {
	s, sc := clientsSim(t, clientsDoc)
	on := sc.Onset
	before := clientsOf(t, s, "api", on.Add(-time.Hour), on)
	during := clientsOf(t, s, "api", on, s.Now())
	if before.Source != "access log /aws/apigateway/api/access" {
		t.Errorf("source = %q", before.Source)
	}
	// Before: ordinary clients only, none with most of the requests, and
	// as many requests as the API counted.
	if c := count(before, investigate.ClientIP, "203.0.113.7"); c.Requests != 0 {
		t.Errorf("the flooding client before the onset: %+v", c)
	}
	if tp := top(before, investigate.ClientIP); tp.Requests == 0 || float64(tp.Requests) > 0.3*float64(before.Requests) {
		t.Errorf("busiest ordinary client %+v of %d requests", tp, before.Requests)
	}
	countMetric := metrics(t, s, investigate.MetricQuery{ID: "c", Metric: investigate.Metric{Namespace: "AWS/ApiGateway", Name: "Count", Dims: map[string]string{"ApiName": "api"}}, Stat: "Sum", Period: time.Minute}, on.Add(-time.Hour), on)
	if sum := mean(countMetric.Values) * float64(len(countMetric.Values)); float64(before.Requests) < 0.9*sum || float64(before.Requests) > 1.1*sum {
		t.Errorf("access log has %d requests before the onset, Count says %v", before.Requests, sum)
	}
	// During: the client sends 150/s of the API's ~205/s.
	min := s.Now().Sub(on).Minutes()
	for _, kv := range [][2]string{{investigate.ClientIP, "203.0.113.7"}, {investigate.ClientUserAgent, "python-requests/2.31.0"}, {investigate.ClientAPIKey, "k7x2m9q4ab"}, {investigate.ClientPath, "/v1/search"}} {
		c := count(during, kv[0], kv[1])
		if perMin := float64(c.Requests) / min; perMin < 0.9*9000 || perMin > 1.1*9000+0.6*60*50 {
			t.Errorf("%s %s: %.0f requests a minute, want about 9000", kv[0], kv[1], perMin)
		}
		if share := float64(c.Failed) / float64(c.Requests); kv[0] != investigate.ClientPath && (share < 0.25 || share > 0.35) {
			t.Errorf("%s %s: %.2f failed, want the 0.3 throttled", kv[0], kv[1], share)
		}
	}
	// A scenario's own JSON lines in the group are requests too, with
	// their path as API Gateway's resourcePath keeps it.
	if c := count(during, investigate.ClientUserAgent, "AcmeSync/4.2.0"); c.Requests == 0 || count(during, investigate.ClientPath, "/v1/items/{id}").Requests != c.Requests {
		t.Errorf("the scenario's own lines: %+v", c)
	}
	// The lines are in the group as API Gateway writes them.
	st := logs(t, s, "/aws/apigateway/api/access", on, s.Now())
	found := false
	for _, p := range st.Patterns {
		found = found || strings.Contains(p.Sample, `"ip":"203.0.113.7","apiKeyId":"k7x2m9q4ab","userAgent":"python-requests/2.31.0"`)
	}
	if !found {
		t.Errorf("no access log line of the client in %+v", st.Patterns)
	}

	// The metrics count its requests, the 4XX its throttles; only what
	// was not throttled reaches the function.
	per := func(ns, name string, dims map[string]string) (float64, float64) {
		se := metrics(t, s, investigate.MetricQuery{ID: "x", Metric: investigate.Metric{Namespace: ns, Name: name, Dims: dims}, Stat: "Sum", Period: time.Minute}, on.Add(-time.Hour), s.Now())
		return mean(valuesIn(se, on.Add(-time.Hour), on)), mean(valuesIn(se, on, s.Now()))
	}
	api := map[string]string{"ApiName": "api"}
	if b, d := per("AWS/ApiGateway", "Count", api); d-b < 0.9*9000 || d-b > 1.1*9000 {
		t.Errorf("Count %v → %v, want 9000 more a minute", b, d)
	}
	if b, d := per("AWS/ApiGateway", "4XXError", api); d-b < 0.9*2700 || d-b > 1.1*2700 {
		t.Errorf("4XXError %v → %v, want 2700 more a minute", b, d)
	}
	if b, d := per("AWS/Lambda", "Invocations", map[string]string{"FunctionName": "fn"}); d-b < 0.9*6300 || d-b > 1.1*6300 {
		t.Errorf("Invocations %v → %v, want the 6300 more a minute not throttled", b, d)
	}
	// X-Ray sees the throttled requests at the API, none before.
	tb, _ := findGroup(traces(t, s, on.Add(-time.Hour), on), "client", "api", "")
	td, _ := findGroup(traces(t, s, on, s.Now()), "client", "api", "")
	if tb.Throttles != 0 || td.Throttles == 0 || float64(td.Throttles) < 0.15*float64(td.Requests) {
		t.Errorf("client>api throttles: %d of %d before, %d of %d during", tb.Throttles, tb.Requests, td.Throttles, td.Requests)
	}
}

// A load balancer's clients are X-Ray's sampled requests; without a
// traffic item they grow in proportion with its traffic.
func TestClientsOfALoadBalancer(t *testing.T) {
	doc := strings.Replace(clientsDoc, "traffic:\n", "metrics:\n  - {resource: web, metric: AWS/ApplicationELB RequestCount, at: +0m, value: 5400}\ntraffic:\n", 1)
	s, sc := clientsSim(t, doc)
	on := sc.Onset
	before := clientsOf(t, s, "web", on.Add(-time.Hour), on)
	during := clientsOf(t, s, "web", on, s.Now())
	if before.Source != "X-Ray" || before.Requests == 0 || before.Requests >= 60*30*60 {
		t.Errorf("before: %d requests from %q, want X-Ray's sample of 108000", before.Requests, before.Source)
	}
	if during.Requests == 0 {
		t.Fatal("no requests during")
	}
	min := s.Now().Sub(on).Minutes()
	for _, key := range []string{investigate.ClientIP, investigate.ClientUserAgent, investigate.ClientPath} {
		b, d := top(before, key), count(during, key, top(before, key).Value)
		shareB, shareD := float64(b.Requests)/float64(before.Requests), float64(d.Requests)/float64(during.Requests)
		if shareD > shareB+0.1 || shareD < shareB-0.1 {
			t.Errorf("%s %s: share %.2f before, %.2f during: ordinary clients keep their shares", key, b.Value, shareB, shareD)
		}
	}
	if perMin := float64(during.Requests) / min; perMin < 1.5*float64(before.Requests)/60 {
		t.Errorf("sampled requests a minute: %.0f during, %.0f before", perMin, float64(before.Requests)/60)
	}
	if _, err := s.Clients(bg, investigate.ClientQuery{Entry: investigate.Resource{ID: "fn"}, Start: on, End: s.Now()}); err == nil {
		t.Error("clients of a function: no error")
	}
}
