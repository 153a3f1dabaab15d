package investigate

import (
	"context"
	"fmt"
	"slices"
)

// The limits of what hosts stand on without calling it by name: a NAT
// gateway's ports, an EBS volume's IOPS.

// natPortsPerDestination is how many connections a NAT gateway holds to one
// destination (address, port, protocol) at once, per address it has.
const natPortsPerDestination = 55000

// limitHitMeaning says what a rise of a roleLimitHit metric means, after
// the numbers.
func (r *run) limitHitMeaning(ctx context.Context, rs *Resource, spec metricSpec) string {
	switch rs.Type {
	case TypeNATGateway:
		per := fmt.Sprintf("a NAT gateway holds at most %s connections to one destination at once for each of its addresses", num(natPortsPerDestination))
		if v := rs.Config["connections_per_destination"]; v != "" {
			per = fmt.Sprintf("%s holds at most %s connections to one destination at once", rs.ID, v)
		}
		s := fmt.Sprintf(": new connections out found no free port (%s)", per)
		for _, o := range catalog[rs.Type] {
			if o.Name != "ActiveConnectionCount" {
				continue
			}
			if ser, ok := r.series(ctx, rs.ID, o); ok {
				sh := r.shiftOf(ser, o)
				s += fmt.Sprintf("; %s active connections at the peak (%s before)", num(sh.peak), num(sh.before))
			}
		}
		return s
	case TypeEBS:
		if b := rs.Config["baseline_iops"]; b != "" {
			return fmt.Sprintf(": the instance asks the volume for more IOPS than it delivers (%s without burst)", b)
		}
		return ": the instance asks the volume for more IOPS than it delivers"
	}
	return ""
}

// creditsMeaning says what a balance of credits at zero holds the resource
// to.
func creditsMeaning(rs *Resource) string {
	if rs.Type == TypeEBS {
		if b := rs.Config["baseline_iops"]; b != "" {
			return fmt.Sprintf("the volume is held to its baseline of %s IOPS", b)
		}
		return "the volume is held to its baseline IOPS"
	}
	return "the instance is held to its baseline CPU"
}

// infraLimitActions are the first moves for a NAT gateway or an EBS volume
// at its limit: relief that works within minutes first.
func infraLimitActions(r *run, id string) ([]Action, []string, bool) {
	rs := r.g.byID[id]
	conf := map[string]string{}
	if rs != nil && rs.Config != nil {
		conf = rs.Config
	}
	switch r.g.typeOf(id) {
	case TypeSNS, TypeStepFunctions:
		actions, prevention := handoffLimitActions(r, id)
		return actions, prevention, true
	case TypeAurora:
		actions, prevention := auroraLimitActions(r, id, conf)
		return actions, prevention, true
	case TypeRDS:
		if conf["db_cluster"] == "" {
			return nil, nil, false
		}
		actions, prevention := auroraMemberLimitActions(r, id, conf)
		return actions, prevention, true
	case TypeElastiCache:
		actions, prevention := cacheLimitActions(r, id, conf)
		return actions, prevention, true
	case TypeNATGateway:
		// A public gateway's ports are per Elastic IP address, a private
		// one's per private address.
		more := "associate secondary Elastic IP addresses with it (aws ec2 associate-nat-gateway-address)"
		if conf["connectivity_type"] == "private" {
			more = "assign it secondary private IPv4 addresses (aws ec2 assign-private-nat-gateway-address)"
		}
		return []Action{
				{ActionScale, fmt.Sprintf("Give %s more ports: %s, each adding %s connections per destination; add a NAT gateway per Availability Zone for the subnets behind it, and spread the calls across the destination's addresses", id, more, num(natPortsPerDestination))},
				{ActionScale, fmt.Sprintf("Meanwhile make the hosts behind %s reuse their connections (keep-alive, a bounded connection pool) instead of opening one per call", id)},
			},
			[]string{
				fmt.Sprintf("Alarm on %s ErrorPortAllocation above 0 and on ActiveConnectionCount", id),
				"Send calls to AWS services through VPC endpoints so they skip the NAT gateway, and pool connections to third parties",
			}, true
	case TypeEBS:
		base := or(conf["baseline_iops"], "?")
		return []Action{
				{ActionScale, fmt.Sprintf("Move %s to gp3 with provisioned IOPS above what the instance asks of it (aws ec2 modify-volume --volume-type gp3 --iops 3000 or more; it applies while attached, and gp3 holds its IOPS without burst credits; its baseline is now %s IOPS)", id, base)},
				{ActionScale, fmt.Sprintf("Meanwhile move the I/O that can wait (batch jobs, backups, log shipping) off %s", or(conf["instance"], "its instance"))},
			},
			[]string{
				fmt.Sprintf("Alarm on %s BurstBalance below 20%%, long before it reaches zero", id),
				"Size volumes for the sustained I/O, not the burst: gp3 with provisioned IOPS, or gp2 large enough that its baseline covers the load",
			}, true
	}
	return nil, nil, false
}

// gatewayFailures lets a NAT gateway at its limit take the failures of the
// calls out through it: an external dependency that fails for the hosts
// behind a gateway out of ports is that gateway's limit, not the
// dependency's failure.
func (r *run) gatewayFailures(cands []*candidate) {
	for _, l := range cands {
		if l.cause != CauseLimit || r.g.typeOf(l.resource) != TypeNATGateway {
			continue
		}
		for _, d := range cands {
			if d.cause == CauseDependency && d.change == nil && r.throughGateway(l.resource, d.resource) {
				l.takeFrom(d, 0.8, 0.5)
			}
		}
	}
}

// throughGateway reports whether calls to dep leave through a NAT gateway:
// dep is outside AWS and a service that calls it runs on a host that uses
// the gateway.
func (r *run) throughGateway(nat, dep string) bool {
	if r.g.typeOf(dep) != TypeExternal {
		return false
	}
	for _, caller := range r.g.related(dep, RelCalls, false) {
		for _, h := range append(r.g.hosts(caller), caller) {
			if slices.Contains(r.g.related(h, RelUses, true), nat) {
				return true
			}
		}
	}
	return false
}

// competes reports whether d's work can take from the alarm's path what they
// share. A NAT gateway's ports are counted per destination: a host behind
// it takes ports from the alarm's path only when its services call one of
// the same addresses outside AWS.
func (r *run) competes(d, shared string, path map[string]bool) bool {
	if r.g.typeOf(shared) != TypeNATGateway {
		return true
	}
	theirs := map[string]bool{}
	for _, s := range append(r.g.servicesOn(d), d) {
		for _, c := range r.g.callees(s) {
			theirs[c] = true
		}
	}
	for _, h := range r.g.related(shared, RelUses, false) {
		if !path[h] {
			continue
		}
		for _, s := range append(r.g.servicesOn(h), h) {
			for _, c := range r.g.callees(s) {
				if theirs[c] && r.g.typeOf(c) == TypeExternal {
					return true
				}
			}
		}
	}
	return false
}
