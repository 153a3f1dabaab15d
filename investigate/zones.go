package investigate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Availability Zones. Peers doing the same work usually run in several
// zones. When the ones that fail are all the peers of one zone, and their
// peers in the other zones are healthy, what they share is the zone: the
// zone is the part that failed, and the move is to shift traffic away from
// it. One member failing alone stays that member, whatever its zone (two
// readings of one failure, and the narrower is the one to act on); a group
// failing in every zone is no zone's fault.

// zoneFailScore is the support a peer's own candidate must have for the peer
// to count as failing: its errors, failed traces, status checks or silence,
// not its CPU alone.
const zoneFailScore = 0.3

// zoneShare is what a zone takes of the support of a candidate on one of its
// failing members, or of where the walk located the fault when that part
// runs on them; keep is what the member's candidate keeps.
const (
	zoneShare = 0.8
	zoneKeep  = 0.3
)

// zoneFailure is one zone whose members of a peer group fail together.
type zoneFailure struct {
	zone    string
	failing []string // every member of the group in the zone
	healthy []string // the members in the other zones
	others  []string // the other zones
}

// failingZone finds the zone of a peer group whose members all fail while
// the members in other zones do not: at least two failing, all of them in
// one zone, every member of the group in that zone among them, and a healthy
// member in another zone. Members whose zone is unknown are left out.
func failingZone(g *graph, hosts []string, failing map[string]bool) (zoneFailure, bool) {
	var zf zoneFailure
	byZone := map[string][]string{}
	for _, h := range hosts {
		z := g.zoneOf(h)
		if z == "" {
			continue
		}
		byZone[z] = append(byZone[z], h)
		if failing[h] {
			if zf.zone != "" && zf.zone != z {
				return zoneFailure{}, false // failures in two zones
			}
			zf.zone = z
		}
	}
	if zf.zone == "" || len(byZone) < 2 {
		return zoneFailure{}, false
	}
	for _, h := range byZone[zf.zone] {
		if !failing[h] {
			return zoneFailure{}, false // a healthy peer in the same zone
		}
	}
	zf.failing = byZone[zf.zone]
	if len(zf.failing) < 2 {
		return zoneFailure{}, false
	}
	for z, hs := range byZone {
		if z != zf.zone {
			zf.others = append(zf.others, z)
			zf.healthy = append(zf.healthy, hs...)
		}
	}
	sort.Strings(zf.others)
	sort.Strings(zf.healthy)
	return zf, true
}

// zoneOf is a resource's availability zone, "" when unknown.
func (g *graph) zoneOf(id string) string {
	if r, ok := g.byID[id]; ok {
		return r.AZ
	}
	return ""
}

// zoneMembers are the resources in scope in a zone, and nil when id is a
// resource's id rather than a zone.
func (g *graph) zoneMembers(id string) []string {
	if _, ok := g.byID[id]; ok || id == "" {
		return nil
	}
	var out []string
	for _, x := range g.inScope() {
		if g.byID[x].AZ == id {
			out = append(out, x)
		}
	}
	return out
}

// albsServing are the load balancers whose requests a host serves: those
// that target it, its Auto Scaling group or a service on it.
func (g *graph) albsServing(host string) []string {
	from := append([]string{host}, g.servicesOn(host)...)
	if grp := g.group(host); grp != "" {
		from = append(from, grp)
	}
	var out []string
	for _, x := range from {
		for _, e := range g.entriesOf(x) {
			if g.typeOf(e) == TypeALB && !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	sort.Strings(out)
	return out
}

// zonesOf are the zones of the hosts serving a load balancer's requests,
// and the zones its source says it is enabled in (config azs).
func (g *graph) zonesOf(alb string) []string {
	var zones []string
	add := func(z string) {
		if z != "" && !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	for _, t := range g.targets(alb) {
		add(g.zoneOf(t))
		for _, m := range g.related(t, RelMemberOf, false) {
			add(g.zoneOf(m))
		}
		for _, h := range g.hosts(t) {
			add(g.zoneOf(h))
		}
	}
	if r := g.byID[alb]; r != nil {
		for _, z := range strings.Split(r.Config["azs"], ",") {
			add(strings.TrimSpace(z))
		}
	}
	sort.Strings(zones)
	return zones
}

// zoneSpecs are the load balancer's metrics read per zone: its failures and
// its response time.
func zoneSpecs() []metricSpec {
	var out []metricSpec
	for _, s := range catalog[TypeALB] {
		if s.Role == roleErrors || s.Role == roleLatency {
			out = append(out, s)
		}
	}
	return out
}

// zoneKey is the query id of a load balancer's metric in one zone.
func zoneKey(alb, zone string, s metricSpec) string { return metricKey(alb+"@"+zone, s) }

// zoneQueries are the per-zone queries of the load balancers in scope that
// serve from two zones or more: CloudWatch publishes their metrics under
// LoadBalancer and AvailabilityZone too.
func (r *run) zoneQueries() []MetricQuery {
	var qs []MetricQuery
	for _, id := range r.g.inScope() {
		res := r.g.byID[id]
		if res.Type != TypeALB || res.Dims["LoadBalancer"] == "" {
			continue
		}
		zones := r.g.zonesOf(id)
		if len(zones) < 2 {
			continue
		}
		for _, z := range zones {
			dims := zoneDims(res, z)
			for _, s := range zoneSpecs() {
				qs = append(qs, MetricQuery{ID: zoneKey(id, z, s), Metric: Metric{Namespace: s.Namespace, Name: s.Name, Dims: dims}, Stat: s.Stat, Period: r.step})
			}
		}
	}
	return qs
}

// zoneDims are the dimensions of a load balancer's metrics in one zone.
func zoneDims(alb *Resource, zone string) map[string]string {
	return map[string]string{"LoadBalancer": alb.Dims["LoadBalancer"], "AvailabilityZone": zone}
}

// zoneSeries returns a load balancer's series for a metric in one zone.
func (r *run) zoneSeries(ctx context.Context, alb, zone string, s metricSpec) (Series, bool) {
	all, ok := get(ctx, r, "metrics", r.metrics)
	if !ok {
		return Series{}, false
	}
	ser, ok := all[zoneKey(alb, zone, s)]
	return ser, ok && len(ser.Values) > 0
}

// zoneCandidates turns the peers that fail together in one zone into a
// candidate on the zone, which takes their findings; cands are the check's
// candidates by host, from which the members' are removed.
func (r *run) zoneCandidates(ctx context.Context, cands map[string]*candidate) ([]*candidate, []*finding) {
	zones := map[string]*candidate{}
	var order []string
	var findings []*finding
	var taken []string
	for _, hosts := range r.g.peerGroups() {
		failing := map[string]bool{}
		for _, h := range hosts {
			if c := cands[h]; c != nil && c.score >= zoneFailScore {
				failing[h] = true
			}
		}
		zf, ok := failingZone(r.g, hosts, failing)
		if !ok {
			continue
		}
		z := zones[zf.zone]
		if z == nil {
			z = &candidate{cause: CauseComponent, resource: zf.zone, apart: true}
			zones[zf.zone] = z
			order = append(order, zf.zone)
		}
		for _, h := range zf.failing {
			if slices.Contains(z.members, h) {
				continue
			}
			z.members = append(z.members, h)
			c := cands[h]
			z.score = noisyOr(z.score, c.score)
			z.evidence = appendUnique(z.evidence, c.evidence...)
			taken = append(taken, h)
		}
		f := &finding{Finding: Finding{
			Kind: FindingMetric, Check: CheckComponent, Resource: zf.zone, Time: r.onset,
			Summary: fmt.Sprintf("every peer in %s fails since %s (%s) while those in %s show nothing (%s): what the failing ones share is their zone",
				zf.zone, Clock(r.onset), strings.Join(zf.failing, ", "), strings.Join(zf.others, " and "), strings.Join(zf.healthy, ", ")),
		}, weight: 0.85}
		findings = append(findings, f)
		z.evidence = appendUnique(z.evidence, f)
	}
	for _, h := range taken {
		delete(cands, h)
	}
	var out []*candidate
	for _, zone := range order {
		z := zones[zone]
		sort.Strings(z.members)
		for _, alb := range r.zoneALBs(z.members) {
			if f := r.zoneMetricFinding(ctx, alb, zone); f != nil {
				findings = append(findings, f)
				z.evidence = appendUnique(z.evidence, f)
				z.score = noisyOr(z.score, 0.4)
			}
		}
		z.actions, z.prevention = zoneActions(r, zone, z.members)
		out = append(out, z)
	}
	return out, findings
}

// zoneALBs are the load balancers that serve from the members.
func (r *run) zoneALBs(members []string) []string {
	var out []string
	for _, h := range members {
		for _, a := range r.g.albsServing(h) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// zoneMetricFinding reads a load balancer's failures and response time per
// zone: the first of them that moved in the zone alone says so. With
// cross-zone load balancing on (an ALB's default) a zone's series counts
// what its load balancer node sent to every zone, so series that moved
// alike everywhere say nothing either way.
func (r *run) zoneMetricFinding(ctx context.Context, alb, zone string) *finding {
	base, during := r.metricBaseline(), r.metricDuring()
	for _, spec := range zoneSpecs() {
		s, ok := r.zoneSeries(ctx, alb, zone, spec)
		if !ok {
			continue
		}
		a, ok := seriesAnomaly(s, spec, base, during)
		if !ok || a.z < anomalyZ {
			continue
		}
		var others []string
		alone := true
		for _, z := range r.g.zonesOf(alb) {
			if z == zone {
				continue
			}
			os, ok := r.zoneSeries(ctx, alb, z, spec)
			if !ok {
				continue
			}
			oa, ok := seriesAnomaly(os, spec, base, during)
			if !ok || oa.z >= anomalyZ {
				alone = false
				break
			}
			others = append(others, fmt.Sprintf("%s %s", z, num(oa.during)))
		}
		if !alone || len(others) == 0 {
			continue
		}
		unit := r.unit(alb, spec)
		start, end := r.linkWindow()
		link := MetricLink(r.alarmDef.Region, Metric{Namespace: spec.Namespace, Name: spec.Name, Dims: zoneDims(r.g.byID[alb], zone)}, spec.Stat, r.step, start, end)
		return &finding{Finding: Finding{
			Kind: FindingMetric, Check: CheckComponent, Resource: alb, Time: r.onset,
			Summary: fmt.Sprintf("%s %s in %s rose to %s%s since %s (%s before), while in the other zones it stays where it was: %s",
				alb, spec.Name, zone, num(a.during), unitSuffix(unit), Clock(r.onset), num(a.before), strings.Join(others, ", ")),
			Before: ptr(a.before), During: ptr(a.during), Unit: unit,
			Link: link,
		}, weight: 0.8, series: zoneKey(alb, zone, spec), spec: spec}
	}
	return nil
}

// zoneID is how a zonal shift names a zone: by its AZ ID (use1-az2), which
// differs from account to account for one name. The members' own, when the
// topology read it; else a command that looks it up.
func zoneID(r *run, zone string, members []string) string {
	for _, h := range members {
		if res := r.g.byID[h]; res != nil && res.Config["az_id"] != "" {
			return res.Config["az_id"]
		}
	}
	return fmt.Sprintf("$(aws ec2 describe-availability-zones --zone-names %s --query 'AvailabilityZones[0].ZoneId' --output text)", zone)
}

// zoneActions are the moves for a failing zone: shift traffic away from it
// at the load balancer, or take its members out.
func zoneActions(r *run, zone string, members []string) ([]Action, []string) {
	albs := r.zoneALBs(members)
	list := strings.Join(members, ", ")
	var exclude Action
	if len(albs) > 0 {
		alb := albs[0]
		arn := "<ARN of " + alb + ">"
		if res := r.g.byID[alb]; res != nil && res.ARN != "" {
			arn = res.ARN
		}
		exclude = Action{ActionExclude, fmt.Sprintf("Shift %s's traffic away from %s with a zonal shift: aws arc-zonal-shift start-zonal-shift --resource-identifier %s --away-from %s --expires-in 2h --comment \"%s impaired\" (the load balancer needs its zonal_shift.config.enabled attribute on); or deregister its targets in %s (%s)",
			alb, zone, arn, zoneID(r, zone, members), zone, zone, list)}
	} else {
		exclude = Action{ActionExclude, fmt.Sprintf("Take %s out of service: stop sending work to its members (%s) while the other zones carry the load", zone, list)}
	}
	scale := Action{ActionScale, fmt.Sprintf("Give the other zones the capacity to carry %s's share: raise the desired capacity where they run, and keep new instances out of %s until it recovers", zone, zone)}
	if grp := r.g.group(members[0]); grp != "" {
		scale.Detail = fmt.Sprintf("Give the other zones the capacity to carry %s's share: raise %s's desired capacity (or start a zonal shift on it too, so it launches outside %s)", zone, grp, zone)
	}
	prevention := []string{
		"Turn on zonal autoshift for the load balancer (a practice run configuration, then aws arc-zonal-shift update-zonal-autoshift-configuration --zonal-autoshift-status ENABLED), so AWS moves traffic away from an impaired zone by itself",
		"Alarm on errors and latency per Availability Zone (the load balancer's metrics by AvailabilityZone, or per-instance errors grouped by zone), not only on the total",
		"Keep enough capacity in the other zones to lose one (static stability), so shifting away costs nothing",
	}
	return []Action{exclude, scale}, prevention
}
