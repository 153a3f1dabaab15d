package scenario

import (
	"math"
	"regexp"
)

// The fields of the resource types that other resources stand on or keep
// their data in: NAT gateways, EBS volumes, ElastiCache clusters.

var (
	// servedTypes are what a NAT gateway carries the traffic of.
	servedTypes = []string{"ec2", "ecs", "lambda", "asg"}
	// VolumeTypes are the EBS volume types; the first is the default.
	VolumeTypes = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1"}
	// subscriberTypes are what an SNS topic delivers to.
	subscriberTypes = []string{"lambda", "sqs", "service", "external"}
	// invokedTypes are what a state machine's tasks call.
	invokedTypes = []string{"lambda", "ecs", "service", "dynamodb", "sqs", "sns", "sfn", "external"}
	// Workflows are Step Functions' workflow types; the first is the
	// default.
	Workflows = []string{"standard", "express"}
	// CacheEngines are ElastiCache's engines; the first is the default.
	CacheEngines = []string{"redis", "valkey", "memcached"}
	nodeTypeRE   = regexp.MustCompile(`^cache\.[a-z0-9-]+\.[a-z0-9]+$`)
)

// Defaults of the infrastructure types.
const (
	DefaultVolumeType = "gp2"
	DefaultVolumeSize = 100  // GiB
	DefaultGP3IOPS    = 3000 // gp3's baseline, included in its price
	DefaultNodeType   = "cache.r6g.large"
	// DefaultCacheConnections is ElastiCache's maxclients, which cannot be
	// changed.
	DefaultCacheConnections = 65000
)

// infraFields reads the fields of the types that other resources stand on.
func (p *parser) infraFields(m *mapNode, r *Resource, pend *resPending) {
	switch r.Type {
	case "nat":
		if v := m.get("serves"); v != nil {
			pend.serves, _ = p.list(v, m.field("serves"))
		}
	case "ebs":
		if v := m.get("instance"); v != nil {
			if s, ok := p.str(v, m.field("instance")); ok {
				pend.attach = &strNode{s, deref(v)}
			}
		}
		r.VolumeType = DefaultVolumeType
		if v := m.get("volume_type"); v != nil {
			r.VolumeType, _ = p.oneOf(v, m.field("volume_type"), "volume type", VolumeTypes)
		}
		r.Size = DefaultVolumeSize
		if v := m.get("size"); v != nil {
			r.Size, _ = p.integer(v, m.field("size"), 1, 65536)
		}
		provisioned := r.VolumeType == "gp3" || r.VolumeType == "io1" || r.VolumeType == "io2"
		if v := m.get("iops"); v != nil {
			if !provisioned {
				p.errf(v, m.field("iops"), "iops applies to volume types gp3, io1 and io2 (this volume is %s, whose IOPS follow its size)", r.VolumeType)
			} else {
				r.IOPS, _ = p.integer(v, m.field("iops"), 100, math.MaxInt32)
			}
		} else if provisioned {
			r.IOPS = DefaultGP3IOPS
		}
	case "aurora":
		p.auroraFields(m, r)
	case "sns":
		if v := m.get("subscribers"); v != nil {
			pend.subs, _ = p.list(v, m.field("subscribers"))
		}
	case "sfn":
		r.Workflow = Workflows[0]
		if v := m.get("workflow"); v != nil {
			r.Workflow, _ = p.oneOf(v, m.field("workflow"), "workflow", Workflows)
		}
		if v := m.get("invokes"); v != nil {
			pend.invokes, _ = p.list(v, m.field("invokes"))
		}
	case "elasticache":
		r.Engine = CacheEngines[0]
		if v := m.get("engine"); v != nil {
			r.Engine, _ = p.oneOf(v, m.field("engine"), "engine", CacheEngines)
		}
		r.NodeType = DefaultNodeType
		if v := m.get("node_type"); v != nil {
			if s, ok := p.str(v, m.field("node_type")); ok {
				if !nodeTypeRE.MatchString(s) {
					p.errf(v, m.field("node_type"), "bad node type %q (want cache.FAMILY.SIZE, like cache.r6g.large)", s)
				}
				r.NodeType = s
			}
		}
		r.Nodes = 1
		if v := m.get("nodes"); v != nil {
			r.Nodes, _ = p.integer(v, m.field("nodes"), 1, 500)
		}
		r.MaxConnections = DefaultCacheConnections
		if v := m.get("max_connections"); v != nil {
			r.MaxConnections, _ = p.integer(v, m.field("max_connections"), 1, math.MaxInt32)
		}
	}
}
