package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/unstuck/unstuck/handlers"
)

const chartDir = "helm/unstuck"

// The chart is rendered here the way Helm renders it — Go's text/template
// with the chart's values, .Chart and .Release, and the few Sprig
// functions the chart uses — so that the tests read the manifests Helm
// would produce, with no Helm binary. A template that calls a function
// this list lacks fails to parse: add the function here (with Sprig's
// meaning) or use one that is here. CI also runs `helm lint` and `helm
// template` when helm is on its PATH.
func helmFuncs(tpl **template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var buf bytes.Buffer
			err := (*tpl).ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		"required": func(msg string, v any) (any, error) {
			if empty(v) {
				return nil, errors.New(msg)
			}
			return v, nil
		},
		"default": func(def any, given ...any) any {
			if len(given) == 0 || empty(given[0]) {
				return def
			}
			return given[0]
		},
		"quote": func(v ...any) string {
			var out []string
			for _, s := range v {
				if s != nil {
					out = append(out, fmt.Sprintf("%q", fmt.Sprint(s)))
				}
			}
			return strings.Join(out, " ")
		},
		"toYaml": func(v any) string {
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return ""
			}
			return strings.TrimSuffix(buf.String(), "\n")
		},
		"indent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"sha256sum": func(s string) string {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:])
		},
		"int": func(v any) (int, error) {
			switch x := v.(type) {
			case int:
				return x, nil
			case float64:
				return int(x), nil
			case nil:
				return 0, nil
			}
			return 0, fmt.Errorf("int of %T %v", v, v)
		},
	}
}

// empty is Sprig's: nil, false, 0, "" and empty collections.
func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.String:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int64:
		return r.Int() == 0
	case reflect.Float64:
		return r.Float() == 0
	}
	return false
}

// jsonish makes values what Helm makes them: numbers float64, maps of
// string keys (Helm reads values through JSON).
func jsonish(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// merge lays over onto base, as `helm --set` or -f does.
func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

type manifest = map[string]any

// renderChart renders the chart with values over values.yaml and returns
// the manifests by kind/name, and NOTES.txt.
func renderChart(t *testing.T, over map[string]any) (map[string]manifest, string, error) {
	t.Helper()
	var chart struct {
		Name       string `yaml:"name"`
		Version    string `yaml:"version"`
		AppVersion string `yaml:"appVersion"`
	}
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	var values map[string]any
	data, err = os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	values = jsonish(merge(values, over)).(map[string]any)

	var tpl *template.Template
	tpl = template.New("chart").Funcs(helmFuncs(&tpl)).Option("missingkey=zero")
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tpl.New(filepath.Base(f)).Parse(string(text)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	top := map[string]any{
		"Values":   values,
		"Chart":    map[string]any{"Name": chart.Name, "Version": chart.Version, "AppVersion": chart.AppVersion},
		"Release":  map[string]any{"Name": "rel", "Namespace": "ops", "Service": "Helm", "IsInstall": true},
		"Template": map[string]any{"BasePath": "unstuck/templates"},
	}
	out := map[string]manifest{}
	var notes string
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := tpl.ExecuteTemplate(&buf, name, top); err != nil {
			return nil, "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if name == "NOTES.txt" {
			notes = text
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(text))
		for {
			var m manifest
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s renders YAML that does not parse: %v\n%s", name, err, text)
			}
			if m == nil {
				continue
			}
			key := str(m["kind"]) + "/" + str(at(m, "metadata", "name"))
			if _, dup := out[key]; dup {
				t.Fatalf("%s twice", key)
			}
			out[key] = m
		}
	}
	return out, notes, nil
}

// required are the values the chart cannot do without.
var required = map[string]any{
	"image": map[string]any{"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/unstuck"},
	"slack": map[string]any{"appToken": "xapp-1-A1-x", "botToken": "xoxb-1-x"},
}

func mustRender(t *testing.T, over map[string]any) map[string]manifest {
	t.Helper()
	out, _, err := renderChart(t, merge(required, over))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
}

func deployment(t *testing.T, out map[string]manifest) (manifest, map[string]any) {
	t.Helper()
	d, ok := out["Deployment/rel-unstuck"]
	if !ok {
		t.Fatalf("no Deployment/rel-unstuck in %v", keys(out))
	}
	c, _ := at(d, "spec", "template", "spec", "containers", 0).(map[string]any)
	if c == nil {
		t.Fatal("the Deployment has no container")
	}
	return d, c
}

func keys(m map[string]manifest) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func TestHelmDefaults(t *testing.T) {
	out := mustRender(t, nil)
	if got, want := keys(out), []string{"Deployment/rel-unstuck", "Secret/rel-unstuck", "ServiceAccount/rel-unstuck"}; !slices.Equal(got, want) {
		t.Errorf("manifests %v, want %v", got, want)
	}
	d, c := deployment(t, out)
	pod := at(d, "spec", "template", "spec")

	// Probes on the endpoints bot serve --http-addr serves.
	args := at(c, "args").([]any)
	if str(args[0]) != "serve" {
		t.Errorf("args %v are not bot serve", args)
	}
	addr := flagValue(args, "http-addr")
	port := -1
	for _, p := range at(c, "ports").([]any) {
		if at(p, "name") == "http" {
			port, _ = at(p, "containerPort").(int)
		}
	}
	if addr != fmt.Sprintf(":%d", port) {
		t.Errorf("--http-addr=%s, but the http port is %v", addr, port)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if at(c, probe, "httpGet", "path") != path || at(c, probe, "httpGet", "port") != "http" {
			t.Errorf("%s: %v, want GET %s on the http port", probe, at(c, probe), path)
		}
	}

	// Not root, nothing writable but the data volume, no privileges.
	if at(pod, "securityContext", "runAsNonRoot") != true || at(c, "securityContext", "runAsNonRoot") != true {
		t.Error("runAsNonRoot is not set")
	}
	if uid := at(pod, "securityContext", "runAsUser"); uid == 0 || uid == nil {
		t.Errorf("runAsUser %v", uid)
	}
	if at(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the root filesystem is writable")
	}
	if at(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("privilege escalation is allowed")
	}
	if !slices.Equal(canonSet(at(c, "securityContext", "capabilities", "drop")), []string{"ALL"}) {
		t.Errorf("capabilities dropped: %v", at(c, "securityContext", "capabilities", "drop"))
	}

	// The file store on the data volume, one pod at a time.
	if flagValue(args, "store") != "/data/unstuck.db" {
		t.Errorf("--store=%s", flagValue(args, "store"))
	}
	mounts := map[string]string{}
	for _, m := range at(c, "volumeMounts").([]any) {
		mounts[str(at(m, "mountPath"))] = str(at(m, "name"))
	}
	if mounts["/data"] != "data" {
		t.Errorf("mounts %v: /data is not the data volume", mounts)
	}
	if at(d, "spec", "strategy", "type") != "Recreate" {
		t.Errorf("strategy %v: a file store needs Recreate", at(d, "spec", "strategy"))
	}

	// The tokens from the Secret the chart made.
	secret := out["Secret/rel-unstuck"]
	env := map[string]any{}
	for _, e := range at(c, "env").([]any) {
		env[str(at(e, "name"))] = e
	}
	for _, name := range []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"} {
		ref := at(env[name], "valueFrom", "secretKeyRef")
		if at(ref, "name") != "rel-unstuck" || at(ref, "key") != name || at(secret, "stringData", name) == nil {
			t.Errorf("%s: %v; the Secret has %v", name, ref, at(secret, "stringData"))
		}
	}
	if at(env["OPENAI_API_KEY"], "valueFrom", "secretKeyRef", "optional") != true {
		t.Error("OPENAI_API_KEY is not optional")
	}

	grace, err := time.ParseDuration(flagValue(args, "grace"))
	if err != nil {
		t.Fatalf("--grace: %v", err)
	}
	if g, _ := at(pod, "terminationGracePeriodSeconds").(int); time.Duration(g)*time.Second <= grace {
		t.Errorf("terminationGracePeriodSeconds %d is not above --grace %v", g, grace)
	}
	if at(pod, "serviceAccountName") != "rel-unstuck" || at(pod, "automountServiceAccountToken") != false {
		t.Errorf("service account %v, automount %v", at(pod, "serviceAccountName"), at(pod, "automountServiceAccountToken"))
	}
	if img := at(c, "image"); img != "123456789012.dkr.ecr.eu-west-1.amazonaws.com/unstuck:0.1.0" {
		t.Errorf("image %v", img)
	}
}

func TestHelmIRSAChannelsAndExistingSecret(t *testing.T) {
	channels := map[string]any{
		"C0123ALARMS": map[string]any{
			"alarms": "auto", "alarm_senders": []any{"AWS Chatbot"}, "account": "123456789012",
			"role_arn": "arn:aws:iam::123456789012:role/unstuck-read", "external_id": "unstuck", "regions": []any{"us-east-1"},
		},
	}
	out, notes, err := renderChart(t, map[string]any{
		"image":          map[string]any{"repository": "r/unstuck", "tag": "v1"},
		"slack":          map[string]any{"existingSecret": "unstuck-tokens"},
		"serviceAccount": map[string]any{"roleArn": "arn:aws:iam::123456789012:role/unstuck-bot"},
		"channels":       channels,
		"aws":            map[string]any{"region": "eu-west-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out["Secret/rel-unstuck"]; ok {
		t.Error("a Secret is made beside existingSecret")
	}
	sa := out["ServiceAccount/rel-unstuck"]
	if at(sa, "metadata", "annotations", "eks.amazonaws.com/role-arn") != "arn:aws:iam::123456789012:role/unstuck-bot" {
		t.Errorf("service account annotations %v", at(sa, "metadata", "annotations"))
	}
	if strings.Contains(notes, "No serviceAccount.roleArn") {
		t.Error("NOTES warns of a missing role that is set")
	}
	_, c := deployment(t, out)
	for _, e := range at(c, "env").([]any) {
		if ref := at(e, "valueFrom", "secretKeyRef", "name"); ref != nil && ref != "unstuck-tokens" {
			t.Errorf("%v reads the Secret %v, not existingSecret", at(e, "name"), ref)
		}
		if at(e, "name") == "AWS_REGION" && at(e, "value") != "eu-west-1" {
			t.Errorf("AWS_REGION %v", at(e, "value"))
		}
	}
	if at(c, "image") != "r/unstuck:v1" {
		t.Errorf("image %v", at(c, "image"))
	}

	// The channels file: mounted where --channels reads it, and a file the
	// bot accepts (the same strict decoding as bot serve --channels).
	args := at(c, "args").([]any)
	path := flagValue(args, "channels")
	cm := out["ConfigMap/rel-unstuck"]
	file := str(at(cm, "data", "channels.yaml"))
	if file == "" {
		t.Fatalf("no ConfigMap with channels.yaml: %v", keys(out))
	}
	mounted := false
	for _, m := range at(c, "volumeMounts").([]any) {
		if at(m, "name") == "channels" && str(at(m, "mountPath"))+"/channels.yaml" == path && at(m, "readOnly") == true {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("--channels=%s is not where the ConfigMap is mounted: %v", path, at(c, "volumeMounts"))
	}
	var cfg handlers.Config
	dec := yaml.NewDecoder(strings.NewReader(file))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("the bot would refuse the channels file: %v\n%s", err, file)
	}
	ch := cfg.Channels["C0123ALARMS"]
	if ch.Account != "123456789012" || ch.RoleARN == "" || ch.ExternalID != "unstuck" || !slices.Equal(ch.AlarmSenders, []string{"AWS Chatbot"}) {
		t.Errorf("the channels file reads as %+v", ch)
	}
}

func TestHelmReplicasAndStore(t *testing.T) {
	out := mustRender(t, map[string]any{"replicaCount": 3, "store": "dynamodb://unstuck"})
	d, c := deployment(t, out)
	if at(d, "spec", "replicas") != 3 || at(d, "spec", "strategy", "type") != "RollingUpdate" {
		t.Errorf("replicas %v strategy %v", at(d, "spec", "replicas"), at(d, "spec", "strategy"))
	}
	if flagValue(at(c, "args").([]any), "store") != "dynamodb://unstuck" {
		t.Errorf("args %v", at(c, "args"))
	}
	out = mustRender(t, map[string]any{"persistence": map[string]any{"enabled": true, "size": "2Gi"}})
	pvc, ok := out["PersistentVolumeClaim/rel-unstuck-data"]
	if !ok || at(pvc, "spec", "resources", "requests", "storage") != "2Gi" {
		t.Fatalf("no PVC of 2Gi: %v", keys(out))
	}
	d, _ = deployment(t, out)
	if claim := at(d, "spec", "template", "spec", "volumes", 0, "persistentVolumeClaim", "claimName"); claim != "rel-unstuck-data" {
		t.Errorf("the data volume claims %v", claim)
	}
}

// TestHelmRefusesWhatCannotRun: values the bot could not run with fail the
// render, saying why.
func TestHelmRefusesWhatCannotRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"no image", map[string]any{"image": map[string]any{"repository": ""}}, "image.repository is required"},
		{"no tokens", map[string]any{"slack": map[string]any{"appToken": ""}}, "set slack.existingSecret"},
		{"swapped tokens", map[string]any{"slack": map[string]any{"appToken": "xoxb-1"}}, "app-level token"},
		{"replicas on a file", map[string]any{"replicaCount": 2}, "needs store: dynamodb://TABLE"},
		{"over Slack's cap", map[string]any{"replicaCount": 10, "store": "dynamodb://t"}, "at most 10 socket-mode connections"},
		{"no replica", map[string]any{"replicaCount": 0}, "at least 1"},
		{"model key beside an existing secret", map[string]any{"slack": map[string]any{"existingSecret": "s"}, "openai": map[string]any{"apiKey": "k"}}, "put OPENAI_API_KEY in that Secret"},
		{"a volume for nothing", map[string]any{"store": "dynamodb://t", "persistence": map[string]any{"enabled": true}}, "persistence is for the file store"},
	} {
		_, _, err := renderChart(t, merge(required, tc.values))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
