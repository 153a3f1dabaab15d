package investigate

import "context"

// Step names, as Event.Check and Finding.Check carry them.
const (
	CheckScope      = "scope"
	CheckOnset      = "onset"
	CheckChanges    = "changes"
	CheckTraffic    = "traffic"
	CheckLimits     = "limits"
	CheckComponent  = "component"
	CheckDependency = "dependency"
	CheckNotes      = "notes"
)

// Step is one step of an investigation as a person follows it.
type Step struct {
	// Name is the step's name in events and findings (Event.Check,
	// Finding.Check).
	Name string
	// Label is what a person reads for the step, in a status message.
	Label string
}

// check is one entry of the table of steps.
type check struct {
	Step
	// run is the check. The steps with none (scope, onset) are the ones
	// Run takes itself, before the checks, since every check needs them.
	run func(context.Context, *run) result
	// quiet marks a check that reports no progress events.
	quiet bool
}

// checks registers the steps of an investigation, in the order a status
// message lists them and their findings are numbered. The checks with a
// function run concurrently once the onset is known. Adding a check is its
// file (a func(context.Context, *run) result) and one line here.
var checks = []check{
	{Step: Step{CheckScope, "scope"}},
	{Step: Step{CheckOnset, "onset"}},
	{Step: Step{CheckChanges, "changes"}, run: checkChanges},
	{Step: Step{CheckTraffic, "traffic"}, run: checkTraffic},
	{Step: Step{CheckLimits, "limits"}, run: checkLimits},
	{Step: Step{CheckComponent, "component"}, run: checkComponent},
	{Step: Step{CheckDependency, "dependency"}, run: checkDependency},
	{Step: Step{CheckNotes, "notes"}, run: checkNotes, quiet: true},
}

// Steps returns the steps that report progress events, in the order a
// status message lists them.
func Steps() []Step {
	var out []Step
	for _, c := range checks {
		if !c.quiet {
			out = append(out, c.Step)
		}
	}
	return out
}
