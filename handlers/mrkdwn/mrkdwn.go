// Package mrkdwn is the text side of Slack for the bot: escaping untrusted
// text so that it cannot ping, link or format (Escape, EscapeLine,
// PlainText), the only links the bot makes (Link), cutting text to a length
// without breaking an entity or a link (Truncate), and reading back what
// Slack escaped in what people typed (Unescape). It does no I/O.
package mrkdwn

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/unstuck/unstuck/investigate"
	"github.com/unstuck/unstuck/redact"
)

// Untrusted text — log lines, event fields, alarm messages, what people type,
// what a model writes — reaches Slack only through Escape or EscapeLine. The
// result, placed in a mrkdwn text object (which the renderer always marks
// verbatim), cannot ping anyone, cannot form a link and cannot change the
// formatting around it:
//
//   - secrets (AWS keys, Slack and other tokens, passwords in URLs, private
//     keys, …) are redacted first, with package redact's built-in rules;
//   - &, < and > become entities, so no <@U…>, <!channel>, <!subteam^…> or
//     <url|label> survives;
//   - the broadcast words (@channel, @here, @everyone) get a word joiner after
//     the @, in case a client or a later setting parses names;
//   - the mrkdwn control characters *, ~ and ` become look-alikes that do not
//     format, and so does _ where it could open or close italics;
//   - whatever looks like a URL, a domain or a link scheme (mailto:,
//     javascript:, …) gets an invisible break after its scheme and its dots,
//     so Slack does not turn it into a link.
//
// The only links the bot sends are the ones link builds, from console URLs
// the investigate package made.

const (
	zeroWidthSpace = "\u200b"
	wordJoiner     = "\u2060"
)

// Redact removes secrets from s with package redact's built-in rules, the
// ones the model's input and the logs pass too; a secret becomes
// "[REDACTED:KIND]".
func Redact(s string) string { return redact.Redact(s) }

var (
	broadcastRe = regexp.MustCompile(`(?i)@(channel|here|everyone)\b`)
	// linkish matches a URL with a scheme, a www. address, or a dotted name
	// ending in letters (a domain Slack would link).
	linkishRe = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s]*|\bwww\.[^\s]*|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`)
	schemeRe  = regexp.MustCompile(`(?i)\b(mailto|javascript|vbscript|data|file|tel|sms|slack|ftp):`)
	entities  = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	controls  = strings.NewReplacer("*", "\u2217", "~", "\u223c", "`", "\u02cb")
)

// Escape makes untrusted text safe for mrkdwn, keeping its line breaks.
func Escape(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	s = stripControl(s)
	s = Redact(s)
	s = entities.Replace(s)
	s = broadcastRe.ReplaceAllString(s, "@"+wordJoiner+"$1")
	s = controls.Replace(s)
	s = neutralUnderscores(s)
	s = linkishRe.ReplaceAllStringFunc(s, defang)
	return schemeRe.ReplaceAllString(s, "$1:"+zeroWidthSpace)
}

// PlainText makes untrusted text safe for a plain_text object (a header, a
// button), which Slack shows as it is: secrets redacted, angle brackets as
// look-alikes, broadcast words broken, URLs defanged, one line.
func PlainText(s string) string {
	s = strings.ToValidUTF8(s, "\ufffd")
	s = strings.Join(strings.Fields(stripControl(s)), " ")
	s = Redact(s)
	s = strings.NewReplacer("<", "\u2039", ">", "\u203a").Replace(s)
	s = broadcastRe.ReplaceAllString(s, "@"+wordJoiner+"$1")
	s = linkishRe.ReplaceAllStringFunc(s, defang)
	return schemeRe.ReplaceAllString(s, "$1:"+zeroWidthSpace)
}

// EscapeLine is Escape for one line: line breaks and tabs become spaces.
func EscapeLine(s string) string {
	return Escape(strings.Join(strings.Fields(s), " "))
}

// stripControl drops control characters other than newline and tab.
func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if investigate.Hidden(r) {
			return -1
		}
		return r
	}, s)
}

// neutralUnderscores replaces an underscore that could open or close italics
// (one not between two letters or digits) with a look-alike. Underscores
// inside identifiers (orders_table) stay as they are.
func neutralUnderscores(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := rune(0)
	for i, r := range s {
		if r != '_' {
			b.WriteRune(r)
			prev = r
			continue
		}
		next, _ := utf8.DecodeRuneInString(s[i+1:])
		if isWordRune(prev) && (isWordRune(next) || next == '_') || prev == '_' && isWordRune(next) {
			b.WriteRune(r)
		} else {
			b.WriteString("\u02cd")
		}
		prev = r
	}
	return b.String()
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// defang breaks a URL or domain so that Slack does not link it: an invisible
// space after "://", after "www" and after each dot followed by a letter.
func defang(s string) string {
	s = strings.Replace(s, "://", ":"+zeroWidthSpace+"//", 1)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '.' && i+1 < len(s) && isASCIILetter(s[i+1]) {
			b.WriteString(zeroWidthSpace)
		}
	}
	return b.String()
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// consoleHosts are the hosts whose links the bot renders: the AWS consoles
// the investigate package builds links to.
var consoleHosts = []string{".console.aws.amazon.com", ".console.amazonaws-us-gov.com", ".console.amazonaws.cn"}

// Link renders a bot-built console link with an escaped label. A URL that
// is not an https AWS console URL, or that could break out of the link
// syntax, renders as the label alone.
func Link(rawURL, label string) string {
	label = EscapeLine(label)
	if !SafeConsoleURL(rawURL) {
		return label
	}
	return "<" + rawURL + "|" + label + ">"
}

// SafeConsoleURL reports whether rawURL is an https AWS console URL that
// cannot break out of Slack's link syntax.
func SafeConsoleURL(rawURL string) bool {
	if rawURL == "" || len(rawURL) > 2000 || strings.ContainsAny(rawURL, "<>| \t\r\n\"") {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range consoleHosts {
		if strings.HasSuffix(host, h) || host == strings.TrimPrefix(h, ".") {
			return true
		}
	}
	return false
}

// Truncate shortens s to at most n runes, ending with an ellipsis when cut.
// It never cuts inside an entity (&amp;) or a bot-built link.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	runes := []rune(s)
	cut := string(runes[:n-1])
	// Do not leave half an entity or half a link.
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i]
	}
	if i := strings.LastIndexByte(cut, '<'); i >= 0 && !strings.Contains(cut[i:], ">") {
		cut = cut[:i]
	}
	return strings.TrimRightFunc(cut, unicode.IsSpace) + "…"
}

// UserMention renders a Slack user id that came from Slack itself (the user
// who clicked or asked); anything that is not an id renders as text.
func UserMention(id string) string {
	if userIDRe.MatchString(id) {
		return "<@" + id + ">"
	}
	return EscapeLine(id)
}

var userIDRe = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

var slackLinkRe = regexp.MustCompile(`<([^<>|]+)(\|[^<>]*)?>`)

// Unescape undoes Slack's escaping of what a person typed (entities, curly
// quotes) and unwraps <url|label> and <url> forms to the URL.
func Unescape(s string) string {
	s = slackLinkRe.ReplaceAllString(s, "$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "\u201c", `"`, "\u201d", `"`, "\u2018", "'", "\u2019", "'").Replace(s)
}
