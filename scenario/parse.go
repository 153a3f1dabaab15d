package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/unstuck/unstuck/investigate"
	"gopkg.in/yaml.v3"
)

// Defaults of FORMAT.md.
const (
	DefaultAccount     = "123456789012"
	DefaultRegion      = "us-east-1"
	DefaultHistory     = 3 * time.Hour
	DefaultStep        = time.Minute
	DefaultPeriod      = time.Minute
	DefaultComparison  = "GreaterThanThreshold"
	DefaultRPS         = 20.0
	DefaultInstance    = "m5.large"
	DefaultMode        = "on-demand"
	DefaultCluster     = "default"
	DefaultOnsetWithin = 5 * time.Minute
	// AfterFires is how long telemetry goes on after the alarm fires.
	AfterFires = 30 * time.Minute
)

// MaxSteps bounds the number of steps in the telemetry of one scenario
// ((End-Start)/Step), so that a mistyped step or history cannot make the
// simulator build billions of points.
const MaxSteps = 1_000_000

// Types are the resource types, in FORMAT.md's order.
var Types = []string{"alb", "apigw", "ec2", "asg", "ecs", "lambda", "dynamodb", "rds", "sqs", "nat", "ebs", "elasticache", "aurora", "sns", "sfn", "service", "external", "iam-role", "iam-policy", "security-group", "kms-key", "parameter", "other"}

// Causes and Actions are the values expect may name.
var (
	Causes  = []string{"own-change", "system-change", "limit", "component", "dependency"}
	Actions = []string{"rollback", "block", "scale", "restart", "exclude"}
)

// Comparisons are CloudWatch's comparison operators.
var Comparisons = []string{
	"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
	"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold",
}

var (
	topFields      = []string{"name", "title", "account", "region", "onset", "history", "step", "seed", "alarm", "resources", "metrics", "logs", "traces", "changes", "health", "quotas", "notes", "events", "traffic", "expect"}
	alarmFields    = []string{"name", "resource", "metric", "dims", "stat", "period", "threshold", "comparison", "fires"}
	resourceCommon = []string{"id", "type", "name", "arn", "az", "tags"}
	typeFields     = map[string][]string{
		"alb":      {"targets", "rps"},
		"apigw":    {"targets", "rps", "access_log"},
		"ec2":      {"instance_type", "asg"},
		"asg":      {"min", "max", "desired"},
		"ecs":      {"cluster", "tasks"},
		"lambda":   {"memory", "timeout", "reserved_concurrency"},
		"dynamodb": {"mode", "rcu", "wcu"},
		"rds":      {"engine", "instance_class", "max_connections", "replica_of"},
		"sqs":      {"triggers"},
		"service":  {"runs_on", "calls", "log_group"},
		"external": {"url"},
		// What a resource that carries no requests serves.
		"security-group": {"attached_to"},
		"kms-key":        {"encrypts"},
		"parameter":      {"read_by"},
		"iam-role":       {"assumed_by"},

		// what other resources stand on or keep their data in
		"nat":         {"serves"},
		"ebs":         {"instance", "volume_type", "size", "iops"},
		"elasticache": {"engine", "node_type", "nodes", "max_connections"},
		"aurora":      {"engine", "max_connections"},
		"sns":         {"subscribers"},
		"sfn":         {"workflow", "invokes"},
	}
	windowFields = []string{"at", "until", "ramp"}
	metricFields = append([]string{"resource", "metric", "dims", "value", "baseline", "noise", "csv", "silent", "p90", "p99"}, windowFields...)
	logFields    = append([]string{"service", "group", "on", "level", "rate", "text"}, windowFields...)
	traceFields  = append([]string{"edge", "on", "fault", "error", "throttle", "latency", "exception"}, windowFields...)
	changeFields = []string{"at", "event", "source", "resource", "actor", "error", "params"}
	healthFields = append([]string{"service", "type", "status", "az", "resources", "description", "posted_at"}, windowFields...)
	quotaFields  = []string{"resource", "service", "code", "name", "value"}
	noteFields   = []string{"at", "author", "text"}
	expectFields = []string{"cause", "resource", "action", "onset_within"}
	taskFields   = []string{"id", "az", "revision", "started"}

	levels      = []string{"info", "warn", "error"}
	statuses    = []string{"open", "closed"}
	modes       = []string{"on-demand", "provisioned"}
	computeType = []string{"ec2", "ecs", "lambda"}
	// What each relation that carries no requests may name.
	attachedTypes  = []string{"alb", "ec2", "ecs", "lambda", "rds"}
	encryptedTypes = []string{"dynamodb", "sqs", "rds", "lambda", "parameter"}
	readerTypes    = []string{"service", "ec2", "ecs", "lambda"}
	assumerTypes   = []string{"ec2", "ecs", "lambda"}
	triggeredTypes = []string{"lambda"}
	entryTypes     = []string{"alb", "apigw"}

	nameRE     = regexp.MustCompile(`^[a-z0-9-]+$`)
	idRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	accountRE  = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	statRE     = regexp.MustCompile(`^p([0-9]{1,3}(\.[0-9]+)?)$`)
	rateRE     = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)/([ms])$`)
	instanceRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
)

func init() {
	for _, t := range Types {
		if _, ok := typeFields[t]; !ok {
			typeFields[t] = nil
		}
	}
}

// parser reads one file. It keeps going after a problem, so that one run
// reports every problem it can.
type parser struct {
	file string
	fsys fs.FS
	errs ErrorList

	onset     time.Time
	haveOnset bool
	start     time.Time // onset - history, when haveStart
	haveStart bool
	end       time.Time // fires + 30m, when haveEnd
	haveEnd   bool
	step      time.Duration

	s       *Scenario
	byID    map[string]*Resource
	pending []resPending // per resource, in order
	work    int
}

// Limits on one file, so that a hostile or broken file (aliases of long
// lists repeated many times) cannot make Parse run for long.
const (
	maxErrors = 200       // problems reported before giving up
	maxWork   = 2_000_000 // fields and list elements read
)

// stop is panicked (and recovered by Parse) to give up on a file.
type stop struct{}

func (p *parser) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	if len(p.errs) >= maxErrors {
		p.errs.sort()
		p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("too many problems (%d); stopped", len(p.errs))})
		panic(stop{})
	}
}

// tick counts work done, giving up when there is too much.
func (p *parser) tick(n int) {
	p.work += n
	if p.work > maxWork {
		p.errs = append(p.errs, &Error{File: p.file, Msg: "too large once aliases are expanded; stopped"})
		panic(stop{})
	}
}

// Parse reads a scenario file's bytes. path names it in errors and is where a
// metric item's csv path is taken relative to; fsys is where csv files are
// read from, and may be nil when the file names none.
//
// Parse is strict: unknown fields, missing required fields, bad values and
// references to unknown resources are errors. A field FORMAT.md lists
// without "optional" and without a default is required. On error Parse
// returns nil and an ErrorList of every problem found, each naming the file,
// line and field.
//
// On success every default is filled in (see the Default constants and
// FORMAT.md) and every time is resolved to an instant in UTC: an offset
// ("-90m", "+0s", "+3m30s"; the sign is required) counts from onset. Window
// fields left out are the start (onset - history) and end (alarm.fires + 30m)
// of telemetry; an explicit until must be after at. Log rates are per minute;
// a log item's group, when given, wins over its service's log_group. Times
// are not required to fall inside the telemetry (a change may be older than
// the history), except that a window must end after it starts.
//
// A metric item's csv file holds rows of "timestamp,value" (a first row
// whose value is not a number is a header; lines starting with # are
// comments). A timestamp is an offset from onset or an RFC 3339 instant, as
// in the scenario file, and is kept as it is. A row may leave the timestamp
// empty or give only the value: such rows are spread one step apart from the
// start of telemetry on, the n-th row (from 0) at Start() + n*step. A file
// either times all its rows or none; timed rows must be in strictly
// increasing order.
func Parse(path string, data []byte, fsys fs.FS) (*File, error) {
	p := &parser{file: path, fsys: fsys}
	f := p.run(data)
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	if f == nil { // cannot happen: no errors means a file was read
		return nil, ErrorList{{File: path, Msg: "nothing read"}}
	}
	return f, nil
}

// run parses, giving up (with the errors found so far) on a stop.
func (p *parser) run(data []byte) (f *File) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
			f = nil
		}
	}()
	if root := p.decode(data); root != nil {
		f = p.top(root)
	}
	return f
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// decode parses the YAML into its root node.
func (p *parser) decode(data []byte) (root *yaml.Node) {
	defer func() {
		// yaml.v3 is not known to panic on any input, but a loader fed
		// arbitrary files should not take its caller down if it does.
		if r := recover(); r != nil {
			p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("invalid YAML: %v", r)})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs = append(p.errs, &Error{File: p.file, Msg: "empty file (want a mapping of fields: name, title, onset, alarm, resources, ...)"})
			return nil
		}
		p.yamlErr(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "a second YAML document (want one document per file)"})
	} else if !errors.Is(err, io.EOF) {
		p.yamlErr(err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return &doc
}

func (p *parser) yamlErr(err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "invalid YAML: " + m[2], Err: err})
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err})
}

// top reads the whole document.
func (p *parser) top(root *yaml.Node) *File {
	m := p.mapping(root, "", topFields)
	if m == nil {
		return nil
	}
	s := &Scenario{Account: DefaultAccount, Region: DefaultRegion, History: DefaultHistory, Step: DefaultStep}
	p.s = s
	f := &File{Path: p.file, Scenario: s, nameLine: m.n.Line}

	if n := p.req(m, "name"); n != nil {
		if v, ok := p.str(n, "name"); ok {
			if !nameRE.MatchString(v) {
				p.errf(n, "name", "bad name %q (want lowercase letters, digits and dashes: [a-z0-9-]+)", v)
			}
			s.Name = v
			f.nameLine = deref(n).Line
		}
	}
	if n := p.req(m, "title"); n != nil {
		s.Title, _ = p.str(n, "title")
	}
	if n := m.get("account"); n != nil {
		if v, ok := p.str(n, "account"); ok {
			if !accountRE.MatchString(v) {
				p.errf(n, "account", "bad account %q (want 12 digits, quoted, like \"123456789012\")", v)
			}
			s.Account = v
		}
	}
	if n := m.get("region"); n != nil {
		if v, ok := p.str(n, "region"); ok {
			if !regionRE.MatchString(v) {
				p.errf(n, "region", "bad region %q (want an AWS region like us-east-1)", v)
			}
			s.Region = v
		}
	}
	if n := p.req(m, "onset"); n != nil {
		s.Onset, p.haveOnset = p.instant(n, "onset")
		p.onset = s.Onset
	}
	histOK, stepOK := true, true
	if n := m.get("history"); n != nil {
		s.History, histOK = p.duration(n, "history", time.Second)
	}
	if n := m.get("step"); n != nil {
		s.Step, stepOK = p.duration(n, "step", time.Second)
	}
	p.step = s.Step
	if p.haveOnset && histOK {
		p.start, p.haveStart = s.Start(), stepOK
	}
	if n := m.get("seed"); n != nil {
		d := deref(n)
		var v int64
		if d == nil || d.Kind != yaml.ScalarNode || d.Tag != "!!int" || d.Decode(&v) != nil {
			p.errf(d, "seed", "want an integer, found %s", describe(d))
		}
		s.Seed = v
	} else {
		s.Seed = SeedOf(s.Name)
	}

	var alarmRes *yaml.Node
	if n := p.req(m, "alarm"); n != nil {
		alarmRes = p.alarm(n)
	}
	if p.haveOnset && !s.Alarm.Fires.IsZero() {
		p.end, p.haveEnd = s.End(), p.haveStart
	}
	if p.haveEnd && p.step > 0 {
		if steps := int64(p.end.Sub(p.start) / p.step); steps > MaxSteps {
			at := m.get("step")
			if at == nil {
				at = m.get("history")
			}
			p.errf(at, "step", "telemetry from onset - %s to alarm.fires + 30m is %d steps of %s (want at most %d: a longer step or a shorter history)", fmtDur(s.History), steps, fmtDur(p.step), MaxSteps)
			p.haveEnd, p.haveStart = false, false
		}
	}

	if n := p.req(m, "resources"); n != nil {
		p.resources(n)
	}
	p.byID = map[string]*Resource{}
	for i := range s.Resources {
		r := &s.Resources[i]
		if _, dup := p.byID[r.ID]; !dup && r.ID != "" {
			p.byID[r.ID] = r
		}
	}
	p.resourceRefs()
	if alarmRes != nil {
		if id, ok := p.str(alarmRes, "alarm.resource"); ok {
			p.ref(alarmRes, "alarm.resource", id)
			s.Alarm.Resource = id
		}
	}

	items := func(k string, fn func(n *yaml.Node, field string)) {
		n := m.get(k)
		if n == nil {
			return
		}
		d := deref(n)
		if d.Kind == yaml.ScalarNode && d.Tag == "!!null" {
			return // "metrics:" with nothing after it: no items
		}
		if d.Kind != yaml.SequenceNode {
			p.errf(d, k, "want a list of items, found %s", describe(d))
			return
		}
		for i, e := range d.Content {
			fn(e, fmt.Sprintf("%s[%d]", k, i))
		}
	}
	items("metrics", p.metric)
	items("logs", p.log)
	items("traces", p.trace)
	items("changes", p.change)
	items("health", p.health)
	items("quotas", p.quota)
	items("notes", p.note)
	items("events", p.event)
	items("traffic", p.traffic)

	if n := m.get("expect"); n != nil {
		f.Expect = p.expect(n)
	}
	return f
}

// alarm reads the alarm block. It returns the resource node, checked once
// the resources are known.
func (p *parser) alarm(n *yaml.Node) (resource *yaml.Node) {
	m := p.mapping(n, "alarm", alarmFields)
	if m == nil {
		return nil
	}
	a := &p.s.Alarm
	a.Period, a.Comparison = DefaultPeriod, DefaultComparison
	if v := p.req(m, "name"); v != nil {
		a.Name, _ = p.str(v, "alarm.name")
	}
	resource = p.req(m, "resource")
	if v := p.req(m, "metric"); v != nil {
		a.Namespace, a.MetricName, _ = p.metricName(v, "alarm.metric")
	}
	if v := m.get("dims"); v != nil {
		a.Dims, _ = p.stringMap(v, "alarm.dims", false)
	}
	if v := p.req(m, "stat"); v != nil {
		a.Stat, _ = p.stat(v, "alarm.stat")
	}
	if v := m.get("period"); v != nil {
		if d, ok := p.duration(v, "alarm.period", time.Second); ok {
			if d != 10*time.Second && d != 30*time.Second && d%time.Minute != 0 {
				p.errf(v, "alarm.period", "bad period %q (want 10s, 30s or a multiple of 1m, as CloudWatch allows)", deref(v).Value)
			}
			a.Period = d
		}
	}
	if v := m.get("comparison"); v != nil {
		a.Comparison, _ = p.oneOf(v, "alarm.comparison", "comparison", Comparisons)
	}
	band := contains(Comparisons[4:], a.Comparison) // anomaly bands have no threshold
	if v := m.get("threshold"); v != nil {
		a.Threshold, _ = p.num(v, "alarm.threshold")
	} else if !band {
		p.req(m, "threshold")
	}
	if v := p.req(m, "fires"); v != nil {
		if w, ok := p.when(v, "alarm.fires"); ok && p.haveOnset {
			a.Fires = w.at(p.onset)
			if a.Fires.Before(p.onset) {
				p.errf(v, "alarm.fires", "fires %q is before onset (an alarm fires at or after the onset, usually +2m to +10m)", w.raw)
				a.Fires = time.Time{}
			}
		}
	}
	return resource
}

// metricName splits "Namespace MetricName".
func (p *parser) metricName(n *yaml.Node, field string) (ns, name string, ok bool) {
	s, ok := p.str(n, field)
	if !ok {
		return "", "", false
	}
	parts := strings.Fields(s)
	if len(parts) != 2 || !strings.Contains(s, " ") {
		p.errf(n, field, "bad metric %q (want \"Namespace MetricName\", like \"AWS/Lambda Errors\")", s)
		return "", "", false
	}
	return parts[0], parts[1], true
}

func (p *parser) stat(n *yaml.Node, field string) (string, bool) {
	s, ok := p.str(n, field)
	if !ok {
		return "", false
	}
	switch s {
	case "Sum", "Average", "Maximum", "Minimum", "SampleCount":
		return s, true
	}
	if m := statRE.FindStringSubmatch(s); m != nil {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil && v <= 100 {
			return s, true
		}
	}
	p.errf(n, field, "bad stat %q (want Sum, Average, Maximum, Minimum, SampleCount or a percentile p0 to p100, like p99 or p99.9)", s)
	return "", false
}

// resources reads the resources list. References between resources are
// checked by resourceRefs once all ids are known.
func (p *parser) resources(n *yaml.Node) {
	d := deref(n)
	if d.Kind != yaml.SequenceNode {
		p.errf(d, "resources", "want a list of resources, found %s", describe(d))
		return
	}
	if len(d.Content) == 0 {
		p.errf(d, "resources", "want at least one resource, found an empty list")
		return
	}
	all := append([]string(nil), resourceCommon...)
	for _, t := range Types {
		for _, f := range typeFields[t] {
			if !contains(all, f) {
				all = append(all, f)
			}
		}
	}
	firstID := map[string]int{}
	firstARN := map[string]string{}
	p.s.Resources = make([]Resource, 0, len(d.Content))
	p.pending = make([]resPending, 0, len(d.Content))
	for i, e := range d.Content {
		field := fmt.Sprintf("resources[%d]", i)
		m := p.mapping(e, field, nil) // fields are checked once the type is known
		if m == nil {
			continue
		}
		r := Resource{}
		pend := resPending{field: field}
		if v := p.req(m, "id"); v != nil {
			if id, ok := p.str(v, m.field("id")); ok {
				switch {
				case id == "client":
					p.errf(v, m.field("id"), "id %q is reserved for the callers of entry resources in traces (edge: client>ID)", id)
				case !idRE.MatchString(id):
					p.errf(v, m.field("id"), "bad id %q (want letters, digits, '.', '_' and '-', starting with a letter or digit)", id)
				}
				if line, dup := firstID[id]; dup {
					p.errf(v, m.field("id"), "duplicate id %q (first at line %d)", id, line)
				} else {
					firstID[id] = deref(v).Line
				}
				r.ID = id
			}
		}
		if v := p.req(m, "type"); v != nil {
			if t, ok := p.str(v, m.field("type")); ok {
				if _, known := typeFields[t]; known {
					r.Type = investigate.ResourceType(t)
				} else if s := suggest(t, Types); s != "" {
					p.errf(v, m.field("type"), "unknown type %q (did you mean %q? want one of %s)", t, s, strings.Join(Types, ", "))
				} else {
					p.errf(v, m.field("type"), "unknown type %q (want one of %s)", t, strings.Join(Types, ", "))
				}
			}
		}
		own := all
		if r.Type != "" {
			own = append(append([]string(nil), resourceCommon...), typeFields[string(r.Type)]...)
		}
		for _, k := range m.keys {
			switch {
			case contains(own, k):
			case contains(all, k):
				p.errf(m.key[k], m.field(k), "field %q does not apply to type %s (its fields: %s)", k, r.Type, strings.Join(own, ", "))
			case r.Type != "":
				p.unknownField(m.key[k], m.field(k), k, own, " for type "+string(r.Type))
			default:
				p.unknownField(m.key[k], m.field(k), k, all, "")
			}
		}
		r.Name = r.ID
		if v := m.get("name"); v != nil {
			r.Name, _ = p.str(v, m.field("name"))
		}
		if v := m.get("az"); v != nil {
			r.AZ, _ = p.str(v, m.field("az"))
		}
		if v := m.get("tags"); v != nil {
			r.Tags, _ = p.stringMap(v, m.field("tags"), false)
		}
		p.typeFields(m, &r, &pend)

		if v := m.get("arn"); v != nil {
			if a, ok := p.str(v, m.field("arn")); ok {
				if !validARN(a) {
					p.errf(v, m.field("arn"), "bad arn %q (want arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", a)
				}
				r.ARN = a
			}
		} else if r.Type == "ecs" {
			r.ARN = ecsARN(r.Cluster, r.Name, p.s.Account, p.s.Region)
		} else {
			r.ARN = defaultARN(string(r.Type), r.ID, r.Name, p.s.Account, p.s.Region)
		}
		if r.ARN != "" {
			if other, dup := firstARN[r.ARN]; dup {
				at := m.get("arn")
				if at == nil {
					at = m.get("name")
				}
				if at == nil {
					at = m.get("id")
				}
				p.errf(at, m.field("arn"), "arn %q is also the arn of %s (give one of them another name or arn)", r.ARN, other)
			} else {
				firstARN[r.ARN] = field
			}
		}
		p.s.Resources = append(p.s.Resources, r)
		p.pending = append(p.pending, pend)
		for _, tp := range pend.tasks {
			t := tp.r
			dupID := false
			if t.ID != "" {
				if line, dup := firstID[t.ID]; dup {
					p.errf(tp.id, tp.field+".id", "duplicate id %q (first at line %d)", t.ID, line)
					dupID = true
				} else {
					firstID[t.ID] = deref(tp.id).Line
				}
			}
			if t.ID != "" && !dupID {
				t.ARN = taskARN(r.Cluster, t.ID, p.s.Account, p.s.Region)
				if other, dup := firstARN[t.ARN]; dup {
					p.errf(tp.id, tp.field+".id", "arn %q is also the arn of %s", t.ARN, other)
				} else {
					firstARN[t.ARN] = tp.field
				}
			}
			p.s.Resources = append(p.s.Resources, t)
			p.pending = append(p.pending, resPending{field: tp.field})
		}
	}
}

// tasks reads an ecs service's tasks given as a list: each has an id, and
// may have its zone (the service's by default), the revision of the task
// definition it runs (1 by default) and when it started.
func (p *parser) tasks(n *yaml.Node, field string, svc *Resource) []taskPending {
	p.tick(1 + len(n.Content))
	out := make([]taskPending, 0, len(n.Content))
	for i, e := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		m := p.mapping(e, f, taskFields)
		if m == nil {
			continue
		}
		t := Resource{Type: investigate.TypeECSTask, Service: svc.ID, AZ: svc.AZ, Revision: 1}
		tp := taskPending{field: f, id: m.n}
		if v := p.req(m, "id"); v != nil {
			tp.id = v
			if id, ok := p.str(v, m.field("id")); ok {
				switch {
				case id == "client":
					p.errf(v, m.field("id"), "id %q is reserved for the callers of entry resources in traces (edge: client>ID)", id)
				case !idRE.MatchString(id):
					p.errf(v, m.field("id"), "bad task id %q (want letters, digits, '.', '_' and '-', like ECS's 32 hex digits)", id)
				}
				t.ID, t.Name = id, id
			}
		}
		if v := m.get("az"); v != nil {
			t.AZ, _ = p.str(v, m.field("az"))
		}
		if v := m.get("revision"); v != nil {
			t.Revision, _ = p.integer(v, m.field("revision"), 1, math.MaxInt32)
		}
		if v := m.get("started"); v != nil {
			if w, ok := p.when(v, m.field("started")); ok && p.haveOnset {
				t.Started = w.at(p.onset)
				switch {
				case p.haveStart && !t.Started.After(p.start):
					t.Started = time.Time{} // running since before the telemetry
				case p.haveEnd && !t.Started.Before(p.end):
					p.errf(v, m.field("started"), "started %q is not before the end of telemetry (alarm.fires + 30m = %s)", w.raw, p.rel(p.end))
				}
			}
		}
		svc.TaskIDs = append(svc.TaskIDs, t.ID)
		tp.r = t
		out = append(out, tp)
	}
	return out
}

// resPending holds a resource's references, checked once all ids are known.
type resPending struct {
	field   string
	targets []strNode
	asg     *strNode
	runsOn  []strNode
	calls   []strNode
	// the relations that carry no requests
	attachedTo []strNode
	encrypts   []strNode
	readBy     []strNode
	assumedBy  []strNode
	replicaOf  *strNode
	triggers   []strNode
	serves     []strNode
	attach     *strNode
	cluster    *strNode // an rds instance's aurora cluster
	subs       []strNode
	invokes    []strNode
	// tasks are an ecs service's listed tasks, each a resource of its own.
	tasks []taskPending
}

// taskPending is one listed task of an ecs service, and the node of its id.
type taskPending struct {
	r     Resource
	field string
	id    *yaml.Node
}

// typeFields reads the fields of r's type and fills its defaults.
func (p *parser) typeFields(m *mapNode, r *Resource, pend *resPending) {
	switch r.Type {
	case "alb", "apigw":
		r.RPS = DefaultRPS
		if v := m.get("targets"); v != nil {
			pend.targets, _ = p.list(v, m.field("targets"))
		}
		if v := m.get("rps"); v != nil {
			r.RPS, _ = p.numIn(v, m.field("rps"), 0, math.MaxFloat64)
		}
		if r.Type == "apigw" {
			r.AccessLog = "/aws/apigateway/" + r.Name + "/access"
			if v := m.get("access_log"); v != nil {
				r.AccessLog, _ = p.str(v, m.field("access_log"))
			}
		}
	case "ec2":
		r.InstanceType = DefaultInstance
		if v := m.get("instance_type"); v != nil {
			if s, ok := p.str(v, m.field("instance_type")); ok {
				if !instanceRE.MatchString(s) {
					p.errf(v, m.field("instance_type"), "bad instance type %q (want FAMILY.SIZE, like m5.large or t3.micro)", s)
				}
				r.InstanceType = s
			}
		}
		if v := m.get("asg"); v != nil {
			if s, ok := p.str(v, m.field("asg")); ok {
				pend.asg = &strNode{s, deref(v)}
			}
		}
	case "asg":
		get := func(k string) (int, bool) {
			if v := m.get(k); v != nil {
				return p.integer(v, m.field(k), 0, math.MaxInt32)
			}
			return 0, false
		}
		var hasMin, hasMax, hasDes bool
		r.Min, hasMin = get("min")
		r.Max, hasMax = get("max")
		r.Desired, hasDes = get("desired")
		if hasMin && hasMax && r.Min > r.Max {
			p.errf(m.get("max"), m.field("max"), "max %d is less than min %d", r.Max, r.Min)
		} else if hasDes && ((hasMin && r.Desired < r.Min) || (hasMax && r.Desired > r.Max)) {
			p.errf(m.get("desired"), m.field("desired"), "desired %d is outside min..max (%d..%d)", r.Desired, r.Min, r.Max)
		}
	case "ecs":
		r.Cluster = DefaultCluster
		if v := m.get("cluster"); v != nil {
			r.Cluster, _ = p.str(v, m.field("cluster"))
		}
		if v := m.get("tasks"); v != nil {
			if d := deref(v); d != nil && d.Kind == yaml.SequenceNode {
				pend.tasks = p.tasks(d, m.field("tasks"), r)
				r.Tasks = len(pend.tasks)
			} else {
				r.Tasks, _ = p.integer(v, m.field("tasks"), 0, math.MaxInt32)
			}
		}
	case "lambda":
		if v := m.get("memory"); v != nil {
			r.Memory, _ = p.integer(v, m.field("memory"), 128, 10240)
		}
		if v := m.get("timeout"); v != nil {
			r.Timeout, _ = p.integer(v, m.field("timeout"), 1, 900)
		}
		if v := m.get("reserved_concurrency"); v != nil {
			if c, ok := p.integer(v, m.field("reserved_concurrency"), 0, math.MaxInt32); ok {
				r.ReservedConcurrency = &c
			}
		}
	case "dynamodb":
		r.Mode = DefaultMode
		if v := m.get("mode"); v != nil {
			r.Mode, _ = p.oneOf(v, m.field("mode"), "mode", modes)
		}
		for _, k := range []string{"rcu", "wcu"} {
			v := m.get(k)
			if v == nil {
				if r.Mode == "provisioned" {
					p.errf(m.n, m.field(k), "missing %s (a provisioned table needs rcu and wcu)", k)
				}
				continue
			}
			if r.Mode == "on-demand" {
				p.errf(v, m.field(k), "%s applies to mode provisioned only (this table is on-demand)", k)
				continue
			}
			c, _ := p.integer(v, m.field(k), 1, math.MaxInt32)
			if k == "rcu" {
				r.RCU = c
			} else {
				r.WCU = c
			}
		}
	case "rds":
		if v := m.get("engine"); v != nil {
			r.Engine, _ = p.str(v, m.field("engine"))
		}
		if v := m.get("instance_class"); v != nil {
			r.InstanceClass, _ = p.str(v, m.field("instance_class"))
		}
		if v := m.get("max_connections"); v != nil {
			r.MaxConnections, _ = p.integer(v, m.field("max_connections"), 1, math.MaxInt32)
		}
		if v := m.get("replica_of"); v != nil {
			if s, ok := p.str(v, m.field("replica_of")); ok {
				pend.replicaOf = &strNode{s, deref(v)}
			}
		}
	case "sqs":
		if v := m.get("triggers"); v != nil {
			pend.triggers, _ = p.list(v, m.field("triggers"))
		}
	case "security-group", "kms-key", "parameter", "iam-role":
		k, dst := "attached_to", &pend.attachedTo
		switch r.Type {
		case "kms-key":
			k, dst = "encrypts", &pend.encrypts
		case "parameter":
			k, dst = "read_by", &pend.readBy
		case "iam-role":
			k, dst = "assumed_by", &pend.assumedBy
		}
		if v := m.get(k); v != nil {
			*dst, _ = p.list(v, m.field(k))
		}
	case "service":
		r.LogGroup = "/app/" + r.ID
		if v := m.get("runs_on"); v != nil {
			pend.runsOn, _ = p.list(v, m.field("runs_on"))
		}
		if v := m.get("calls"); v != nil {
			pend.calls, _ = p.list(v, m.field("calls"))
		}
		if v := m.get("log_group"); v != nil {
			r.LogGroup, _ = p.str(v, m.field("log_group"))
		}
	case "external":
		if v := m.get("url"); v != nil {
			if s, ok := p.str(v, m.field("url")); ok {
				if u, err := url.Parse(s); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					p.errf(v, m.field("url"), "bad url %q (want an http or https URL, like https://api.example.com)", s)
				}
				r.URL = s
			}
		}
	default:
		p.infraFields(m, r, pend)
	}
	if r.Type == "rds" {
		p.memberFields(m, r, pend)
	}
}

// resourceRefs checks the references between resources and fills the lists.
func (p *parser) resourceRefs() {
	for i, pend := range p.pending {
		r := &p.s.Resources[i]
		ids := func(list []strNode, k string, types ...string) []string {
			if list == nil {
				return nil
			}
			out := make([]string, 0, len(list))
			for j, e := range list {
				f := fmt.Sprintf("%s.%s[%d]", pend.field, k, j)
				if e.s == r.ID {
					p.errf(e.n, f, "%q is the resource itself", e.s)
					continue
				}
				p.ref(e.n, f, e.s, types...)
				out = append(out, e.s)
			}
			return out
		}
		r.Targets = ids(pend.targets, "targets")
		r.RunsOn = ids(pend.runsOn, "runs_on", computeType...)
		r.Calls = ids(pend.calls, "calls")
		if pend.asg != nil {
			p.ref(pend.asg.n, pend.field+".asg", pend.asg.s, "asg")
			r.ASG = pend.asg.s
		}
		r.AttachedTo = ids(pend.attachedTo, "attached_to", attachedTypes...)
		r.Encrypts = ids(pend.encrypts, "encrypts", encryptedTypes...)
		r.ReadBy = ids(pend.readBy, "read_by", readerTypes...)
		r.AssumedBy = ids(pend.assumedBy, "assumed_by", assumerTypes...)
		r.Triggers = ids(pend.triggers, "triggers", triggeredTypes...)
		if pend.replicaOf != nil {
			if pend.replicaOf.s == r.ID {
				p.errf(pend.replicaOf.n, pend.field+".replica_of", "%q is the resource itself", r.ID)
			} else {
				p.ref(pend.replicaOf.n, pend.field+".replica_of", pend.replicaOf.s, "rds")
				r.ReplicaOf = pend.replicaOf.s
			}
		}
		r.Serves = ids(pend.serves, "serves", servedTypes...)
		if pend.attach != nil {
			p.ref(pend.attach.n, pend.field+".instance", pend.attach.s, "ec2")
			r.Instance = pend.attach.s
		}
		if pend.cluster != nil && p.ref(pend.cluster.n, pend.field+".db_cluster", pend.cluster.s, "aurora") != nil {
			r.DBCluster = pend.cluster.s
		}
		r.Subscribers = ids(pend.subs, "subscribers", subscriberTypes...)
		r.Invokes = ids(pend.invokes, "invokes", invokedTypes...)
	}
	p.clusterMembers()
}

// ref checks that id names a resource, of one of types when given. It
// returns the resource, or nil.
func (p *parser) ref(n *yaml.Node, field, id string, types ...string) *Resource {
	r, ok := p.byID[id]
	if !ok {
		ids := make([]string, 0, len(p.byID))
		for _, x := range p.s.Resources {
			ids = append(ids, x.ID)
		}
		if s := suggest(id, ids); s != "" {
			p.errf(n, field, "unknown resource id %q (did you mean %q?)", id, s)
		} else {
			p.errf(n, field, "unknown resource id %q (not an id in resources)", id)
		}
		return nil
	}
	if len(types) > 0 && r.Type != "" && !contains(types, string(r.Type)) {
		p.errf(n, field, "%q is a resource of type %s (want %s)", id, r.Type, orList(types))
		return nil
	}
	return r
}

func orList(types []string) string {
	switch len(types) {
	case 1:
		return "type " + types[0]
	case 2:
		return "type " + types[0] + " or " + types[1]
	}
	return "type " + strings.Join(types[:len(types)-1], ", ") + " or " + types[len(types)-1]
}

// zone reports whether id names an availability zone rather than a
// resource: no resource has it as its id, and some resource has it as its
// az.
func (p *parser) zone(id string) bool {
	if _, ok := p.byID[id]; ok || id == "" {
		return false
	}
	for i := range p.s.Resources {
		if p.s.Resources[i].AZ == id {
			return true
		}
	}
	return false
}

// inZone lists the ids of the resources in zone az, in file order: among
// ids when ids is not nil, and of the given types when types are given.
func (p *parser) inZone(az string, ids []string, types ...string) []string {
	var out []string
	for i := range p.s.Resources {
		r := &p.s.Resources[i]
		if r.AZ != az || (ids != nil && !contains(ids, r.ID)) || (len(types) > 0 && !contains(types, string(r.Type))) {
			continue
		}
		out = append(out, r.ID)
	}
	return out
}

// orNone joins ids, or says there are none.
func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// refOrZone reads a reference field that may name an availability zone
// instead of a resource. A zone must hold a resource of one of the types,
// when types are given.
func (p *parser) refOrZone(m *mapNode, k string, required bool, types ...string) (id string, r *Resource, zone string) {
	v := m.get(k)
	if d := deref(v); d == nil || d.Kind != yaml.ScalarNode || !p.zone(d.Value) {
		id, r = p.refField(m, k, required, types...)
		return id, r, ""
	}
	id, ok := p.str(v, m.field(k))
	if !ok {
		return "", nil, ""
	}
	if len(types) > 0 && len(p.inZone(id, nil, types...)) == 0 {
		p.errf(v, m.field(k), "zone %s has no resource of %s (its resources: %s)", id, orList(types), orNone(p.inZone(id, nil)))
		return id, nil, ""
	}
	return id, nil, id
}

// refOpt reads an optional reference field.
func (p *parser) refField(m *mapNode, k string, required bool, types ...string) (string, *Resource) {
	var v *yaml.Node
	if required {
		v = p.req(m, k)
	} else {
		v = m.get(k)
	}
	if v == nil {
		return "", nil
	}
	id, ok := p.str(v, m.field(k))
	if !ok {
		return "", nil
	}
	return id, p.ref(v, m.field(k), id, types...)
}

// window reads at, until and ramp, with their defaults.
func (p *parser) window(m *mapNode, atRequired bool) Window {
	var w Window
	var at, until when
	var atOK, untilOK bool
	if v := m.get("at"); v != nil {
		at, atOK = p.when(v, m.field("at"))
	} else if atRequired {
		p.req(m, "at")
	}
	if v := m.get("until"); v != nil {
		until, untilOK = p.when(v, m.field("until"))
	}
	if v := m.get("ramp"); v != nil {
		w.Ramp, _ = p.duration(v, m.field("ramp"), 0)
	}
	if !p.haveStart {
		return w
	}
	w.At, w.Until = p.start, p.end
	if atOK {
		w.At = at.at(p.onset)
	}
	if untilOK {
		w.Until = until.at(p.onset)
	}
	if !p.haveEnd {
		return w
	}
	switch {
	case untilOK && atOK && !w.Until.After(w.At):
		p.errf(until.n, m.field("until"), "until %q is not after at %q", until.raw, at.raw)
	case untilOK && !atOK && m.get("at") == nil && !w.Until.After(w.At):
		p.errf(until.n, m.field("until"), "until %q is not after at (default: the start of telemetry, %s)", until.raw, p.rel(w.At))
	case atOK && !untilOK && m.get("until") == nil && !w.Until.After(w.At):
		p.errf(at.n, m.field("at"), "at %q is not before until (default: the end of telemetry, alarm.fires + 30m = %s)", at.raw, p.rel(w.Until))
	}
	return w
}

func (p *parser) metric(n *yaml.Node, field string) {
	m := p.mapping(n, field, metricFields)
	if m == nil {
		return
	}
	it := MetricItem{Line: m.n.Line}
	it.Resource, _, it.Zone = p.refOrZone(m, "resource", true)
	if v := m.get("silent"); v != nil {
		it.Silent, _ = p.boolean(v, m.field("silent"))
	}
	if v := m.get("metric"); v != nil {
		it.Namespace, it.MetricName, _ = p.metricName(v, m.field("metric"))
	} else if !it.Silent {
		// Only silence may apply to every metric of the resource.
		p.req(m, "metric")
	}
	if v := m.get("dims"); v != nil {
		it.Dims, _ = p.stringMap(v, m.field("dims"), false)
		switch {
		case it.Zone != "":
			p.errf(v, m.field("dims"), "dims do not apply to zone %s: the item changes each resource in it under its own dimensions (name one resource instead)", it.Zone)
		case !m.has("metric"):
			p.errf(v, m.field("dims"), "dims need a metric (a silent item without one silences every metric of the resource)")
		}
	}
	it.Window = p.window(m, false)
	var given []string
	for _, k := range m.keys {
		if k == "value" || k == "baseline" || k == "csv" || (k == "silent" && it.Silent) {
			given = append(given, k)
		}
	}
	tails := m.has("p90") || m.has("p99")
	switch {
	case len(given) == 0 && !tails:
		p.errf(m.n, field, "want one of value, baseline, csv, silent or p90/p99, found none")
	case len(given) > 1:
		p.errf(m.key[given[1]], m.field(given[1]), "%s and %s are exclusive (want one of value, baseline, csv or silent)", given[0], given[1])
	case len(given) == 1 && tails && (given[0] == "csv" || given[0] == "silent"):
		k := "p99"
		if !m.has(k) {
			k = "p90"
		}
		p.errf(m.key[k], m.field(k), "%s does not combine with %s (a %s series has no percentiles of its own)", k, given[0], given[0])
	}
	if it.Silent {
		for _, k := range []string{"noise", "ramp"} {
			if v := m.key[k]; v != nil {
				p.errf(v, m.field(k), "%s does not apply to a silent item: a series has datapoints or none", k)
			}
		}
	}
	if v := m.get("value"); v != nil {
		if f, ok := p.num(v, m.field("value")); ok {
			it.Value = &f
		}
	}
	if v := m.get("baseline"); v != nil {
		if f, ok := p.num(v, m.field("baseline")); ok {
			it.Baseline = &f
		}
	}
	if v := m.get("noise"); v != nil {
		if f, ok := p.numIn(v, m.field("noise"), 0, math.MaxFloat64); ok {
			it.Noise = &f
		}
	}
	for _, pc := range []struct {
		k    string
		into **float64
	}{{"p90", &it.P90}, {"p99", &it.P99}} {
		if v := m.get(pc.k); v != nil {
			if f, ok := p.numIn(v, m.field(pc.k), 0, math.MaxFloat64); ok {
				*pc.into = &f
			}
		}
	}
	// Percentiles are ordered: the average (a value) ≤ p90 ≤ p99.
	if it.P90 != nil && it.P99 != nil && *it.P99 < *it.P90 {
		p.errf(m.get("p99"), m.field("p99"), "p99 %s is less than p90 %s", fmtNum(*it.P99), fmtNum(*it.P90))
	}
	if it.Value != nil {
		for _, pc := range []struct {
			k string
			v *float64
		}{{"p90", it.P90}, {"p99", it.P99}} {
			if pc.v != nil && *pc.v < *it.Value {
				p.errf(m.get(pc.k), m.field(pc.k), "%s %s is less than the value %s (a percentile of a latency is at least its average)", pc.k, fmtNum(*pc.v), fmtNum(*it.Value))
			}
		}
	}
	if v := m.get("csv"); v != nil {
		if rel, ok := p.str(v, m.field("csv")); ok {
			it.CSV = p.csv(deref(v), m.field("csv"), rel)
		}
	}
	p.s.Metrics = append(p.s.Metrics, it)
}

func (p *parser) log(n *yaml.Node, field string) {
	m := p.mapping(n, field, logFields)
	if m == nil {
		return
	}
	var it LogItem
	var svc *Resource
	if !m.has("service") && !m.has("group") {
		p.errf(m.n, field, "want service (a service id) or group (a log group name), found neither")
	}
	it.Service, svc = p.refField(m, "service", false, "service")
	if svc != nil {
		it.Group = svc.LogGroup
	}
	if v := m.get("group"); v != nil {
		it.Group, _ = p.str(v, m.field("group"))
	}
	var on *Resource
	it.On, on, it.Zone = p.refOrZone(m, "on", false, append([]string{string(investigate.TypeECSTask)}, computeType...)...)
	switch {
	case on != nil && on.Type == investigate.TypeECSTask && svc != nil && len(svc.RunsOn) > 0 && !contains(svc.RunsOn, on.Service):
		p.errf(m.get("on"), m.field("on"), "%q is a task of %s, not of a resource service %s runs on (%s)", on.ID, on.Service, svc.ID, strings.Join(svc.RunsOn, ", "))
	case on != nil && on.Type != investigate.TypeECSTask && svc != nil && len(svc.RunsOn) > 0 && !contains(svc.RunsOn, on.ID):
		p.errf(m.get("on"), m.field("on"), "%q is not one of the resources service %s runs on (%s)", on.ID, svc.ID, strings.Join(svc.RunsOn, ", "))
	}
	if it.Zone != "" && svc != nil && len(svc.RunsOn) > 0 {
		if hosts := p.inZone(it.Zone, p.withTasks(svc.RunsOn)); len(hosts) == 0 {
			p.errf(m.get("on"), m.field("on"), "zone %s has none of the resources service %s runs on (%s), nor any of their tasks", it.Zone, svc.ID, strings.Join(svc.RunsOn, ", "))
		}
	}
	if v := p.req(m, "level"); v != nil {
		it.Level, _ = p.oneOf(v, m.field("level"), "level", levels)
	}
	if v := p.req(m, "rate"); v != nil {
		it.PerMin, _ = p.rate(v, m.field("rate"))
	}
	if v := p.req(m, "text"); v != nil {
		it.Text, _ = p.str(v, m.field("text"))
	}
	it.Window = p.window(m, false)
	p.s.Logs = append(p.s.Logs, it)
}

// withTasks is ids with the listed tasks of the ecs services among them.
func (p *parser) withTasks(ids []string) []string {
	out := append([]string(nil), ids...)
	for _, id := range ids {
		if r, ok := p.byID[id]; ok {
			out = append(out, r.TaskIDs...)
		}
	}
	return out
}

// rate reads N/m or N/s, returning the rate per minute.
func (p *parser) rate(n *yaml.Node, field string) (float64, bool) {
	d := deref(n)
	if d != nil && d.Kind == yaml.ScalarNode {
		if mm := rateRE.FindStringSubmatch(strings.TrimSpace(d.Value)); mm != nil {
			f, err := strconv.ParseFloat(mm[1], 64)
			if err == nil && !math.IsInf(f, 0) {
				if mm[3] == "s" {
					f *= 60
				}
				return f, true
			}
		}
	}
	p.errf(d, field, "bad rate %s (want N/m or N/s, like 540/m or 2.5/s)", describe(d))
	return 0, false
}

func (p *parser) trace(n *yaml.Node, field string) {
	m := p.mapping(n, field, traceFields)
	if m == nil {
		return
	}
	var it TraceItem
	var caller, callee *Resource
	if v := p.req(m, "edge"); v != nil {
		f := m.field("edge")
		if s, ok := p.str(v, f); ok {
			parts := strings.Split(s, ">")
			if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
				p.errf(v, f, "bad edge %q (want caller>callee, two resource ids, or client>ID for traffic entering an entry resource)", s)
			} else {
				it.Caller, it.Callee = strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
				switch {
				case it.Callee == "client":
					p.errf(v, f, "bad edge %q: client can only be the caller (client>ID)", s)
				case it.Caller == it.Callee:
					p.errf(v, f, "bad edge %q: caller and callee are the same", s)
				case it.Caller == "client":
					callee = p.ref(v, f, it.Callee)
					if callee != nil && callee.Type != "" && !contains(entryTypes, string(callee.Type)) {
						p.errf(v, f, "bad edge %q: client calls entry resources only (alb, apigw), and %q is of type %s", s, it.Callee, callee.Type)
						callee = nil
					}
				default:
					caller = p.ref(v, f, it.Caller)
					callee = p.ref(v, f, it.Callee)
				}
			}
		}
	}
	var on *Resource
	it.On, on, it.Zone = p.refOrZone(m, "on", false, computeType...)
	if on != nil && callee != nil && (caller != nil || it.Caller == "client") {
		if msg := p.traceOn(it.Caller, caller, callee, on.ID); msg != "" {
			p.errf(m.get("on"), m.field("on"), "%s", msg)
		}
	}
	if it.Zone != "" && callee != nil && (caller != nil || it.Caller == "client") {
		// A zone covers its hosts that the edge could name: it must hold
		// at least one.
		hosts := p.inZone(it.Zone, nil, computeType...)
		var msg string
		for _, h := range hosts {
			if msg = p.traceOn(it.Caller, caller, callee, h); msg == "" {
				break
			}
		}
		if len(hosts) == 0 || msg != "" {
			p.errf(m.get("on"), m.field("on"), "zone %s has no instance that serves or makes the calls of edge %s>%s (its hosts: %s)", it.Zone, it.Caller, callee.ID, orNone(hosts))
		}
	}
	share := func(k string) *float64 {
		v := m.get(k)
		if v == nil {
			return nil
		}
		f, ok := p.numIn(v, m.field(k), 0, 1)
		if !ok {
			return nil
		}
		return &f
	}
	it.Fault, it.Error, it.Throttle = share("fault"), share("error"), share("throttle")
	sum := 0.0
	for _, x := range []*float64{it.Fault, it.Error, it.Throttle} {
		if x != nil {
			sum += *x
		}
	}
	if sum > 1+1e-9 {
		p.errf(m.n, field, "fault + error + throttle is %s (want at most 1: they are shares of the same requests)", fmtNum(sum))
	}
	if v := m.get("latency"); v != nil {
		if d, ok := p.duration(v, m.field("latency"), time.Microsecond); ok {
			it.Latency = &d
		}
	}
	if v := m.get("exception"); v != nil {
		it.Exception, _ = p.str(v, m.field("exception"))
	}
	it.Window = p.window(m, false)
	p.s.Traces = append(p.s.Traces, it)
}

// traceOn checks a traces item's on (a host id) against its edge, caller >
// callee (caller is nil for client), and returns what is wrong, or "". on
// names the host whose requests the item affects, the one the simulator
// reports them under:
//
//   - SERVICE>X: a host of the service, the instance making the calls; or,
//     when it is not one of those, a host of X (X itself, or a host of
//     service X), the instance serving them;
//   - ENTRY>X: an instance behind the entry that serves its requests to X;
//   - client>ENTRY: an instance behind the entry.
func (p *parser) traceOn(callerID string, caller, callee *Resource, on string) string {
	none := func(why string) string {
		return fmt.Sprintf("edge %s>%s has no instance to choose from (%s; leave on out)", callerID, callee.ID, why)
	}
	switch {
	case callerID == "client":
		hosts := p.servingHosts(callee, "")
		switch {
		case contains(hosts, on):
			return ""
		case len(hosts) == 0:
			return none(fmt.Sprintf("no instance behind %s serves its requests", callee.ID))
		}
		return fmt.Sprintf("%q is not an instance serving %s's requests (want %s)", on, callee.ID, orIDs(hosts))
	case contains(entryTypes, string(caller.Type)):
		hosts := p.servingHosts(caller, callee.ID)
		switch {
		case contains(hosts, on):
			return ""
		case len(hosts) == 0:
			return none(fmt.Sprintf("no instance behind %s serves its requests to %s", caller.ID, callee.ID))
		}
		return fmt.Sprintf("%q is not an instance serving %s's requests to %s (want %s)", on, caller.ID, callee.ID, orIDs(hosts))
	}
	from, to := p.hostsOf(caller), p.hostsOf(callee)
	if contains(from, on) || contains(to, on) {
		return ""
	}
	if len(from) == 0 && len(to) == 0 {
		side := func(r *Resource) string {
			if r.Type == "service" {
				return r.ID + " runs on nothing"
			}
			return r.ID + " is a " + string(r.Type)
		}
		return none(side(caller) + " and " + side(callee))
	}
	var want []string
	if len(from) > 0 {
		want = append(want, "a host of the caller, the instance making the calls: "+orIDs(from))
	}
	if len(to) > 0 {
		want = append(want, "a host of the callee, the instance serving them: "+orIDs(to))
	}
	return fmt.Sprintf("%q is a host of neither %s nor %s (want %s)", on, caller.ID, callee.ID, strings.Join(want, "; or "))
}

// hostsOf is what r runs on: a service's hosts, or r itself when it is an
// ec2, ecs or lambda resource.
func (p *parser) hostsOf(r *Resource) []string {
	switch {
	case contains(computeType, string(r.Type)):
		return []string{r.ID}
	case r.Type == "service":
		var out []string
		for _, id := range r.RunsOn {
			if h, ok := p.byID[id]; ok && contains(computeType, string(h.Type)) {
				out = append(out, id)
			}
		}
		return out
	}
	return nil
}

// servingHosts are the hosts behind entry resource en that serve its
// requests (to the resource with id to, when to is not ""), as the simulator
// routes them: a host target serves them itself, or the services on it do;
// an Auto Scaling group target through its instances; a service target on
// its hosts.
func (p *parser) servingHosts(en *Resource, to string) []string {
	var out []string
	add := func(h string) {
		if !contains(out, h) {
			out = append(out, h)
		}
	}
	host := func(h *Resource) {
		served := false
		for i := range p.s.Resources {
			s := &p.s.Resources[i]
			if s.Type == "service" && contains(s.RunsOn, h.ID) {
				served = true
				if to == "" || to == s.ID {
					add(h.ID)
				}
			}
		}
		if !served && (to == "" || to == h.ID) {
			add(h.ID)
		}
	}
	for _, id := range en.Targets {
		t, ok := p.byID[id]
		if !ok {
			continue
		}
		switch {
		case contains(computeType, string(t.Type)):
			host(t)
		case t.Type == "asg":
			for i := range p.s.Resources {
				if r := &p.s.Resources[i]; r.Type == "ec2" && r.ASG == t.ID {
					host(r)
				}
			}
		case t.Type == "service" && (to == "" || to == t.ID):
			for _, h := range p.hostsOf(t) {
				add(h)
			}
		}
	}
	return out
}

// orIDs lists ids as "a", "a or b", "a, b or c".
func orIDs(ids []string) string {
	if len(ids) == 1 {
		return ids[0]
	}
	return strings.Join(ids[:len(ids)-1], ", ") + " or " + ids[len(ids)-1]
}

func (p *parser) change(n *yaml.Node, field string) {
	m := p.mapping(n, field, changeFields)
	if m == nil {
		return
	}
	var it ChangeItem
	if v := p.req(m, "at"); v != nil {
		if w, ok := p.when(v, m.field("at")); ok && p.haveOnset {
			it.At = w.at(p.onset)
		}
	}
	if v := p.req(m, "event"); v != nil {
		it.Event, _ = p.str(v, m.field("event"))
	}
	if v := p.req(m, "source"); v != nil {
		it.Source, _ = p.str(v, m.field("source"))
	}
	if v := p.req(m, "resource"); v != nil {
		if s, ok := p.str(v, m.field("resource")); ok {
			if strings.HasPrefix(s, "arn:") {
				if !validARN(s) {
					p.errf(v, m.field("resource"), "bad arn %q (want arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)", s)
				}
			} else {
				p.ref(v, m.field("resource"), s)
			}
			it.Resource = s
		}
	}
	if v := p.req(m, "actor"); v != nil {
		it.Actor, _ = p.str(v, m.field("actor"))
	}
	if v := m.get("error"); v != nil {
		it.Error, _ = p.str(v, m.field("error"))
	}
	if v := m.get("params"); v != nil {
		it.Params, _ = p.stringMap(v, m.field("params"), true)
	}
	p.s.Changes = append(p.s.Changes, it)
}

func (p *parser) health(n *yaml.Node, field string) {
	m := p.mapping(n, field, healthFields)
	if m == nil {
		return
	}
	var it HealthItem
	it.Window = p.window(m, true)
	if v := p.req(m, "service"); v != nil {
		it.Service, _ = p.str(v, m.field("service"))
	}
	if v := p.req(m, "type"); v != nil {
		it.Type, _ = p.str(v, m.field("type"))
	}
	if v := p.req(m, "status"); v != nil {
		it.Status, _ = p.oneOf(v, m.field("status"), "status", statuses)
	}
	if v := m.get("az"); v != nil {
		it.AZ, _ = p.str(v, m.field("az"))
	}
	if v := m.get("resources"); v != nil {
		list, _ := p.list(v, m.field("resources"))
		for j, e := range list {
			p.ref(e.n, fmt.Sprintf("%s[%d]", m.field("resources"), j), e.s)
			it.Resources = append(it.Resources, e.s)
		}
	}
	if v := m.get("description"); v != nil {
		it.Description, _ = p.str(v, m.field("description"))
	}
	it.PostedAt = it.At
	if v := m.get("posted_at"); v != nil {
		if w, ok := p.when(v, m.field("posted_at")); ok && p.haveOnset {
			it.PostedAt = w.at(p.onset)
		}
	}
	p.s.Health = append(p.s.Health, it)
}

func (p *parser) quota(n *yaml.Node, field string) {
	m := p.mapping(n, field, quotaFields)
	if m == nil {
		return
	}
	var it QuotaItem
	it.Resource, _ = p.refField(m, "resource", true)
	if v := p.req(m, "service"); v != nil {
		it.Service, _ = p.str(v, m.field("service"))
	}
	if v := p.req(m, "code"); v != nil {
		it.Code, _ = p.str(v, m.field("code"))
	}
	if v := p.req(m, "name"); v != nil {
		it.Name, _ = p.str(v, m.field("name"))
	}
	if v := p.req(m, "value"); v != nil {
		it.Value, _ = p.numIn(v, m.field("value"), 0, math.MaxFloat64)
	}
	p.s.Quotas = append(p.s.Quotas, it)
}

func (p *parser) note(n *yaml.Node, field string) {
	m := p.mapping(n, field, noteFields)
	if m == nil {
		return
	}
	var it NoteItem
	if v := p.req(m, "at"); v != nil {
		if w, ok := p.when(v, m.field("at")); ok && p.haveOnset {
			it.At = w.at(p.onset)
		}
	}
	if v := p.req(m, "author"); v != nil {
		it.Author, _ = p.str(v, m.field("author"))
	}
	if v := p.req(m, "text"); v != nil {
		it.Text, _ = p.str(v, m.field("text"))
	}
	p.s.Notes = append(p.s.Notes, it)
}

func (p *parser) expect(n *yaml.Node) *Expect {
	m := p.mapping(n, "expect", expectFields)
	if m == nil {
		return nil
	}
	e := &Expect{OnsetWithin: DefaultOnsetWithin}
	enum := func(k, what string, want []string) []string {
		v := p.req(m, k)
		if v == nil {
			return nil
		}
		list, _ := p.oneOrList(v, m.field(k))
		var out []string
		for j, x := range list {
			f := m.field(k)
			if deref(v).Kind == yaml.SequenceNode {
				f = fmt.Sprintf("%s[%d]", f, j)
			}
			if want == nil {
				if !p.zone(x.s) {
					p.ref(x.n, f, x.s)
				}
			} else if !contains(want, x.s) {
				p.errf(x.n, f, "unknown %s %q (want one of %s)", what, x.s, strings.Join(want, ", "))
				continue
			}
			out = append(out, x.s)
		}
		return out
	}
	e.Causes = enum("cause", "cause", Causes)
	e.Resources = enum("resource", "resource", nil)
	e.Actions = enum("action", "action", Actions)
	if v := m.get("onset_within"); v != nil {
		if d, ok := p.duration(v, "expect.onset_within", time.Second); ok {
			e.OnsetWithin = d
		}
	}
	return e
}

// csvPath is where a metric item's csv file is: relative to the scenario
// file's folder, in the same fs.FS.
func csvPath(scenarioPath, rel string) string {
	return path.Join(path.Dir(scenarioPath), rel)
}
