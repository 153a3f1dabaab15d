package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/llm"
)

// assistant gives the Slack side the model's free-form answers and
// postmortem drafts. With no model configured its drafts are written
// offline, and it answers no free-form question.
type assistant struct {
	model *llm.Model // nil: no model
}

// Answer answers a question no built-in intent understood, with the model's
// tools reading through the channel's querier.
func (a assistant) Answer(ctx context.Context, question string, q handlers.Querier, inv incident.Investigation) (string, error) {
	if inv.Report == nil {
		return "", errors.New("the investigation has no report yet")
	}
	ans, err := a.model.Answer(ctx, q, *inv.Report, question)
	if err != nil {
		return "", fmt.Errorf("model answer: %w", err)
	}
	return ans.Text + "\n" + ans.LookedAt(), nil
}

// Postmortem drafts a postmortem from the report, the hypotheses people
// accepted in the thread and their notes.
func (a assistant) Postmortem(ctx context.Context, inv incident.Investigation) (string, error) {
	if inv.Report == nil {
		return "", errors.New("the investigation has no report yet")
	}
	var accepted []string
	for _, f := range inv.Feedback {
		if f.Verdict == incident.VerdictAccepted {
			accepted = append(accepted, llm.HypothesisKey(investigate.Hypothesis{Cause: investigate.Cause(f.Cause), Resource: f.Resource}))
		}
	}
	draft, err := a.model.Summary(ctx, *inv.Report, accepted, inv.Notes)
	if err != nil {
		return "", fmt.Errorf("postmortem draft: %w", err)
	}
	return draft, nil
}
