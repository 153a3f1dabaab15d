// Package alarmmsg recognises CloudWatch alarm notifications in Slack
// messages, whatever posted them: AWS Chatbot (Amazon Q Developer in chat
// applications), SNS e-mail-style text relayed by a webhook, EventBridge
// "CloudWatch Alarm State Change" events and SNS alarm payloads pasted as
// JSON, in a message's text, attachments or blocks. It does no I/O.
package alarmmsg

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/unstuck/unstuck/handlers/mrkdwn"
)

// Message is a CloudWatch alarm notification recognised in a Slack
// message.
type Message struct {
	Name    string
	State   string // ALARM, OK or INSUFFICIENT_DATA; "" when the message does not say
	Region  string
	Account string
	Reason  string
}

// Alarm states.
const (
	StateAlarm = "ALARM"
	StateOK    = "OK"
	StateData  = "INSUFFICIENT_DATA"
)

var (
	alarmARNRe     = regexp.MustCompile(`arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):(\d{12}):alarm:([^\s"'|>,\x60*]+)`)
	subjectRe      = regexp.MustCompile(`\b(ALARM|OK|INSUFFICIENT_DATA)\s*:\s*["\x{201c}]([^"\x{201d}\n]{1,255})["\x{201d}]\s+in\s+([A-Za-z][A-Za-z ().-]{2,40}?)(?:\s*$|\s*[\n|*])`)
	fieldNameRe    = regexp.MustCompile(`(?i)\balarm\s*name\**\s*[:=|\n]\s*\**\s*["\x{201c}]?([^"\x{201d}\n|*,;]{1,255})`)
	fieldStateRe   = regexp.MustCompile(`(?i)\b(?:new\s+|current\s+)?state(?:\s*value)?\**\s*[:=|\n]\s*\**\s*(ALARM|OK|INSUFFICIENT_DATA)\b`)
	accountIDRe    = regexp.MustCompile(`^\d{12}$`)
	transitionRe   = regexp.MustCompile(`(?:\bto|->|→|\bis now|\bin)\s+\**\s*(ALARM|OK|INSUFFICIENT_DATA)\b`)
	stateWordRe    = regexp.MustCompile(`\b(ALARM|INSUFFICIENT_DATA)\b`)
	okWordRe       = regexp.MustCompile(`\bOK\b`)
	regionCodeRe   = regexp.MustCompile(`\b([a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d)\b`)
	accountRe      = regexp.MustCompile(`(?i)account(?:\s*id)?\s*[:=|]?\s*\**\s*(\d{12})\b`)
	chatbotPipesRe = regexp.MustCompile(`(?i)cloudwatch\s+alarm\s*\|\s*([^|\n]{1,255}?)\s*\|`)
)

// regionNames maps the region names SNS notifications use to their codes.
var regionNames = map[string]string{
	"us east (n. virginia)":      "us-east-1",
	"us east (ohio)":             "us-east-2",
	"us west (n. california)":    "us-west-1",
	"us west (oregon)":           "us-west-2",
	"africa (cape town)":         "af-south-1",
	"asia pacific (hong kong)":   "ap-east-1",
	"asia pacific (mumbai)":      "ap-south-1",
	"asia pacific (tokyo)":       "ap-northeast-1",
	"asia pacific (seoul)":       "ap-northeast-2",
	"asia pacific (osaka)":       "ap-northeast-3",
	"asia pacific (singapore)":   "ap-southeast-1",
	"asia pacific (sydney)":      "ap-southeast-2",
	"asia pacific (jakarta)":     "ap-southeast-3",
	"canada (central)":           "ca-central-1",
	"europe (frankfurt)":         "eu-central-1",
	"europe (zurich)":            "eu-central-2",
	"europe (ireland)":           "eu-west-1",
	"eu (ireland)":               "eu-west-1",
	"europe (london)":            "eu-west-2",
	"eu (london)":                "eu-west-2",
	"europe (paris)":             "eu-west-3",
	"europe (milan)":             "eu-south-1",
	"europe (spain)":             "eu-south-2",
	"europe (stockholm)":         "eu-north-1",
	"eu (frankfurt)":             "eu-central-1",
	"middle east (bahrain)":      "me-south-1",
	"middle east (uae)":          "me-central-1",
	"south america (sao paulo)":  "sa-east-1",
	"south america (são paulo)":  "sa-east-1",
	"aws govcloud (us-west)":     "us-gov-west-1",
	"aws govcloud (us-east)":     "us-gov-east-1",
	"israel (tel aviv)":          "il-central-1",
	"asia pacific (hyderabad)":   "ap-south-2",
	"asia pacific (melbourne)":   "ap-southeast-4",
	"canada west (calgary)":      "ca-west-1",
	"asia pacific (malaysia)":    "ap-southeast-5",
	"asia pacific (thailand)":    "ap-southeast-7",
	"mexico (central)":           "mx-central-1",
	"asia pacific (taipei)":      "ap-east-2",
	"asia pacific (new zealand)": "ap-southeast-6",
}

func regionCode(s string) string {
	s = strings.TrimSpace(s)
	if regionCodeRe.FindString(s) == s && s != "" {
		return s
	}
	return regionNames[strings.ToLower(s)]
}

// Recognize finds a CloudWatch alarm notification in a message's text
// and in the strings of its attachments and blocks (in order). It knows the
// forms Amazon Q Developer in chat applications (AWS Chatbot), SNS-to-Slack
// webhooks and other bots post: the raw notification JSON (SNS, EventBridge,
// an alarm action), an SNS subject line, "Alarm Name:" fields, an alarm ARN
// and a CloudWatch console link to the alarm.
func Recognize(text string, parts []string) (Message, bool) {
	var all []string
	for _, s := range append([]string{text}, parts...) {
		a, ok, isJSON := alarmFromJSON(s)
		if ok {
			return a, true
		}
		if !isJSON {
			// JSON that is not a state change (a configuration change)
			// is no alarm, whatever ARNs it holds.
			all = append(all, s)
		}
	}
	joined := mrkdwn.Unescape(strings.Join(all, "\n"))
	var a Message
	evidence := false
	if name, region, ok := ConsoleURL(joined); ok {
		a.Name, a.Region, evidence = name, regionCode(region), true
	}
	if m := alarmARNRe.FindStringSubmatch(joined); m != nil {
		if a.Name == "" {
			a.Name = m[3]
		}
		if a.Region == "" {
			a.Region = regionCode(m[1])
		}
		a.Account, evidence = m[2], true
	}
	if m := subjectRe.FindStringSubmatch(joined); m != nil {
		a.State, evidence = m[1], true
		if a.Name == "" {
			a.Name = m[2]
		}
		if a.Region == "" {
			a.Region = regionCode(m[3])
		}
	}
	if a.Name == "" {
		if m := fieldNameRe.FindStringSubmatch(joined); m != nil {
			a.Name = m[1]
		} else if name := fieldAfter(all, "alarm name", "alarm", "name"); name != "" {
			a.Name = name
		} else if m := chatbotPipesRe.FindStringSubmatch(joined); m != nil {
			a.Name = m[1]
		}
	}
	if a.State == "" {
		a.State = stateOf(all, joined)
	}
	if !evidence {
		// Without a link, an ARN or a subject line, a message must at least
		// speak of a CloudWatch alarm and its state.
		low := strings.ToLower(joined)
		evidence = a.State != "" && (strings.Contains(low, "cloudwatch") || strings.Contains(low, "alarm name"))
	}
	a.Name = cleanAlarmName(a.Name)
	if !evidence || a.Name == "" {
		return Message{}, false
	}
	if a.Region == "" {
		if m := regionCodeRe.FindStringSubmatch(joined); m != nil {
			a.Region = m[1]
		}
	}
	if a.Account == "" {
		if m := accountRe.FindStringSubmatch(joined); m != nil {
			a.Account = m[1]
		}
	}
	return a, true
}

// stateOf reads the alarm's state from fields, transition words, or the
// state's word alone.
func stateOf(all []string, joined string) string {
	if m := fieldStateRe.FindStringSubmatch(joined); m != nil {
		return strings.ToUpper(m[1])
	}
	if s := fieldAfter(all, "state", "new state", "current state", "state value", "status"); s != "" {
		if u := strings.ToUpper(strings.Trim(s, "* ")); u == StateAlarm || u == StateOK || u == StateData {
			return u
		}
	}
	if m := transitionRe.FindAllStringSubmatch(joined, -1); m != nil {
		return m[len(m)-1][1]
	}
	if m := stateWordRe.FindStringSubmatch(joined); m != nil {
		return m[1]
	}
	if okWordRe.MatchString(joined) {
		return StateOK
	}
	return ""
}

// fieldAfter returns the string that follows a field title among parts
// (attachment fields arrive as title, value).
func fieldAfter(parts []string, titles ...string) string {
	for i := 0; i+1 < len(parts); i++ {
		t := strings.ToLower(strings.Trim(strings.TrimSpace(parts[i]), "*:"))
		for _, want := range titles {
			if t == want {
				return strings.TrimSpace(parts[i+1])
			}
		}
	}
	return ""
}

func cleanAlarmName(s string) string {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "*_`\"'"))
	s = strings.TrimRight(s, ".,;:")
	if len(s) > 255 || !ValidName(s) {
		return ""
	}
	return s
}

// alarmFromJSON reads the notification formats AWS sends as JSON: an SNS
// notification's Message (alone, in an SNS envelope, or in a Lambda SNS
// event), an EventBridge "CloudWatch Alarm State Change", and an alarm
// action's payload. Other JSON, configuration changes included, is not an
// alarm.
func alarmFromJSON(s string) (a Message, ok, isJSON bool) {
	s = strings.TrimSpace(mrkdwn.Unescape(s))
	s = strings.TrimSpace(strings.Trim(s, "`"))
	if !strings.HasPrefix(s, "{") {
		return Message{}, false, false
	}
	var v map[string]any
	if json.Unmarshal([]byte(s), &v) != nil {
		return Message{}, false, false
	}
	a, ok = alarmFromObject(v, 0)
	if !accountIDRe.MatchString(a.Account) {
		a.Account = ""
	}
	return a, ok, true
}

func alarmFromObject(v map[string]any, depth int) (Message, bool) {
	if depth > 3 {
		return Message{}, false
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	obj := func(m map[string]any, k string) map[string]any { o, _ := m[k].(map[string]any); return o }
	// SNS notification message.
	if name := str(v, "AlarmName"); name != "" {
		a := Message{Name: name, State: stateValue(str(v, "NewStateValue")), Account: str(v, "AWSAccountId"), Reason: str(v, "NewStateReason")}
		a.Region = regionCode(str(v, "Region"))
		if m := alarmARNRe.FindStringSubmatch(str(v, "AlarmArn")); m != nil && a.Region == "" {
			a.Region = regionCode(m[1])
		}
		a.Name = cleanAlarmName(a.Name)
		return a, a.Name != ""
	}
	// EventBridge event.
	if dt := str(v, "detail-type"); dt != "" {
		d := obj(v, "detail")
		if dt != "CloudWatch Alarm State Change" || d == nil {
			return Message{}, false
		}
		st := obj(d, "state")
		a := Message{Name: cleanAlarmName(str(d, "alarmName")), Region: regionCode(str(v, "region")), Account: str(v, "account")}
		if st != nil {
			a.State, a.Reason = stateValue(str(st, "value")), str(st, "reason")
		}
		return a, a.Name != ""
	}
	// Alarm action (CloudWatch invoking Lambda).
	if d := obj(v, "alarmData"); d != nil {
		a := Message{Name: cleanAlarmName(str(d, "alarmName")), Region: regionCode(str(v, "region")), Account: str(v, "accountId")}
		if st := obj(d, "state"); st != nil {
			a.State, a.Reason = stateValue(str(st, "value")), str(st, "reason")
		}
		return a, a.Name != ""
	}
	// SNS envelope, or a Lambda event carrying one.
	if msg := str(v, "Message"); msg != "" {
		var inner map[string]any
		if json.Unmarshal([]byte(msg), &inner) == nil {
			return alarmFromObject(inner, depth+1)
		}
	}
	if recs, ok := v["Records"].([]any); ok {
		for _, r := range recs {
			if rm, ok := r.(map[string]any); ok {
				if sns := obj(rm, "Sns"); sns != nil {
					if a, ok := alarmFromObject(sns, depth+1); ok {
						return a, true
					}
				}
			}
		}
	}
	return Message{}, false
}

// Texts collects, in document order, the human-visible strings of
// attachments or blocks decoded as generic JSON: texts, titles, field
// values, fallbacks and URLs.
func Texts(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any, int)
	walk = func(v any, depth int) {
		if depth > 12 || len(out) > 500 {
			return
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			// A fixed key order keeps titles before values.
			for _, k := range textKeys {
				switch s := x[k].(type) {
				case string:
					if s != "" {
						out = append(out, s)
					}
				case map[string]any, []any:
					walk(s, depth+1)
				}
			}
			for _, k := range []string{"fields", "elements", "blocks", "actions", "accessory"} {
				if sub, ok := x[k]; ok {
					walk(sub, depth+1)
				}
			}
		}
	}
	walk(v, 0)
	return out
}

var textKeys = []string{"pretext", "author_name", "title", "title_link", "text", "value", "fallback", "url", "footer"}

var consoleURLRe = regexp.MustCompile(`https://([a-z0-9-]+)\.console\.aws\.amazon\.com/cloudwatch/home\?region=([a-z0-9-]+)#alarmsV2:alarm/([^\s|>"']+)`)

// ConsoleURL finds the first CloudWatch console link to an alarm in s and
// returns the alarm's name and the region its link names.
func ConsoleURL(s string) (name, region string, ok bool) {
	m := consoleURLRe.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	name, err := url.PathUnescape(m[3])
	if err != nil {
		return "", "", false
	}
	return name, m[2], true
}

var nameRe = regexp.MustCompile(`^[\p{L}\p{N} _.,:/@+=#()\[\]{}|*-]{1,255}$`)

// ValidName reports whether s can name an alarm or a resource: 1 to 255
// letters, digits, spaces and the punctuation CloudWatch and resource ids
// use.
func ValidName(s string) bool { return nameRe.MatchString(s) }

// stateValue is an alarm state a notification names, or "" when it names
// none of CloudWatch's three (a damaged or forged payload).
func stateValue(v string) string {
	switch s := strings.ToUpper(strings.TrimSpace(v)); s {
	case StateAlarm, StateOK, StateData:
		return s
	}
	return ""
}
