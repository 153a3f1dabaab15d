package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/unstuck/unstuck/llm/llmtest"
)

// TestGatewayQuotingTheKey: a gateway that answers 401 quoting the key
// (LiteLLM, vLLM and other self-hosted gateways do), in a shape no pattern
// knows, does not put it in the report: not in Unavailable, the reasoner's
// note or anywhere else a thread or the store would get it.
func TestGatewayQuotingTheKey(t *testing.T) {
	const key = "gw-LiteLLM-team42-9d8c7b6a5f4e"
	srv := llmtest.New(llmtest.Sequence(llmtest.Reply{Status: http.StatusUnauthorized, Error: "Incorrect API key provided: " + key + ". You can find your API key at https://gateway.internal/keys."}))
	defer srv.Close()
	m, err := NewModel(Config{APIKey: key, BaseURL: srv.BaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := m.Reason(context.Background(), engineReport(t, scen))
	if len(srv.Requests()) == 0 {
		t.Fatal("the gateway was not asked")
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), key) {
		t.Errorf("the key is in the report:\n%s", b)
	}
	found := false
	for _, u := range out.Unavailable {
		if u.Source == "model" {
			found = true
			if !strings.Contains(u.Error, "[REDACTED:secret]") {
				t.Errorf("unavailable %q: the gateway's message is not there, redacted", u.Error)
			}
		}
	}
	if !found {
		t.Errorf("no model entry in %+v", out.Unavailable)
	}
}
