package investigate

import (
	"context"
	"fmt"
)

// checkNotes turns what people said in the thread into findings: they are
// shown and given to a model, but the offline ranking does not rest on them.
func checkNotes(_ context.Context, r *run) result {
	var res result
	for _, n := range r.notes {
		res.findings = append(res.findings, &finding{Finding: Finding{
			Kind: FindingNote, Check: CheckNotes, Time: n.Time,
			Summary: fmt.Sprintf("%s said in the thread: %q", n.Author, n.Text),
		}, weight: 0.1})
	}
	return res
}
