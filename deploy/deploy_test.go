package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	iamPolicyFile  = "../docs/iam-policy.json"
	storeDocFile   = "../docs/store.md"
	botTemplate    = "cloudformation/unstuck.yaml"
	readerTemplate = "cloudformation/reader-role.yaml"
)

// ---- CloudFormation YAML, short-form intrinsics included ----

// shortForms maps CloudFormation's YAML short forms to their long form.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
	"!Transform": "Fn::Transform", "!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// parseCFN reads a CloudFormation template in YAML into maps, lists and
// scalars, each short form (!Ref X) as its long form ({"Ref": "X"}).
func parseCFN(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	v, err := cfnValue(doc.Content[0])
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a template is a mapping, not %T", v)
	}
	return m, nil
}

func cfnValue(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return cfnValue(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: key %q twice", n.Content[i].Line, k)
			}
			val, err := cfnValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = val
		}
		v = m
	case yaml.SequenceNode:
		list := []any{}
		for _, c := range n.Content {
			val, err := cfnValue(c)
			if err != nil {
				return nil, err
			}
			list = append(list, val)
		}
		v = list
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	fn, ok := shortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if s, isStr := v.(string); isStr && fn == "Fn::GetAtt" {
		res, attr, ok := strings.Cut(s, ".")
		if !ok {
			return nil, fmt.Errorf("line %d: !GetAtt %q: want RESOURCE.ATTRIBUTE", n.Line, s)
		}
		v = []any{res, attr}
	}
	return map[string]any{fn: v}, nil
}

func loadCFN(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := parseCFN(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tpl
}

// at walks a path of map keys and list indexes; nil when it is not there.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ifBranches returns what a value may be: both branches of an Fn::If (its
// condition's name too), or the value itself.
func ifBranches(v any) (cond string, branches []any) {
	if f, ok := at(v, "Fn::If").([]any); ok && len(f) == 3 {
		return str(f[0]), []any{f[1], f[2]}
	}
	return "", []any{v}
}

func isNoValue(v any) bool { return reflect.DeepEqual(v, map[string]any{"Ref": "AWS::NoValue"}) }

// ---- IAM policies compared by meaning ----

// statement is an IAM policy statement in a canonical form: one action,
// resource or principal in a string or a list is the same as a list of
// one, and order does not count.
type statement struct {
	Sid, Effect                                 string
	Action, NotAction, Resource, NotResource    []string
	Principal, NotPrincipal, Condition, Unknown string
}

// canonSet is a string or a list as a sorted list; what is not a string
// (an intrinsic function) is kept as its JSON, which never equals a string.
func canonSet(v any) []string {
	var out []string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		out = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
	default:
		b, _ := json.Marshal(x)
		out = []string{string(b)}
	}
	sort.Strings(out)
	return out
}

func canonJSON(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v) // maps marshal with sorted keys
	return string(b)
}

// policyStatements reads a policy document (from JSON or a template).
func policyStatements(doc any) (version string, stmts []statement, err error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return "", nil, fmt.Errorf("a policy document is a mapping, not %T", doc)
	}
	version = str(m["Version"])
	raw := m["Statement"]
	if one, ok := raw.(map[string]any); ok {
		raw = []any{one}
	}
	list, ok := raw.([]any)
	if !ok {
		return "", nil, fmt.Errorf("Statement is %T, not a list", m["Statement"])
	}
	for _, r := range list {
		cond, branches := ifBranches(r)
		if cond != "" {
			return "", nil, fmt.Errorf("a statement under the condition %s: a read policy has no conditional statement", cond)
		}
		s, ok := branches[0].(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("a statement is %T, not a mapping", r)
		}
		var unknown []string
		for k := range s {
			switch k {
			case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition":
			default:
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		stmts = append(stmts, statement{
			Sid: str(s["Sid"]), Effect: str(s["Effect"]),
			Action: canonSet(s["Action"]), NotAction: canonSet(s["NotAction"]),
			Resource: canonSet(s["Resource"]), NotResource: canonSet(s["NotResource"]),
			Principal: canonJSON(s["Principal"]), NotPrincipal: canonJSON(s["NotPrincipal"]),
			Condition: canonJSON(s["Condition"]), Unknown: strings.Join(unknown, ","),
		})
	}
	return version, stmts, nil
}

// setDiff says what want has that got lacks, and the other way round.
func setDiff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// diffPolicies lists every way got differs from want, statement by
// statement (matched by Sid); none when they mean the same.
func diffPolicies(want, got any) []string {
	wv, ws, err := policyStatements(want)
	if err != nil {
		return []string{"the reference policy: " + err.Error()}
	}
	gv, gs, err := policyStatements(got)
	if err != nil {
		return []string{err.Error()}
	}
	var diffs []string
	if wv != gv {
		diffs = append(diffs, fmt.Sprintf("Version %q, want %q", gv, wv))
	}
	bySid := func(stmts []statement) (map[string]statement, []string) {
		m := map[string]statement{}
		var problems []string
		for _, s := range stmts {
			if s.Sid == "" {
				problems = append(problems, fmt.Sprintf("a statement without a Sid (actions %v)", s.Action))
			} else if _, dup := m[s.Sid]; dup {
				problems = append(problems, "Sid "+s.Sid+" twice")
			}
			m[s.Sid] = s
		}
		return m, problems
	}
	wm, wp := bySid(ws)
	gm, gp := bySid(gs)
	diffs = append(diffs, wp...)
	diffs = append(diffs, gp...)
	var sids []string
	for sid := range wm {
		sids = append(sids, sid)
	}
	for sid := range gm {
		if _, ok := wm[sid]; !ok {
			sids = append(sids, sid)
		}
	}
	sort.Strings(sids)
	for _, sid := range sids {
		w, inWant := wm[sid]
		g, inGot := gm[sid]
		switch {
		case !inGot:
			diffs = append(diffs, fmt.Sprintf("statement %s is missing (actions %v)", sid, w.Action))
			continue
		case !inWant:
			diffs = append(diffs, fmt.Sprintf("statement %s is extra (actions %v, resources %v)", sid, g.Action, g.Resource))
			continue
		}
		for _, f := range []struct {
			name      string
			want, got []string
		}{{"Action", w.Action, g.Action}, {"NotAction", w.NotAction, g.NotAction}, {"Resource", w.Resource, g.Resource}, {"NotResource", w.NotResource, g.NotResource}} {
			if missing, extra := setDiff(f.want, f.got); len(missing)+len(extra) > 0 {
				diffs = append(diffs, fmt.Sprintf("statement %s: %s lacks %q and has extra %q", sid, f.name, missing, extra))
			}
		}
		for _, f := range []struct{ name, want, got string }{
			{"Effect", w.Effect, g.Effect}, {"Principal", w.Principal, g.Principal}, {"NotPrincipal", w.NotPrincipal, g.NotPrincipal},
			{"Condition", w.Condition, g.Condition}, {"other keys", w.Unknown, g.Unknown},
		} {
			if f.want != f.got {
				diffs = append(diffs, fmt.Sprintf("statement %s: %s %s, want %s", sid, f.name, f.got, f.want))
			}
		}
	}
	return diffs
}

func readIAMPolicy(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(iamPolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", iamPolicyFile, err)
	}
	return doc
}

// readOnly is the policy without its statements that act through STS
// (assuming another role): what a read role in another account grants.
func readOnly(doc map[string]any) map[string]any {
	out := map[string]any{"Version": doc["Version"]}
	var kept []any
	for _, s := range doc["Statement"].([]any) {
		sts := false
		for _, a := range canonSet(at(s, "Action")) {
			sts = sts || strings.HasPrefix(a, "sts:")
		}
		if !sts {
			kept = append(kept, s)
		}
	}
	out["Statement"] = kept
	return out
}

// rolePolicies returns a role's inline policies by name, with the
// condition each is under ("" for none).
func rolePolicies(t *testing.T, role any) map[string]struct {
	Cond string
	Doc  any
} {
	t.Helper()
	out := map[string]struct {
		Cond string
		Doc  any
	}{}
	for _, p := range at(role, "Properties", "Policies").([]any) {
		cond, branches := ifBranches(p)
		for _, b := range branches {
			if isNoValue(b) {
				continue
			}
			name := str(at(b, "PolicyName"))
			if name == "" {
				t.Fatalf("a policy without a PolicyName: %v", b)
			}
			if _, dup := out[name]; dup {
				t.Fatalf("policy %s twice", name)
			}
			out[name] = struct {
				Cond string
				Doc  any
			}{cond, at(b, "PolicyDocument")}
		}
	}
	return out
}

// ---- docs/store.md ----

// storeDoc is what docs/store.md says of the DynamoDB table.
type storeDoc struct {
	Attrs     map[string]string // attribute definitions: name → S, N or B
	Keys      []string          // "PK HASH", "SK RANGE"
	TTL       string
	Billing   string
	TableRole []string // the actions the bot's role needs on the table
}

var typeLetter = map[string]string{"string": "S", "number": "N", "binary": "B"}

// parseStoreDoc reads the table from docs/store.md: the create-table and
// update-time-to-live commands, checked against the prose that describes
// the key schema, and the JSON statement for the bot's role.
func parseStoreDoc(doc string) (storeDoc, error) {
	var s storeDoc
	// The shell commands, continued lines joined.
	cmds := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(doc, " ")
	create := regexp.MustCompile(`aws dynamodb create-table [^\n]*`).FindString(cmds)
	if create == "" {
		return s, fmt.Errorf("no `aws dynamodb create-table` command")
	}
	fields := strings.Fields(create)
	args := map[string][]string{}
	var flag string
	for _, f := range fields[3:] {
		if strings.HasPrefix(f, "--") {
			flag = f
			args[flag] = nil
			continue
		}
		args[flag] = append(args[flag], f)
	}
	kv := func(tok string) map[string]string {
		m := map[string]string{}
		for _, p := range strings.Split(tok, ",") {
			k, v, _ := strings.Cut(p, "=")
			m[k] = v
		}
		return m
	}
	s.Attrs = map[string]string{}
	for _, tok := range args["--attribute-definitions"] {
		m := kv(tok)
		s.Attrs[m["AttributeName"]] = m["AttributeType"]
	}
	for _, tok := range args["--key-schema"] {
		m := kv(tok)
		s.Keys = append(s.Keys, m["AttributeName"]+" "+m["KeyType"])
	}
	if len(args["--billing-mode"]) == 1 {
		s.Billing = args["--billing-mode"][0]
	}
	if len(s.Attrs) == 0 || len(s.Keys) == 0 {
		return s, fmt.Errorf("create-table has no --attribute-definitions or --key-schema: %q", create)
	}
	if m := regexp.MustCompile(`--time-to-live-specification (\S+)`).FindStringSubmatch(cmds); m != nil {
		ttl := kv(m[1])
		if ttl["Enabled"] == "true" {
			s.TTL = ttl["AttributeName"]
		}
	}

	// The prose says the same, or the document contradicts itself.
	prose := regexp.MustCompile("partition key `(\\w+)` \\((\\w+)\\), sort key `(\\w+)` \\((\\w+)\\)").FindStringSubmatch(doc)
	if prose == nil {
		return s, fmt.Errorf("no sentence \"partition key `X` (string), sort key `Y` (string)\"")
	}
	proseKeys := []string{prose[1] + " HASH", prose[3] + " RANGE"}
	if !slices.Equal(proseKeys, s.Keys) {
		return s, fmt.Errorf("the prose's keys %v are not create-table's %v", proseKeys, s.Keys)
	}
	for _, kt := range [][2]string{{prose[1], prose[2]}, {prose[3], prose[4]}} {
		if s.Attrs[kt[0]] != typeLetter[kt[1]] {
			return s, fmt.Errorf("the prose says %s is a %s, create-table says %q", kt[0], kt[1], s.Attrs[kt[0]])
		}
	}
	if m := regexp.MustCompile("TTL on the number attribute `(\\w+)`").FindStringSubmatch(doc); m == nil || m[1] != s.TTL {
		return s, fmt.Errorf("the prose's TTL attribute %v is not update-time-to-live's %q", m, s.TTL)
	}

	// The statement the bot's role needs on the table.
	for _, block := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		var st map[string]any
		if json.Unmarshal([]byte(block[1]), &st) != nil || st["Sid"] != "UnstuckStore" {
			continue
		}
		s.TableRole = canonSet(st["Action"])
	}
	if len(s.TableRole) == 0 {
		return s, fmt.Errorf("no JSON statement with Sid UnstuckStore (the bot's role on the table)")
	}
	return s, nil
}

func readStoreDoc(t *testing.T) storeDoc {
	t.Helper()
	data, err := os.ReadFile(storeDocFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseStoreDoc(string(data))
	if err != nil {
		t.Fatalf("%s: %v", storeDocFile, err)
	}
	return s
}

// ---- a template's references ----

var pseudoParams = map[string]bool{
	"AWS::AccountId": true, "AWS::NoValue": true, "AWS::NotificationARNs": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// checkReferences is a small linter for when cfn-lint is not installed:
// every Ref, GetAtt, Sub variable and condition names something the
// template defines, and every parameter and condition is used.
func checkReferences(tpl map[string]any) []string {
	params, _ := tpl["Parameters"].(map[string]any)
	resources, _ := tpl["Resources"].(map[string]any)
	conditions, _ := tpl["Conditions"].(map[string]any)
	usedParams, usedConds := map[string]bool{}, map[string]bool{}
	var problems []string
	name := func(n, where string) {
		switch {
		case pseudoParams[n]:
		case params[n] != nil:
			usedParams[n] = true
		case resources[n] != nil:
		default:
			problems = append(problems, fmt.Sprintf("%s refers to %q, which the template does not define", where, n))
		}
	}
	cond := func(n, where string) {
		if conditions[n] == nil {
			problems = append(problems, fmt.Sprintf("%s names the condition %q, which the template does not define", where, n))
		}
		usedConds[n] = true
	}
	subVar := regexp.MustCompile(`\$\{([^!}][^}]*)\}`)
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "Ref":
					name(str(e), where)
				case "Fn::GetAtt":
					if l, ok := e.([]any); ok && len(l) == 2 {
						if resources[str(l[0])] == nil {
							problems = append(problems, fmt.Sprintf("%s: GetAtt of %q, which is no resource", where, l[0]))
						}
					}
				case "Fn::Sub":
					s, _ := e.(string)
					if l, ok := e.([]any); ok && len(l) > 0 {
						s = str(l[0]) // variables given in the map are not checked
					}
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						n, _, _ := strings.Cut(m[1], ".")
						name(n, where)
					}
				case "Fn::If":
					if l, ok := e.([]any); ok && len(l) == 3 {
						cond(str(l[0]), where)
					}
				case "Condition":
					if s, ok := e.(string); ok {
						cond(s, where)
					}
				}
				walk(e, where)
			}
		case []any:
			for _, e := range x {
				walk(e, where)
			}
		}
	}
	for _, section := range []string{"Resources", "Outputs", "Conditions", "Rules", "Metadata"} {
		m, _ := tpl[section].(map[string]any)
		for k, v := range m {
			walk(v, section+"."+k)
		}
	}
	for p := range params {
		if !usedParams[p] {
			problems = append(problems, "parameter "+p+" is never used")
		}
	}
	for c := range conditions {
		if !usedConds[c] {
			problems = append(problems, "condition "+c+" is never used")
		}
	}
	sort.Strings(problems)
	return problems
}

// ---- the tests ----

func TestTemplatesParseAndReferOnlyToWhatTheyDefine(t *testing.T) {
	for _, f := range []string{botTemplate, readerTemplate} {
		tpl := loadCFN(t, f)
		if tpl["AWSTemplateFormatVersion"] != "2010-09-09" {
			t.Errorf("%s: AWSTemplateFormatVersion %v", f, tpl["AWSTemplateFormatVersion"])
		}
		for _, p := range checkReferences(tpl) {
			t.Errorf("%s: %s", f, p)
		}
	}
}

func TestTaskRoleIsTheDocumentedPolicy(t *testing.T) {
	tpl := loadCFN(t, botTemplate)
	role := at(tpl, "Resources", "TaskRole")
	if role == nil {
		t.Fatal("no TaskRole resource")
	}
	if at(tpl, "Resources", "TaskDefinition", "Properties", "TaskRoleArn") == nil ||
		!reflect.DeepEqual(at(tpl, "Resources", "TaskDefinition", "Properties", "TaskRoleArn"), map[string]any{"Fn::GetAtt": []any{"TaskRole", "Arn"}}) {
		t.Errorf("the task definition does not run as TaskRole: %v", at(tpl, "Resources", "TaskDefinition", "Properties", "TaskRoleArn"))
	}
	if m := at(role, "Properties", "ManagedPolicyArns"); m != nil {
		t.Errorf("the task role has managed policies %v: it may have only docs/iam-policy.json and the store's table", m)
	}
	pols := rolePolicies(t, role)
	read, ok := pols["unstuck-read"]
	if !ok {
		t.Fatalf("the task role has no policy unstuck-read: %v", pols)
	}
	if read.Cond != "" {
		t.Errorf("unstuck-read is under the condition %s", read.Cond)
	}
	for _, d := range diffPolicies(readIAMPolicy(t), read.Doc) {
		t.Errorf("TaskRole's unstuck-read differs from %s: %s", iamPolicyFile, d)
	}
	if trust := at(role, "Properties", "AssumeRolePolicyDocument", "Statement", 0, "Principal", "Service"); trust != "ecs-tasks.amazonaws.com" {
		t.Errorf("the task role trusts %v, not ECS tasks", trust)
	}

	// Its only other policy: docs/store.md's actions, on the table only,
	// and only when there is a table.
	store, ok := pols["unstuck-store"]
	if !ok {
		t.Fatal("the task role has no policy unstuck-store for the table")
	}
	delete(pols, "unstuck-read")
	delete(pols, "unstuck-store")
	if len(pols) > 0 {
		t.Errorf("the task role has other policies: %v", pols)
	}
	if store.Cond != "UseTable" || at(tpl, "Resources", "Table", "Condition") != "UseTable" {
		t.Errorf("the store policy is under %q and the table under %q: both want UseTable", store.Cond, at(tpl, "Resources", "Table", "Condition"))
	}
	_, stmts, err := policyStatements(store.Doc)
	if err != nil {
		t.Fatal(err)
	}
	doc := readStoreDoc(t)
	if len(stmts) != 1 {
		t.Fatalf("unstuck-store has %d statements, want 1", len(stmts))
	}
	if missing, extra := setDiff(doc.TableRole, stmts[0].Action); len(missing)+len(extra) > 0 {
		t.Errorf("unstuck-store's actions lack %q and have extra %q (docs/store.md)", missing, extra)
	}
	if want := []string{`{"Fn::GetAtt":["Table","Arn"]}`}; !slices.Equal(stmts[0].Resource, want) || stmts[0].Effect != "Allow" {
		t.Errorf("unstuck-store is %s on %v, want Allow on the table only", stmts[0].Effect, stmts[0].Resource)
	}
}

func TestReaderRoleIsTheDocumentedReadPolicy(t *testing.T) {
	tpl := loadCFN(t, readerTemplate)
	docPolicy := readIAMPolicy(t)
	resources := at(tpl, "Resources").(map[string]any)
	if len(resources) != 1 {
		t.Errorf("the reader stack has %d resources, want the role alone", len(resources))
	}
	role := at(tpl, "Resources", "ReaderRole")
	if role == nil {
		t.Fatal("no ReaderRole")
	}
	if at(role, "Properties", "ManagedPolicyArns") != nil {
		t.Error("the reader role has managed policies")
	}
	pols := rolePolicies(t, role)
	if len(pols) != 1 || pols["unstuck-read"].Doc == nil {
		t.Fatalf("the reader role's policies: %v, want unstuck-read alone", pols)
	}
	for _, d := range diffPolicies(readOnly(docPolicy), pols["unstuck-read"].Doc) {
		t.Errorf("ReaderRole's unstuck-read differs from %s's read statements: %s", iamPolicyFile, d)
	}

	// Trusted by the bot's role alone, with the external id.
	trust := at(role, "Properties", "AssumeRolePolicyDocument")
	_, stmts, err := policyStatements(trust)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 1 {
		t.Fatalf("the trust policy has %d statements, want 1", len(stmts))
	}
	s := stmts[0]
	if s.Effect != "Allow" || !slices.Equal(s.Action, []string{"sts:AssumeRole"}) ||
		s.Principal != `{"AWS":{"Ref":"BotRoleArn"}}` ||
		s.Condition != `{"StringEquals":{"sts:ExternalId":{"Ref":"ExternalId"}}}` {
		t.Errorf("the trust policy: %+v; want the bot's role (BotRoleArn) with sts:ExternalId", s)
	}

	// Named so that the bot's policy may assume it.
	var assumable string
	for _, st := range docPolicy["Statement"].([]any) {
		if slices.Contains(canonSet(at(st, "Action")), "sts:AssumeRole") {
			assumable = str(at(st, "Resource"))
		}
	}
	_, pattern, ok := strings.Cut(assumable, ":role/")
	if !ok || !strings.HasSuffix(pattern, "*") {
		t.Fatalf("%s: the sts:AssumeRole resource %q is not arn:aws:iam::*:role/PREFIX*", iamPolicyFile, assumable)
	}
	prefix := strings.TrimSuffix(pattern, "*")
	if at(role, "Properties", "RoleName", "Ref") != "RoleName" {
		t.Fatal("the role's name is not the RoleName parameter")
	}
	def := str(at(tpl, "Parameters", "RoleName", "Default"))
	allowed, err := regexp.Compile(str(at(tpl, "Parameters", "RoleName", "AllowedPattern")))
	if err != nil {
		t.Fatalf("RoleName's AllowedPattern: %v", err)
	}
	if !strings.HasPrefix(def, prefix) || !allowed.MatchString(def) {
		t.Errorf("RoleName's default %q: the bot may assume only roles named %s*", def, prefix)
	}
	if allowed.MatchString("reader") || allowed.MatchString("x"+prefix+"reader") {
		t.Errorf("RoleName's AllowedPattern %s takes names the bot may not assume (not %s*)", allowed, prefix)
	}

	// Deployable as a StackSet: nothing account- or region-specific.
	data, _ := os.ReadFile(readerTemplate)
	if m := regexp.MustCompile(`\b\d{12}\b|\b(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b`).Find(data); m != nil {
		t.Errorf("the reader template names %q: a StackSet's template names no account or region", m)
	}
	for name, o := range at(tpl, "Outputs").(map[string]any) {
		if at(o, "Export") != nil {
			t.Errorf("output %s is exported: exports collide across a StackSet's stacks", name)
		}
	}
}

func TestTableIsTheDocumentedTable(t *testing.T) {
	doc := readStoreDoc(t)
	tpl := loadCFN(t, botTemplate)
	table := at(tpl, "Resources", "Table", "Properties")
	if table == nil {
		t.Fatal("no Table resource")
	}
	attrs := map[string]string{}
	for _, a := range at(table, "AttributeDefinitions").([]any) {
		attrs[str(at(a, "AttributeName"))] = str(at(a, "AttributeType"))
	}
	if !reflect.DeepEqual(attrs, doc.Attrs) {
		t.Errorf("attribute definitions %v, docs/store.md says %v", attrs, doc.Attrs)
	}
	var keys []string
	for _, k := range at(table, "KeySchema").([]any) {
		keys = append(keys, str(at(k, "AttributeName"))+" "+str(at(k, "KeyType")))
	}
	if !slices.Equal(keys, doc.Keys) {
		t.Errorf("key schema %v, docs/store.md says %v", keys, doc.Keys)
	}
	if got := str(at(table, "TimeToLiveSpecification", "AttributeName")); got != doc.TTL || at(table, "TimeToLiveSpecification", "Enabled") != true {
		t.Errorf("TTL on %q (enabled %v), docs/store.md says on %q", got, at(table, "TimeToLiveSpecification", "Enabled"), doc.TTL)
	}
	if got := str(at(table, "BillingMode")); got != doc.Billing {
		t.Errorf("billing mode %q, docs/store.md says %q", got, doc.Billing)
	}
	if at(tpl, "Resources", "Table", "DeletionPolicy") != "Retain" {
		t.Error("the table is deleted with the stack: it holds the investigations")
	}

	// The bot is pointed at that table.
	cmd := container(t, tpl)["Command"].([]any)
	found := false
	for _, c := range cmd {
		cond, branches := ifBranches(c)
		if cond == "UseTable" && reflect.DeepEqual(branches[0], map[string]any{"Fn::Sub": "--store=dynamodb://${Table}"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("the command %v does not pass --store=dynamodb://${Table} under UseTable", cmd)
	}
}

func container(t *testing.T, tpl map[string]any) map[string]any {
	t.Helper()
	defs, _ := at(tpl, "Resources", "TaskDefinition", "Properties", "ContainerDefinitions").([]any)
	if len(defs) != 1 {
		t.Fatalf("%d container definitions, want 1", len(defs))
	}
	return defs[0].(map[string]any)
}

// flagValue is --name=VALUE's value among args, or "".
func flagValue(args []any, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(str(a), "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestFargateService(t *testing.T) {
	tpl := loadCFN(t, botTemplate)
	for _, p := range []string{"Image", "SubnetIds", "SecurityGroupIds", "VpcId", "SlackSecretArn"} {
		if at(tpl, "Parameters", p) == nil {
			t.Errorf("no parameter %s", p)
		}
	}
	td := at(tpl, "Resources", "TaskDefinition", "Properties")
	if !slices.Equal(canonSet(at(td, "RequiresCompatibilities")), []string{"FARGATE"}) || at(td, "NetworkMode") != "awsvpc" {
		t.Errorf("not a Fargate task: %v %v", at(td, "RequiresCompatibilities"), at(td, "NetworkMode"))
	}
	c := container(t, tpl)
	if !reflect.DeepEqual(c["Image"], map[string]any{"Ref": "Image"}) {
		t.Errorf("image %v, want the Image parameter", c["Image"])
	}
	cmd := c["Command"].([]any)
	if str(cmd[0]) != "serve" {
		t.Errorf("the command %v is not bot serve", cmd)
	}
	if u := str(c["User"]); u == "" || u == "0" || u == "root" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		t.Errorf("the container runs as %q", u)
	}
	if c["ReadonlyRootFilesystem"] != true {
		t.Error("the root filesystem is writable")
	}

	// The health check asks the address the bot serves /healthz on.
	addr := flagValue(cmd, "http-addr")
	if addr == "" {
		t.Fatalf("the command %v has no --http-addr: /healthz is not served", cmd)
	}
	host, port, _ := strings.Cut(addr, ":")
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	hc := canonSet(at(c, "HealthCheck", "Command"))
	wantHC := []string{"/healthcheck", "CMD", "http://" + host + ":" + port + "/healthz"}
	sort.Strings(wantHC)
	if !slices.Equal(hc, wantHC) || str(at(c, "HealthCheck", "Command", 0)) != "CMD" {
		t.Errorf("health check %v, want [CMD /healthcheck http://%s:%s/healthz]", at(c, "HealthCheck", "Command"), host, port)
	}

	// Stopping lets --grace run out before SIGKILL.
	grace, err := time.ParseDuration(flagValue(cmd, "grace"))
	if err != nil {
		t.Fatalf("--grace: %v", err)
	}
	if stop, _ := c["StopTimeout"].(int); time.Duration(stop)*time.Second <= grace {
		t.Errorf("StopTimeout %v is not above --grace %v", c["StopTimeout"], grace)
	}

	// The tokens come from Secrets Manager, and nothing secret is plain.
	secrets := map[string]any{}
	for _, s := range c["Secrets"].([]any) {
		_, branches := ifBranches(s)
		for _, b := range branches {
			if !isNoValue(b) {
				secrets[str(at(b, "Name"))] = at(b, "ValueFrom")
			}
		}
	}
	for _, name := range []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN"} {
		want := map[string]any{"Fn::Sub": "${SlackSecretArn}:" + name + "::"}
		if !reflect.DeepEqual(secrets[name], want) {
			t.Errorf("secret %s from %v, want %v", name, secrets[name], want)
		}
	}
	if !reflect.DeepEqual(secrets["OPENAI_API_KEY"], map[string]any{"Fn::Sub": "${OpenAISecretArn}:OPENAI_API_KEY::"}) {
		t.Errorf("OPENAI_API_KEY from %v", secrets["OPENAI_API_KEY"])
	}
	for _, e := range c["Environment"].([]any) {
		_, branches := ifBranches(e)
		for _, b := range branches {
			if n := str(at(b, "Name")); regexp.MustCompile(`TOKEN|KEY|SECRET|PASSWORD`).MatchString(n) {
				t.Errorf("%s is a plain environment variable: it belongs in Secrets", n)
			}
		}
	}
	// The execution role may read exactly those secrets.
	var readable []string
	for _, p := range rolePolicies(t, at(tpl, "Resources", "ExecutionRole")) {
		list, _ := at(p.Doc, "Statement").([]any)
		for _, s := range list {
			_, branches := ifBranches(s) // the KMS statement is conditional
			for _, b := range branches {
				if slices.Contains(canonSet(at(b, "Action")), "secretsmanager:GetSecretValue") {
					readable = append(readable, canonSet(at(b, "Resource"))...)
				}
			}
		}
	}
	for _, want := range []string{`{"Ref":"SlackSecretArn"}`, `{"Fn::If":["HasOpenAIKey",{"Ref":"OpenAISecretArn"},{"Ref":"AWS::NoValue"}]}`} {
		if !slices.Contains(readable, want) {
			t.Errorf("the execution role cannot read %s (it reads %v)", want, readable)
		}
	}

	// One replica by default, no load balancer, and never more socket-mode
	// connections than Slack allows, a deployment's extra tasks included.
	svc := at(tpl, "Resources", "Service", "Properties")
	if at(svc, "LoadBalancers") != nil {
		t.Error("the service has a load balancer: socket mode needs none")
	}
	if !reflect.DeepEqual(at(svc, "DesiredCount"), map[string]any{"Ref": "DesiredCount"}) || at(tpl, "Parameters", "DesiredCount", "Default") != 1 {
		t.Errorf("desired count %v (default %v), want the DesiredCount parameter, 1 by default", at(svc, "DesiredCount"), at(tpl, "Parameters", "DesiredCount", "Default"))
	}
	maxReplicas, _ := at(tpl, "Parameters", "DesiredCount", "MaxValue").(int)
	_, deployments := ifBranches(at(svc, "DeploymentConfiguration"))
	for _, d := range deployments {
		maxPct, _ := at(d, "MaximumPercent").(int)
		if maxReplicas == 0 || maxPct == 0 || maxReplicas*maxPct/100 > 10 {
			t.Errorf("up to %d replicas at %d%% during a deployment: more than Slack's 10 socket-mode connections", maxReplicas, maxPct)
		}
	}
	if at(tpl, "Rules", "ReplicasNeedTheTable") == nil {
		t.Error("no rule keeps several replicas off a file store")
	}

	// The log group keeps the log for a set time.
	if at(tpl, "Resources", "LogGroup", "Properties", "RetentionInDays") == nil {
		t.Error("the log group keeps the log forever")
	}
	if !reflect.DeepEqual(at(c, "LogConfiguration", "Options", "awslogs-group"), map[string]any{"Ref": "LogGroup"}) {
		t.Errorf("the container logs to %v", at(c, "LogConfiguration", "Options", "awslogs-group"))
	}
}

// TestPolicyDiffCatchesDrift checks that the comparison the tests above
// rest on sees every kind of drift, and none where there is none.
func TestPolicyDiffCatchesDrift(t *testing.T) {
	doc := readIAMPolicy(t)
	tpl := loadCFN(t, botTemplate)
	read := rolePolicies(t, at(tpl, "Resources", "TaskRole"))["unstuck-read"].Doc
	if d := diffPolicies(doc, read); len(d) > 0 {
		t.Fatalf("the template's policy differs: %v", d)
	}
	clone := func() map[string]any {
		b, _ := json.Marshal(doc)
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		return c
	}
	// Reordering and a one-item list written as a string mean the same.
	same := clone()
	stmts := same["Statement"].([]any)
	slices.Reverse(stmts)
	for _, s := range stmts {
		acts := s.(map[string]any)["Action"].([]any)
		slices.Reverse(acts)
		if len(acts) == 1 {
			s.(map[string]any)["Action"] = acts[0]
		}
	}
	if d := diffPolicies(doc, same); len(d) > 0 {
		t.Errorf("a reordered policy differs: %v", d)
	}
	cases := []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"an action dropped", func(p map[string]any) {
			s := p["Statement"].([]any)[0].(map[string]any)
			s["Action"] = s["Action"].([]any)[1:]
		}, "lacks [\"autoscaling:DescribeAutoScalingGroups\"]"},
		{"a write action added", func(p map[string]any) {
			s := p["Statement"].([]any)[0].(map[string]any)
			s["Action"] = append(s["Action"].([]any), "ec2:TerminateInstances")
		}, "extra [\"ec2:TerminateInstances\"]"},
		{"a resource widened", func(p map[string]any) {
			p["Statement"].([]any)[2].(map[string]any)["Resource"] = "*"
		}, "Resource lacks"},
		{"a statement removed", func(p map[string]any) { p["Statement"] = p["Statement"].([]any)[:2] }, "is missing"},
		{"a statement added", func(p map[string]any) {
			p["Statement"] = append(p["Statement"].([]any), map[string]any{"Sid": "More", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
		}, "statement More is extra"},
		{"effect", func(p map[string]any) { p["Statement"].([]any)[1].(map[string]any)["Effect"] = "Deny" }, "Effect"},
		{"condition", func(p map[string]any) {
			p["Statement"].([]any)[1].(map[string]any)["Condition"] = map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}
		}, "Condition"},
		{"an intrinsic instead of the resource", func(p map[string]any) {
			p["Statement"].([]any)[2].(map[string]any)["Resource"] = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/unstuck-*"}
		}, "Fn::Sub"},
		{"version", func(p map[string]any) { p["Version"] = "2008-10-17" }, "Version"},
	}
	for _, tc := range cases {
		drifted := clone()
		tc.change(drifted)
		d := strings.Join(diffPolicies(doc, drifted), "\n")
		if !strings.Contains(d, tc.want) {
			t.Errorf("%s: diff %q, want one with %q", tc.name, d, tc.want)
		}
	}
}

// TestStoreDocParsing checks that the reading of docs/store.md fails when
// the document contradicts itself or loses the table, rather than passing
// on nothing.
func TestStoreDocParsing(t *testing.T) {
	data, err := os.ReadFile(storeDocFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	s, err := parseStoreDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Attrs, map[string]string{"PK": "S", "SK": "S"}) || !slices.Equal(s.Keys, []string{"PK HASH", "SK RANGE"}) || s.TTL != "expires" {
		t.Errorf("read %+v", s)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"AttributeName=SK,KeyType=RANGE", "AttributeName=SORT,KeyType=RANGE", "not create-table's"},
		{"sort key `SK` (string)", "sort key `SK` (number)", "is a number"},
		{"Enabled=true,AttributeName=expires", "Enabled=true,AttributeName=ttl", "TTL attribute"},
		{`"Sid": "UnstuckStore"`, `"Sid": "Other"`, "no JSON statement"},
		{"aws dynamodb create-table", "aws dynamodb describe-table", "no `aws dynamodb create-table`"},
	} {
		if !strings.Contains(doc, tc.old) {
			t.Fatalf("docs/store.md no longer has %q: update this test", tc.old)
		}
		if _, err := parseStoreDoc(strings.Replace(doc, tc.old, tc.new, 1)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q → %q: %v, want an error with %q", tc.old, tc.new, err, tc.want)
		}
	}
}

func TestParseCFNShortForms(t *testing.T) {
	tpl, err := parseCFN([]byte("A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub 'x-${AWS::Region}'\nD: !If [C, !Ref P, !Ref AWS::NoValue]\nE: !Join ['', [a, !Ref B]]\nF: 12\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"A": map[string]any{"Ref": "X"},
		"B": map[string]any{"Fn::GetAtt": []any{"R", "Arn"}},
		"C": map[string]any{"Fn::Sub": "x-${AWS::Region}"},
		"D": map[string]any{"Fn::If": []any{"C", map[string]any{"Ref": "P"}, map[string]any{"Ref": "AWS::NoValue"}}},
		"E": map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "B"}}}},
		"F": 12,
	}
	if !reflect.DeepEqual(tpl, want) {
		t.Errorf("got %#v", tpl)
	}
	for _, bad := range []string{"A: !Bogus x\n", "A: !GetAtt NoDot\n", "A: 1\nA: 2\n", "- a\n"} {
		if _, err := parseCFN([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// The reference check sees a dangling name.
	tpl, _ = parseCFN([]byte("Parameters: {P: {Type: String}}\nConditions: {C: !Equals [!Ref P, x]}\nResources:\n  R: {Type: T, Condition: D, Properties: {A: !Ref Q, B: !Sub '${P}-${Nope.Arn}', C: !GetAtt Gone.Arn}}\n"))
	got := strings.Join(checkReferences(tpl), "\n")
	for _, want := range []string{`"Q"`, `"Nope"`, `"Gone"`, `condition "D"`, "condition C is never used"} {
		if !strings.Contains(got, want) {
			t.Errorf("reference check %q lacks %s", got, want)
		}
	}
}
