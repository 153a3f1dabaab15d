package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/unstuck/unstuck/handlers/blockkit"
)

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

// post sends a message (in a thread when threadTS is set), retrying when
// Slack rate-limits it.
func (b *Bot) post(ctx context.Context, channel, threadTS string, blocks []slack.Block, fallback string) (string, error) {
	opts := msgOptions(blocks, fallback)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := retryRateLimit(ctx, func() error {
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
	err := retryRateLimit(ctx, func() error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, msgOptions(blocks, fallback)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	return nil
}

func (b *Bot) ephemeral(ctx context.Context, channel, user, threadTS, text string) {
	opts := msgOptions(blockkit.Message(text))
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	if err := retryRateLimit(ctx, func() error {
		_, err := b.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	}); err != nil {
		b.log.Warn("chat.postEphemeral", "err", err)
	}
}

// retryRateLimit retries a call Slack rate-limited, after the wait it asks
// for (at most three tries).
func retryRateLimit(ctx context.Context, call func() error) error {
	var err error
	for range 3 {
		err = call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(rl.RetryAfter, 30*time.Second)):
		}
	}
	return err
}

// reply posts text (already escaped mrkdwn) in a thread.
func (b *Bot) reply(ctx context.Context, channel, thread, text string) {
	blocks, fallback := blockkit.Message(text)
	if _, err := b.post(ctx, channel, thread, blocks, fallback); err != nil {
		b.log.Warn("reply", "err", err)
	}
}
