package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/unstuck/unstuck/handlers/blockkit"
	"github.com/unstuck/unstuck/handlers/mrkdwn"
)

// channelMention links a channel by its id; an id that is not one is
// shown as text.
func channelMention(id string) string {
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "the channel " + mrkdwn.EscapeLine(id)
		}
	}
	return "<#" + id + ">"
}

// msgOptions are the options of every message the bot sends: its blocks,
// the fallback text, no unfurling and no parsing of names.
func msgOptions(blocks []slack.Block, fallback string) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(fallback, false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
	}
}

// The Web API methods the bot posts with.
const (
	methodPost      = "chat.postMessage"
	methodUpdate    = "chat.update"
	methodEphemeral = "chat.postEphemeral"
)

// callTries is how many times a call Slack rate-limits is made before it
// is given up, but for the last update of an investigation's status
// (finalUpdate).
const callTries = 3

// post sends a message (in a thread when threadTS is set), within the
// method's budget, retrying when Slack rate-limits it.
func (b *Bot) post(ctx context.Context, channel, threadTS string, blocks []slack.Block, fallback string) (string, error) {
	opts := msgOptions(blocks, fallback)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := b.call(ctx, methodPost, channel, callTries, func() error {
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("chat.postMessage: %w", err)
	}
	return ts, nil
}

func (b *Bot) update(ctx context.Context, channel, ts string, blocks []slack.Block, fallback string) error {
	err := b.call(ctx, methodUpdate, channel, callTries, func() error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, msgOptions(blocks, fallback)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	return nil
}

// tryUpdate makes an update that may be dropped, as a progress update may:
// only when the method's budget has room now and no update that must land
// waits for it. Otherwise, or when Slack rate-limits it, it is not made and
// retry says when to try again (with whatever is newest by then).
func (b *Bot) tryUpdate(ctx context.Context, channel, ts string, blocks []slack.Block, fallback string) (retry time.Duration, err error) {
	if wait, ok := b.budget.take(methodUpdate, channel); !ok {
		return wait, nil
	}
	_, _, _, err = b.api.UpdateMessageContext(ctx, channel, ts, msgOptions(blocks, fallback)...)
	if wait, limited := rateLimited(err); limited {
		b.budget.pause(methodUpdate, wait)
		return wait, nil
	}
	if err != nil {
		return 0, fmt.Errorf("chat.update: %w", err)
	}
	return 0, nil
}

// finalUpdate writes the last state of a message that must not be left
// behind (an investigation's status: left at "Investigating…" it would
// say so for good). Rate-limited, it is tried again, past callTries, for
// half of what is left of ctx (a minute when ctx has no deadline); failing
// still, the state is posted as a new message in the thread instead.
func (b *Bot) finalUpdate(ctx context.Context, channel, thread, ts string, blocks []slack.Block, fallback string) {
	bound := time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		bound = time.Until(deadline) / 2
	}
	uctx, cancel := context.WithTimeout(ctx, bound)
	err := b.call(uctx, methodUpdate, channel, 0, func() error {
		_, _, _, err := b.api.UpdateMessageContext(uctx, channel, ts, msgOptions(blocks, fallback)...)
		return err
	})
	cancel()
	if err == nil {
		return
	}
	b.log.Warn("final status update failed; posting the status in the thread instead", "channel", channel, "ts", ts, "err", err)
	if thread == "" {
		thread = ts
	}
	if _, err := b.post(ctx, channel, thread, blocks, fallback); err != nil {
		b.log.Error("final status lost: neither updated nor posted", "channel", channel, "ts", ts, "err", err)
	}
}

func (b *Bot) ephemeral(ctx context.Context, channel, user, threadTS, text string) {
	blocks, fallback := blockkit.Message(text)
	opts := msgOptions(blocks, fallback)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	err := b.call(ctx, methodEphemeral, channel, callTries, func() error {
		_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
	var se slack.SlackErrorResponse
	switch {
	case err == nil:
	case errors.As(err, &se) && se.Err == "user_not_in_channel":
		// Someone who is not a member (reading a public channel, or who
		// left it since) cannot be told there privately: tell them in a
		// direct message, saying where.
		b.log.Info("chat.postEphemeral: the user is not in the channel; telling them in a direct message", "channel", channel, "user", user)
		blocks, fallback := blockkit.Message("In " + channelMention(channel) + ": " + text)
		if _, err := b.post(ctx, user, "", blocks, fallback); err != nil {
			b.log.Warn("direct message instead of an ephemeral one", "user", user, "err", err)
		}
	default:
		b.log.Warn("chat.postEphemeral", "err", err)
	}
}

// reply posts text (already escaped mrkdwn) in a thread.
func (b *Bot) reply(ctx context.Context, channel, thread, text string) {
	blocks, fallback := blockkit.Message(text)
	if _, err := b.post(ctx, channel, thread, blocks, fallback); err != nil {
		b.log.Warn("reply", "err", err)
	}
}

// call makes a Web API call to method within its budget. When Slack
// rate-limits it, every caller of the method pauses for the wait Slack
// asked for, and the call is made again, up to tries times (0: until ctx
// ends), each retry after a backoff that doubles from a quarter of a
// second.
func (b *Bot) call(ctx context.Context, method, channel string, tries int, do func() error) error {
	var err error
	backoff := 250 * time.Millisecond
	for n := 0; tries == 0 || n < tries; n++ {
		if werr := b.budget.wait(ctx, method, channel); werr != nil {
			if err != nil {
				return fmt.Errorf("%w (and then: %w)", err, werr)
			}
			return werr
		}
		err = do()
		wait, limited := rateLimited(err)
		if !limited {
			return err
		}
		b.budget.pause(method, wait)
		if extra := backoff - wait; extra > 0 && !sleep(ctx, extra) {
			return err
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return err
}

// rateLimited reports whether err is Slack's rate limit, and how long
// Slack asked to wait: HTTP 429's Retry-After, or a second for the error
// ratelimited in an answer that names no wait.
func rateLimited(err error) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return max(rl.RetryAfter, time.Second), true
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "ratelimited" || se.Err == "rate_limited") {
		return time.Second, true
	}
	return 0, false
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// APIRate is how often the bot calls a Web API method at most: PerMinute
// on average, with bursts of up to Burst calls, in each channel apart when
// PerChannel.
type APIRate struct {
	PerMinute  float64
	Burst      int
	PerChannel bool
}

// SlackRates are Slack's rate limits for the methods the bot posts with,
// at the low end of each tier (https://docs.slack.dev/apis/web-api/rate-limits):
// chat.postMessage about one message a second in each channel (a special
// tier, with short bursts), chat.update Tier 3 (50+ a minute),
// chat.postEphemeral Tier 4 (100+ a minute).
func SlackRates() map[string]APIRate {
	return map[string]APIRate{
		methodPost:      {PerMinute: 60, Burst: 3, PerChannel: true},
		methodUpdate:    {PerMinute: 50, Burst: 10},
		methodEphemeral: {PerMinute: 100, Burst: 20},
	}
}

// budget shares each Web API method's rate limit among everything the bot
// does: all investigations, answers and buttons call through it. A call
// waits for its share (APIRate), and when Slack rate-limits one anyway,
// every caller of that method pauses for as long as Slack asked.
type budget struct {
	rates map[string]APIRate

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	// paused is until when Slack asked each method's callers to wait.
	paused map[string]time.Time
	// waiting counts the calls of each method waiting for their turn that
	// must be made (wait); a call that may be dropped (take) yields to
	// them.
	waiting map[string]int
}

func newBudget(rates map[string]APIRate) *budget {
	return &budget{rates: rates, buckets: map[string]*rate.Limiter{}, paused: map[string]time.Time{}, waiting: map[string]int{}}
}

// bucket is the token bucket of method (in channel); nil when the method
// has no rate. Call with mu held.
func (g *budget) bucket(method, channel string) *rate.Limiter {
	r, ok := g.rates[method]
	if !ok || r.PerMinute <= 0 {
		return nil
	}
	key := method
	if r.PerChannel {
		key += " " + channel
	}
	l := g.buckets[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(r.PerMinute/60), max(r.Burst, 1))
		g.buckets[key] = l
	}
	return l
}

// wait waits until a call to method (in channel) may be made: past any
// pause Slack asked for, with its share of the budget taken.
func (g *budget) wait(ctx context.Context, method, channel string) error {
	g.mu.Lock()
	g.waiting[method]++
	l := g.bucket(method, channel)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting[method]--
		g.mu.Unlock()
	}()
	for {
		if d := g.pausedFor(method); d > 0 {
			if !sleep(ctx, d) {
				return ctx.Err()
			}
			continue
		}
		if l == nil {
			return nil
		}
		if err := l.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for %s's rate limit: %w", method, err)
		}
		if g.pausedFor(method) <= 0 {
			return nil
		}
	}
}

// yieldWait is how soon a call that may be dropped tries again while
// calls that must be made wait for the same method.
const yieldWait = 250 * time.Millisecond

// take takes a share of method's budget now, for a call that may be
// dropped: false, with how long to wait before trying again, when Slack's
// pause is on, the budget has no room now or a call that must be made is
// waiting.
func (g *budget) take(method, channel string) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if d := time.Until(g.paused[method]); d > 0 {
		return d, false
	}
	if g.waiting[method] > 0 {
		return yieldWait, false
	}
	if l := g.bucket(method, channel); l != nil {
		r := l.Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			return d, false
		}
	}
	return 0, true
}

// pause makes every caller of method wait d from now, as Slack asked.
func (g *budget) pause(method string, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until := time.Now().Add(d); until.After(g.paused[method]) {
		g.paused[method] = until
	}
}

func (g *budget) pausedFor(method string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Until(g.paused[method])
}
