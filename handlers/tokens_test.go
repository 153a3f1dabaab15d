package handlers_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/unstuck/unstuck/handlers"
	"github.com/unstuck/unstuck/handlers/slacktest"
	"github.com/unstuck/unstuck/incident"
)

// A token Slack refuses ends Serve with a *TokenError that names it: the
// bot token at auth.test, before connecting, and the app token at
// apps.connections.open, instead of reconnecting forever. OnReady is called
// only once Slack has said hello.
func TestServeRefusedTokens(t *testing.T) {
	tests := []struct {
		name, app, bot     string
		wantToken, wantVia string
	}{
		{"bot token", slacktest.AppToken, "xoxb-revoked", "bot", "auth.test"},
		{"app token", "xapp-1-revoked", slacktest.BotToken, "app", "apps.connections.open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := slacktest.NewServer()
			defer srv.Close()
			api := slack.New(tt.bot, slack.OptionAPIURL(srv.URL), slack.OptionAppLevelToken(tt.app))
			ready := make(chan struct{})
			bot := handlers.New(api, incident.NewMemory(0), handlers.OneBackend(handlers.Backend{}), handlers.Config{}, handlers.Options{
				Logger:  slog.New(slog.NewTextHandler(testWriter(), nil)),
				OnReady: func() { close(ready) },
			})
			done := make(chan error, 1)
			go func() { done <- bot.Serve(context.Background(), socketmode.New(api)) }()
			select {
			case err := <-done:
				var te *handlers.TokenError
				if !errors.As(err, &te) || te.Token != tt.wantToken || te.Method != tt.wantVia || te.Code != "invalid_auth" {
					t.Errorf("Serve = %v, want the %s token refused at %s (invalid_auth)", err, tt.wantToken, tt.wantVia)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Serve is still retrying a token Slack refused")
			}
			select {
			case <-ready:
				t.Error("OnReady was called with no connection")
			default:
			}
		})
	}
}

// OnReady is called once Slack says hello, and only once.
func TestServeOnReady(t *testing.T) {
	srv := slacktest.NewServer()
	defer srv.Close()
	api := slack.New(slacktest.BotToken, slack.OptionAPIURL(srv.URL), slack.OptionAppLevelToken(slacktest.AppToken))
	ready := make(chan struct{})
	bot := handlers.New(api, incident.NewMemory(0), handlers.OneBackend(handlers.Backend{}), handlers.Config{}, handlers.Options{
		Logger:  slog.New(slog.NewTextHandler(testWriter(), nil)),
		OnReady: func() { close(ready) }, // a second call panics
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Serve(ctx, socketmode.New(api)) }()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReady was not called")
	}
	if !bot.Connected() {
		t.Error("ready but not connected")
	}
	// A refreshed socket says hello again; OnReady is not called twice.
	srv.Refresh()
	if !srv.WaitFor(10*time.Second, func() bool { return srv.Connections() >= 2 && srv.Connected() }) {
		t.Fatal("no second connection")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}
