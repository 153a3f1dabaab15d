package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/unstuck/unstuck/investigate"
)

// Investigator runs one investigation; *investigate.Engine is one.
type Investigator interface {
	Run(ctx context.Context, req investigate.Request, progress func(investigate.Event)) (investigate.Report, error)
}

// Querier answers follow-up questions from the same sources the engine
// reads; *investigate.Querier is one. It is investigate.FollowUpQuerier,
// which a model's tools read through too, under the name a Backend uses.
type Querier = investigate.FollowUpQuerier

// AlarmFinder finds the alarm an /investigate argument names: an alarm's
// name, or a resource an alarm watches. An unknown name is an error
// wrapping *investigate.NotFoundError, with the closest names.
type AlarmFinder interface {
	FindAlarm(ctx context.Context, ref string) (investigate.Alarm, error)
}

// Backend is what investigations in one channel read: one account, role and
// region.
type Backend struct {
	Investigator Investigator
	Querier      Querier
	Alarms       AlarmFinder
}

// Backends gives the backend for a channel's access settings and a region
// ("" for the channel's default).
type Backends interface {
	Backend(ctx context.Context, ch Channel, region string) (Backend, error)
}

// OneBackend serves every channel from the same backend (the simulator, or
// one AWS account).
type OneBackend Backend

// Backend implements Backends.
func (o OneBackend) Backend(context.Context, Channel, string) (Backend, error) {
	return Backend(o), nil
}

// ResourceAlarms finds the alarm that watches a resource: the one in
// ALARM, else the one whose state changed last. A resource it does not
// know, or one no alarm watches, is an error wrapping
// *investigate.NotFoundError. *awstelemetry.Session is one.
type ResourceAlarms interface {
	AlarmForResource(ctx context.Context, resource string) (investigate.Alarm, error)
}

// KnownAlarms finds alarms by name through Alarms, and a resource through
// the topology around each of Names (the alarms it knows of), then through
// Resources when set (an account, whose alarms it need not know by name).
type KnownAlarms struct {
	Alarms    investigate.AlarmSource
	Querier   Querier
	Names     []string
	Resources ResourceAlarms
}

// FindAlarm implements AlarmFinder.
func (k KnownAlarms) FindAlarm(ctx context.Context, ref string) (investigate.Alarm, error) {
	if k.Alarms == nil {
		return investigate.Alarm{}, errors.New("no alarm source")
	}
	a, err := k.Alarms.Alarm(ctx, ref)
	if err == nil {
		return a, nil
	}
	var nf *investigate.NotFoundError
	if !errors.As(err, &nf) {
		return investigate.Alarm{}, err
	}
	var resources []string
	for _, name := range k.Names {
		al, aerr := k.Alarms.Alarm(ctx, name)
		if aerr != nil {
			continue
		}
		if strings.EqualFold(al.Resource, ref) {
			return al, nil
		}
		if k.Querier == nil {
			continue
		}
		topo, terr := k.Querier.Topology(ctx, al)
		if terr != nil {
			continue
		}
		if _, ok := topo.Find(ref); ok {
			return al, nil
		}
		for _, r := range topo.Resources {
			resources = append(resources, r.ID)
		}
	}
	out := &investigate.NotFoundError{Kind: "alarm or resource", Name: ref, Candidates: nf.Candidates, Region: nf.Region, Account: nf.Account}
	if k.Resources != nil {
		al, rerr := k.Resources.AlarmForResource(ctx, ref)
		if rerr == nil {
			return al, nil
		}
		var rnf *investigate.NotFoundError
		if !errors.As(rerr, &rnf) {
			return investigate.Alarm{}, fmt.Errorf("%s is no alarm, and the alarms watching a resource of that name could not be read: %w", ref, rerr)
		}
		resources = append(resources, rnf.Candidates...)
	}
	out.Candidates = append(out.Candidates, investigate.ClosestNames(ref, resources, 3)...)
	return investigate.Alarm{}, out
}

// SourcesBackend is a Backend over one set of sources: the engine with
// opts, a querier, and the alarms it knows of by name (to find the alarm
// of a resource).
func SourcesBackend(src investigate.Sources, opts investigate.Options, known []string) Backend {
	q := investigate.NewQuerier(src)
	return Backend{
		Investigator: investigate.New(src, opts),
		Querier:      q,
		Alarms:       KnownAlarms{Alarms: src.Alarms, Querier: q, Names: known},
	}
}
