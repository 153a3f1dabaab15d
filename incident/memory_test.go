package incident

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(time.Minute)
	now := time.Date(2024, 12, 3, 14, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }

	if ok, _ := m.Claim(ctx, "e1"); !ok {
		t.Error("first claim refused")
	}
	if ok, _ := m.Claim(ctx, "e1"); ok {
		t.Error("second claim accepted")
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := m.Claim(ctx, "e1"); !ok {
		t.Error("claim after the TTL refused")
	}

	if _, err := m.Thread(ctx, "C", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown thread: %v", err)
	}
	if err := m.AddNote(ctx, "C", "1", investigate.Note{Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("note on unknown thread: %v", err)
	}
	_ = m.Put(ctx, Investigation{Channel: "C", ThreadTS: "1", State: StateRunning, Started: now})
	_ = m.AddNote(ctx, "C", "1", investigate.Note{Text: "it's the db"})
	_ = m.SetFeedback(ctx, "C", "1", Feedback{Hypothesis: 0, Verdict: VerdictAccepted})
	_ = m.SetFeedback(ctx, "C", "1", Feedback{Hypothesis: 0, Verdict: VerdictDiscarded})
	// Put keeps the notes and feedback.
	_ = m.Put(ctx, Investigation{Channel: "C", ThreadTS: "1", State: StateDone, Started: now})
	got, err := m.Thread(ctx, "C", "1")
	if err != nil || got.State != StateDone || len(got.Notes) != 1 || len(got.Feedback) != 1 || got.Feedback[0].Verdict != VerdictDiscarded {
		t.Errorf("thread = %+v, %v", got, err)
	}
	_ = m.Put(ctx, Investigation{Channel: "C", ThreadTS: "2", Started: now.Add(time.Minute)})
	_ = m.Put(ctx, Investigation{Channel: "D", ThreadTS: "3", Started: now})
	recent, _ := m.Recent(ctx, "C", now)
	if len(recent) != 2 || recent[0].ThreadTS != "2" {
		t.Errorf("recent = %+v", recent)
	}
}
