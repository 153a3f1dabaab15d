package awstest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// AccessLogAPI serves, through the AWS protocols, an API Gateway REST API
// whose stage writes a JSON access log to a CloudWatch Logs group: the
// stage (GetStages) and Logs Insights' `stats count(*) by FIELD` over the
// log's requests (StartQuery, GetQueryResults), answered in the shapes the
// API references give: GetStages' item list with accessLogSettings
// (destinationArn, format); GetQueryResults' results as rows of
// {field, value} pairs, numbers as strings, the first poll Running.
//
// The query language is read strictly for the queries it knows:
//
//	stats count(*) as requests[, sum(`STATUS` >= 400) as failed] [by `FIELD` | sort requests desc | limit N]
//
// anything else is a MalformedQueryException, as a query Logs Insights
// cannot parse is.
type AccessLogAPI struct {
	Account, Region string
	APIID, Stage    string
	Group           string
	// Format is the stage's access log format.
	Format string
	// Requests are the log's events.
	Requests []AccessRequest

	mu      sync.Mutex
	queries map[string]*accessQuery
	next    int
	// Queries are the query strings started, in order.
	Queries []string
}

// AccessRequest is one line of the access log: its time and its JSON
// fields.
type AccessRequest struct {
	Time   time.Time
	Fields map[string]string
}

type accessQuery struct {
	query      string
	start, end time.Time
	polls      int
}

// Install registers the API's handlers on a server.
func (a *AccessLogAPI) Install(srv *Server) {
	srv.Handle("API Gateway.GetStages", a.getStages)
	srv.Handle("CloudWatch Logs.StartQuery", a.startQuery)
	srv.Handle("CloudWatch Logs.GetQueryResults", a.getQueryResults)
}

func (a *AccessLogAPI) getStages(r *Request) any {
	if r.String("restapi_id") != a.APIID {
		return &Error{Status: 404, Code: "NotFoundException", Message: "Invalid API identifier specified " + a.Account + ":" + r.String("restapi_id")}
	}
	return map[string]any{"item": []any{
		map[string]any{"stageName": "dev", "deploymentId": "d1"},
		map[string]any{"stageName": a.Stage, "deploymentId": "d2", "accessLogSettings": map[string]any{
			"destinationArn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", a.Region, a.Account, a.Group),
			"format":         a.Format,
		}},
	}}
}

func (a *AccessLogAPI) startQuery(r *Request) any {
	groups, _ := r.Params["logGroupNames"].([]any)
	if len(groups) != 1 || groups[0] != a.Group {
		return &Error{Status: 400, Code: "ResourceNotFoundException", Message: "Log group does not exist"}
	}
	q := r.String("queryString")
	if accessStatsRe.FindStringSubmatch(q) == nil {
		return &Error{Status: 400, Code: "MalformedQueryException", Message: "unexpected query " + q}
	}
	if m := queryLimitRe.FindStringSubmatch(q); m != nil {
		if n, err := strconv.Atoi(m[1]); err != nil || n < 1 || n > 100000 {
			return &Error{Status: 400, Code: "MalformedQueryException", Message: "limit must be between 1 and 100000"}
		}
	}
	st, _ := r.Params["startTime"].(float64)
	en, _ := r.Params["endTime"].(float64)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.queries == nil {
		a.queries = map[string]*accessQuery{}
	}
	a.next++
	id := fmt.Sprintf("aq-%d", a.next)
	a.queries[id] = &accessQuery{query: q, start: time.Unix(int64(st), 0), end: time.Unix(int64(en), 0)}
	a.Queries = append(a.Queries, q)
	return map[string]any{"queryId": id}
}

var accessStatsRe = regexp.MustCompile("^stats count\\(\\*\\) as requests(?:, sum\\(`([^`]+)` >= 400\\) as failed)?(?: by `([^`]+)` \\| sort requests desc \\| limit (\\d+))?$")

func (a *AccessLogAPI) getQueryResults(r *Request) any {
	a.mu.Lock()
	q, ok := a.queries[r.String("queryId")]
	if ok {
		q.polls++
	}
	a.mu.Unlock()
	if !ok {
		return &Error{Status: 400, Code: "ResourceNotFoundException", Message: "no such query"}
	}
	if q.polls < 2 {
		return map[string]any{"status": "Running", "results": []any{}, "statistics": map[string]any{"bytesScanned": 0.0}}
	}
	m := accessStatsRe.FindStringSubmatch(q.query)
	status, by := m[1], m[2]
	limit, _ := strconv.Atoi(m[3])
	type agg struct {
		value            string
		present          bool
		requests, failed int
	}
	groups := map[string]*agg{}
	var order []string
	scanned := 0
	for _, req := range a.Requests {
		if req.Time.Before(q.start) || !req.Time.Before(q.end) {
			continue
		}
		scanned++
		v, present := "", false
		if by != "" {
			v, present = req.Fields[by]
		}
		g := groups[v]
		if g == nil {
			g = &agg{value: v, present: present}
			groups[v] = g
			order = append(order, v)
		}
		g.requests++
		if n, err := strconv.Atoi(req.Fields[status]); status != "" && err == nil && n >= 400 {
			g.failed++
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return groups[order[i]].requests > groups[order[j]].requests })
	field := func(k, v string) map[string]any { return map[string]any{"field": k, "value": v} }
	rows := []any{}
	for i, v := range order {
		if limit > 0 && i == limit {
			break
		}
		g := groups[v]
		var row []any
		if by != "" && g.present {
			row = append(row, field(by, g.value))
		}
		row = append(row, field("requests", strconv.Itoa(g.requests)))
		if status != "" {
			row = append(row, field("failed", strconv.Itoa(g.failed)))
		}
		rows = append(rows, row)
	}
	if by == "" && len(rows) == 0 {
		row := []any{field("requests", "0")}
		if status != "" {
			row = append(row, field("failed", "0"))
		}
		rows = append(rows, row)
	}
	return map[string]any{"status": "Complete", "results": rows, "statistics": map[string]any{
		"bytesScanned": float64(scanned * 250), "recordsMatched": float64(scanned), "recordsScanned": float64(scanned),
	}}
}
