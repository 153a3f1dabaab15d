package investigate

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cause is one of the five kinds of cause every incident has, as the report
// JSON's "cause" names it.
type Cause string

// Causes.
const (
	CauseOwnChange    Cause = "own-change"
	CauseSystemChange Cause = "system-change"
	CauseLimit        Cause = "limit"
	CauseComponent    Cause = "component"
	CauseDependency   Cause = "dependency"
)

// ActionKind is the kind of a proposed action: the first moves.
type ActionKind string

// Action kinds.
const (
	ActionRollback ActionKind = "rollback"
	ActionBlock    ActionKind = "block"
	ActionScale    ActionKind = "scale"
	ActionRestart  ActionKind = "restart"
	ActionExclude  ActionKind = "exclude"
)

// FindingKind is what kind of telemetry a finding reads.
type FindingKind string

// Finding kinds.
const (
	FindingMetric FindingKind = "metric"
	FindingLog    FindingKind = "log"
	FindingTrace  FindingKind = "trace"
	FindingChange FindingKind = "change"
	FindingHealth FindingKind = "health"
	FindingQuota  FindingKind = "quota"
	FindingNote   FindingKind = "note"
	FindingOnset  FindingKind = "onset"
)

// Scope is what the investigation looked at.
type Scope struct {
	Alarm    string    `json:"alarm"`
	Resource string    `json:"resource"`
	Metric   string    `json:"metric,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Resources are the ids in scope, the alarm's resource first.
	Resources []string `json:"resources,omitempty"`
	Region    string   `json:"region,omitempty"`
	Account   string   `json:"account,omitempty"`
}

// Finding is one fact the investigation established, with its numbers.
type Finding struct {
	ID       string      `json:"id"`
	Kind     FindingKind `json:"kind"`
	Check    string      `json:"check"`
	Resource string      `json:"resource,omitempty"`
	Time     time.Time   `json:"time"`
	Summary  string      `json:"summary"`
	// Before and During are the signal's level in the baseline and in the
	// onset window, where the finding compares the two.
	Before *float64 `json:"before,omitempty"`
	During *float64 `json:"during,omitempty"`
	Unit   string   `json:"unit,omitempty"`
	// Link is a console link, where AWS has one.
	Link string `json:"link,omitempty"`
	// Event is the API event a change finding reports (CloudTrail's
	// eventName, or the name of the AWS action), for whoever reads the
	// report by machine; its summary says it in words.
	Event string `json:"event,omitempty"`
}

// Action is a proposed step; the bot never executes it.
type Action struct {
	Kind   ActionKind `json:"kind"`
	Detail string     `json:"detail"`
}

// Hypothesis is one candidate root cause.
type Hypothesis struct {
	Cause       Cause    `json:"cause"`
	Resource    string   `json:"resource"`
	Confidence  float64  `json:"confidence"`
	Title       string   `json:"title"`
	Explanation string   `json:"explanation"`
	Evidence    []string `json:"evidence"`
	Actions     []Action `json:"actions"`
	Prevention  []string `json:"prevention"`
}

// Unavailable is a source the investigation could not read.
type Unavailable struct {
	Source string `json:"source"`
	Error  string `json:"error"`
}

// Stats are what the investigation cost.
type Stats struct {
	APICalls     int   `json:"api_calls"`
	WallMS       int64 `json:"wall_ms"`
	LLMTokens    int   `json:"llm_tokens"`
	BytesScanned int64 `json:"bytes_scanned,omitempty"`
}

// Report is the result of an investigation.
type Report struct {
	Scope Scope `json:"scope"`
	// Onset is when the alarm's signal left its normal range; zero when no
	// onset was found.
	Onset       time.Time     `json:"onset"`
	Summary     string        `json:"summary"`
	Findings    []Finding     `json:"findings"`
	Hypotheses  []Hypothesis  `json:"hypotheses"`
	Notes       []Note        `json:"notes,omitempty"`
	Unavailable []Unavailable `json:"unavailable"`
	// Series are the alarm's metric and the series the top hypothesis rests
	// on, for charts.
	Series []NamedSeries `json:"series,omitempty"`
	// Topology is what was around the alarm, kept for follow-up questions
	// (without the resources' tags and settings); nil when the topology
	// could not be read or was too large to keep, and in reports from
	// before it was kept.
	Topology *Topology `json:"topology,omitempty"`
	// Reasoner names what wrote the report's words ("offline" or a model).
	Reasoner string `json:"reasoner,omitempty"`
	Stats    Stats  `json:"stats"`
}

// Finding returns the finding with the given id.
func (r *Report) Finding(id string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// IsZone reports whether id names an Availability Zone of the report's
// resources rather than a resource: a zone can be the culprit when its
// members fail together.
func (r *Report) IsZone(id string) bool {
	if r.Topology == nil || id == "" {
		return false
	}
	zone := false
	for _, res := range r.Topology.Resources {
		if res.ID == id {
			return false
		}
		zone = zone || res.AZ == id
	}
	return zone
}

// Lead returns the hypothesis the report puts forward as the cause: its
// first, when its confidence reaches ClearCause. Below, the report says
// that nothing stands out, and no surface recommends its action.
func (r *Report) Lead() (Hypothesis, bool) {
	if len(r.Hypotheses) == 0 || r.Hypotheses[0].Confidence < ClearCause {
		return Hypothesis{}, false
	}
	return r.Hypotheses[0], true
}

// Headline is the report's answer in one plain sentence, the same on
// every surface: the lead with its likelihood, or that nothing stands out
// (and the strongest lead, named as weak).
func (r *Report) Headline() string {
	if h, ok := r.Lead(); ok {
		return fmt.Sprintf("%s (%.0f%%): %s.", UpperFirst(ConfidenceWord(h.Confidence)), 100*h.Confidence, strings.TrimSuffix(h.Title, "."))
	}
	if len(r.Hypotheses) == 0 {
		return "Nothing in the telemetry explains the alarm."
	}
	h := r.Hypotheses[0]
	return fmt.Sprintf("Nothing stands out clearly: the strongest lead, %s (%.0f%%), is weak — a place to look, not an answer.", LowerArticle(strings.TrimSuffix(h.Title, ".")), 100*h.Confidence)
}

// NamedSeries is a series with what it measures.
type NamedSeries struct {
	Resource string `json:"resource"`
	Metric   string `json:"metric"`
	Unit     string `json:"unit,omitempty"`
	Series
}

// Reasoner turns the engine's ranked report into its words: the summary and
// each hypothesis's explanation. It may re-rank and explain, never add
// evidence. An error leaves the engine's report as it was.
type Reasoner interface {
	Reason(ctx context.Context, r Report) (Report, error)
}
