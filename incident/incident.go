// Package incident holds the bot's own domain, apart from Slack and AWS: an
// investigation and the thread it lives in, the feedback people give on it,
// the events the bot acknowledged and must still handle, and the leases
// that keep two replicas off the same work. Store is the contract a storage
// layer meets (package store has the bbolt and DynamoDB ones); Memory is the
// one kept in a single process.
package incident

import (
	"errors"
	"time"

	"github.com/unstuck/unstuck/investigate"
)

// ErrNotFound is returned by a Store for a thread it does not know.
var ErrNotFound = errors.New("not found")

// State is where an investigation is in its life.
type State string

// Investigation states.
const (
	StateQueued  State = "queued"
	StateRunning State = "running"
	StateDone    State = "done"
	StateFailed  State = "failed"
)

// Active reports whether an investigation in state s is still to finish.
func (s State) Active() bool { return s == StateQueued || s == StateRunning }

// Investigation is one investigation and the Slack thread it lives in.
type Investigation struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// ThreadTS is the thread's root: the alarm message, or the bot's first
	// message for /investigate.
	ThreadTS string `json:"thread_ts"`
	// StatusTS is the message the bot updates while it works.
	StatusTS string `json:"status_ts"`
	// ReportTS are the report's messages, in order.
	ReportTS  []string          `json:"report_ts,omitempty"`
	Alarm     investigate.Alarm `json:"alarm"`
	Region    string            `json:"region,omitempty"`
	Requester string            `json:"requester,omitempty"`
	// Now and Lookback are the request's window; a zero Now is "when it ran".
	Now      time.Time     `json:"now,omitempty"`
	Lookback time.Duration `json:"lookback,omitempty"`
	State    State         `json:"state"`
	Error    string        `json:"error,omitempty"`
	Started  time.Time     `json:"started"`
	// Report is the latest report; nil until one is done.
	Report *investigate.Report `json:"report,omitempty"`
	// Joined are other alarms that fired with this one and joined it.
	Joined []string `json:"joined,omitempty"`
	// Resumes counts the times a replica resumed the investigation by
	// itself after whoever ran it stopped or crashed. One that was resumed
	// and cut off again is not resumed again (it may be what crashed the
	// process); a person's Re-run starts a new one from zero.
	Resumes int `json:"resumes,omitempty"`

	// Notes and Feedback are kept by AddNote and SetFeedback; Put does not
	// change them.
	Notes    []investigate.Note `json:"notes,omitempty"`
	Feedback []Feedback         `json:"feedback,omitempty"`
}

// Feedback is a person's verdict on one hypothesis.
type Feedback struct {
	// Hypothesis is the hypothesis's index in the report (0 is the first).
	Hypothesis int               `json:"hypothesis"`
	Cause      investigate.Cause `json:"cause"`
	Resource   string            `json:"resource"`
	Verdict    Verdict           `json:"verdict"`
	User       string            `json:"user"`
	Time       time.Time         `json:"time"`
}

// ReadRegion is the region the investigation read: its report's, else the
// one it was asked for, else its alarm's.
func (inv Investigation) ReadRegion() string {
	if inv.Report != nil && inv.Report.Scope.Region != "" {
		return inv.Report.Scope.Region
	}
	if inv.Region != "" {
		return inv.Region
	}
	return inv.Alarm.Region
}

// Verdict is a person's judgement of a hypothesis.
type Verdict string

// Verdicts on a hypothesis.
const (
	VerdictAccepted  Verdict = "accepted"
	VerdictDiscarded Verdict = "discarded"
)
