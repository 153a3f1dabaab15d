package awstelemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	xtypes "github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/unstuck/unstuck/investigate"
)

// ErrNoAccessLog is the cause of an API whose requests cannot be counted by
// client from its access log: no stage logs to CloudWatch Logs, or not in
// JSON.
var ErrNoAccessLog = errors.New("no JSON access log in CloudWatch Logs")

// clientVars are the access log variables of each key, as API Gateway
// names them ($context.…), in the order they are preferred. The API key's
// id, never the key: $context.identity.apiKey is a secret, and is never
// read.
var clientVars = map[string][]string{
	investigate.ClientIP:        {"identity.sourceIp"},
	investigate.ClientUserAgent: {"identity.userAgent"},
	investigate.ClientAPIKey:    {"identity.apiKeyId"},
	investigate.ClientPath:      {"resourcePath", "routeKey", "path"},
	"status":                    {"status"},
}

// accessLog is where a stage writes its access log and which JSON field
// holds each key.
type accessLog struct {
	stage  string
	group  string
	fields map[string]string // key (and "status") → the JSON field, dotted when nested
}

// Clients breaks the requests that entered a load balancer or an API in
// [q.Start, q.End) down by client and path. An API's stage that writes a
// JSON access log to CloudWatch Logs is read with Logs Insights, one
// `stats count(*) by FIELD` per key (its address, user agent, API key id
// and path, as the stage's format names them) and one for the totals;
// otherwise (a load balancer, whose access logs are in S3, or an API
// without such a log) X-Ray's trace summaries of the requests entering it
// are counted by their HTTP client address, user agent and URL path.
func (s *Session) Clients(ctx context.Context, q investigate.ClientQuery) (ct investigate.ClientTraffic, err error) {
	defer recoverTo(&err, "clients")
	ct.Entry = q.Entry.ID
	if !q.End.After(q.Start) {
		return ct, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxLogQueryTime)
		defer cancel()
	}
	ctx = s.ctx(ctx)
	var logErr error
	if q.Entry.Type == investigate.TypeAPIGateway {
		var al accessLog
		al, logErr = s.accessLog(ctx, q.Entry)
		if logErr == nil {
			return s.clientsFromLog(ctx, q, al)
		}
	}
	ct, err = s.clientsFromTraces(ctx, q)
	if err != nil && logErr != nil {
		return ct, errors.Join(logErr, err)
	}
	return ct, err
}

// accessLog finds the JSON access log of an API's stage: the alarm's stage
// (its Stage dimension) or the first that has one.
func (s *Session) accessLog(ctx context.Context, api investigate.Resource) (accessLog, error) {
	id := api.Config["api_id"]
	if id == "" {
		return accessLog{}, fmt.Errorf("access log of %s: the API's id is unknown: %w", api.ID, ErrNoAccessLog)
	}
	out, err := s.c.api.apigw.GetStages(ctx, &apigateway.GetStagesInput{RestApiId: aws.String(id)})
	if err != nil {
		return accessLog{}, wrap("apigateway get stages "+api.ID, err)
	}
	stages := out.Item
	sort.SliceStable(stages, func(i, j int) bool { return aws.ToString(stages[i].StageName) < aws.ToString(stages[j].StageName) })
	want := api.Dims["Stage"]
	for _, st := range stages {
		name := aws.ToString(st.StageName)
		if want != "" && name != want {
			continue
		}
		if st.AccessLogSettings == nil {
			continue
		}
		group, ok := logGroupOf(aws.ToString(st.AccessLogSettings.DestinationArn))
		if !ok {
			continue // Firehose
		}
		fields, ok := accessLogFields(aws.ToString(st.AccessLogSettings.Format))
		if !ok {
			continue // CLF, CSV, XML: no fields Logs Insights discovers
		}
		return accessLog{stage: name, group: group, fields: fields}, nil
	}
	return accessLog{}, fmt.Errorf("access log of %s: %w", api.ID, ErrNoAccessLog)
}

// logGroupOf is the log group of a CloudWatch Logs ARN
// (arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]).
func logGroupOf(arn string) (string, bool) {
	_, rest, ok := strings.Cut(arn, ":log-group:")
	if !ok || !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":logs:") {
		return "", false
	}
	rest = strings.TrimSuffix(rest, ":*")
	return rest, rest != ""
}

var unquotedVar = regexp.MustCompile(`:\s*(\$context\.[A-Za-z0-9_.]+)`)

// accessLogFields reads a JSON access log format and returns the field
// that holds each key: for {"ip": "$context.identity.sourceIp", ...},
// ip for ClientIP. Nested objects give dotted fields, as Logs Insights
// flattens them. Variables the format leaves unquoted (numbers) are read
// too.
func accessLogFields(format string) (map[string]string, bool) {
	format = strings.TrimSpace(format)
	if !strings.HasPrefix(format, "{") {
		return nil, false
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(unquotedVar.ReplaceAllString(format, `:"$1"`)), &raw); err != nil {
		return nil, false
	}
	byVar := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch x := v.(type) {
			case string:
				if name, ok := strings.CutPrefix(strings.TrimSpace(x), "$context."); ok {
					if _, dup := byVar[name]; !dup || prefix+k < byVar[name] {
						byVar[name] = prefix + k
					}
				}
			case map[string]any:
				walk(prefix+k+".", x)
			}
		}
	}
	walk("", raw)
	fields := map[string]string{}
	for key, vars := range clientVars {
		for _, v := range vars {
			if f, ok := byVar[v]; ok {
				fields[key] = f
				break
			}
		}
	}
	if len(fields) == 0 || (len(fields) == 1 && fields["status"] != "") {
		return nil, false
	}
	return fields, true
}

// insightsField quotes a field name for Logs Insights.
func insightsField(f string) string { return "`" + strings.ReplaceAll(f, "`", "") + "`" }

// clientQueries are the Logs Insights queries of an access log: the totals
// ("" key) and, for each key the format has, its busiest values.
func clientQueries(al accessLog) map[string]string {
	agg := "count(*) as requests"
	if st, ok := al.fields["status"]; ok {
		agg += ", sum(" + insightsField(st) + " >= 400) as failed"
	}
	qs := map[string]string{"": "stats " + agg}
	for _, key := range investigate.ClientKeys {
		f, ok := al.fields[key]
		if !ok {
			continue
		}
		qs[key] = fmt.Sprintf("stats %s by %s | sort requests desc | limit %d", agg, insightsField(f), investigate.ClientTopN+5)
	}
	return qs
}

// clientsFromLog counts an API's requests by client in its access log.
func (s *Session) clientsFromLog(ctx context.Context, q investigate.ClientQuery, al accessLog) (investigate.ClientTraffic, error) {
	ct := investigate.ClientTraffic{Entry: q.Entry.ID, Source: "access log " + al.group}
	lq := investigate.LogQuery{Group: al.group, Start: q.Start, End: q.End}
	type answer struct {
		rows  []map[string]string
		bytes int64
		err   error
	}
	qs := clientQueries(al)
	answers := map[string]*answer{}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for key, query := range qs {
		a := &answer{}
		answers[key] = a
		spawn(&wg, func(err error) { mu.Lock(); a.err = err; mu.Unlock() }, func() {
			rows, n, err := s.logQuery(ctx, lq, query)
			if err == nil {
				err = lacking(al.group, query, rows, "requests")
			}
			mu.Lock()
			a.rows, a.bytes, a.err = rows, n, err
			mu.Unlock()
		})
	}
	wg.Wait()
	num := func(v string) int {
		f, _ := strconv.ParseFloat(v, 64)
		return int(f)
	}
	var errs []error
	for _, a := range answers {
		ct.BytesScanned += a.bytes
	}
	if t := answers[""]; t.err != nil {
		return ct, t.err
	} else if len(t.rows) > 0 {
		ct.Requests, ct.Failed = num(t.rows[0]["requests"]), num(t.rows[0]["failed"])
	}
	for _, key := range investigate.ClientKeys {
		a, ok := answers[key]
		if !ok {
			continue
		}
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		for _, row := range a.rows {
			v := row[al.fields[key]]
			if v == "" || v == "-" {
				continue
			}
			ct.By = append(ct.By, investigate.ClientCount{Key: key, Value: v, Requests: num(row["requests"]), Failed: num(row["failed"])})
		}
	}
	if err := partial("clients of "+q.Entry.ID, errs); err != nil {
		s.addProblems(err)
	}
	return ct, nil
}

// clientsFromTraces counts the traced requests entering an entry by their
// client's address and user agent and their URL's path (X-Ray's
// TraceSummary Http: ClientIp, UserAgent, HttpURL, HttpStatus). They are
// X-Ray's sample, which stands for all the requests.
func (s *Session) clientsFromTraces(ctx context.Context, q investigate.ClientQuery) (investigate.ClientTraffic, error) {
	ct := investigate.ClientTraffic{Entry: q.Entry.ID, Source: "X-Ray"}
	ix := s.topology(ctx, false)
	sums, err := s.traceSummaries(ctx, q.Start, q.End)
	if err != nil && len(sums) == 0 {
		return ct, fmt.Errorf("clients of %s: %w", q.Entry.ID, err)
	}
	if err != nil {
		s.addProblems(err)
	}
	counts := map[[2]string]*investigate.ClientCount{}
	for _, ts := range sums {
		if !entersAt(ix, ts, q.Entry.ID) || ts.Http == nil {
			continue
		}
		h := ts.Http
		failed := aws.ToInt32(h.HttpStatus) >= 400 || aws.ToBool(ts.HasFault) || aws.ToBool(ts.HasError) || aws.ToBool(ts.HasThrottle)
		ct.Requests++
		f := 0
		if failed {
			ct.Failed++
			f = 1
		}
		path := ""
		if u, err := url.Parse(aws.ToString(h.HttpURL)); err == nil {
			path = u.Path
		}
		for _, kv := range [][2]string{{investigate.ClientIP, aws.ToString(h.ClientIp)}, {investigate.ClientUserAgent, aws.ToString(h.UserAgent)}, {investigate.ClientPath, path}} {
			if kv[1] == "" {
				continue
			}
			c := counts[kv]
			if c == nil {
				c = &investigate.ClientCount{Key: kv[0], Value: kv[1]}
				counts[kv] = c
			}
			c.Requests++
			c.Failed += f
		}
	}
	all := make([]investigate.ClientCount, 0, len(counts))
	for _, c := range counts {
		all = append(all, *c)
	}
	ct.By = append(ct.By, investigate.RankClients(all, investigate.ClientTopN+5)...)
	return ct, nil
}

// entersAt reports whether a traced request entered at entry: its entry
// point is the entry, or the service behind the load balancer that the
// topology puts in front of it (a load balancer records no segment).
func entersAt(ix *topoIndex, ts xtypes.TraceSummary, entry string) bool {
	if ts.EntryPoint == nil {
		return false
	}
	id := ix.nodeID(aws.ToString(ts.EntryPoint.Name), aws.ToString(ts.EntryPoint.Type))
	return id == entry || ix.caller(clientID, id) == entry
}
