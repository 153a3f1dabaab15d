package llm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// Config configures the model reasoner. Zero values take the defaults.
//
// Any OpenAI-compatible chat completions server works: OpenAI, Ollama, vLLM,
// LiteLLM, LM Studio (BaseURL ending in /v1), and Azure OpenAI. Azure is
// chosen when BaseURL's host ends in .openai.azure.com or
// .cognitiveservices.azure.com, or when Azure is set: BaseURL is then the
// resource's endpoint (https://NAME.openai.azure.com), Model (or Deployment)
// names the deployment, APIVersion is sent as api-version and the key goes in
// the api-key header.
type Config struct {
	// APIKey is the server's key (OPENAI_API_KEY). Local servers may need
	// none.
	APIKey string
	// BaseURL is the API's base (OPENAI_BASE_URL), e.g.
	// http://localhost:11434/v1; empty means OpenAI.
	BaseURL string
	// Model is the model's name (OPENAI_MODEL). Default DefaultModel.
	Model string

	// Azure forces the Azure OpenAI API shape.
	Azure bool
	// APIVersion is Azure's api-version (OPENAI_API_VERSION). Default
	// DefaultAzureAPIVersion.
	APIVersion string
	// Deployment is the Azure deployment; default Model.
	Deployment string

	// Timeout bounds one Reason or Summary: every request, retry and the
	// repair round. Default 60s.
	Timeout time.Duration
	// AnswerTimeout bounds one Answer, its whole tool loop. Default 90s.
	AnswerTimeout time.Duration
	// MaxTokens caps the completion of one request. Default 1500.
	MaxTokens int
	// Budget is the token budget, prompt and completion of every round, of
	// one investigation's reasoning or one summary; findings are summarised
	// to fit, the most telling first. Default 24000.
	Budget int
	// AnswerBudget is the token budget of one follow-up answer. Default
	// 32000.
	AnswerBudget int
	// MaxSteps bounds the model calls of one follow-up answer. Default 6.
	MaxSteps int
	// Retries is how often one request is retried on HTTP 429 and 5xx.
	// Default 3; negative for none.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next one
	// (with jitter, at most 8s); a longer Retry-After wins, up to 20s.
	// Default 500ms.
	Backoff time.Duration
	// ResponseFormat is how the structured reply is asked for: "auto" (the
	// default: a JSON schema, then JSON mode, then plain text read by a
	// tolerant parser, stepping down when the server rejects one),
	// "json_schema", "json_object" or "text".
	ResponseFormat string

	// Redact are patterns redacted, besides the built-in ones, from
	// everything sent to the model.
	Redact []*regexp.Regexp

	// HTTPClient overrides the HTTP client (proxies, tests).
	HTTPClient *http.Client
}

// Defaults.
const (
	DefaultModel           = "gpt-4o-mini"
	DefaultAzureAPIVersion = "2024-10-21"
	defaultTimeout         = 60 * time.Second
	defaultAnswerTimeout   = 90 * time.Second
	defaultMaxTokens       = 1500
	defaultBudget          = 24000
	defaultAnswerBudget    = 32000
	defaultMaxSteps        = 6
	defaultRetries         = 3
	defaultBackoff         = 500 * time.Millisecond
)

// Response formats.
const (
	FormatAuto       = "auto"
	FormatJSONSchema = "json_schema"
	FormatJSONObject = "json_object"
	FormatText       = "text"
)

// EnvConfig reads the configuration from environment variables through
// getenv (os.Getenv): OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL and, for
// Azure, OPENAI_API_VERSION.
func EnvConfig(getenv func(string) string) Config {
	return Config{
		APIKey:     strings.TrimSpace(getenv("OPENAI_API_KEY")),
		BaseURL:    strings.TrimSpace(getenv("OPENAI_BASE_URL")),
		Model:      strings.TrimSpace(getenv("OPENAI_MODEL")),
		APIVersion: strings.TrimSpace(getenv("OPENAI_API_VERSION")),
	}
}

// Configured reports whether auto mode uses a model: a key
// (OPENAI_API_KEY) or a server (OPENAI_BASE_URL) says one is meant. A
// local server such as Ollama needs no key, so its base URL alone is
// enough; with neither, the offline reasoner words the report.
func (c Config) Configured() bool { return c.APIKey != "" || c.BaseURL != "" }

// IsAzure reports whether the configuration talks to Azure OpenAI.
func (c Config) IsAzure() bool {
	if c.Azure {
		return true
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".openai.azure.com") || strings.HasSuffix(h, ".cognitiveservices.azure.com")
}

func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = defaultAnswerTimeout
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = defaultMaxTokens
	}
	if c.Budget <= 0 {
		c.Budget = defaultBudget
	}
	if c.AnswerBudget <= 0 {
		c.AnswerBudget = defaultAnswerBudget
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = defaultMaxSteps
	}
	if c.Retries == 0 {
		c.Retries = defaultRetries
	} else if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Backoff <= 0 {
		c.Backoff = defaultBackoff
	}
	if c.ResponseFormat == "" {
		c.ResponseFormat = FormatAuto
	}
	if c.APIVersion == "" && c.IsAzure() {
		c.APIVersion = DefaultAzureAPIVersion
	}
	if c.Deployment == "" {
		c.Deployment = c.Model
	}
	return c
}

func (c Config) validate() error {
	switch c.ResponseFormat {
	case FormatAuto, FormatJSONSchema, FormatJSONObject, FormatText:
	default:
		return fmt.Errorf("llm: response format %q: want auto, json_schema, json_object or text", c.ResponseFormat)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("llm: base URL %q: want http(s)://host[/path]", c.BaseURL)
		}
	}
	if !c.Configured() {
		return errors.New("llm: no model configured: set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL for another OpenAI-compatible server (a local one such as Ollama needs no key)")
	}
	if c.APIKey == "" && c.IsAzure() {
		return errors.New("llm: Azure OpenAI needs OPENAI_API_KEY (the resource's key)")
	}
	return nil
}

// Mode values of --llm.
const (
	ModeAuto    = "auto"
	ModeOffline = "offline"
	ModeOpenAI  = "openai"
)

// Select resolves --llm: "offline" gives no model; "openai" a model, or an
// error when none is configured; "auto" (or "") a model when one is
// configured, else none. A nil *Model is usable: it reasons, summarises and
// redacts offline, and Answer returns ErrNoModel.
func Select(mode string, cfg Config) (*Model, error) {
	switch mode {
	case ModeOffline:
		return nil, nil
	case "", ModeAuto:
		if !cfg.Configured() {
			return nil, nil
		}
		return NewModel(cfg)
	case ModeOpenAI:
		return NewModel(cfg)
	}
	return nil, fmt.Errorf("llm: mode %q: want auto, offline or openai", mode)
}

// Reasoner returns the model as an investigate.Reasoner, or the offline
// reasoner when m is nil.
func (m *Model) Reasoner() investigate.Reasoner {
	if m == nil {
		return NewOffline()
	}
	return m
}
