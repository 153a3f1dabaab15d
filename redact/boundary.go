package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// literals replaces known secret values, in the forms they travel in:
// as they are, URL-encoded and base64-encoded.
type literals struct {
	rep     *strings.Replacer
	secrets []string
}

// minSecret is the shortest value replaced literally: shorter values would
// take ordinary words with them.
const minSecret = 8

// newLiterals returns the replacer of the secrets of at least minSecret
// bytes, or nil when there is none.
func newLiterals(secrets []string) *literals {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) {
		if len(f) >= minSecret && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecret {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			add(enc.EncodeToString([]byte(s)))
		}
	}
	if len(forms) == 0 {
		return nil
	}
	// Longest first, so that an encoded form is not cut by a shorter one.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, tag("secret"))
	}
	return &literals{rep: strings.NewReplacer(pairs...), secrets: secrets}
}

func (l *literals) replace(s string) string {
	if l == nil {
		return s
	}
	return l.rep.Replace(s)
}

// process holds the process's own secrets, set by SetProcessSecrets.
var process atomic.Pointer[literals]

// SetProcessSecrets makes every redaction in the process (the package-level
// Redact, every Redactor and a nil one) replace each of secrets literally,
// as it is and URL- or base64-encoded: the tokens and keys the process was
// started with, which no pattern may know. Values under 8 bytes are
// ignored. A later call replaces the set; the returned function restores
// the previous one (for tests).
//
// The command line that reads the secrets calls it once, before anything
// leaves the process.
func SetProcessSecrets(secrets ...string) (restore func()) {
	prev := process.Swap(newLiterals(secrets))
	return func() { process.Store(prev) }
}

// AddProcessSecrets adds secrets to the process's set, keeping those set
// before: credentials that arrive after start (an AWS profile's, SSO's or
// an assumed role's, refreshed as they expire) join the tokens the process
// was started with. Values under 8 bytes and values already known are
// ignored.
func AddProcessSecrets(secrets ...string) {
	for {
		prev := process.Load()
		var known []string
		if prev != nil {
			known = prev.secrets
		}
		have := map[string]bool{}
		for _, k := range known {
			have[strings.TrimSpace(k)] = true
		}
		all := append([]string(nil), known...)
		for _, s := range secrets {
			if t := strings.TrimSpace(s); len(t) >= minSecret && !have[t] {
				have[t] = true
				all = append(all, s)
			}
		}
		if len(all) == len(known) {
			return
		}
		if process.CompareAndSwap(prev, newLiterals(all)) {
			return
		}
	}
}

// WithSecrets returns a copy of r that also replaces each of secrets
// literally, as it is and URL- or base64-encoded (values under 8 bytes are
// ignored): a model's key, for the errors of the gateway that checks it.
func (r *Redactor) WithSecrets(secrets ...string) *Redactor {
	out := &Redactor{}
	if r != nil {
		out.extra = r.extra
	}
	var all []string
	if r != nil {
		all = append(all, r.known...)
	}
	all = append(all, secrets...)
	out.known = all
	out.secrets = newLiterals(all)
	return out
}

// Redact returns the text with every secret replaced: the process's and
// the redactor's own secrets literally, then the pattern rules on the text
// as it is and on the forms that hide a secret from them: invisible
// characters inside a token, percent-encoding, base64, and a token broken
// across lines.
func (r *Redactor) Redact(s string) string {
	if s == "" {
		return s
	}
	s = process.Load().replace(s)
	if r != nil {
		s = r.secrets.replace(s)
	}
	s = r.visible(s)
	s = r.joinedLines(s)
	s = r.rules(s)
	s = r.percentDecoded(s)
	s = r.base64Decoded(s)
	return s
}

// visible returns s with its invisible characters inside tokens removed
// if that shows a secret to the rules; otherwise s as it is, since the
// escaping for Slack puts such characters in on purpose.
func (r *Redactor) visible(s string) string {
	d := dropInvisible(s)
	if d == s || strings.Count(r.rules(d), "[REDACTED") <= strings.Count(r.rules(s), "[REDACTED") {
		return s
	}
	return d
}

// invisible reports whether a rune is a zero-width or formatting character
// that does not show: one pasted inside a token hides it from the rules.
func invisible(c rune) bool {
	switch c {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad', '\u180e':
		return true
	}
	return false
}

// tokenByte reports whether a byte can be part of a token.
func tokenByte(c byte) bool {
	return c < utf8.RuneSelf && (c == '_' || c == '-' || c == '+' || c == '/' || c == '=' || c == '.' || c == '~' ||
		unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)))
}

// dropInvisible removes the invisible characters that stand between two
// token bytes, where they split a token; elsewhere (an emoji's joiner) they
// stay.
func dropInvisible(s string) string {
	if !strings.ContainsFunc(s, invisible) {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if invisible(c) {
			// The token byte before the run of invisible characters and the
			// one after it.
			j := i
			for j > 0 {
				p, n := utf8.DecodeLastRuneInString(s[:j])
				if !invisible(p) {
					break
				}
				j -= n
			}
			k := i
			for k < len(s) {
				p, n := utf8.DecodeRuneInString(s[k:])
				if !invisible(p) {
					break
				}
				k += n
			}
			if j > 0 && k < len(s) && tokenByte(s[j-1]) && tokenByte(s[k]) {
				continue
			}
		}
		b.WriteRune(c)
	}
	return b.String()
}

// percentRE finds a run of non-space text with a percent-escape in it.
var percentRE = regexp.MustCompile(`[^\s]*%[0-9A-Fa-f]{2}[^\s]*`)

// unescapePercent decodes the valid %XX escapes of s (twice, for text
// encoded twice), and '+' as a space as forms encode it; anything else
// stays as it is.
func unescapePercent(s string) string {
	for range 2 {
		if !strings.Contains(s, "%") {
			break
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
				i += 2
				continue
			}
			if s[i] == '+' {
				b.WriteByte(' ')
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	return strings.ToValidUTF8(s, "\ufffd")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// percentDecoded redacts the percent-encoded runs whose decoded form holds
// a secret the rules did not see: the run is replaced by its decoded,
// redacted form.
func (r *Redactor) percentDecoded(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return percentRE.ReplaceAllStringFunc(s, func(run string) string {
		dec := unescapePercent(run)
		if dec == run {
			return run
		}
		dec = dropInvisible(dec)
		if red := r.rules(dec); red != dec {
			return red
		}
		return run
	})
}

// base64RE finds a run that may be base64 (standard or URL alphabet).
var base64RE = regexp.MustCompile(`[A-Za-z0-9+/_\-]{16,}={0,2}`)

// base64Decoded replaces the base64 runs that decode to text holding a
// secret.
func (r *Redactor) base64Decoded(s string) string {
	return base64RE.ReplaceAllStringFunc(s, func(run string) string {
		dec, ok := decodeBase64(run)
		if !ok {
			return run
		}
		if red := r.rules(dec); red != dec {
			return tag("base64")
		}
		return run
	})
}

// decodeBase64 decodes a run as base64 in any of its alphabets, and
// reports whether it is printable text (what a pasted secret decodes to).
func decodeBase64(run string) (string, bool) {
	raw := strings.TrimRight(run, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(raw)
		if err != nil || len(b) < 8 || !utf8.Valid(b) {
			continue
		}
		printable := true
		for _, c := range string(b) {
			if c == utf8.RuneError || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return string(b), true
		}
	}
	return "", false
}

// joinedLines redacts a token broken across two or more lines when the
// joined token, read after what leads to it on its first line, is a secret
// that its last piece alone is not: every piece is replaced.
func (r *Redactor) joinedLines(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	changed := false
	for i := 0; i+1 < len(lines); i++ {
		// The chain of lines that continue one token: the tail of line i,
		// whole lines that are one token, and the head of the last.
		tailAt, tail := lastToken(lines[i])
		if tail == "" {
			continue
		}
		joined := tail
		heads := []int{}
		for j := i + 1; j < len(lines) && j <= i+8; j++ {
			at, head := firstToken(lines[j])
			if head == "" {
				break
			}
			joined += head
			heads = append(heads, at)
			// A token shorter than the shortest split secret worth the
			// rules (a key id is 20) is read no further: most line pairs
			// of a log end and start with short words.
			if len(joined) >= minSplitSecret && r.secretIn(leadOf(lines[i][:tailAt]), joined, head) {
				lines[i] = lines[i][:tailAt] + tag("split")
				for k, at := range heads {
					l := lines[i+1+k]
					_, h := firstToken(l)
					lines[i+1+k] = l[:at] + tag("split") + l[at+len(h):]
				}
				changed = true
				i = j - 1
				break
			}
			if strings.TrimSpace(strings.Trim(lines[j], `"'+\`)) != head {
				break // the token ends on this line
			}
		}
	}
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// minSplitSecret is the shortest token, joined across lines, that is read
// as a possible secret.
const minSplitSecret = 16

// leadOf is what the rules need of the text before a split token: its
// last words, where a key's name stands (aws_secret_access_key=).
func leadOf(s string) string {
	const keep = 96
	if len(s) <= keep {
		return s
	}
	cut := len(s) - keep
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return s[cut:]
}

// secretIn reports whether the rules, reading the joined token after the
// text that leads to it on its line, redact the last piece, which alone is
// no secret.
func (r *Redactor) secretIn(lead, joined, last string) bool {
	if r.rules(last) != last {
		return false
	}
	return !strings.Contains(r.rules(lead+joined), last)
}

// tokenChars are the bytes of a token split across lines.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.~:@%!&?;"

// lastToken returns the token that ends a line (before a continuation
// backslash, a closing quote or a '+') and where it starts.
func lastToken(line string) (int, string) {
	end := len(strings.TrimRight(line, " \t\r\\\"'+"))
	start := end
	for start > 0 && strings.IndexByte(tokenChars, line[start-1]) >= 0 {
		start--
	}
	if end-start < 4 {
		return 0, ""
	}
	return start, line[start:end]
}

// firstToken returns the token that starts a line (after indentation and
// an opening quote) and where it starts.
func firstToken(line string) (int, string) {
	start := len(line) - len(strings.TrimLeft(line, " \t\"'"))
	end := start
	for end < len(line) && strings.IndexByte(tokenChars, line[end]) >= 0 {
		end++
	}
	if end-start < 4 {
		return 0, ""
	}
	return start, line[start:end]
}

// keyNamed reports whether a key's name ends in "key" (app_key, DD_API_KEY,
// license-key): its value is a secret when it looks like one.
func keyNamed(name string) bool {
	n := strings.ToLower(strings.TrimRight(name, "_-."))
	return strings.HasSuffix(n, "key")
}

// hexKey reports whether a value is an API key in hex (32 to 128 digits,
// letters and digits both), or a mixed-case token of 20 or more.
func hexKey(v string) bool {
	if len(v) < 20 || len(v) > 128 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			letter = true
		default:
			return mixed(v) && strings.Trim(v, tokenChars[:68]) == ""
		}
	}
	return len(v) >= 32 && letter && digit
}

// yamlKeyRE is a YAML line that is a key with no value on it, or a block
// scalar's indicator: its value is on the lines after it.
var yamlKeyRE = regexp.MustCompile(`^([ \t]*(?:-[ \t]+)?)["']?([A-Za-z0-9_.\-]+)["']?[ \t]*:([ \t]*[|>][-+0-9]*)?[ \t]*\r?$`)

// indentOf is the width of a line's leading blanks.
func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }

// redactYAMLNextLine redacts the value of a secret-named YAML key written
// on the lines after it ("password:" then the value, deeper indented): a
// block scalar's every line, a plain scalar's lines, but not a mapping of
// children under the key.
func redactYAMLNextLine(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	changed := false
	for i := 0; i+1 < len(lines); i++ {
		g := yamlKeyRE.FindStringSubmatch(lines[i])
		if g == nil {
			continue
		}
		if ok, _ := sensitiveName(g[2]); !ok {
			continue
		}
		ind := len(g[1])
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || indentOf(lines[j]) <= ind {
			continue
		}
		first := strings.TrimSpace(lines[j])
		if g[3] == "" {
			if k, _, found := strings.Cut(first, ":"); found && !strings.ContainsAny(k, " \t") && !strings.Contains(first, "://") {
				continue // a child mapping
			}
			if strings.HasPrefix(first, "- ") {
				continue // a list
			}
		}
		for k := j; k < len(lines) && (strings.TrimSpace(lines[k]) == "" || indentOf(lines[k]) > ind); k++ {
			if strings.TrimSpace(lines[k]) == "" || isRedacted(lines[k]) {
				continue
			}
			lines[k] = lines[k][:indentOf(lines[k])] + tag(kindOf(g[2]))
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// kindOf is the tag of a secret named by a key.
func kindOf(name string) string {
	if l := strings.ToLower(name); strings.Contains(l, "pass") || strings.Contains(l, "pwd") {
		return "password"
	}
	return "secret"
}
