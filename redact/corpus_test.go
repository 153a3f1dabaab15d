package redact

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretCase is one format of the secret-scanning corpus.
type secretCase struct {
	name, secret, text string
}

// loadSecrets reads testdata/secrets.tsv.
func loadSecrets(t testing.TB) []secretCase {
	t.Helper()
	f, err := os.Open("testdata/secrets.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs []secretCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("bad line %q", line)
		}
		secret := strings.ReplaceAll(f[1], `\n`, "\n")
		text := strings.ReplaceAll(strings.ReplaceAll(f[2], `\n`, "\n"), "{{", "{")
		text = strings.ReplaceAll(text, "}}", "}")
		if !strings.Contains(text, "{}") {
			t.Fatalf("%s: no {} in %q", f[0], f[2])
		}
		cs = append(cs, secretCase{f[0], secret, strings.Replace(text, "{}", secret, 1)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cs
}

// pieces are the parts of a secret that must not survive: each of its
// lines of 8 bytes or more, apart from a PEM block's armour.
func pieces(secret string) []string {
	var ps []string
	for _, l := range strings.Split(secret, "\n") {
		if len(l) >= 8 && !strings.HasPrefix(l, "-----") {
			ps = append(ps, l)
		}
	}
	return ps
}

// leak returns the piece of the secret that the redacted text still
// carries, in the clear, percent-encoded, base64-encoded, or broken by a
// line break or an invisible character; "" if none.
func leak(out string, ps []string) string {
	joined := strings.NewReplacer("\n", "", "\r", "", "\u200b", "", "\\", "").Replace(out)
	views := []string{out, unescapePercent(out), joined, unescapePercent(joined)}
	for _, run := range base64RE.FindAllString(out, -1) {
		if dec, ok := decodeBase64(run); ok {
			views = append(views, dec)
		}
	}
	for _, p := range ps {
		for _, v := range views {
			if strings.Contains(v, p) {
				return p
			}
		}
	}
	return ""
}

// splitAt inserts sep in the middle of the secret's longest line.
func splitAt(text, secret, sep string) string {
	i := strings.Index(text, secret)
	best, at := "", 0
	off := 0
	for _, l := range strings.Split(secret, "\n") {
		if len(l) > len(best) {
			best, at = l, off
		}
		off += len(l) + 1
	}
	mid := i + at + len(best)/2
	return text[:mid] + sep + text[mid:]
}

// corpusForms are the forms each secret of the corpus is tested in.
var corpusForms = []struct {
	name string
	f    func(c secretCase) string
}{
	{"plain", func(c secretCase) string { return c.text }},
	{"url-encoded", func(c secretCase) string { return url.QueryEscape(c.text) }},
	{"base64", func(c secretCase) string {
		return "payload " + base64.StdEncoding.EncodeToString([]byte(c.text)) + " end"
	}},
	{"split", func(c secretCase) string { return splitAt(c.text, c.secret, "\n") }},
	{"zero-width", func(c secretCase) string { return splitAt(c.text, c.secret, "\u200b") }},
}

// TestSecretCorpus: no secret of the corpus passes redaction in any form.
func TestSecretCorpus(t *testing.T) {
	cs := loadSecrets(t)
	if len(cs) < 100 {
		t.Fatalf("the corpus has %d formats, want at least 100", len(cs))
	}
	for _, form := range corpusForms {
		caught := 0
		for _, c := range cs {
			in := form.f(c)
			out := Redact(in)
			if p := leak(out, pieces(c.secret)); p != "" {
				t.Errorf("%s, %s: %q survives:\n%s\n%s", form.name, c.name, p, in, out)
				continue
			}
			caught++
		}
		t.Logf("%s: %d of %d caught", form.name, caught, len(cs))
	}
}

// maxFalsePositives pins the number of ordinary strings of the embedded
// scenarios and the golden reports that redaction changes.
const maxFalsePositives = 0

// TestFalsePositives counts the strings of the embedded scenarios (each
// line of their YAML) and of the golden reports (each JSON string) that
// redaction changes: none holds a secret.
func TestFalsePositives(t *testing.T) {
	var texts []string
	yamls, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(yamls) < 29 {
		t.Fatalf("scenarios: %d files, %v", len(yamls), err)
	}
	for _, p := range yamls {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, strings.Split(string(b), "\n")...)
		texts = append(texts, string(b))
	}
	goldens, err := filepath.Glob("../handlers/blockkit/testdata/*.golden.json")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("goldens: %d files, %v", len(goldens), err)
	}
	for _, p := range goldens {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		texts = append(texts, jsonStrings(v)...)
	}
	fp := 0
	for _, s := range texts {
		if got := Redact(s); got != s {
			fp++
			a, b := strings.Split(s, "\n"), strings.Split(got, "\n")
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Logf("changed: %q\n  to %q", a[i], b[i])
				}
			}
		}
	}
	t.Logf("%d of %d strings changed", fp, len(texts))
	if fp > maxFalsePositives {
		t.Errorf("%d false positives, want at most %d", fp, maxFalsePositives)
	}
}

// jsonStrings returns every string in a decoded JSON value.
func jsonStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// TestProcessSecrets: the process's own secrets, which no pattern knows,
// are replaced literally, URL- and base64-encoded too, by the package-level
// Redact, a nil Redactor and every Redactor; WithSecrets adds a redactor's
// own.
func TestProcessSecrets(t *testing.T) {
	const gw = "litellm-gateway-key-0042"
	restore := SetProcessSecrets(gw, "short")
	defer restore()
	var none *Redactor
	own := New().WithSecrets("model.key.without.shape")
	for name, f := range map[string]func(string) string{"Redact": Redact, "nil": none.Redact, "New": New().Redact, "WithSecrets": own.Redact} {
		for _, in := range []string{
			"401: Incorrect API key provided: " + gw,
			"key=" + url.QueryEscape(gw+"/x"),
			"blob " + base64.StdEncoding.EncodeToString([]byte(gw)),
		} {
			if got := f(in); strings.Contains(got, gw) || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte(gw))) || !strings.Contains(got, "[REDACTED") {
				t.Errorf("%s: %q became %q", name, in, got)
			}
		}
	}
	if got := own.Redact("gateway said model.key.without.shape"); strings.Contains(got, "model.key") {
		t.Errorf("WithSecrets: %q", got)
	}
	if got := Redact("a short word"); got != "a short word" {
		t.Errorf("a value under 8 bytes replaced: %q", got)
	}
	restore()
	if got := Redact("key " + gw); got != "key "+gw {
		t.Errorf("after restore: %q", got)
	}
}

// TestAddProcessSecrets: credentials that arrive after start (a profile's,
// SSO's, an assumed role's) join the secrets set at start; neither set
// replaces the other.
func TestAddProcessSecrets(t *testing.T) {
	const startToken = "xapp-started-with-0042"
	const ssoSecret = "sso/Secret+Access+Key0042abcdEFGH"
	restore := SetProcessSecrets(startToken)
	defer restore()
	if got := Redact("k " + ssoSecret); got != "k "+ssoSecret {
		t.Fatalf("before AddProcessSecrets the secret is unknown to the literal rule, got %q", got)
	}
	AddProcessSecrets(ssoSecret, "short")
	AddProcessSecrets(ssoSecret) // again: no change
	for _, in := range []string{"k " + ssoSecret, "t " + startToken, "u " + url.QueryEscape(ssoSecret)} {
		if got := Redact(in); strings.Contains(got, ssoSecret) || strings.Contains(got, startToken) || strings.Contains(got, url.QueryEscape(ssoSecret)) {
			t.Errorf("%q became %q", in, got)
		}
	}
	if got := len(process.Load().secrets); got != 2 {
		t.Errorf("secrets kept: got %d, want 2 (the start token and the SSO secret, once)", got)
	}
}
