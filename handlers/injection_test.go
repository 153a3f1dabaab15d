package handlers

import (
	"testing"

	"github.com/unstuck/unstuck/handlers/mrkdwn/mrkdwntest"
	"github.com/unstuck/unstuck/investigate"
)

// TestInjectionCorpus puts hostile text in every untrusted part of the
// texts the bot writes outside the report (usage, unknown names, answers)
// and checks that nothing pings, links or formats.
func TestInjectionCorpus(t *testing.T) {
	for _, l := range mrkdwntest.Corpus() {
		mrkdwntest.Harmless(t, "usage", usageText(&UsageError{l}))
		mrkdwntest.Harmless(t, "not found", notFoundText(l, &investigate.NotFoundError{Name: l, Candidates: []string{l}}))
		mrkdwntest.Harmless(t, "trace", traceLine(investigate.TraceGroup{Caller: l, Callee: l, Instance: l, Exceptions: []investigate.TraceException{{Message: l}}}))
		mrkdwntest.Harmless(t, "scope", scopeAnswer(investigate.Topology{Resources: []investigate.Resource{{ID: l, Type: investigate.ResourceType(l)}}, Relations: []investigate.Relation{{From: l, To: l, Kind: l}}}))
	}
}
