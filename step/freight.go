package step

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
	"github.com/argo-refs/argo-refs/step/kargo"
	"github.com/argo-refs/argo-refs/step/target"
)

// Errors SelectFreightCommit wraps; both are terminal.
var (
	// ErrNoFreightCommit means the Freight carries no commit of the GitOps
	// repository.
	ErrNoFreightCommit = errors.New("no GitOps commit in the Freight")
	// ErrAmbiguousFreightCommit means the Freight carries several distinct
	// commits of the GitOps repository and the config names none.
	ErrAmbiguousFreightCommit = errors.New("several GitOps commits in the Freight")
	// ErrBadCommitID means a commit SHA is not 40 hex digits.
	ErrBadCommitID = errors.New("not a full commit SHA")
)

// SelectFreightCommit picks the GitOps commit that holds the release. An
// explicit commit wins (it must be 40 hex digits). Otherwise it is the one
// distinct GitCommit in freight whose repoURL equals repoURL once both are
// normalised (scheme, host case, trailing "/" and ".git" ignored), looking
// only at Freight from origin Warehouse/<warehouse> when warehouse is set.
// The result is lower-case. Every error is terminal.
func SelectFreightCommit(repoURL, warehouse, explicit string, freight kargo.FreightCollection) (string, error) {
	if explicit != "" {
		if !isFullSHA(explicit) {
			return "", Terminal(fmt.Errorf("checking commit %q: %w (want 40 hex digits)", explicit, ErrBadCommitID))
		}
		return strings.ToLower(explicit), nil
	}
	want := normaliseRepoURL(repoURL)
	keys := make([]string, 0, len(freight.Items))
	for k := range freight.Items {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var candidates []string // distinct commit IDs, in first-seen order
	from := map[string][]string{}
	var seen []string
	for _, key := range keys {
		ref := freight.Items[key]
		if warehouse != "" && !fromWarehouse(key, ref, warehouse) {
			seen = append(seen, key+" (not Warehouse/"+warehouse+")")
			continue
		}
		matched := false
		for _, c := range ref.Commits {
			if normaliseRepoURL(c.RepoURL) != want {
				seen = append(seen, fmt.Sprintf("%s: commit %s of %s", key, shortSHA(c.ID), netpolicy.RedactURL(c.RepoURL)))
				continue
			}
			matched = true
			id := strings.ToLower(c.ID)
			if _, dup := from[id]; !dup {
				candidates = append(candidates, id)
			}
			from[id] = append(from[id], key)
		}
		if !matched && len(ref.Commits) == 0 {
			seen = append(seen, fmt.Sprintf("%s: no commits (%d images, %d charts)", key, len(ref.Images), len(ref.Charts)))
		}
	}
	scope := ""
	if warehouse != "" {
		scope = " from Warehouse/" + warehouse
	}
	switch len(candidates) {
	case 0:
		if len(seen) == 0 {
			seen = []string{"no Freight at all"}
		}
		return "", Terminal(fmt.Errorf("selecting the GitOps commit of %s%s: %w; seen: %s; set commit explicitly or fix repoURL",
			netpolicy.RedactURL(repoURL), scope, ErrNoFreightCommit, strings.Join(seen, "; ")))
	case 1:
		id := candidates[0]
		if !isFullSHA(id) {
			return "", Terminal(fmt.Errorf("selecting the GitOps commit of %s: Freight %s carries commit %q: %w",
				netpolicy.RedactURL(repoURL), strings.Join(from[id], ", "), id, ErrBadCommitID))
		}
		return id, nil
	default:
		list := make([]string, len(candidates))
		for i, id := range candidates {
			list[i] = fmt.Sprintf("%s (%s)", id, strings.Join(from[id], ", "))
		}
		return "", Terminal(fmt.Errorf("selecting the GitOps commit of %s%s: %w: %s; set commit (e.g. ${{ commitFrom(...).ID }}) or warehouse to choose",
			netpolicy.RedactURL(repoURL), scope, ErrAmbiguousFreightCommit, strings.Join(list, ", ")))
	}
}

// fromWarehouse reports whether a Freight item comes from Warehouse/name,
// by its origin or, when the origin is empty, by its collection key.
func fromWarehouse(key string, ref kargo.FreightReference, name string) bool {
	if ref.Origin.Kind != "" || ref.Origin.Name != "" {
		return ref.Origin.Kind == "Warehouse" && ref.Origin.Name == name
	}
	return key == "Warehouse/"+name
}

func isFullSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// normaliseRepoURL is the one repository URL comparison of the step (scheme,
// host case, trailing "/" and ".git"), shared with the target editors.
func normaliseRepoURL(raw string) string { return target.NormalizeRepoURL(raw) }

// freightNameOf is the name of the Freight in the collection that carries
// commit of repoURL, or "" when none does (a commit given explicitly).
func freightNameOf(commit, repoURL string, freight kargo.FreightCollection) string {
	want := normaliseRepoURL(repoURL)
	keys := slices.Sorted(maps.Keys(freight.Items))
	for _, k := range keys {
		ref := freight.Items[k]
		for _, c := range ref.Commits {
			if strings.EqualFold(c.ID, commit) && normaliseRepoURL(c.RepoURL) == want {
				return ref.Name
			}
		}
	}
	return ""
}
