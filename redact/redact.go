// Package redact removes secrets from text before it leaves the process: for
// a model, for Slack or for a log. It is the one set of redaction rules the
// bot has; it depends on no other package of the module.
package redact

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"
)

// Redactor removes secrets from text before it leaves for a model, Slack or
// a log: AWS access key ids, secret keys and session tokens; Slack tokens
// and webhooks; bearer and basic credentials and Authorization headers;
// passwords in URLs, connection strings, key=value pairs, JSON and command
// lines; private keys (PEM blocks); JWTs; common vendor API keys; long
// high-entropy blobs; and the patterns it is configured with.
//
// A secret becomes "[REDACTED:KIND]"; the name of a key=value pair and the
// user of a URL stay, so the text still reads. A Redactor is safe for
// concurrent use. A nil *Redactor applies the built-in rules only.
type Redactor struct {
	extra   []*regexp.Regexp
	secrets *literals
	known   []string
}

// New returns a redactor with the built-in rules and the given extra
// patterns, whose every match is redacted; nil patterns are ignored.
func New(extra ...*regexp.Regexp) *Redactor {
	var ex []*regexp.Regexp
	for _, re := range extra {
		if re != nil {
			ex = append(ex, re)
		}
	}
	return &Redactor{extra: ex}
}

var defaultRedactor = New()

// Redact returns the text with every secret the built-in rules know
// replaced.
func Redact(s string) string { return defaultRedactor.Redact(s) }

func tag(kind string) string { return "[REDACTED:" + kind + "]" }

type redactRule struct {
	kind string
	re   *regexp.Regexp
	// repl rewrites one match given its submatches; nil replaces the whole
	// match with the tag.
	repl func(m []string) string
	// fn, when set, is the whole rule.
	fn func(s string) string
	// need, when set, is a cheap test that every text the rule changes
	// passes: a text that fails it is not searched. Most text crossing the
	// boundary is ordinary, and the regular expressions cost far more.
	need func(s string) bool
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains any of subs, in any letter
// case; subs are lower case. Text that is not all ASCII passes: (?i)
// folds a few other characters (the Kelvin sign, the long s) onto ASCII
// letters.
func containsFold(s string, subs ...string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return containsAny(strings.ToLower(s), subs...)
}

// tokenRunByte reports whether c can be part of a vendor's token: every
// character vendorTokenRE matches is one.
func tokenRunByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-+/=.~:", c) >= 0
}

// minVendorRun is the shortest run of token characters vendorTokenRE can
// match.
const minVendorRun = 16

// redactVendorTokens applies vendorTokenRE to each run of token characters
// long enough to hold a vendor's token, instead of to the whole text. The
// characters around a run are not word characters, so the expression's
// word boundaries fall where they would in the whole text.
func redactVendorTokens(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !tokenRunByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && tokenRunByte(s[j]) {
			j++
		}
		if j-i >= minVendorRun {
			run := s[i:j]
			if red := vendorTokenRE.ReplaceAllLiteralString(run, tag("api-key")); red != run {
				b.WriteString(s[last:i])
				b.WriteString(red)
				last = j
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isRedacted reports whether a value was already redacted.
func isRedacted(v string) bool {
	return strings.Contains(v, "[REDACTED")
}

// sensitiveName reports whether a key names a secret, and the shortest value
// that is redacted under it.
func sensitiveName(name string) (bool, int) {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	n := b.String()
	// AWS API parameters named like tokens that are not secrets: request
	// and idempotency tokens, and pagination markers.
	for _, suffix := range []string{"requesttoken", "clienttoken", "idempotencytoken", "nexttoken", "paginationtoken", "continuationtoken"} {
		if strings.HasSuffix(n, suffix) {
			return false, 0
		}
	}
	for _, suffix := range []string{"password", "passwd", "pwd", "passphrase"} {
		if strings.HasSuffix(n, suffix) {
			return true, 1
		}
	}
	l := strings.ToLower(name)
	if n == "pass" || strings.HasSuffix(l, "_pass") || strings.HasSuffix(l, "-pass") || strings.HasSuffix(l, ".pass") {
		return true, 1
	}
	for _, suffix := range []string{
		"secret", "secretkey", "pat", "secretaccesskey", "secretstring", "clientsecret",
		"token", "accesstoken", "refreshtoken", "authtoken", "sessiontoken", "securitytoken", "idtoken", "bottoken",
		"apikey", "accesskey", "privatekey", "credential", "credentials",
		"signature", "sig", "sas", "xamzcredential", "connectionstring", "dsn",
		"accountkey", "sharedaccesskey", "primarykey", "secondarykey", "masterkey", "licensekey", "appkey", "clientkey", "webhooksecret",
	} {
		if strings.HasSuffix(n, suffix) {
			return true, 6
		}
	}
	return false, 0
}

// basicCredential reports whether a string is base64 of "user:password".
func basicCredential(s string) bool {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	return strings.Contains(string(b), ":")
}

// mixed reports whether a string has upper- and lower-case letters and
// digits, as keys and tokens do and words and hex digests do not.
func mixed(s string) bool {
	var up, low, dig bool
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			up = true
		case r >= 'a' && r <= 'z':
			low = true
		case r >= '0' && r <= '9':
			dig = true
		}
	}
	return up && low && dig
}

var redactRules = []redactRule{
	{kind: "private-key", need: func(s string) bool { return strings.Contains(s, "PRIVATE KEY") }, re: regexp.MustCompile(`(?s)-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)`)},
	{kind: "password", need: func(s string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }, re: regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]{1,20}://)([^\s:@/?#]*):([^\s/?#]*)@`),
		repl: func(m []string) string {
			if m[3] == "" || isRedacted(m[3]) {
				return m[0]
			}
			return m[1] + m[2] + ":" + tag("password") + "@"
		}},
	{kind: "slack-webhook", need: func(s string) bool { return containsFold(s, "hooks.slack.com") }, re: regexp.MustCompile(`(?i)https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]+`)},
	// The prefixes of JWTs, Slack tokens and AWS key ids and session tokens
	// are distinctive enough to match without a word boundary around them, so
	// that a secret glued to a letter or digit, as in URL-encoded text
	// ("token%3Dxoxb-…", "%20AKIA…") or run together with the next word, is
	// redacted too. A key id is 20 characters; a longer run that starts
	// like one loses its first 20.
	{kind: "jwt", need: func(s string) bool { return strings.Contains(s, "eyJ") }, re: regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*`)},
	{kind: "slack-token", need: func(s string) bool { return containsAny(s, "xox", "xapp-") }, re: regexp.MustCompile(`(?:xoxe\.)?xox[abposrecd]-[A-Za-z0-9\-%]{8,}|xapp-[A-Za-z0-9\-]{8,}`)},
	{kind: "aws-access-key-id", re: regexp.MustCompile(`(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}`)},
	{kind: "aws-session-token", need: func(s string) bool { return containsAny(s, "GZXIvYXdz", "IQoJb3JpZ2lu") }, re: regexp.MustCompile(`(?:FwoGZXIvYXdz|FQoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=%]{16,}`)},
	{kind: "api-key", fn: redactVendorTokens},
	// Headers whose whole value is a credential.
	{kind: "credential", need: func(s string) bool { return containsAny(s, ":", "=") }, re: regexp.MustCompile(`(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-auth-token|x-amz-security-token|cookie|set-cookie)(["']?[ \t]*[:=][ \t]*["']?)([^\r\n"']+)`),
		repl: func(m []string) string {
			if isRedacted(m[3]) {
				return m[0]
			}
			return m[1] + m[2] + tag("credential")
		}},
	{kind: "credential", re: regexp.MustCompile(`(?i)\b(bearer|basic)([ \t]+)([A-Za-z0-9\-._~+/]+=*)`),
		repl: func(m []string) string {
			v := m[3]
			redact := false
			if strings.EqualFold(m[1], "basic") {
				redact = len(v) >= 4 && basicCredential(v)
			} else {
				redact = len(v) >= 8 && (strings.ContainsAny(v, "0123456789._-~+/=") || mixed(v))
			}
			if !redact {
				return m[0]
			}
			return m[1] + m[2] + tag("credential")
		}},
	// Command-line flags: --password hunter2, -p=...
	// A flag starts a word: "1-token request" is not one.
	{kind: "password", re: regexp.MustCompile(`(?i)(^|[\s"'(\[])(--?(?:password|passwd|pass|secret|token|api-key|apikey|access-key|secret-key|secret-access-key|session-token))([ \t]+|=)([^\s"']+)`),
		repl: func(m []string) string {
			if isRedacted(m[4]) || strings.HasPrefix(m[4], "-") {
				return m[0]
			}
			return m[1] + m[2] + m[3] + tag("password")
		}},
	// A YAML key that names a secret, its value on the next, deeper
	// indented line or lines (a plain or block scalar).
	{kind: "secret", fn: redactYAMLNextLine},
	// key=value, key: value, "key": "value", connection strings.
	{kind: "secret", fn: redactKeyValues, need: func(s string) bool {
		return containsAny(s, ":", "=") && containsFold(s, keyValueWords...)
	}},

	// A bare AWS secret access key: 40 characters of base64 with upper,
	// lower and digits.
	{kind: "aws-secret-key", re: regexp.MustCompile(`(^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})($|[^A-Za-z0-9/+=])`),
		repl: func(m []string) string {
			if !mixed(m[2]) || filePath(m[2]) {
				return m[0]
			}
			return m[1] + tag("aws-secret-key") + m[3]
		}},
	// A long high-entropy blob (session tokens, opaque API tokens).
	{kind: "token", re: regexp.MustCompile(`(^|[^A-Za-z0-9/+=_\-])([A-Za-z0-9/+_\-]{64,}={0,2})`),
		repl: func(m []string) string {
			// The resource path of an ARN (assumed-role/…/session) is
			// not a token.
			if !mixed(m[2]) || m[1] == ":" && strings.Contains(m[2], "/") || filePath(m[2]) {
				return m[0]
			}
			return m[1] + tag("token")
		}},
}

// fileRoots are the top directories absolute paths start from on the hosts
// the bot runs on and is developed on.
var fileRoots = []string{"/tmp/", "/var/", "/home/", "/etc/", "/usr/", "/opt/", "/srv/", "/data/", "/run/", "/root/", "/mnt/", "/Users/", "/private/", "/workspace/", "/work/"}

// filePath reports whether a run looks like an absolute file path, not a
// token: it starts at a usual top directory and has at least three
// segments, none of them long. A long temporary directory's name would
// pass for a token; a base64 token hardly ever starts like that.
func filePath(run string) bool {
	root := false
	for _, r := range fileRoots {
		root = root || strings.HasPrefix(run, r)
	}
	if !root {
		return false
	}
	segs := strings.Split(run[1:], "/")
	if len(segs) < 3 {
		return false
	}
	for _, seg := range segs {
		if seg == "" || len(seg) > 100 {
			return false
		}
	}
	return true
}

// keyValueRE finds key=value, key: value, "key": "value" and the pairs of
// connection strings whose key names a secret.
var keyValueRE = regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:passw(?:or)?d|pwd|pass|passphrase|secret|token|key|pat|credentials?|signature|sig|sas|dsn|connectionstring)[A-Za-z0-9_.\-]*)(\\?["']?[ \t]*[:=][ \t]*)("[^"\r\n]*"|'[^'\r\n]*'|\\"[^"\\\r\n]*\\"|[^\s"'&,;<>\\]+)`)

// keyValueWords are the words one of which every key keyValueRE matches
// holds, in lower case.
var keyValueWords = []string{"pass", "pwd", "secret", "token", "key", "pat", "credential", "sig", "sas", "dsn", "connectionstring"}

// plainWord reports whether s is a short word of lower-case letters.
func plainWord(s string) bool {
	if len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// quoteOf returns the quote v opens with, if any.
func quoteOf(v string) string {
	for _, p := range []string{`\"`, `"`, `'`} {
		if strings.HasPrefix(v, p) {
			return p
		}
	}
	return ""
}

// redactKeyValues redacts the values of secret-named keys. A bare password
// runs on over an '&' that does not start another key=value pair, as in
// connection strings ("Password=Tr0ub4dor&3;").
func redactKeyValues(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range keyValueRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] < last {
			continue
		}
		name, sep, v := s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]]
		ok, minLen := sensitiveName(name)
		inner := strings.Trim(v, `\"'`)
		if !ok && keyNamed(name) && hexKey(inner) {
			ok, minLen = true, 20
		}
		if !ok || len(inner) < minLen || isRedacted(v) || inner == "<*>" {
			continue
		}
		// "token: expired", "credentials: failed to refresh": a short
		// lower-case word after a token's or a key's name is a state, not
		// the secret. A password may be any word, so it is not spared.
		if minLen > 1 && quoteOf(v) == "" && plainWord(inner) {
			continue
		}
		end := m[7]
		q := ""
		switch {
		case strings.HasPrefix(v, `\"`):
			q = `\"`
		case strings.HasPrefix(v, `"`):
			q = `"`
		case strings.HasPrefix(v, `'`):
			q = `'`
		}
		kind := "secret"
		if l := strings.ToLower(name); strings.Contains(l, "pass") || strings.Contains(l, "pwd") {
			kind = "password"
			for q == "" && end < len(s) && s[end] == '&' {
				j := end + 1
				for j < len(s) && !strings.ContainsRune(" \t\r\n;\"'&,<>", rune(s[j])) {
					j++
				}
				if strings.Contains(s[end+1:j], "=") {
					break
				}
				end = j
			}
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(name + sep + q + tag(kind) + q)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// rules applies the pattern rules (built-in and configured) to s as it is.
func (r *Redactor) rules(s string) string {
	if s == "" {
		return s
	}
	for _, rule := range redactRules {
		if rule.need != nil && !rule.need(s) {
			continue
		}
		if rule.fn != nil {
			s = rule.fn(s)
			continue
		}
		if rule.repl == nil {
			s = rule.re.ReplaceAllLiteralString(s, tag(rule.kind))
			continue
		}
		re, repl := rule.re, rule.repl
		s = re.ReplaceAllStringFunc(s, func(match string) string {
			return repl(re.FindStringSubmatch(match))
		})
	}
	if r != nil {
		for _, re := range r.extra {
			s = re.ReplaceAllLiteralString(s, tag("pattern"))
		}
	}
	return s
}
