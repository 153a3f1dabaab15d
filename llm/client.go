package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Usage is what requests to the model cost, in tokens as the server counts
// them (estimated at 4 bytes a token when it reports none).
type Usage struct {
	Prompt     int `json:"prompt_tokens"`
	Completion int `json:"completion_tokens"`
	Requests   int `json:"requests"`
}

// Total is prompt and completion tokens.
func (u Usage) Total() int { return u.Prompt + u.Completion }

func (u *Usage) add(v Usage) {
	u.Prompt += v.Prompt
	u.Completion += v.Completion
	u.Requests += v.Requests
}

// estimateTokens is the budget's measure of text: 4 bytes a token.
func estimateTokens(n int) int { return (n + 3) / 4 }

// chat is the go-openai client with what the servers differ in: the
// response formats they accept, and retries.
type chat struct {
	client    *openai.Client
	model     string
	maxTokens int
	// format is the structured-reply level in use: 0 json_schema,
	// 1 json_object, 2 text. It steps down, once for all requests, when a
	// server rejects one.
	format   atomic.Int32
	fixedFmt bool
	retries  *retryDoer
	// onUsage, when set, is told the tokens of every reply.
	onUsage func(Usage)
}

const (
	levelSchema = iota
	levelJSON
	levelText
)

func newChat(cfg Config) *chat {
	var oc openai.ClientConfig
	if cfg.IsAzure() {
		base := strings.TrimRight(cfg.BaseURL, "/")
		// go-openai appends /openai/deployments/NAME itself.
		if i := strings.Index(base, "/openai"); i >= 0 {
			base = base[:i]
		}
		oc = openai.DefaultAzureConfig(cfg.APIKey, base)
		oc.APIVersion = cfg.APIVersion
		dep := cfg.Deployment
		oc.AzureModelMapperFunc = func(string) string { return dep }
	} else {
		oc = openai.DefaultConfig(cfg.APIKey)
		if cfg.BaseURL != "" {
			oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
		}
	}
	var hc openai.HTTPDoer = http.DefaultClient
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	rd := &retryDoer{next: hc, retries: cfg.Retries, backoff: cfg.Backoff}
	oc.HTTPClient = rd
	c := &chat{client: openai.NewClientWithConfig(oc), model: cfg.Model, maxTokens: cfg.MaxTokens, retries: rd}
	switch cfg.ResponseFormat {
	case FormatJSONSchema:
		c.fixedFmt = true
	case FormatJSONObject:
		c.format.Store(levelJSON)
		c.fixedFmt = true
	case FormatText:
		c.format.Store(levelText)
		c.fixedFmt = true
	}
	return c
}

// reasoningModel reports whether the model takes max_completion_tokens and
// no temperature (OpenAI's o-series and gpt-5).
func reasoningModel(name string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// request is one chat completion to make.
type request struct {
	messages []openai.ChatCompletionMessage
	tools    []openai.Tool
	// toolChoice "none" asks for an answer without more tool calls.
	toolChoice string
	// schema, when set, asks for a structured reply.
	schema     json.Marshaler
	schemaName string
	maxTokens  int
}

// reply is the model's message and what it cost.
type reply struct {
	msg    openai.ChatCompletionMessage
	finish openai.FinishReason
	usage  Usage
}

// complete makes one chat completion, stepping down the response format
// when the server rejects it.
func (c *chat) complete(ctx context.Context, rq request) (reply, error) {
	var spent Usage
	for {
		level := c.format.Load()
		req := openai.ChatCompletionRequest{
			Model:    c.model,
			Messages: rq.messages,
			Tools:    rq.tools,
		}
		if rq.toolChoice != "" && len(rq.tools) > 0 {
			req.ToolChoice = rq.toolChoice
		}
		maxTok := c.maxTokens
		if rq.maxTokens > 0 && rq.maxTokens < maxTok {
			maxTok = rq.maxTokens
		}
		if reasoningModel(c.model) {
			req.MaxCompletionTokens = maxTok
		} else {
			req.MaxTokens = maxTok
		}
		if rq.schema != nil {
			switch level {
			case levelSchema:
				req.ResponseFormat = &openai.ChatCompletionResponseFormat{
					Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
					JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
						Name: rq.schemaName, Schema: rq.schema, Strict: true,
					},
				}
			case levelJSON:
				req.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
			}
		}
		resp, err := c.client.CreateChatCompletion(ctx, req)
		if err != nil {
			if req.ResponseFormat != nil && !c.fixedFmt && rejectsFormat(err) {
				// The server does not take this response format: step down
				// for this and every later request.
				c.format.CompareAndSwap(level, level+1)
				spent.Requests++
				continue
			}
			return reply{usage: spent}, err
		}
		u := Usage{Prompt: resp.Usage.PromptTokens, Completion: resp.Usage.CompletionTokens, Requests: 1}
		if len(resp.Choices) == 0 {
			c.observe(u)
			spent.add(u)
			return reply{usage: spent}, errors.New("the reply has no choices")
		}
		ch := resp.Choices[0]
		if u.Prompt == 0 && u.Completion == 0 {
			// The server counts nothing: estimate.
			b, _ := json.Marshal(req.Messages)
			out, _ := json.Marshal(ch.Message)
			u.Prompt, u.Completion = estimateTokens(len(b)), estimateTokens(len(out))
		}
		c.observe(u)
		spent.add(u)
		return reply{msg: ch.Message, finish: ch.FinishReason, usage: spent}, nil
	}
}

// rejectsFormat reports whether an error is a server's refusal of the
// response format (a 400 or 422 that is not about the context length).
func rejectsFormat(err error) bool {
	code, msg := httpStatus(err)
	if code != http.StatusBadRequest && code != http.StatusUnprocessableEntity && code != http.StatusNotImplemented {
		return false
	}
	msg = strings.ToLower(msg)
	return !strings.Contains(msg, "context length") && !strings.Contains(msg, "maximum context")
}

// httpStatus returns the HTTP status and message of a server's error.
func httpStatus(err error) (int, string) {
	var ae *openai.APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatusCode, ae.Message
	}
	var re *openai.RequestError
	if errors.As(err, &re) {
		return re.HTTPStatusCode, string(re.Body)
	}
	return 0, ""
}

// errBudget is the token budget running out.
var errBudget = errors.New("over the token budget")

// errMalformed is a reply that is not the JSON asked for.
type errMalformed struct{ detail string }

func (e *errMalformed) Error() string { return "malformed reply: " + e.detail }

// errInvalid is a reply none of whose hypotheses passed validation.
type errInvalid struct{ problems []string }

func (e *errInvalid) Error() string {
	return "no hypothesis passed validation: " + strings.Join(limitStrings(e.problems, 4), "; ")
}

// why is a failure in a few words, for the report's reasoner line.
func why(err error) string {
	var nt net.Error
	var mal *errMalformed
	var inv *errInvalid
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nt) && nt.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, errBudget):
		return "over the token budget"
	case errors.As(err, &mal):
		return "malformed reply"
	case errors.As(err, &inv):
		return "no hypothesis passed validation"
	}
	if code, _ := httpStatus(err); code != 0 {
		switch {
		case code == http.StatusTooManyRequests:
			return "rate limited (HTTP 429)"
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return fmt.Sprintf("not authorised (HTTP %d)", code)
		case code >= 500:
			return fmt.Sprintf("server error (HTTP %d)", code)
		default:
			return fmt.Sprintf("HTTP %d", code)
		}
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host") {
		return "unreachable"
	}
	return "error"
}

// retryDoer retries a request on HTTP 429 and 5xx with exponential backoff,
// honouring Retry-After, within the request's deadline.
type retryDoer struct {
	next     openai.HTTPDoer
	retries  int
	backoff  time.Duration
	attempts atomic.Int64
}

const (
	maxBackoff    = 8 * time.Second
	maxRetryAfter = 20 * time.Second
)

func retryable(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code <= 599)
}

func (d *retryDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		d.attempts.Add(1)
		resp, err := d.next.Do(r)
		if err != nil || !retryable(resp.StatusCode) || attempt >= d.retries {
			return resp, err
		}
		wait := d.wait(attempt, resp.Header.Get("Retry-After"))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// No time to wait: the failure stands.
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

func (d *retryDoer) wait(attempt int, retryAfter string) time.Duration {
	w := d.backoff << attempt
	if w > maxBackoff || w <= 0 {
		w = maxBackoff
	}
	// ±20% jitter, so that many clients do not retry in step.
	w = time.Duration(float64(w) * (0.8 + 0.4*rand.Float64()))
	if s, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && s >= 0 {
		ra := time.Duration(s) * time.Second
		if ra > maxRetryAfter {
			ra = maxRetryAfter
		}
		if ra > w {
			w = ra
		}
	}
	return w
}

func limitStrings(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	out := append([]string(nil), s[:n]...)
	return append(out, fmt.Sprintf("and %d more", len(s)-n))
}

func (c *chat) observe(u Usage) {
	if c.onUsage != nil {
		c.onUsage(u)
	}
}
