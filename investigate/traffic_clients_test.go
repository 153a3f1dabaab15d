package investigate

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// reqRow is the requests of one client on one path, per minute.
type reqRow struct {
	ip, ua, key, path    string
	perMin, failedPerMin float64
}

// clientsIn counts rows over a window of mins minutes as a ClientSource
// answers.
func clientsIn(rows []reqRow, mins float64) ClientTraffic {
	ct := ClientTraffic{Entry: "api", Source: "access log /aws/apigateway/api/access"}
	counts := map[[2]string]*ClientCount{}
	for _, r := range rows {
		n, f := int(r.perMin*mins), int(r.failedPerMin*mins)
		ct.Requests += n
		ct.Failed += f
		for _, kv := range [][2]string{{ClientIP, r.ip}, {ClientUserAgent, r.ua}, {ClientAPIKey, r.key}, {ClientPath, r.path}} {
			if kv[1] == "" {
				continue
			}
			c := counts[kv]
			if c == nil {
				c = &ClientCount{Key: kv[0], Value: kv[1]}
				counts[kv] = c
			}
			c.Requests += n
			c.Failed += f
		}
	}
	for _, c := range counts {
		ct.By = append(ct.By, *c)
	}
	sort.Slice(ct.By, func(i, j int) bool {
		if ct.By[i].Key != ct.By[j].Key {
			return ct.By[i].Key < ct.By[j].Key
		}
		return ct.By[i].Requests > ct.By[j].Requests
	})
	return ct
}

// ordinaryRows are 12 clients over two paths, perMin in all, failing
// at failShare.
func ordinaryRows(perMin, failShare float64) []reqRow {
	var rows []reqRow
	sum := 0.0
	for i := range 12 {
		sum += 1 / float64(i+2)
	}
	for i := range 12 {
		w := 1 / float64(i+2) / sum
		for j, p := range []struct {
			path  string
			share float64
		}{{"/v1/items", 0.6}, {"/v1/search", 0.4}} {
			ua := []string{"okhttp/4.12.0", "Mozilla/5.0 (iPhone)", "Go-http-client/2.0"}[(i+j)%3]
			n := perMin * w * p.share
			rows = append(rows, reqRow{fmt.Sprintf("52.1.%d.%d", i, 10+j), ua, fmt.Sprintf("key%02d", i), p.path, n, n * failShare})
		}
	}
	return rows
}

func clientsRun(t *testing.T) *run {
	t.Helper()
	onset := time.Date(2025, 5, 13, 14, 10, 0, 0, time.UTC)
	g := newGraph(Topology{Resources: []Resource{{ID: "api", Type: TypeAPIGateway}}}, "api")
	return &run{
		g: g, onset: onset, now: onset.Add(5 * time.Minute), step: time.Minute,
		baseline: window{onset.Add(-65 * time.Minute), onset.Add(-5 * time.Minute)},
		during:   window{onset, onset.Add(5 * time.Minute)},
	}
}

func TestDominantClient(t *testing.T) {
	scraper := reqRow{"203.0.113.7", "python-requests/2.31.0", "w8f3kq1zpn", "/v1/search", 4000, 0}
	partner := func(perMin float64) reqRow {
		return reqRow{"198.51.100.20", "AcmeSync/4.2.0", "acmekey001", "/v1/sync", perMin, 0}
	}
	cases := []struct {
		name           string
		before, during []reqRow
		// want are the values named, "" for no client; action is a
		// fragment of the first action.
		want   []string
		surge  bool
		action string
	}{
		{"traffic that grows in proportion names no one",
			ordinaryRows(1000, 0.005), ordinaryRows(3000, 0.005), nil, false, ""},
		{"failures that rise for everyone name no one",
			ordinaryRows(1000, 0.005), ordinaryRows(1000, 0.3), nil, false, ""},
		{"a new client that sends most of a surge",
			ordinaryRows(1000, 0.005), append(ordinaryRows(1000, 0.005), scraper),
			[]string{"w8f3kq1zpn", "203.0.113.7", "python-requests/2.31.0", "/v1/search"}, true,
			"move API key w8f3kq1zpn to a usage plan with a low rate limit, or disable it"},
		{"a partner that triples while the others stay",
			append(ordinaryRows(400, 0.005), partner(600)), append(ordinaryRows(400, 0.005), partner(1800)),
			[]string{"acmekey001", "198.51.100.20", "AcmeSync/4.2.0", "/v1/sync"}, true, "block address 198.51.100.20 at api's WAF web ACL"},
		{"a partner that grows with everyone else",
			append(ordinaryRows(400, 0.005), partner(600)), append(ordinaryRows(1200, 0.005), partner(1800)), nil, false, ""},
		{"a new client whose requests fail, without a surge",
			ordinaryRows(1000, 0.005), append(ordinaryRows(700, 0.005), reqRow{"", "evil-scanner/1.0", "", "/v1/admin", 300, 300}),
			[]string{"evil-scanner/1.0"}, false, "block user agent evil-scanner/1.0 at the WAF"},
		{"a handful of requests is no client's surge",
			ordinaryRows(1000, 0.005), append(ordinaryRows(1000, 0.005), reqRow{"203.0.113.9", "curl/8.5.0", "", "/v1/x", 0.6, 0}), nil, false, ""},
		{"a path many clients call far more",
			ordinaryRows(1000, 0.005), func() []reqRow {
				rows := ordinaryRows(1000, 0.005)
				for _, r := range ordinaryRows(3000, 0) {
					r.path = "/v1/export"
					rows = append(rows, r)
				}
				return rows
			}(), []string{"/v1/export"}, true, "rate-limit requests to /v1/export at api"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clientsRun(t)
			cs := r.dominant("api", clientsIn(c.before, 60), clientsIn(c.during, 5))
			if c.want == nil {
				if cs != nil {
					t.Fatalf("named %+v, want no one", cs.named)
				}
				return
			}
			if cs == nil {
				t.Fatalf("named no one, want %v", c.want)
			}
			var got []string
			for _, n := range cs.named {
				got = append(got, n.Value)
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") || cs.surge != c.surge {
				t.Errorf("named %v (surge %v), want %v (surge %v)", got, cs.surge, c.want, c.surge)
			}
			actions, _ := clientActions(r, "api", cs)
			if actions[0].Kind != ActionBlock || !strings.Contains(actions[0].Detail, c.action) {
				t.Errorf("first action %+v, want block with %q", actions[0], c.action)
			}
			if !strings.Contains(cs.f.Summary, got[0]) {
				t.Errorf("finding %q does not name %s", cs.f.Summary, got[0])
			}
		})
	}
}
