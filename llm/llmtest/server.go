// Package llmtest is an OpenAI-compatible chat completions server on
// loopback, scripted per test: replies with content or tool calls, HTTP
// errors with Retry-After, delays, servers that reject a response format.
// The real go-openai client reaches it through its base URL
// (OPENAI_BASE_URL), so tests exercise the wire format, not a mock.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Request is one request the server received.
type Request struct {
	// N counts requests from 1.
	N      int
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Chat   openai.ChatCompletionRequest
}

// LastUser is the content of the request's last user message.
func (r Request) LastUser() string {
	for i := len(r.Chat.Messages) - 1; i >= 0; i-- {
		if r.Chat.Messages[i].Role == openai.ChatMessageRoleUser {
			return r.Chat.Messages[i].Content
		}
	}
	return ""
}

// FirstUser is the content of the request's first user message.
func (r Request) FirstUser() string {
	for _, m := range r.Chat.Messages {
		if m.Role == openai.ChatMessageRoleUser {
			return m.Content
		}
	}
	return ""
}

// Format is the response format type the request asked for ("" for none).
func (r Request) Format() string {
	if r.Chat.ResponseFormat == nil {
		return ""
	}
	return string(r.Chat.ResponseFormat.Type)
}

// Reply is a scripted reply.
type Reply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Error is the error message of a non-200 reply.
	Error string
	// RetryAfter is sent as the Retry-After header.
	RetryAfter string
	// Content is the assistant's message.
	Content string
	// ToolCalls are the assistant's tool calls.
	ToolCalls []openai.ToolCall
	// Delay holds the reply back (until the client gives up, if sooner).
	Delay time.Duration
	// Usage overrides the usage the server reports; by default it is the
	// request body's size and the reply's, at 4 bytes a token.
	Usage *openai.Usage
	// Raw, when set, is written as the body verbatim.
	Raw string
}

// Script decides the reply to each request.
type Script func(req Request) Reply

// Sequence plays the replies in order and repeats the last.
func Sequence(replies ...Reply) Script {
	return func(req Request) Reply {
		i := req.N - 1
		if i >= len(replies) {
			i = len(replies) - 1
		}
		return replies[i]
	}
}

// ToolCall builds a function tool call.
func ToolCall(id, name string, args any) openai.ToolCall {
	b, _ := json.Marshal(args)
	return openai.ToolCall{ID: id, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: name, Arguments: string(b)}}
}

// JSON encodes a value as reply content.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Server is the scripted server.
type Server struct {
	*httptest.Server
	script Script

	mu         sync.Mutex
	requests   []Request
	prompt     int
	completion int
}

// New starts a server on 127.0.0.1 that answers POST …/chat/completions
// (OpenAI's /v1/chat/completions and Azure's
// /openai/deployments/NAME/chat/completions) with the script. Close it when
// done.
func New(script Script) *Server {
	s := &Server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// BaseURL is the base to give the client: the server's URL and /v1.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Usage returns the prompt and completion tokens the server reported so
// far.
func (s *Server) Usage() (prompt, completion int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prompt, s.completion
}

// Reset forgets the requests and usage so far.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.prompt, s.completion = nil, 0, 0
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		writeError(w, http.StatusNotFound, "no such route "+r.URL.Path)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	if err := json.Unmarshal(body, &req.Chat); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	s.mu.Lock()
	req.N = len(s.requests) + 1
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	rep := s.script(req)
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if rep.Raw != "" {
		w.Header().Set("Content-Type", "application/json")
		status := rep.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, rep.Raw)
		return
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		writeError(w, rep.Status, rep.Error)
		return
	}
	msg := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: rep.Content, ToolCalls: rep.ToolCalls}
	finish := openai.FinishReasonStop
	if len(rep.ToolCalls) > 0 {
		finish = openai.FinishReasonToolCalls
	}
	usage := rep.Usage
	if usage == nil {
		out, _ := json.Marshal(msg)
		u := openai.Usage{PromptTokens: (len(body) + 3) / 4, CompletionTokens: (len(out) + 3) / 4}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		usage = &u
	}
	s.mu.Lock()
	s.prompt += usage.PromptTokens
	s.completion += usage.CompletionTokens
	s.mu.Unlock()
	resp := openai.ChatCompletionResponse{
		ID: fmt.Sprintf("chatcmpl-%d", req.N), Object: "chat.completion", Created: time.Now().Unix(), Model: req.Chat.Model,
		Choices: []openai.ChatCompletionChoice{{Index: 0, Message: msg, FinishReason: finish}},
		Usage:   *usage,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "test_error", "code": status}})
}
