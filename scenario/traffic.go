package scenario

import (
	"net"
	"strings"

	"gopkg.in/yaml.v3"
)

// TrafficItem is the requests of one client, or to one path, that enter an
// entry resource (an alb or apigw): who sends them, how many, and how the
// entry answers them.
type TrafficItem struct {
	Window
	Entry string
	// Client identifies the sender; its zero value (an item that names only
	// a path) is the entry's ordinary clients, the requests spread over
	// them.
	Client Client
	// Path is the request path, like /v1/search; empty for the entry's
	// usual paths.
	Path string
	// PerMin is the item's requests per minute, added to the entry's
	// traffic.
	PerMin float64
	// Fault, Error and Throttle are the shares of the item's requests the
	// entry itself answers with a 5xx, a 4xx and a 429: they do not reach
	// its targets.
	Fault, Error, Throttle float64
	Line                   int // the item's line in the file, for messages
}

// Client is what identifies a client in access logs and traces. The API key
// is its id, as API Gateway logs it ($context.identity.apiKeyId): never the
// key itself.
type Client struct {
	IP        string
	UserAgent string
	APIKeyID  string
}

// IsZero reports whether no field of c is set.
func (c Client) IsZero() bool { return c == Client{} }

var (
	trafficFields = append([]string{"entry", "client", "path", "rate", "fault", "error", "throttle"}, windowFields...)
	clientFields  = []string{"ip", "user_agent", "api_key_id"}
)

func (p *parser) traffic(n *yaml.Node, field string) {
	m := p.mapping(n, field, trafficFields)
	if m == nil {
		return
	}
	it := TrafficItem{Line: deref(n).Line}
	it.Entry, _ = p.refField(m, "entry", true, entryTypes...)
	if !m.has("client") && !m.has("path") {
		p.errf(m.n, field, "want client (who sends the requests), path (where they go) or both, found neither")
	}
	if v := m.get("client"); v != nil {
		it.Client = p.client(v, m.field("client"))
	}
	if v := m.get("path"); v != nil {
		if s, ok := p.str(v, m.field("path")); ok {
			if !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\n?#") {
				p.errf(v, m.field("path"), "bad path %q (want the request's path, starting with /, like /v1/search)", s)
			}
			it.Path = s
		}
	}
	if v := p.req(m, "rate"); v != nil {
		it.PerMin, _ = p.rate(v, m.field("rate"))
	}
	sum := 0.0
	for _, k := range []struct {
		name string
		into *float64
	}{{"fault", &it.Fault}, {"error", &it.Error}, {"throttle", &it.Throttle}} {
		if v := m.get(k.name); v != nil {
			*k.into, _ = p.numIn(v, m.field(k.name), 0, 1)
			sum += *k.into
		}
	}
	if sum > 1+1e-9 {
		p.errf(m.n, field, "fault + error + throttle is %s (want at most 1: they are shares of the same requests)", fmtNum(sum))
	}
	it.Window = p.window(m, false)
	p.s.Traffic = append(p.s.Traffic, it)
}

// client reads a traffic item's client.
func (p *parser) client(n *yaml.Node, field string) Client {
	m := p.mapping(n, field, append([]string{"api_key"}, clientFields...))
	var c Client
	if m == nil {
		return c
	}
	if len(m.n.Content) == 0 {
		p.errf(m.n, field, "want at least one of %s", strings.Join(clientFields, ", "))
	}
	if v := m.key["api_key"]; v != nil {
		p.errf(v, m.field("api_key"), "unknown field \"api_key\" (want api_key_id: the key's id, as API Gateway logs $context.identity.apiKeyId, never the key itself)")
	}
	if v := m.get("ip"); v != nil {
		if s, ok := p.str(v, m.field("ip")); ok {
			if net.ParseIP(s) == nil {
				p.errf(v, m.field("ip"), "bad ip %q (want an IPv4 or IPv6 address, like 203.0.113.7)", s)
			}
			c.IP = s
		}
	}
	if v := m.get("user_agent"); v != nil {
		c.UserAgent, _ = p.str(v, m.field("user_agent"))
	}
	if v := m.get("api_key_id"); v != nil {
		c.APIKeyID, _ = p.str(v, m.field("api_key_id"))
	}
	return c
}
