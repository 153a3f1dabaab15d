package awstelemetry

import (
	"testing"
	"time"
)

// TestTopologyStaleInstance: a target that names a terminated instance
// (CloudWatch's InstanceIds would fail the whole DescribeInstances call
// with InvalidInstanceID.NotFound) loses no other instance's description.
func TestTopologyStaleInstance(t *testing.T) {
	srv, w, c := newALBClient(t)
	stale := "i-0deadbeefdeadbeef"
	var health []any
	for _, id := range append([]string{stale}, w.Instances...) {
		health = append(health, map[string]any{"Target": map[string]any{"Id": id, "Port": 8080}, "TargetHealth": map[string]any{"State": "healthy"}})
	}
	srv.Reply("Elastic Load Balancing v2.DescribeTargetHealth", map[string]any{"TargetHealthDescriptions": health})
	s := c.NewSession()
	ctx := ctxTimeout(t, 10*time.Second)
	a, err := s.Alarm(ctx, "web-alb-target-5xx")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := s.Topology(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range w.Instances {
		in, ok := resource(topo, id)
		if !ok || in.Config["instance_type"] != "m5.large" || in.AZ == "" {
			t.Errorf("instance %s not described: %+v", id, in)
		}
	}
	if p := s.Problems(); len(p) > 0 {
		t.Errorf("problems: %v", p)
	}
}
