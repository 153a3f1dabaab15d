package scenario

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EventItem is one event AWS records about a resource outside CloudTrail.
// Which it is follows from the resource's type:
//   - asg: a scaling activity (DescribeScalingActivities): Description,
//     Cause, Status (its StatusCode) and, when it failed, Message (its
//     StatusMessage);
//   - ecs: a service event (DescribeServices' events): Message;
//   - rds: a DB instance event (DescribeEvents): Message and Categories.
//
// Fields that do not apply to the type are empty.
type EventItem struct {
	At       time.Time
	Resource string
	Message  string
	// asg
	Status      string // Successful unless the file says otherwise
	Description string
	Cause       string
	// rds
	Categories []string
}

var (
	eventFields = []string{"at", "resource", "message", "status", "description", "cause", "categories"}
	// eventTypes are the resource types AWS records such events of, and
	// the fields each takes beyond at and resource.
	eventTypes = map[string][]string{
		"asg": {"status", "description", "cause", "message"},
		"ecs": {"message"},
		"rds": {"message", "categories"},
	}
	// activityStatuses are the Auto Scaling activity StatusCodes a file
	// may give.
	activityStatuses = []string{"Successful", "Failed", "Cancelled", "InProgress"}
	// rdsCategories are RDS's event categories for a DB instance.
	rdsCategories = []string{"availability", "backup", "configuration change", "creation", "deletion", "failover", "failure",
		"low storage", "maintenance", "notification", "read replica", "recovery", "restoration", "security", "security patching"}
)

func (p *parser) event(n *yaml.Node, field string) {
	m := p.mapping(n, field, eventFields)
	if m == nil {
		return
	}
	var it EventItem
	if v := p.req(m, "at"); v != nil {
		if w, ok := p.when(v, m.field("at")); ok && p.haveOnset {
			it.At = w.at(p.onset)
		}
	}
	id, res := p.refField(m, "resource", true, "asg", "ecs", "rds")
	it.Resource = id
	typ := ""
	if res != nil {
		typ = string(res.Type)
	}
	allowed := eventTypes[typ]
	for _, k := range m.keys {
		if k == "at" || k == "resource" || typ == "" || contains(allowed, k) {
			continue
		}
		p.errf(m.key[k], m.field(k), "field %q does not apply to an event of a resource of type %s (want %s)", k, typ, strings.Join(allowed, ", "))
	}
	str := func(k string) string {
		if v := m.get(k); v != nil && (typ == "" || contains(allowed, k)) {
			s, _ := p.str(v, m.field(k))
			return s
		}
		return ""
	}
	switch typ {
	case "asg":
		if p.req(m, "description") != nil {
			it.Description = str("description")
		}
		it.Cause, it.Message = str("cause"), str("message")
		it.Status = "Successful"
		if v := m.get("status"); v != nil {
			it.Status, _ = p.oneOf(v, m.field("status"), "activity status", activityStatuses)
		}
	case "ecs":
		if p.req(m, "message") != nil {
			it.Message = str("message")
		}
	case "rds":
		if p.req(m, "message") != nil {
			it.Message = str("message")
		}
		it.Categories = []string{"notification"}
		if v := m.get("categories"); v != nil {
			list, _ := p.oneOrList(v, m.field("categories"))
			it.Categories = it.Categories[:0]
			for j, e := range list {
				if !contains(rdsCategories, e.s) {
					p.errf(e.n, fmt.Sprintf("%s[%d]", m.field("categories"), j), "unknown RDS event category %q (want one of %s)", e.s, strings.Join(rdsCategories, ", "))
					continue
				}
				it.Categories = append(it.Categories, e.s)
			}
		}
	}
	p.s.Events = append(p.s.Events, it)
}
