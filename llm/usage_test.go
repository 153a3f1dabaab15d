package llm

import (
	"context"
	"sync"
	"testing"

	"github.com/unstuck/unstuck/llm/llmtest"
)

// OnUsage is told the tokens of every reply, as the server counted them
// (what the bot's unstuck_model_tokens_total adds up).
func TestOnUsage(t *testing.T) {
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Content: goodReply()}))
	defer srv.Close()
	m := testModel(t, srv)
	var mu sync.Mutex
	var got Usage
	m.OnUsage(func(u Usage) {
		mu.Lock()
		defer mu.Unlock()
		got.add(u)
	})
	if _, err := m.Reason(context.Background(), engineReport(t, scen)); err != nil {
		t.Fatal(err)
	}
	prompt, completion := srv.Usage()
	mu.Lock()
	defer mu.Unlock()
	if got.Prompt != prompt || got.Completion != completion || prompt == 0 {
		t.Errorf("observed %+v, the server counted %d + %d", got, prompt, completion)
	}
	var none *Model
	none.OnUsage(func(Usage) {}) // the offline model has no tokens; no panic
}
