package slacktest

import (
	"fmt"
	"sync/atomic"
)

// Envelope types.
const (
	TypeSlash       = "slash_commands"
	TypeEvents      = "events_api"
	TypeInteractive = "interactive"
)

var seq atomic.Int64

func next(prefix string) string { return fmt.Sprintf("%s%08d", prefix, seq.Add(1)) }

// SlashCommand is a slash command's payload, as Slack sends it in socket
// mode.
func SlashCommand(command, channel, user, text string) map[string]any {
	return map[string]any{
		"token": "placeholder", "team_id": TeamID, "team_domain": "test",
		"channel_id": channel, "channel_name": "incidents",
		"user_id": user, "user_name": "someone",
		"command": command, "text": text,
		"api_app_id": AppID, "is_enterprise_install": "false",
		"response_url": "https://hooks.slack.com/commands/T0001/1/placeholder",
		"trigger_id":   next("trigger-"),
	}
}

// EventCallback wraps an event as the Events API delivers it. An empty
// eventID gets a new one.
func EventCallback(eventID string, event map[string]any) map[string]any {
	if eventID == "" {
		eventID = next("Ev")
	}
	return map[string]any{
		"token": "placeholder", "team_id": TeamID, "api_app_id": AppID,
		"event": event, "type": "event_callback",
		"event_id": eventID, "event_time": 1733234400,
		"authorizations":        []map[string]any{{"team_id": TeamID, "user_id": BotUserID, "is_bot": true}},
		"is_ext_shared_channel": false,
	}
}

// UserMessage is a person's message event; threadTS may be empty.
func UserMessage(channel, user, text, ts, threadTS string) map[string]any {
	ev := map[string]any{
		"type": "message", "channel": channel, "user": user, "text": text,
		"ts": ts, "event_ts": ts, "channel_type": "channel", "client_msg_id": next("msg-"),
	}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return ev
}

// Mention is an app_mention event; threadTS may be empty.
func Mention(channel, user, text, ts, threadTS string) map[string]any {
	ev := UserMessage(channel, user, text, ts, threadTS)
	ev["type"] = "app_mention"
	delete(ev, "channel_type")
	return ev
}

// BotMessage is another bot's message event, with attachments and blocks
// as given (either may be nil).
func BotMessage(channel, botID, name, text, ts string, attachments, blocks any) map[string]any {
	ev := map[string]any{
		"type": "message", "subtype": "bot_message", "channel": channel,
		"bot_id": botID, "username": name, "text": text, "ts": ts, "event_ts": ts, "channel_type": "channel",
		"bot_profile": map[string]any{"id": botID, "app_id": "A" + botID, "name": name, "team_id": TeamID},
	}
	if attachments != nil {
		ev["attachments"] = attachments
	}
	if blocks != nil {
		ev["blocks"] = blocks
	}
	return ev
}

// BlockAction is a block_actions payload for a click on a button of the
// message at messageTS (in thread threadTS, or "" at the top).
func BlockAction(channel, user, messageTS, threadTS, actionID, value string) map[string]any {
	container := map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false}
	msg := map[string]any{"type": "message", "ts": messageTS, "user": BotUserID, "bot_id": BotID, "text": "report"}
	if threadTS != "" {
		container["thread_ts"] = threadTS
		msg["thread_ts"] = threadTS
	}
	return map[string]any{
		"type": "block_actions", "team": map[string]any{"id": TeamID, "domain": "test"},
		"user":       map[string]any{"id": user, "username": "someone", "team_id": TeamID},
		"api_app_id": AppID, "token": "placeholder", "trigger_id": next("trigger-"),
		"container": container, "channel": map[string]any{"id": channel, "name": "incidents"},
		"message": msg, "response_url": "https://hooks.slack.com/actions/T0001/1/placeholder",
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": "b", "value": value,
			"text": map[string]any{"type": "plain_text", "text": "button"}, "action_ts": next("1733234400."),
		}},
	}
}
