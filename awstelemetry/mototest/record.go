package mototest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Call is one request an SDK client sent to the server, and the status it
// got back.
type Call struct {
	// Service is the signing name (monitoring, logs, ec2, xray …); Op the
	// operation: the Query protocols' Action, the JSON protocols' target,
	// or the REST protocols' method and path.
	Service, Op string
	Status      int
}

func (c Call) String() string { return fmt.Sprintf("%s %s → %d", c.Service, c.Op, c.Status) }

// Recorder is an HTTP client for the SDK that sends every request to the
// server and records what was called and what came back.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

var signingService = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/`)

// Do sends a request and records it.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	c := Call{Op: req.Method + " " + req.URL.Path}
	if m := signingService.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		c.Service = m[1]
	}
	if t := req.Header.Get("X-Amz-Target"); t != "" {
		c.Op = t[strings.LastIndexByte(t, '.')+1:]
	} else if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
			c.Op = v.Get("Action")
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		c.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return resp, err
}

// Calls are the calls recorded, in the order they were sent.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Summary counts the calls by service, operation and status, one line
// each, sorted.
func (r *Recorder) Summary() []string {
	n := map[string]int{}
	for _, c := range r.Calls() {
		n[c.String()]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(out)
	return out
}
