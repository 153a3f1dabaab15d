package scenario

import "math"

// Aurora clusters and their DB instances: an rds resource names its cluster
// (db_cluster) and its role in it (cluster_role).

var (
	// AuroraEngines are Aurora's engines; the first is the default.
	AuroraEngines = []string{"aurora-postgresql", "aurora-mysql"}
	// ClusterRoles are the roles of an Aurora cluster's instances.
	ClusterRoles = []string{"writer", "reader"}
)

func init() {
	typeFields["rds"] = append(typeFields["rds"], "db_cluster", "cluster_role")
}

// auroraFields reads an aurora cluster's fields.
func (p *parser) auroraFields(m *mapNode, r *Resource) {
	r.Engine = AuroraEngines[0]
	if v := m.get("engine"); v != nil {
		r.Engine, _ = p.oneOf(v, m.field("engine"), "engine", AuroraEngines)
	}
	if v := m.get("max_connections"); v != nil {
		r.MaxConnections, _ = p.integer(v, m.field("max_connections"), 1, math.MaxInt32)
	}
}

// memberFields reads the fields of an rds instance that is a member of an
// Aurora cluster.
func (p *parser) memberFields(m *mapNode, r *Resource, pend *resPending) {
	if v := m.get("db_cluster"); v != nil {
		if s, ok := p.str(v, m.field("db_cluster")); ok {
			pend.cluster = &strNode{s, deref(v)}
		}
	}
	if v := m.get("cluster_role"); v != nil {
		role, _ := p.oneOf(v, m.field("cluster_role"), "cluster role", ClusterRoles)
		if m.get("db_cluster") == nil {
			p.errf(v, m.field("cluster_role"), "cluster_role applies to a member of an aurora cluster (give its db_cluster)")
		}
		r.ClusterRole = role
	}
}

// clusterMembers fills what an Aurora cluster's instances take from it: the
// first member listed writes unless another says it does, the others read;
// a member without an engine or max_connections has the cluster's. A
// cluster with two writers is an error.
func (p *parser) clusterMembers() {
	for ci := range p.s.Resources {
		c := &p.s.Resources[ci]
		if c.Type != "aurora" {
			continue
		}
		var members []*Resource
		writers := 0
		for i := range p.s.Resources {
			if m := &p.s.Resources[i]; m.DBCluster == c.ID {
				members = append(members, m)
				if m.ClusterRole == "writer" {
					writers++
					if writers > 1 {
						p.errf(p.pending[i].cluster.n, p.pending[i].field+".cluster_role", "%s has a writer already (an Aurora cluster has one)", c.ID)
					}
				}
			}
		}
		for i, m := range members {
			if m.ClusterRole == "" {
				m.ClusterRole = "reader"
				if i == 0 && writers == 0 {
					m.ClusterRole = "writer"
				}
			}
			if m.Engine == "" {
				m.Engine = c.Engine
			}
			if m.MaxConnections == 0 {
				m.MaxConnections = c.MaxConnections
			}
		}
	}
}
