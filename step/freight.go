package step

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/argo-refs/argo-refs/step/kargo"
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
				seen = append(seen, fmt.Sprintf("%s: commit %s of %s", key, shortSHA(c.ID), redactURL(c.RepoURL)))
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
			redactURL(repoURL), scope, ErrNoFreightCommit, strings.Join(seen, "; ")))
	case 1:
		id := candidates[0]
		if !isFullSHA(id) {
			return "", Terminal(fmt.Errorf("selecting the GitOps commit of %s: Freight %s carries commit %q: %w",
				redactURL(repoURL), strings.Join(from[id], ", "), id, ErrBadCommitID))
		}
		return id, nil
	default:
		list := make([]string, len(candidates))
		for i, id := range candidates {
			list[i] = fmt.Sprintf("%s (%s)", id, strings.Join(from[id], ", "))
		}
		return "", Terminal(fmt.Errorf("selecting the GitOps commit of %s%s: %w: %s; set commit (e.g. ${{ commitFrom(...).ID }}) or warehouse to choose",
			redactURL(repoURL), scope, ErrAmbiguousFreightCommit, strings.Join(list, ", ")))
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

// normaliseRepoURL reduces a Git repository URL to host and path so that
// https://Host/org/repo.git/, http://host/org/repo and git@host:org/repo
// compare equal: the scheme, user information, default ports, host case and
// trailing "/" and ".git" are dropped. The path's case is kept.
func normaliseRepoURL(raw string) string {
	s := strings.TrimSpace(raw)
	var host, p string
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		host = strings.ToLower(u.Hostname())
		if port := u.Port(); port != "" && !(port == "443" && strings.EqualFold(u.Scheme, "https")) &&
			!(port == "80" && strings.EqualFold(u.Scheme, "http")) && !(port == "22" && strings.EqualFold(u.Scheme, "ssh")) {
			host += ":" + port
		}
		p = u.Path
	} else if at, colon := strings.Index(s, "@"), strings.Index(s, ":"); at >= 0 && colon > at && !strings.Contains(s[:colon], "/") {
		// scp-like: user@host:org/repo
		host = strings.ToLower(s[at+1 : colon])
		p = "/" + s[colon+1:]
	} else {
		return strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	}
	for {
		trimmed := strings.TrimSuffix(strings.TrimRight(p, "/"), ".git")
		if trimmed == p {
			break
		}
		p = trimmed
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return host + p
}
