package awstelemetry

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/unstuck/unstuck/investigate"
)

// AlarmForResource finds the alarm that watches a resource, for
// "/investigate RESOURCE": ref is an instance id, a load balancer, function,
// table, database, Auto Scaling group or queue name, an ECS service as
// "cluster/service", or an ARN of one of them.
//
// The resource is described (by each type its name may be, at once) to learn
// its type and the dimensions its metrics are published under; then
// DescribeAlarmsForMetric is asked for each metric the engine's catalogue
// knows for the type, with exactly those dimensions. Of the alarms found, the
// one in ALARM wins, then the one whose state changed last. An alarm whose
// metric has other dimensions too (a load balancer's per-target-group
// metrics), a metric-math or a composite alarm is not found: "This operation
// retrieves only standard alarms that are based on the specified metric. It
// does not return alarms based on math expressions that use the specified
// metric, or composite alarms that use the specified metric."
// (DescribeAlarmsForMetric, CloudWatch API reference.)
//
// A resource no describer knows, or one that no alarm watches, is a
// *investigate.NotFoundError; a failure to read the alarms is an error
// wrapping its cause.
func (s *Session) AlarmForResource(ctx context.Context, ref string) (a investigate.Alarm, err error) {
	defer recoverTo(&err, "alarms of a resource")
	ctx = s.ctx(ctx)
	ref = strings.TrimSpace(ref)
	r, ok := s.resolveResource(ctx, ref)
	if !ok || len(r.Dims) == 0 {
		return a, &investigate.NotFoundError{Kind: "resource", Name: ref, Region: s.c.region, Account: s.c.accountID(ctx)}
	}
	metrics := investigate.CatalogMetrics(r.Type)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		alarms = map[string]cwtypes.MetricAlarm{}
		errs   errorList
	)
	for _, m := range metrics {
		spawn(&wg, errs.add, func() {
			out, err := s.c.api.cw.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{
				Namespace:  aws.String(m.Namespace),
				MetricName: aws.String(m.Name),
				Dimensions: dimensions(r.Dims),
			})
			if err != nil {
				errs.add(wrap("cloudwatch describe alarms for metric "+m.Namespace+" "+m.Name, err))
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, al := range out.MetricAlarms {
				alarms[aws.ToString(al.AlarmName)] = al
			}
		})
	}
	wg.Wait()
	if len(alarms) == 0 {
		if e := errs.list(); len(e) > 0 {
			return a, partial("alarms of "+ref, e)
		}
		return a, &investigate.NotFoundError{Kind: "alarm watching", Name: ref, Region: s.c.region, Account: s.c.accountID(ctx)}
	}
	return s.Alarm(ctx, bestAlarm(alarms))
}

// bestAlarm picks the alarm in ALARM, then the one whose state changed
// last, then by name.
func bestAlarm(alarms map[string]cwtypes.MetricAlarm) string {
	names := slices.Sorted(maps.Keys(alarms))
	changed := func(a cwtypes.MetricAlarm) time.Time {
		if a.StateTransitionedTimestamp != nil {
			return *a.StateTransitionedTimestamp
		}
		return aws.ToTime(a.StateUpdatedTimestamp)
	}
	sort.SliceStable(names, func(i, j int) bool {
		a, b := alarms[names[i]], alarms[names[j]]
		if ai, bi := a.StateValue == cwtypes.StateValueAlarm, b.StateValue == cwtypes.StateValueAlarm; ai != bi {
			return ai
		}
		return changed(a).After(changed(b))
	})
	return names[0]
}

// candidate is one type a resource reference may name, and the id its
// describer takes.
type candidate struct {
	typ      investigate.ResourceType
	id, want string
}

// candidates are the types ref may name, most likely first.
func candidates(ref string) []candidate {
	if typ, id, want, ok := resourceFromARN(ref); ok {
		return []candidate{{typ, id, want}}
	}
	if strings.HasPrefix(ref, "arn:") {
		if typ := typeFromID(ref); typ == investigate.TypeLambda {
			n := functionNameFromARN(ref)
			return []candidate{{typ, n, n}}
		}
		return nil
	}
	if strings.HasPrefix(ref, "i-") {
		return []candidate{{investigate.TypeEC2, ref, ref}}
	}
	if strings.HasPrefix(ref, "nat-") {
		return []candidate{{investigate.TypeNATGateway, ref, ref}}
	}
	if strings.HasPrefix(ref, "vol-") {
		return []candidate{{investigate.TypeEBS, ref, ref}}
	}
	if cluster, svc, ok := strings.Cut(ref, "/"); ok && cluster != "" && svc != "" && !strings.Contains(svc, "/") {
		return []candidate{{investigate.TypeECS, svc, ref}}
	}
	var out []candidate
	for _, typ := range []investigate.ResourceType{investigate.TypeALB, investigate.TypeLambda, investigate.TypeDynamoDB, investigate.TypeRDS, investigate.TypeASG, investigate.TypeSQS} {
		out = append(out, candidate{typ, ref, ref})
	}
	return out
}

// resolveResource describes ref as each type it may name, at once, and
// returns the first (in candidates' order) that a describer found: one it
// described with an ARN, not a placeholder left by a failed call. A queue,
// which no describer reads, is taken on its name when nothing else is
// found. The describers' errors are expected (most candidates do not
// exist) and are not the session's problems.
func (s *Session) resolveResource(ctx context.Context, ref string) (investigate.Resource, bool) {
	cands := candidates(ref)
	found := make([]*investigate.Resource, len(cands))
	var wg sync.WaitGroup
	for i, c := range cands {
		if c.typ == investigate.TypeSQS {
			continue
		}
		b := newTopoBuilder(s)
		fn := b.describer(c.typ)
		if fn == nil {
			continue
		}
		spawn(&wg, b.errs.add, func() {
			fn(ctx, []string{c.want})
			b.mu.Lock()
			defer b.mu.Unlock()
			if r, ok := b.res[c.id]; ok && r.Type == c.typ && r.ARN != "" {
				cp := *r
				found[i] = &cp
			}
		})
	}
	wg.Wait()
	for _, r := range found {
		if r != nil {
			return *r, true
		}
	}
	for _, c := range cands {
		if c.typ == investigate.TypeSQS {
			return sqsResource(c.id, s.c.region, ""), true
		}
	}
	return investigate.Resource{}, false
}
