package awstelemetry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/awstelemetry/awstest"
	"github.com/unstuck/unstuck/investigate"
)

// scrapeAPI is an API whose access log has, in the window, 100 ordinary
// requests over ten addresses and 300 of one scraper, a third of them
// throttled.
func scrapeAPI(start time.Time) *awstest.AccessLogAPI {
	a := &awstest.AccessLogAPI{
		Account: "123456789012", Region: "us-east-1", APIID: "a1b2c3d4e5", Stage: "prod",
		Group: "/aws/apigateway/listings-public/prod",
		// API Gateway's JSON example with the identity fields; the
		// status unquoted, and the API key itself, which must never be
		// read.
		Format: `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",` +
			`"apiKeyId":"$context.identity.apiKeyId","key":"$context.identity.apiKey","resourcePath":"$context.resourcePath","status":$context.status}`,
	}
	for i := range 100 {
		a.Requests = append(a.Requests, awstest.AccessRequest{Time: start.Add(time.Duration(i) * time.Second), Fields: map[string]string{
			"ip": fmt.Sprintf("52.1.1.%d", i%10), "userAgent": "okhttp/4.12.0", "apiKeyId": "-", "resourcePath": "/v1/listings/{id}", "status": "200",
		}})
	}
	for i := range 300 {
		status := "200"
		if i%3 == 0 {
			status = "429"
		}
		a.Requests = append(a.Requests, awstest.AccessRequest{Time: start.Add(time.Duration(i) * time.Second), Fields: map[string]string{
			"ip": "203.0.113.7", "userAgent": "python-requests/2.31.0", "apiKeyId": "w8f3kq1zpn", "resourcePath": "/v1/listings/search", "status": status,
		}})
	}
	return a
}

var listingsAPI = investigate.Resource{ID: "listings-api", Type: investigate.TypeAPIGateway, Name: "listings-public",
	Dims: map[string]string{"ApiName": "listings-public"}, Config: map[string]string{"api_id": "a1b2c3d4e5"}}

func countOf(ct investigate.ClientTraffic, key, value string) (investigate.ClientCount, bool) {
	for _, c := range ct.By {
		if c.Key == key && c.Value == value {
			return c, true
		}
	}
	return investigate.ClientCount{}, false
}

func TestClientsFromAccessLog(t *testing.T) {
	srv, c := newServerClient(t)
	start := ts("2025-05-13T14:10:00Z")
	api := scrapeAPI(start)
	api.Install(srv)
	s := c.NewSession()
	ct, err := s.Clients(ctxTimeout(t, 10*time.Second), investigate.ClientQuery{Entry: listingsAPI, Start: start, End: start.Add(10 * time.Minute)})
	if err != nil || len(s.Problems()) > 0 {
		t.Fatalf("err %v, problems %v", err, s.Problems())
	}
	if ct.Entry != "listings-api" || ct.Source != "access log /aws/apigateway/listings-public/prod" || ct.Requests != 400 || ct.Failed != 100 {
		t.Errorf("totals = %+v", ct)
	}
	for _, want := range []investigate.ClientCount{
		{Key: investigate.ClientIP, Value: "203.0.113.7", Requests: 300, Failed: 100},
		{Key: investigate.ClientUserAgent, Value: "python-requests/2.31.0", Requests: 300, Failed: 100},
		{Key: investigate.ClientAPIKey, Value: "w8f3kq1zpn", Requests: 300, Failed: 100},
		{Key: investigate.ClientPath, Value: "/v1/listings/search", Requests: 300, Failed: 100},
		{Key: investigate.ClientIP, Value: "52.1.1.3", Requests: 10},
		{Key: investigate.ClientPath, Value: "/v1/listings/{id}", Requests: 100},
	} {
		if got, _ := countOf(ct, want.Key, want.Value); got != want {
			t.Errorf("%s %s: got %+v, want %+v", want.Key, want.Value, got, want)
		}
	}
	// Requests without a key are no API key's.
	if got, ok := countOf(ct, investigate.ClientAPIKey, "-"); ok {
		t.Errorf("the absent key counted as a key: %+v", got)
	}
	// One query for the totals, one per key, each on the stage's field
	// names; never on the API key itself.
	if len(api.Queries) != 5 {
		t.Errorf("queries = %q", api.Queries)
	}
	for _, q := range api.Queries {
		if strings.Contains(q, "`key`") || strings.Contains(q, "apiKey`") {
			t.Errorf("query reads the API key itself: %q", q)
		}
	}
	want := "stats count(*) as requests, sum(`status` >= 400) as failed by `ip` | sort requests desc | limit 25"
	found := false
	for _, q := range api.Queries {
		found = found || q == want
	}
	if !found {
		t.Errorf("queries %q, want one %q", api.Queries, want)
	}
	if ct.BytesScanned != 5*400*250 || s.BytesScanned() != ct.BytesScanned {
		t.Errorf("bytes = %d, session %d", ct.BytesScanned, s.BytesScanned())
	}
	if n := srv.Count("API Gateway.GetStages"); n != 1 {
		t.Errorf("GetStages called %d times", n)
	}
}

// The alarm's stage is the one read; a stage without a JSON access log in
// CloudWatch Logs is no access log.
func TestAccessLogOfStage(t *testing.T) {
	srv, c := newServerClient(t)
	start := ts("2025-05-13T14:10:00Z")
	api := scrapeAPI(start)
	api.Install(srv)
	srv.Reply("XRay.GetTraceSummaries", map[string]any{"TraceSummaries": []any{}})
	dev := listingsAPI
	dev.Dims = map[string]string{"ApiName": "listings-public", "Stage": "dev"}
	ct, err := c.NewSession().Clients(ctxTimeout(t, 10*time.Second), investigate.ClientQuery{Entry: dev, Start: start, End: start.Add(10 * time.Minute)})
	if err != nil || ct.Source != "X-Ray" || len(api.Queries) != 0 {
		t.Errorf("stage dev (no access log): %+v, %v, queries %q; want X-Ray's", ct, err, api.Queries)
	}

	// Neither an access log nor traces: both causes are said.
	srv.Reply("XRay.GetTraceSummaries", &awstest.Error{Status: 400, Code: "ThrottledException", Message: "Rate exceeded"})
	_, err = c.NewSession().Clients(ctxTimeout(t, 10*time.Second), investigate.ClientQuery{Entry: dev, Start: start, End: start.Add(10 * time.Minute)})
	if !errors.Is(err, ErrNoAccessLog) || !strings.Contains(err.Error(), "xray get trace summaries") {
		t.Errorf("err = %v", err)
	}
}

func TestAccessLogFields(t *testing.T) {
	cases := []struct {
		name, format string
		want         map[string]string // nil: not a format whose fields can be counted
	}{
		{"API Gateway's JSON example", `{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user","requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath", "status":"$context.status","protocol":"$context.protocol", "responseLength":"$context.responseLength" }`,
			map[string]string{"ip": "ip", "path": "resourcePath", "status": "status"}},
		{"nested and unquoted", `{"requestId":"$context.requestId","identity":{"sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent","apiKeyId":"$context.identity.apiKeyId"},"status":$context.status,"routeKey":"$context.routeKey"}`,
			map[string]string{"ip": "identity.sourceIp", "user_agent": "identity.userAgent", "api_key_id": "identity.apiKeyId", "status": "status", "path": "routeKey"}},
		{"the key itself is no key id", `{"requestId":"$context.requestId","k":"$context.identity.apiKey","status":"$context.status"}`, nil},
		{"CLF", `$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId`, nil},
		{"broken JSON", `{"ip": "$context.identity.sourceIp",`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := accessLogFields(c.format)
			if c.want == nil {
				if ok {
					t.Errorf("fields %v, want none", got)
				}
				return
			}
			if !ok || fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("fields %v (%v), want %v", got, ok, c.want)
			}
		})
	}
}

// A load balancer's access logs are in S3: its clients are X-Ray's
// requests entering it, by their HTTP client address, user agent and path.
func TestClientsFromTracesOfALoadBalancer(t *testing.T) {
	_, w, c := newALBClient(t)
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := s.Topology(ctx, investigate.Alarm{Name: "web-alb-target-5xx", Resource: "web-alb",
		Metric: investigate.Metric{Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count", Dims: map[string]string{"LoadBalancer": "app/web-alb/50dc6c495c0c9188"}}}); err != nil {
		t.Fatal(err)
	}
	ct, err := s.Clients(ctx, investigate.ClientQuery{Entry: investigate.Resource{ID: "web-alb", Type: investigate.TypeALB}, Start: w.Onset, End: w.Fires})
	if err != nil {
		t.Fatal(err)
	}
	// 30 traced requests per instance since the onset, those of the bad
	// instance failed.
	if ct.Source != "X-Ray" || ct.Requests != 90 || ct.Failed != 30 {
		t.Errorf("totals = %+v", ct)
	}
	if p, _ := countOf(ct, investigate.ClientPath, "/reply"); p.Requests != 90 {
		t.Errorf("path /reply = %+v", p)
	}
	if ua, _ := countOf(ct, investigate.ClientUserAgent, "Slackbot 1.0 (+https://api.slack.com/robots)"); ua.Requests != 90 {
		t.Errorf("user agent = %+v", ua)
	}
	ips := 0
	for _, x := range ct.By {
		if x.Key == investigate.ClientIP {
			ips++
			if x.Requests > 3 {
				t.Errorf("address %+v: want at most 3 of 90 spread over 40", x)
			}
		}
	}
	if ips != investigate.ClientTopN+5 {
		t.Errorf("%d addresses listed, want the %d busiest", ips, investigate.ClientTopN+5)
	}
}
