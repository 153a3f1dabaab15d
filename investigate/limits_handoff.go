package investigate

import (
	"fmt"
	"strings"
)

// The limits of what passes work on: an SNS topic's publishes per second (a
// quota of the account and Region), a state machine's state transitions
// (throttled past their bucket).

// publishLimit is the publishes a topic can take per period: the Service
// Quotas value of its Publish rate, per second. Nothing else has a request
// rate limit here.
func publishLimit(res *Resource, quotas []Quota, secondsPerPeriod float64) (float64, string) {
	if res.Type != TypeSNS {
		return 0, ""
	}
	for _, q := range quotas {
		if q.Resource == res.ID && strings.Contains(strings.ToLower(q.Name), "publish") {
			return q.Value * secondsPerPeriod, fmt.Sprintf("the %s quota %s (%s)", q.Service, q.Code, q.Name)
		}
	}
	return 0, ""
}

// handoffLimitActions are the first moves for a topic or a state machine at
// its limit: spread and batch the work first, then a higher quota.
func handoffLimitActions(r *run, id string) ([]Action, []string) {
	if r.g.typeOf(id) == TypeSNS {
		return []Action{
				{ActionScale, fmt.Sprintf("Cut the calls to %s: publish in batches (PublishBatch, 10 messages a call) and retry throttled publishes with backoff and jitter", id)},
				{ActionScale, "Then request a higher Publish rate through Service Quotas; it can take days"},
			},
			[]string{
				fmt.Sprintf("Alarm on %s NumberOfMessagesPublished at 80%% of the Publish quota", id),
				"Buffer bursts of publishes in a queue instead of publishing them at once",
			}
	}
	return []Action{
			{ActionScale, fmt.Sprintf("Spread the executions of %s: put a queue in front of StartExecution, and lower the MaxConcurrency of its Map states, so its state transitions stay under their refill rate", id)},
			{ActionScale, fmt.Sprintf("Then request a higher StateTransition refill rate for %s's Region through Service Quotas (or run the high-volume part as an Express workflow)", id)},
		},
		[]string{
			fmt.Sprintf("Alarm on %s ExecutionThrottled above 0", id),
			"Keep loops and Map states from starting thousands of transitions at once: batch the items",
		}
}
