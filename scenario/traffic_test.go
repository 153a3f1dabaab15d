package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// trafficBase is a valid document with a traffic section; each case of
// TestTrafficErrors replaces one line of it.
const trafficBase = `name: traffic-test
title: a test
onset: 2024-12-03T10:30:00Z
alarm: {name: api-5xx, resource: api, metric: AWS/ApiGateway 5XXError, stat: Sum, threshold: 10, fires: +3m}
resources:
  - {id: api, type: apigw, targets: [fn], access_log: /aws/apigateway/api/prod}
  - {id: fn, type: lambda}
  - {id: web, type: alb, targets: [fn]}
traffic:
  - {entry: api, client: {ip: 203.0.113.7, user_agent: python-requests/2.31.0, api_key_id: k7x2m9q4ab}, path: /v1/search, rate: 10/s, at: +0m, ramp: 2m, throttle: 0.5, fault: 0.1}
  - {entry: web, path: /v1/export, rate: 120/m, until: +0m}
`

func TestTraffic(t *testing.T) {
	f, err := Parse("t.yaml", []byte(trafficBase), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	if len(s.Traffic) != 2 {
		t.Fatalf("traffic = %+v", s.Traffic)
	}
	got := s.Traffic[0]
	want := Client{IP: "203.0.113.7", UserAgent: "python-requests/2.31.0", APIKeyID: "k7x2m9q4ab"}
	if got.Entry != "api" || got.Client != want || got.Path != "/v1/search" || got.PerMin != 600 ||
		got.Throttle != 0.5 || got.Fault != 0.1 || got.Error != 0 || !got.At.Equal(s.Onset) || got.Ramp != 2*time.Minute || got.Line != 10 {
		t.Errorf("traffic[0] = %+v", got)
	}
	if !s.Traffic[0].Until.Equal(s.End()) {
		t.Errorf("traffic[0].until = %v, want the end of telemetry %v", s.Traffic[0].Until, s.End())
	}
	if p := s.Traffic[1]; !p.Client.IsZero() || p.Path != "/v1/export" || p.PerMin != 120 || !p.At.Equal(s.Start()) || !p.Until.Equal(s.Onset) {
		t.Errorf("traffic[1] = %+v", p)
	}
	api, _ := s.Resource("api")
	web, _ := s.Resource("web")
	if api.AccessLog != "/aws/apigateway/api/prod" || web.AccessLog != "" {
		t.Errorf("access logs: api %q, web %q", api.AccessLog, web.AccessLog)
	}
}

// An API's access log defaults to a group named after it.
func TestAccessLogDefault(t *testing.T) {
	doc := strings.Replace(trafficBase, ", access_log: /aws/apigateway/api/prod", ", name: shop-public", 1)
	f, err := Parse("t.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if api, _ := f.Scenario.Resource("api"); api.AccessLog != "/aws/apigateway/shop-public/access" {
		t.Errorf("access_log = %q", api.AccessLog)
	}
}

func TestTrafficErrors(t *testing.T) {
	first := "  - {entry: api, client: {ip: 203.0.113.7, user_agent: python-requests/2.31.0, api_key_id: k7x2m9q4ab}, path: /v1/search, rate: 10/s, at: +0m, ramp: 2m, throttle: 0.5, fault: 0.1}"
	cases := []struct {
		name, new string
		field     string
		msg       string
	}{
		{"entry not an entry", "  - {entry: fn, path: /v1/search, rate: 10/s}", "traffic[0].entry", `"fn" is a resource of type lambda (want type alb or apigw)`},
		{"unknown entry", "  - {entry: apx, path: /v1/search, rate: 10/s}", "traffic[0].entry", `unknown resource id "apx" (did you mean "api"?)`},
		{"missing entry", "  - {path: /v1/search, rate: 10/s}", "traffic[0].entry", `missing required field "entry"`},
		{"neither client nor path", "  - {entry: api, rate: 10/s}", "traffic[0]", "want client (who sends the requests), path (where they go) or both"},
		{"missing rate", "  - {entry: api, path: /v1/search}", "traffic[0].rate", `missing required field "rate"`},
		{"bad rate", "  - {entry: api, path: /v1/search, rate: lots}", "traffic[0].rate", `bad rate "lots"`},
		{"bad ip", "  - {entry: api, client: {ip: 203.0.113.700}, rate: 10/s}", "traffic[0].client.ip", `bad ip "203.0.113.700"`},
		{"unknown client field", "  - {entry: api, client: {useragent: curl/8.5.0}, rate: 10/s}", "traffic[0].client.useragent", `did you mean "user_agent"?`},
		{"the key itself", "  - {entry: api, client: {api_key: abc}, rate: 10/s}", "traffic[0].client.api_key", "want api_key_id: the key's id"},
		{"empty client", "  - {entry: api, client: {}, rate: 10/s}", "traffic[0].client", "want at least one of ip, user_agent, api_key_id"},
		{"bad path", "  - {entry: api, path: v1/search, rate: 10/s}", "traffic[0].path", `bad path "v1/search"`},
		{"shares over 1", "  - {entry: api, path: /v1/search, rate: 10/s, fault: 0.6, throttle: 0.6}", "traffic[0]", "fault + error + throttle is 1.2"},
		{"share out of range", "  - {entry: api, path: /v1/search, rate: 10/s, error: 2}", "traffic[0].error", ""},
		{"until before at", "  - {entry: api, path: /v1/search, rate: 10/s, at: +5m, until: +1m}", "traffic[0].until", `until "+1m" is not after at "+5m"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(trafficBase, first) {
				t.Fatal("the case's line is not in trafficBase")
			}
			_, err := Parse("t.yaml", []byte(strings.Replace(trafficBase, first, c.new, 1)), nil)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			for _, e := range list {
				if e.Line == 10 && e.Field == c.field && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no error 10: %s: ...%s...; got:\n%v", c.field, c.msg, err)
		})
	}
}
