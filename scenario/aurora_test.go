package scenario

import (
	"strings"
	"testing"
)

// TestClusterMembers: an Aurora cluster's first member writes unless
// another says it does; members take the cluster's engine and
// max_connections where they give none.
func TestClusterMembers(t *testing.T) {
	doc := strings.Replace(base, "  - {id: web, type: alb, targets: [i-1]}\n", `  - {id: web, type: alb, targets: [i-1]}
  - {id: orders, type: aurora, engine: aurora-mysql, max_connections: 3000}
  - {id: orders-1, type: rds, db_cluster: orders}
  - {id: orders-2, type: rds, db_cluster: orders, max_connections: 500}
  - {id: ledger, type: aurora}
  - {id: ledger-1, type: rds, db_cluster: ledger}
  - {id: ledger-2, type: rds, db_cluster: ledger, cluster_role: writer}
`, 1)
	f, err := Parse("aurora.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, cluster, role, engine string
		maxConns                  int
	}{
		{"orders-1", "orders", "writer", "aurora-mysql", 3000},
		{"orders-2", "orders", "reader", "aurora-mysql", 500},
		{"ledger-1", "ledger", "reader", "aurora-postgresql", 0},
		{"ledger-2", "ledger", "writer", "aurora-postgresql", 0},
	} {
		r, ok := f.Scenario.Resource(c.id)
		if !ok {
			t.Fatalf("no %s", c.id)
		}
		if r.DBCluster != c.cluster || r.ClusterRole != c.role || r.Engine != c.engine || r.MaxConnections != c.maxConns {
			t.Errorf("%s: cluster %q role %q engine %q max_connections %d, want %q %q %q %d",
				c.id, r.DBCluster, r.ClusterRole, r.Engine, r.MaxConnections, c.cluster, c.role, c.engine, c.maxConns)
		}
	}
	if r, _ := f.Scenario.Resource("orders"); r.ARN != "arn:aws:rds:us-east-1:123456789012:cluster:orders" {
		t.Errorf("orders arn %q", r.ARN)
	}
}
