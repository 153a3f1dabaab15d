package investigate

import (
	"context"
	"sort"
	"time"
)

// What a request's client is known by in access logs and traces, and its
// path: the keys of ClientCount.
const (
	ClientIP        = "ip"
	ClientUserAgent = "user_agent"
	// ClientAPIKey is the API key's id (API Gateway's
	// $context.identity.apiKeyId), never the key itself.
	ClientAPIKey = "api_key_id"
	ClientPath   = "path"
)

// ClientKeys are the keys in the order the engine names a client by: the
// one a block acts on most precisely first.
var ClientKeys = []string{ClientAPIKey, ClientIP, ClientUserAgent, ClientPath}

// ClientTopN is how many values of each key a ClientSource returns at
// least, when there are that many: a value missing from a list that long
// had at most the last one's requests.
const ClientTopN = 20

// ClientQuery asks who sent the requests that entered an entry resource (a
// load balancer or an API) in [Start, End).
type ClientQuery struct {
	Entry Resource
	Start time.Time
	End   time.Time
}

// ClientTraffic is the requests that entered an entry resource in a
// window, by client and path, as `stats count(*) by FIELD` over its access
// log counts them (or X-Ray's sampled requests, which then stand for all).
type ClientTraffic struct {
	Entry string `json:"entry"`
	// Source is where they were read: "access log GROUP", "X-Ray".
	Source   string `json:"source"`
	Requests int    `json:"requests"`
	// Failed are the requests answered with a 4xx or a 5xx.
	Failed int `json:"failed"`
	// By are, for each key, its values with the most requests, most first
	// (at least ClientTopN of them when there are that many).
	By           []ClientCount `json:"by,omitempty"`
	BytesScanned int64         `json:"bytes_scanned,omitempty"`
}

// ClientCount is the requests of one value of one key: one address, one
// user agent, one API key, one path.
type ClientCount struct {
	Key      string `json:"key"`
	Value    string `json:"value"`
	Requests int    `json:"requests"`
	Failed   int    `json:"failed"`
}

// RankClients orders counts as ClientTraffic.By holds them: by key, in
// ClientKeys' order, and within a key by requests, most first (then by
// value), keeping at most keep values of each key.
func RankClients(counts []ClientCount, keep int) []ClientCount {
	byKey := map[string][]ClientCount{}
	for _, c := range counts {
		byKey[c.Key] = append(byKey[c.Key], c)
	}
	var out []ClientCount
	for _, key := range ClientKeys {
		list := byKey[key]
		sort.Slice(list, func(i, j int) bool {
			if list[i].Requests != list[j].Requests {
				return list[i].Requests > list[j].Requests
			}
			return list[i].Value < list[j].Value
		})
		out = append(out, list[:min(len(list), keep)]...)
	}
	return out
}

// ClientSource breaks the requests entering an entry resource down by
// client and path.
type ClientSource interface {
	Clients(ctx context.Context, q ClientQuery) (ClientTraffic, error)
}
