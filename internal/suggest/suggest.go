// Package suggest finds the name a person probably meant when they typed one
// that does not exist: a config key, a flag, a command. It is the one
// "did you mean" rule, so that every place suggests alike.
package suggest

import "strings"

// Closest returns the candidate closest to name when it is a plausible
// typo: equal but for case, or at most two edits away (one for names of up
// to four characters). ok is false when none is close enough.
func Closest(name string, candidates []string) (best string, ok bool) {
	bestDist := 1 << 30
	for _, c := range candidates {
		d := Distance(strings.ToLower(c), strings.ToLower(name))
		if strings.EqualFold(c, name) {
			d = 0
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	if best == "" || bestDist > limit {
		return "", false
	}
	return best, true
}

// Distance is the Levenshtein distance between a and b, in runes; strings
// longer than 64 runes are never close (the result is then very large).
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
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
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
