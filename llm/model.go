package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	openai "github.com/sashabaranov/go-openai"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/redact"
)

// Model is the reasoner that asks an OpenAI-compatible model to re-rank,
// merge and explain the engine's hypotheses, validates what it says against
// the findings, and falls back to the offline reasoner on any failure. It
// also answers follow-up questions (Answer) and drafts incident summaries
// (Summary). It is safe for concurrent use.
//
// Everything it sends is redacted first; everything the model writes is
// untrusted text, to be escaped where it is shown.
type Model struct {
	cfg     Config
	chat    *chat
	red     *redact.Redactor
	offline *Offline

	mu   sync.Mutex
	last Usage
}

var _ investigate.Reasoner = (*Model)(nil)

// NewModel returns a model reasoner. It fails only on a configuration that
// cannot work (no key and no base URL, a malformed URL, an unknown response
// format); it does not reach the server.
func NewModel(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// The key is redacted literally: a gateway may quote it in an error
	// ("Incorrect API key provided: …"), and no pattern knows its shape.
	return &Model{cfg: cfg, chat: newChat(cfg), red: redact.New(cfg.Redact...).WithSecrets(cfg.APIKey), offline: NewOffline()}, nil
}

// Name is the model's name as reports show it.
func (m *Model) Name() string {
	if m == nil {
		return "offline"
	}
	return "model " + m.cfg.Model
}

// Redactor returns the redactor the model uses (the built-in rules and the
// configured patterns), for the Slack side to use on what it posts.
func (m *Model) Redactor() *redact.Redactor {
	if m == nil {
		return defaultRedactor
	}
	return m.red
}

// OnUsage has f told the tokens of every reply the model gets (for the
// bot's metrics). Call it before the model is used; nil stops it.
func (m *Model) OnUsage(f func(Usage)) {
	if m != nil {
		m.chat.onUsage = f
	}
}

// LastUsage is the token usage of the most recent Reason.
func (m *Model) LastUsage() Usage {
	if m == nil {
		return Usage{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Reason words the report through the model. It never returns an error:
// when the model fails (timeout, HTTP errors after retries, a malformed
// reply, nothing valid, the budget) the offline report stands, its Reasoner
// says "offline (model failed: WHY)" or "offline (model answer not used:
// WHY)", and Unavailable has a {source: "model"} entry. The tokens spent are
// in Stats.LLMTokens either way.
func (m *Model) Reason(ctx context.Context, r investigate.Report) (investigate.Report, error) {
	if m == nil {
		return NewOffline().Reason(ctx, r)
	}
	base, _ := m.offline.Reason(ctx, r)
	out, used, err := m.reason(ctx, base)
	m.mu.Lock()
	m.last = used
	m.mu.Unlock()
	if err != nil {
		return m.fallback(ctx, r, used, err), nil
	}
	return out, nil
}

// fallback is the offline report, saying why the model's answer is not in
// it.
func (m *Model) fallback(ctx context.Context, r investigate.Report, used Usage, err error) investigate.Report {
	var inv *errInvalid
	verb := "model failed"
	if errors.As(err, &inv) {
		verb = "model answer not used"
	}
	r.Unavailable = append(append([]investigate.Unavailable(nil), r.Unavailable...), investigate.Unavailable{
		Source: "model",
		Error:  investigate.Truncate(m.red.Redact(fmt.Sprintf("%s: %s: %v", m.cfg.Model, verb, err)), 600),
	})
	out, _ := m.offline.Reason(ctx, r)
	out.Reasoner = fmt.Sprintf("offline (%s: %s)", verb, why(err))
	out.Stats.LLMTokens += used.Total()
	return out
}

// reason asks the model, validates, repairs once and combines.
func (m *Model) reason(ctx context.Context, base investigate.Report) (investigate.Report, Usage, error) {
	var used Usage
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()

	budget := m.cfg.Budget
	completion := m.cfg.MaxTokens
	if completion > budget/2 {
		completion = budget / 2
	}
	p, err := buildReasonPrompt(base, m.red, budget-completion)
	if err != nil {
		return base, used, err
	}
	g := newGrounds(base)
	rq := request{
		messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: p.system},
			{Role: openai.ChatMessageRoleUser, Content: p.user},
		},
		schema:     replySchema(p.data, g.ids),
		schemaName: "hypotheses",
		maxTokens:  completion,
	}
	rep, err := m.chat.complete(ctx, rq)
	used.add(rep.usage)
	if err != nil {
		return base, used, err
	}
	content := rep.msg.Content
	parsed, perr := parseReply(content)
	if perr != nil && rep.finish == openai.FinishReasonLength {
		perr = &errMalformed{fmt.Sprintf("cut off at the completion limit (%d tokens)", completion)}
	}
	var valid []checked
	var problems []string
	if perr == nil {
		valid, problems = validate(parsed, g)
	} else {
		problems = []string{perr.Error()}
	}
	repaired := false
	if perr != nil || len(problems) > 0 {
		// One more round with the problems, if the budget allows.
		fix := repairMessage(perr, problems)
		rq2 := rq
		rq2.messages = append(append([]openai.ChatCompletionMessage(nil), rq.messages...),
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: investigate.Truncate(content, 4*completion)},
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: fix},
		)
		need := p.tokens + estimateTokens(len(content)+len(fix)) + completion
		if used.Total()+need <= budget {
			rep2, err2 := m.chat.complete(ctx, rq2)
			used.add(rep2.usage)
			if err2 == nil {
				if parsed2, perr2 := parseReply(rep2.msg.Content); perr2 == nil {
					v2, pr2 := validate(parsed2, g)
					if perr != nil || len(v2) >= len(valid) {
						parsed, valid, problems, perr = parsed2, v2, pr2, nil
						repaired = true
					}
				}
			} else if perr != nil {
				return base, used, err2
			}
		}
	}
	if perr != nil {
		return base, used, perr
	}
	if len(valid) == 0 {
		if len(parsed.Hypotheses) == 0 && len(base.Hypotheses) == 0 {
			// Nothing to rank and nothing proposed: the model's words on
			// the summary alone are not worth the risk; offline stands.
			return base, used, &errInvalid{problems: []string{"the model proposed no hypothesis"}}
		}
		if len(parsed.Hypotheses) == 0 {
			problems = append(problems, "the reply has no hypotheses")
		}
		return base, used, &errInvalid{problems: problems}
	}

	mg := combine(valid, g)
	out := base
	out.Hypotheses = mg.hyps
	out.Stats.LLMTokens += used.Total()
	summary := clean(string(parsed.Summary), maxSummary)
	if summary == "" || mg.guarded != "" || len(out.Hypotheses) == 0 || !strings.Contains(summary, out.Hypotheses[0].Resource) || badRefs(summary, g) {
		// The model's summary does not describe the final ranking: word it
		// offline.
		w, _ := m.offline.Reason(ctx, investigate.Report{Scope: out.Scope, Onset: out.Onset, Findings: out.Findings, Hypotheses: out.Hypotheses, Unavailable: out.Unavailable})
		summary = w.Summary
	}
	out.Summary = summary
	var notes []string
	if dropped := len(parsed.Hypotheses) - len(valid); dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d hypotheses dropped by validation", dropped, len(parsed.Hypotheses)))
	}
	if repaired {
		notes = append(notes, "repaired once")
	}
	if mg.guarded != "" {
		notes = append(notes, "kept the engine's first hypothesis first")
	}
	out.Reasoner = m.Name()
	if len(notes) > 0 {
		out.Reasoner += " (" + strings.Join(notes, "; ") + ")"
	}
	return out, used, nil
}

func badRefs(s string, g grounds) bool {
	for _, ref := range idRef.FindAllString(s, -1) {
		if _, ok := g.findings[normID(ref)]; !ok {
			return true
		}
	}
	return false
}

func repairMessage(perr error, problems []string) string {
	var b strings.Builder
	if perr != nil {
		fmt.Fprintf(&b, "Your reply could not be read (%v). ", perr)
	} else {
		b.WriteString("Your reply has these problems:\n")
		for _, p := range limitStrings(problems, 12) {
			b.WriteString("- " + p + "\n")
		}
	}
	b.WriteString("Reply again with the whole JSON object only, following the rules: cite only finding ids from the data, causes and action kinds from the lists, resources from the data's resources.")
	return b.String()
}
