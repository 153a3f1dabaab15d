package handlers

import (
	"testing"

	"github.com/unstuck/unstuck/incident"
	"github.com/unstuck/unstuck/investigate"
)

func TestConfigChannel(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		id   string
		ok   bool
	}{
		{"no config allows all", Config{}, "C1", true},
		{"listed", Config{Channels: map[string]Channel{"C1": {}}}, "C1", true},
		{"not listed", Config{Channels: map[string]Channel{"C1": {}}}, "C2", false},
		{"wildcard", Config{Channels: map[string]Channel{"C1": {}, "*": {}}}, "C2", true},
	}
	for _, tt := range tests {
		if _, ok := tt.cfg.Channel(tt.id); ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
}

func TestChannelRegion(t *testing.T) {
	tests := []struct {
		regions []string
		asked   string
		want    string
		ok      bool
	}{
		{nil, "", "", true},
		{nil, "eu-west-1", "eu-west-1", true},
		{[]string{"us-east-1", "eu-west-1"}, "", "us-east-1", true},
		{[]string{"us-east-1", "eu-west-1"}, "eu-west-1", "eu-west-1", true},
		{[]string{"us-east-1"}, "ap-south-1", "", false},
	}
	for _, tt := range tests {
		got, ok := Channel{Regions: tt.regions}.region(tt.asked)
		if got != tt.want || ok != tt.ok {
			t.Errorf("region(%v, %q) = %q, %v; want %q, %v", tt.regions, tt.asked, got, ok, tt.want, tt.ok)
		}
	}
}

func TestChannelWatches(t *testing.T) {
	chatbot := message{BotID: "B1", BotProfile: &botProfile{ID: "B1", AppID: "A1", Name: "AWS Chatbot"}}
	tests := []struct {
		name string
		ch   Channel
		m    message
		want bool
	}{
		{"off", Channel{AlarmSenders: []string{"*"}}, chatbot, false},
		{"by name", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"aws chatbot"}}, chatbot, true},
		{"by bot id", Channel{Alarms: AlarmsButton, AlarmSenders: []string{"B1"}}, chatbot, true},
		{"by app id", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"A1"}}, chatbot, true},
		{"any bot", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"*"}}, message{BotID: "B9"}, true},
		{"another bot", Channel{Alarms: AlarmsAuto, AlarmSenders: []string{"B1"}}, message{BotID: "B9", Username: "deploys"}, false},
		{"no senders", Channel{Alarms: AlarmsAuto}, chatbot, false},
	}
	for _, tt := range tests {
		if got := tt.ch.watches(tt.m); got != tt.want {
			t.Errorf("%s: watches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRelated(t *testing.T) {
	inv := incident.Investigation{
		Alarm:  investigate.Alarm{Name: "orders-api-5xx", Resource: "orders-api"},
		Joined: []string{"orders-fn-errors"},
		Report: &investigate.Report{Scope: investigate.Scope{Resources: []string{"orders-api", "orders-fn", "orders-table"}}},
	}
	tests := []struct {
		alarm investigate.Alarm
		want  bool
	}{
		{investigate.Alarm{Name: "orders-api-5xx"}, true},
		{investigate.Alarm{Name: "orders-fn-errors"}, true},
		{investigate.Alarm{Name: "orders-api-latency", Resource: "orders-api"}, true},
		{investigate.Alarm{Name: "orders-table-throttles", Resource: "orders-table"}, true},
		{investigate.Alarm{Name: "billing-5xx", Resource: "billing-alb"}, false},
		{investigate.Alarm{Name: "no-resource"}, false},
	}
	for _, tt := range tests {
		if got := related(inv, tt.alarm); got != tt.want {
			t.Errorf("related(%s) = %v, want %v", tt.alarm.Name, got, tt.want)
		}
	}
}
