package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
)

// Investigations running together under a chat.update budget far too tight
// for their progress: Slack rate-limits the updates (a 429 with
// Retry-After, or ratelimited in a 200), progress updates give way, and
// every status message still ends in its final state, or the final state
// is posted in its thread.
func TestE2EStatusLandsUnderRateLimits(t *testing.T) {
	for _, inBody := range []bool{false, true} {
		t.Run(fmt.Sprintf("ratelimited in body %v", inBody), func(t *testing.T) {
			const investigations = 5
			h := newHarness(t, setup{server: slacktest.Options{
				RateLimits:        map[string]slacktest.Limit{"chat.update": {N: 1, Window: time.Second}},
				RateLimitedInBody: inBody,
			}})
			asker := func(i int) string { return fmt.Sprintf("U0ASK%03d", i) }
			for i := range investigations {
				h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, asker(i), "orders-api-5xx"))
			}
			// final reports, by asker, whether the status of the asker's
			// investigation shows its outcome, in the message or in a
			// message posted in the thread.
			final := func() map[string]bool {
				out := map[string]bool{}
				for _, m := range h.srv.Messages(channel) {
					if m.User != slacktest.BotUserID || m.ThreadTS != "" || m.Ephemeral {
						continue
					}
					for i := range investigations {
						if !strings.Contains(m.BlocksText(), "<@"+asker(i)+">") {
							continue
						}
						done := strings.HasPrefix(m.Text, "Investigated ")
						for _, r := range h.srv.Thread(channel, m.TS) {
							done = done || (r.TS != m.TS && strings.HasPrefix(r.Text, "Investigated "))
						}
						out[asker(i)] = done
					}
				}
				return out
			}
			all := func() bool {
				f := final()
				for i := range investigations {
					if !f[asker(i)] {
						return false
					}
				}
				return true
			}
			if !h.srv.WaitFor(60*time.Second, all) {
				t.Fatalf("statuses not final: %v", final())
			}
			limited := 0
			for _, c := range h.srv.Calls("chat.update") {
				if c.RateLimited {
					limited++
				}
			}
			if limited == 0 {
				t.Error("Slack rate-limited no update: the test did not test the limit")
			}
		})
	}
}

// The bot's own budget keeps its updates within Slack's limit: with the
// budget set to the fake's limit, no progress update outruns it and
// every status ends final.
func TestE2EBudgetKeepsWithinTheLimit(t *testing.T) {
	const investigations = 3
	h := newHarness(t, setup{
		server: slacktest.Options{RateLimits: map[string]slacktest.Limit{"chat.update": {N: 2, Window: time.Second}}},
		opts:   handlers.Options{APIRates: map[string]handlers.APIRate{"chat.update": {PerMinute: 60, Burst: 1}}},
	})
	var threads []string
	for i := range investigations {
		asker := fmt.Sprintf("U0ASK%03d", i)
		h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, asker, "orders-api-5xx"))
		var root string
		if !h.srv.WaitFor(10*time.Second, func() bool {
			for _, m := range h.srv.Messages(channel) {
				if m.User == slacktest.BotUserID && m.ThreadTS == "" && strings.Contains(m.BlocksText(), "<@"+asker+">") {
					root = m.TS
					return true
				}
			}
			return false
		}) {
			t.Fatalf("investigation %d did not start", i)
		}
		threads = append(threads, root)
	}
	if !h.srv.WaitFor(60*time.Second, func() bool {
		for _, th := range threads {
			if m, _ := h.srv.Message(channel, th); !strings.HasPrefix(m.Text, "Investigated ") {
				return false
			}
		}
		return true
	}) {
		t.Fatal("statuses not final")
	}
	for _, c := range h.srv.Calls("chat.update") {
		if c.RateLimited {
			t.Errorf("an update at %s outran the budget", c.At.Format(time.StampMicro))
		}
	}
}

// A user who is not in the channel (reading a public channel, or who left
// it) cannot be told there privately: the bot tells them in a direct
// message, saying which channel.
func TestE2EEphemeralToNonMember(t *testing.T) {
	cfg := handlers.Config{Channels: map[string]handlers.Channel{channel: {UserGroup: "S0ONCALL"}}}
	h := newHarness(t, setup{cfg: cfg})
	h.srv.SetUserGroup("S0ONCALL", user)
	h.srv.SetMembers(channel, user)
	h.srv.Send(slacktest.TypeSlash, slacktest.SlashCommand("/investigate", channel, "U0MALLORY", "orders-api-5xx"))
	if !h.srv.WaitFor(5*time.Second, func() bool {
		for _, m := range h.srv.Messages("U0MALLORY") {
			if strings.Contains(m.BlocksText(), "user group") && strings.Contains(m.BlocksText(), "<#"+channel+">") {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no direct message for the refusal: %+v", h.srv.Messages("U0MALLORY"))
	}
}
