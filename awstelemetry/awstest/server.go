// Package awstest is an HTTP server that answers AWS API calls the way AWS
// does on the wire, for tests that run the real SDK clients on loopback:
// requests are routed by the SigV4 signing name and the protocol's
// operation marker (X-Amz-Target, Action, the RPC v2 path, the REST route),
// and responses are encoded in the service's protocol — Smithy RPC v2
// CBOR (CloudWatch), AWS JSON 1.0/1.1, REST-JSON, the query protocol and
// EC2's query protocol (XML).
//
// Handlers return a response tree built of map[string]any, []any, List
// (an XML list with a member name), string, bool, int, int64, float64 and
// time.Time; or Raw bytes; or an *Error; or Hang to never answer.
package awstest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Protocols.
const (
	CBOR     = "rpcv2cbor"
	JSON10   = "awsjson1_0"
	JSON11   = "awsjson1_1"
	RESTJSON = "restjson1"
	Query    = "awsquery"
	EC2Query = "ec2query"
)

// Service describes one AWS service as the server speaks it.
type Service struct {
	ID       string // the SDK's service id, e.g. "CloudWatch"
	Signing  string // SigV4 signing name, e.g. "monitoring"
	Protocol string
	// XMLNS is the query protocols' response namespace.
	XMLNS string
	// Routes are the REST-JSON operations: method, path pattern with
	// {name} parameters, operation.
	Routes []Route
}

// Route is one REST operation.
type Route struct {
	Method, Path, Op string
}

// Services are the services the adapter calls.
var Services = []Service{
	{ID: "CloudWatch", Signing: "monitoring", Protocol: CBOR},
	{ID: "CloudWatch Logs", Signing: "logs", Protocol: JSON11},
	{ID: "XRay", Signing: "xray", Protocol: RESTJSON, Routes: []Route{
		{"POST", "/ServiceGraph", "GetServiceGraph"},
		{"POST", "/TraceSummaries", "GetTraceSummaries"},
		{"POST", "/Traces", "BatchGetTraces"},
	}},
	{ID: "CloudTrail", Signing: "cloudtrail", Protocol: JSON11},
	{ID: "Elastic Load Balancing v2", Signing: "elasticloadbalancing", Protocol: Query, XMLNS: "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"},
	{ID: "EC2", Signing: "ec2", Protocol: EC2Query, XMLNS: "http://ec2.amazonaws.com/doc/2016-11-15/"},
	{ID: "Auto Scaling", Signing: "autoscaling", Protocol: Query, XMLNS: "http://autoscaling.amazonaws.com/doc/2011-01-01/"},
	{ID: "Lambda", Signing: "lambda", Protocol: RESTJSON, Routes: []Route{
		{"GET", "/2015-03-31/functions/{FunctionName}/configuration", "GetFunctionConfiguration"},
		{"GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency"},
		{"GET", "/2015-03-31/event-source-mappings", "ListEventSourceMappings"},
	}},
	{ID: "ECS", Signing: "ecs", Protocol: JSON11},
	{ID: "RDS", Signing: "rds", Protocol: Query, XMLNS: "http://rds.amazonaws.com/doc/2014-10-31/"},
	{ID: "DynamoDB", Signing: "dynamodb", Protocol: JSON10},
	{ID: "ElastiCache", Signing: "elasticache", Protocol: Query, XMLNS: "http://elasticache.amazonaws.com/doc/2015-02-02/"},
	{ID: "SNS", Signing: "sns", Protocol: Query, XMLNS: "http://sns.amazonaws.com/doc/2010-03-31/"},
	{ID: "SFN", Signing: "states", Protocol: JSON10},
	{ID: "API Gateway", Signing: "apigateway", Protocol: RESTJSON, Routes: []Route{
		{"GET", "/restapis", "GetRestApis"},
		{"GET", "/restapis/{restapi_id}/resources", "GetResources"},
		{"GET", "/restapis/{restapi_id}/stages", "GetStages"},
	}},
	{ID: "Health", Signing: "health", Protocol: JSON11},
	{ID: "Service Quotas", Signing: "servicequotas", Protocol: JSON11},
	{ID: "Resource Groups Tagging API", Signing: "tagging", Protocol: JSON11},
	{ID: "STS", Signing: "sts", Protocol: Query, XMLNS: "https://sts.amazonaws.com/doc/2011-06-15/"},
}

// ServiceByID returns a service by its SDK id.
func ServiceByID(id string) (Service, bool) {
	for _, s := range Services {
		if s.ID == id {
			return s, true
		}
	}
	return Service{}, false
}

// Request is one call as the handler sees it.
type Request struct {
	Service Service
	Op      string
	// Params are the decoded input: the JSON or CBOR body, the query
	// protocol's form values (flat keys such as "Names.member.1"), or a
	// REST call's path parameters, query string and body.
	Params map[string]any
	HTTP   *http.Request
}

// String returns a parameter as a string ("" when absent).
func (r *Request) String(key string) string {
	switch v := r.Params[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Handler answers one operation.
type Handler func(r *Request) any

// Error is an AWS error response.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Throttle, Denied are the usual errors.
func Throttle(code string) *Error {
	return &Error{Status: 400, Code: code, Message: "Rate exceeded"}
}

// Denied is an access-denied error with the service's code.
func Denied(code string) *Error {
	return &Error{Status: 403, Code: code, Message: "User: arn:aws:sts::123456789012:assumed-role/unstuck/test is not authorized to perform this action"}
}

// Raw is a response body sent as is.
type Raw struct {
	ContentType string
	Body        []byte
}

// List is an XML list whose members have a name other than the protocol's
// default ("member", or "item" for EC2).
type List struct {
	Member string
	Items  []any
}

// Hang never answers (until the client gives up, or 30 seconds pass).
var Hang = &struct{ hang bool }{true}

// Call is one request the server received.
type Call struct {
	Service, Op string
	Params      map[string]any
}

// Server is the fake.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	handlers map[string]Handler
	calls    []Call
}

// New starts a server. Handlers are keyed "ServiceID.Operation".
func New() *Server {
	s := &Server{handlers: map[string]Handler{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	// Its own transport: httptest's client would share
	// http.DefaultTransport, whose idle connections every other test
	// server's Close closes.
	s.Server.Client().Transport = bufferedBodies{&http.Transport{}}
	return s
}

// bufferedBodies reads a request's body into memory before sending it.
//
// The SDK closes a request's body as soon as the response arrives, and
// net/http's transport reads the body once more after sending it (to check
// that it is no longer than its length). A server on loopback can answer
// between the two; the transport's read then fails and it closes the
// connection under the response being read ("use of closed network
// connection"). Against AWS the answer comes long after; here the copy
// takes the race away.
type bufferedBodies struct{ http.RoundTripper }

func (t bufferedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(b))
		r2.ContentLength = int64(len(b))
		r = r2
	}
	return t.RoundTripper.RoundTrip(r)
}

// CloseIdleConnections lets Server.Close close the client's connections.
func (t bufferedBodies) CloseIdleConnections() {
	if c, ok := t.RoundTripper.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Close shuts the server down without waiting for calls left hanging.
func (s *Server) Close() {
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// Handle sets the handler of an operation ("CloudWatch.GetMetricData").
func (s *Server) Handle(op string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[op] = h
}

// Reply sets a handler that always returns v.
func (s *Server) Reply(op string, v any) {
	s.Handle(op, func(*Request) any { return v })
}

// Calls returns the calls received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count is the number of calls of an operation ("" counts all).
func (s *Server) Count(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if op == "" || c.Service+"."+c.Op == op {
			n++
		}
	}
	return n
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	var svc Service
	for _, sv := range Services {
		if sv.Signing == m[1] {
			svc = sv
		}
	}
	if svc.ID == "" {
		http.Error(w, "unknown service "+m[1], http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	op, params, err := decode(svc, r, body)
	if err != nil {
		writeError(w, svc, op, &Error{Status: 400, Code: "SerializationException", Message: err.Error()})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Service: svc.ID, Op: op, Params: params})
	h := s.handlers[svc.ID+"."+op]
	s.mu.Unlock()
	if h == nil {
		writeError(w, svc, op, &Error{Status: 400, Code: "UnknownOperationException", Message: "fakeaws: no handler for " + svc.ID + "." + op})
		return
	}
	out := h(&Request{Service: svc, Op: op, Params: params, HTTP: r})
	switch v := out.(type) {
	case *Error:
		writeError(w, svc, op, v)
		return
	case Raw:
		w.Header().Set("Content-Type", v.ContentType)
		if svc.Protocol == CBOR {
			w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		}
		w.Write(v.Body)
		return
	}
	if out == Hang {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	writeOK(w, svc, op, out)
}

// decode finds the operation and decodes the input.
func decode(svc Service, r *http.Request, body []byte) (string, map[string]any, error) {
	params := map[string]any{}
	switch svc.Protocol {
	case CBOR:
		op := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
			return op, nil, fmt.Errorf("missing Smithy-Protocol header")
		}
		if len(body) > 0 {
			v, err := cbor.Decode(body)
			if err != nil {
				return op, nil, err
			}
			if m, ok := fromCBOR(v).(map[string]any); ok {
				params = m
			}
		}
		return op, params, nil
	case JSON10, JSON11:
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndex(target, ".")+1:]
		if len(body) > 0 {
			if err := json.Unmarshal(body, &params); err != nil {
				return op, nil, err
			}
		}
		return op, params, nil
	case Query, EC2Query:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return "", nil, err
		}
		for k, v := range form {
			params[k] = v[0]
		}
		return form.Get("Action"), params, nil
	case RESTJSON:
		for _, rt := range svc.Routes {
			if rt.Method != r.Method {
				continue
			}
			if vals, ok := matchPath(rt.Path, r.URL.EscapedPath()); ok {
				for k, v := range vals {
					params[k] = v
				}
				for k, v := range r.URL.Query() {
					params[k] = v[0]
				}
				if len(body) > 0 {
					var b map[string]any
					if err := json.Unmarshal(body, &b); err != nil {
						return rt.Op, nil, err
					}
					for k, v := range b {
						params[k] = v
					}
				}
				return rt.Op, params, nil
			}
		}
		return "", nil, fmt.Errorf("no route for %s %s", r.Method, r.URL.Path)
	}
	return "", nil, fmt.Errorf("unknown protocol")
}

func matchPath(pattern, path string) (map[string]string, bool) {
	pp := strings.Split(strings.Trim(pattern, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(pp) != len(ps) {
		return nil, false
	}
	vals := map[string]string{}
	for i := range pp {
		if strings.HasPrefix(pp[i], "{") {
			v, err := url.PathUnescape(ps[i])
			if err != nil {
				return nil, false
			}
			vals[strings.Trim(pp[i], "{}")] = v
		} else if pp[i] != ps[i] {
			return nil, false
		}
	}
	return vals, true
}

func writeOK(w http.ResponseWriter, svc Service, op string, out any) {
	switch svc.Protocol {
	case CBOR:
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.Write(cbor.Encode(toCBOR(out)))
	case JSON10, JSON11:
		w.Header().Set("Content-Type", "application/x-amz-json-"+strings.TrimPrefix(strings.ReplaceAll(svc.Protocol, "_", "."), "awsjson"))
		var b bytes.Buffer
		writeJSON(&b, out)
		// DynamoDB signs its bodies with a CRC32 the SDK checks.
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b.Bytes())), 10))
		w.Write(b.Bytes())
	case RESTJSON:
		w.Header().Set("Content-Type", "application/json")
		writeJSON(w, out)
	case Query:
		w.Header().Set("Content-Type", "text/xml")
		var b bytes.Buffer
		fmt.Fprintf(&b, `<%sResponse xmlns="%s"><%sResult>`, op, svc.XMLNS, op)
		writeXML(&b, out, "member")
		fmt.Fprintf(&b, `</%sResult><ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></%sResponse>`, op, op)
		w.Write(b.Bytes())
	case EC2Query:
		w.Header().Set("Content-Type", "text/xml")
		var b bytes.Buffer
		fmt.Fprintf(&b, `<%sResponse xmlns="%s"><requestId>fake-request</requestId>`, op, svc.XMLNS)
		writeXML(&b, out, "item")
		fmt.Fprintf(&b, `</%sResponse>`, op)
		w.Write(b.Bytes())
	}
}

func writeError(w http.ResponseWriter, svc Service, op string, e *Error) {
	status := e.Status
	if status == 0 {
		status = 400
	}
	switch svc.Protocol {
	case CBOR:
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("X-Amzn-Query-Error", e.Code+";Sender")
		w.WriteHeader(status)
		w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + e.Code), "message": cbor.String(e.Message)}))
	case JSON10, JSON11:
		var b bytes.Buffer
		writeJSON(&b, map[string]any{"__type": e.Code, "message": e.Message})
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-Errortype", e.Code)
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b.Bytes())), 10))
		w.WriteHeader(status)
		w.Write(b.Bytes())
	case RESTJSON:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", e.Code)
		w.WriteHeader(status)
		writeJSON(w, map[string]any{"message": e.Message})
	case Query:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>`,
			svc.XMLNS, xmlEscape(e.Code), xmlEscape(e.Message))
	case EC2Query:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>fake-request</RequestID></Response>`,
			xmlEscape(e.Code), xmlEscape(e.Message))
	}
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeJSON encodes a tree, times as epoch seconds.
func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(toJSON(v))
	if err != nil {
		panic(err)
	}
	w.Write(b)
}

func toJSON(v any) any {
	switch x := v.(type) {
	case time.Time:
		return float64(x.UnixMilli()) / 1000
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = toJSON(e)
		}
		return l
	case List:
		return toJSON(x.Items)
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		return l
	}
	return v
}

// writeXML writes a tree as query-protocol XML: keys are element names in
// sorted order, lists' members are named by List.Member or def.
func writeXML(b *bytes.Buffer, v any, def string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if x[k] == nil {
				continue
			}
			fmt.Fprintf(b, "<%s>", k)
			writeXML(b, x[k], def)
			fmt.Fprintf(b, "</%s>", k)
		}
	case []any:
		writeXML(b, List{Member: def, Items: x}, def)
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		writeXML(b, List{Member: def, Items: items}, def)
	case List:
		name := x.Member
		if name == "" {
			name = def
		}
		for _, it := range x.Items {
			fmt.Fprintf(b, "<%s>", name)
			writeXML(b, it, def)
			fmt.Fprintf(b, "</%s>", name)
		}
	case time.Time:
		b.WriteString(x.UTC().Format("2006-01-02T15:04:05.000Z"))
	case string:
		xml.EscapeText(b, []byte(x))
	default:
		fmt.Fprint(b, x)
	}
}

func toCBOR(v any) cbor.Value {
	switch x := v.(type) {
	case nil:
		return &cbor.Nil{}
	case map[string]any:
		m := cbor.Map{}
		for k, e := range x {
			if e != nil {
				m[k] = toCBOR(e)
			}
		}
		return m
	case []any:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = toCBOR(e)
		}
		return l
	case List:
		return toCBOR(x.Items)
	case []string:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = cbor.String(e)
		}
		return l
	case []float64:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = cbor.Float64(e)
		}
		return l
	case []time.Time:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = toCBOR(e)
		}
		return l
	case string:
		return cbor.String(x)
	case bool:
		return cbor.Bool(x)
	case int:
		return cborInt(int64(x))
	case int32:
		return cborInt(int64(x))
	case int64:
		return cborInt(x)
	case float64:
		return cbor.Float64(x)
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(x.UnixMilli()) / 1000)}
	}
	panic(fmt.Sprintf("fakeaws: cannot encode %T", v))
}

func cborInt(n int64) cbor.Value {
	if n < 0 {
		return cbor.NegInt(uint64(-(n + 1)) + 1)
	}
	return cbor.Uint(uint64(n))
}

func fromCBOR(v cbor.Value) any {
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = fromCBOR(e)
		}
		return m
	case cbor.List:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = fromCBOR(e)
		}
		return l
	case cbor.String:
		return string(x)
	case cbor.Uint:
		return float64(x)
	case cbor.NegInt:
		return -float64(x)
	case cbor.Float64:
		return float64(x)
	case cbor.Float32:
		return float64(x)
	case cbor.Bool:
		return bool(x)
	case *cbor.Tag:
		if x.ID == 1 {
			switch t := x.Value.(type) {
			case cbor.Float64:
				sec, frac := math.Modf(float64(t))
				return time.Unix(int64(sec), int64(frac*1e9)).UTC()
			case cbor.Uint:
				return time.Unix(int64(t), 0).UTC()
			}
		}
		return fromCBOR(x.Value)
	}
	return nil
}
