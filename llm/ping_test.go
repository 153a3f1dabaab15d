package llm

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/unstuck/unstuck/llm/llmtest"
)

func TestPing(t *testing.T) {
	ok := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: "OK"}))
	defer ok.Close()
	refused := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: http.StatusUnauthorized, Error: "Incorrect API key provided"}))
	defer refused.Close()
	gone := llmtest.New(llmtest.Sequence(llmtest.Reply{}))
	goneURL := gone.BaseURL()
	gone.Close()
	tests := []struct {
		name       string
		base       string
		wantErr    bool
		wantStatus int
	}{
		{"answers", ok.BaseURL(), false, 0},
		{"refuses the key", refused.BaseURL(), true, http.StatusUnauthorized},
		{"nothing listening", goneURL, true, 0},
	}
	for _, tt := range tests {
		m, err := NewModel(Config{BaseURL: tt.base, Model: "llama3.1", Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Ping(context.Background())
		var pe *PingError
		if (err != nil) != tt.wantErr || tt.wantErr && (!errors.As(err, &pe) || pe.Status != tt.wantStatus) {
			t.Errorf("%s: Ping = %v, want error %v with status %d", tt.name, err, tt.wantErr, tt.wantStatus)
		}
	}
	if reqs := ok.Requests(); len(reqs) != 1 || reqs[0].Chat.MaxTokens != 1 || reqs[0].Chat.Model != "llama3.1" {
		t.Errorf("requests %+v, want one of one token to llama3.1", reqs)
	}
	var none *Model
	if err := none.Ping(context.Background()); !errors.Is(err, ErrNoModel) {
		t.Errorf("nil model: %v", err)
	}
	if base, name := (&Model{cfg: Config{Model: "gpt-4o-mini"}}).Endpoint(); base != "https://api.openai.com/v1" || name != "gpt-4o-mini" {
		t.Errorf("Endpoint = %s %s", base, name)
	}
}
