package investigate

import (
	"regexp"
	"sort"
	"strings"
)

// ClosestNames returns up to n names of list closest to name by edit
// distance, letter case aside, for "not found, did you mean…" messages.
// A name listed twice (in any case) is returned once, as first listed.
func ClosestNames(name string, list []string, n int) []string {
	type c struct {
		s string
		d int
	}
	low := strings.ToLower(name)
	seen := make(map[string]bool, len(list))
	cs := make([]c, 0, len(list))
	for _, s := range list {
		l := strings.ToLower(s)
		if seen[l] {
			continue
		}
		seen[l] = true
		cs = append(cs, c{s, EditDistance(low, l)})
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].s < cs[j].s
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].s)
	}
	return out
}

// EditDistance is the optimal string alignment distance between a and b,
// by runes: an insertion, a deletion, a substitution and a transposition of
// neighbours count 1 each.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the one before the previous, for transpositions.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// regionRe is the shape of an AWS region's name: us-east-1,
// us-gov-west-1, us-isob-east-1.
var regionRe = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$`)

// ValidRegion reports whether s has the shape of an AWS region's name.
func ValidRegion(s string) bool { return regionRe.MatchString(s) }
