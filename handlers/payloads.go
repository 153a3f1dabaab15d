package handlers

import (
	"encoding/json"

	"github.com/unstuck/unstuck/handlers/alarmmsg"
)

// The bot parses Slack's payloads itself, reading only the fields it uses,
// so that a field it does not use can never stop an envelope from being
// handled (slack-go's own types reject some real payloads).

// slashCommand is a slash command's payload.
type slashCommand struct {
	Command   string `json:"command"`
	Text      string `json:"text"`
	UserID    string `json:"user_id"`
	ChannelID string `json:"channel_id"`
	TeamID    string `json:"team_id"`
	TriggerID string `json:"trigger_id"`
	// ResponseURL answers the user where the bot may not post.
	ResponseURL string `json:"response_url"`
}

// eventCallback is an Events API payload.
type eventCallback struct {
	Type    string          `json:"type"`
	EventID string          `json:"event_id"`
	Event   json.RawMessage `json:"event"`
}

// message is a message or app_mention event.
type message struct {
	Type        string          `json:"type"`
	Subtype     string          `json:"subtype"`
	User        string          `json:"user"`
	BotID       string          `json:"bot_id"`
	AppID       string          `json:"app_id"`
	Username    string          `json:"username"`
	BotProfile  *botProfile     `json:"bot_profile"`
	Text        string          `json:"text"`
	TS          string          `json:"ts"`
	ThreadTS    string          `json:"thread_ts"`
	Channel     string          `json:"channel"`
	Attachments json.RawMessage `json:"attachments"`
	Blocks      json.RawMessage `json:"blocks"`
}

type botProfile struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	Name  string `json:"name"`
}

// fromBot reports whether a bot or an app posted the message.
func (m message) fromBot() bool {
	return m.BotID != "" || m.Subtype == "bot_message" || (m.BotProfile != nil && m.BotProfile.ID != "")
}

// inThread reports whether the message is a reply in a thread.
func (m message) inThread() bool { return m.ThreadTS != "" && m.ThreadTS != m.TS }

// parts are the strings of the message's attachments and blocks.
func (m message) parts() []string {
	return append(alarmmsg.Texts(m.Attachments), alarmmsg.Texts(m.Blocks)...)
}

// blockActions is an interactive payload of type block_actions.
type blockActions struct {
	Type      string `json:"type"`
	TriggerID string `json:"trigger_id"`
	User      struct {
		ID string `json:"id"`
	} `json:"user"`
	Channel struct {
		ID string `json:"id"`
	} `json:"channel"`
	Container struct {
		MessageTS string `json:"message_ts"`
		ChannelID string `json:"channel_id"`
		ThreadTS  string `json:"thread_ts"`
	} `json:"container"`
	Message struct {
		TS       string `json:"ts"`
		ThreadTS string `json:"thread_ts"`
	} `json:"message"`
	Actions []struct {
		ActionID string `json:"action_id"`
		BlockID  string `json:"block_id"`
		Value    string `json:"value"`
		ActionTS string `json:"action_ts"`
	} `json:"actions"`
}

func (p blockActions) channel() string {
	if p.Channel.ID != "" {
		return p.Channel.ID
	}
	return p.Container.ChannelID
}

func (p blockActions) messageTS() string {
	if p.Container.MessageTS != "" {
		return p.Container.MessageTS
	}
	return p.Message.TS
}

// threadTS is the thread the clicked message is in (its own ts at the top).
func (p blockActions) threadTS() string {
	for _, ts := range []string{p.Container.ThreadTS, p.Message.ThreadTS} {
		if ts != "" {
			return ts
		}
	}
	return p.messageTS()
}
