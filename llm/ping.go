package llm

import (
	"context"
	"strings"

	openai "github.com/sashabaranov/go-openai"
)

// Ping asks the model for a one-token answer: it shows that the server
// answers, takes the key (or needs none) and knows the model, for bot
// doctor. It costs a prompt of a few tokens. A nil model has nothing to
// ping and returns ErrNoModel.
func (m *Model) Ping(ctx context.Context) error {
	if m == nil {
		return ErrNoModel
	}
	_, err := m.chat.complete(ctx, request{
		messages:  []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Reply with OK."}},
		maxTokens: 1,
	})
	if err != nil {
		return &PingError{Status: statusOf(err), Err: err}
	}
	return nil
}

// PingError is a Ping the server did not answer with a completion.
type PingError struct {
	// Status is the server's HTTP status; 0 when no answer came (nothing
	// listening, a timeout).
	Status int
	Err    error
}

func (e *PingError) Error() string { return "model: " + e.Err.Error() }

func (e *PingError) Unwrap() error { return e.Err }

func statusOf(err error) int {
	code, _ := httpStatus(err)
	return code
}

// Endpoint is where the model is: its base URL (OpenAI's by default) and
// its name.
func (m *Model) Endpoint() (baseURL, model string) {
	if m == nil {
		return "", ""
	}
	base := m.cfg.BaseURL
	if base == "" {
		base = openai.DefaultConfig("").BaseURL
	}
	return strings.TrimRight(base, "/"), m.cfg.Model
}
