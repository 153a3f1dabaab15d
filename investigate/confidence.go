package investigate

import "math"

// LikelyCause is the confidence from which a hypothesis is worded as the
// likely cause rather than a possible one; between ClearCause and it the
// report names a cause but hedges. It is a bin edge of the evaluation's
// reliability table (eval.binEdges), so the wording can be checked against
// how often the engine is right there.
const LikelyCause = 0.65

// ConfidenceWord puts a hypothesis's confidence into the word every text
// about it uses: "likely" from LikelyCause, "possible" from ClearCause,
// "unclear" below it (where the report says nothing stands out) and for a
// confidence that is not a number.
func ConfidenceWord(p float64) string {
	switch {
	case math.IsNaN(p) || p < ClearCause:
		return "unclear"
	case p < LikelyCause:
		return "possible"
	}
	return "likely"
}
