package scenario

import (
	"slices"
	"strings"
	"testing"
)

func TestRelationFields(t *testing.T) {
	grp := "  - {id: grp, type: asg, min: 1, max: 3, desired: 1}\n"
	doc := strings.Replace(base, grp, grp+`  - {id: db, type: rds}
  - {id: db-ro, type: rds, replica_of: db}
  - {id: jobs, type: sqs, triggers: [fn]}
  - {id: sg-1, type: security-group, attached_to: [db, i-1, fn]}
  - {id: key-1, type: kms-key, encrypts: [table, jobs]}
  - {id: flags, type: parameter, name: /app/flags, read_by: [svc]}
  - {id: fn-role, type: iam-role, assumed_by: [fn]}
  - {id: sg-2, type: security-group}
`, 1)
	f, err := Parse("test.yaml", []byte(doc), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		id   string
		get  func(*Resource) []string
		want []string
	}{
		{"db-ro", func(r *Resource) []string { return []string{r.ReplicaOf} }, []string{"db"}},
		{"db", func(r *Resource) []string { return []string{r.ReplicaOf} }, []string{""}},
		{"jobs", func(r *Resource) []string { return r.Triggers }, []string{"fn"}},
		{"sg-1", func(r *Resource) []string { return r.AttachedTo }, []string{"db", "i-1", "fn"}},
		{"sg-2", func(r *Resource) []string { return r.AttachedTo }, nil},
		{"key-1", func(r *Resource) []string { return r.Encrypts }, []string{"table", "jobs"}},
		{"flags", func(r *Resource) []string { return r.ReadBy }, []string{"svc"}},
		{"fn-role", func(r *Resource) []string { return r.AssumedBy }, []string{"fn"}},
	}
	for _, tt := range tests {
		r, ok := f.Scenario.Resource(tt.id)
		if !ok {
			t.Fatalf("no resource %s", tt.id)
		}
		if got := tt.get(r); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.id, got, tt.want)
		}
	}
}
