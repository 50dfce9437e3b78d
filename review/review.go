package review

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/argo-refs/argo-refs/internal/udiff"
)

// The operations a change is.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Change is one resource that differs between the two renders.
type Change struct {
	// Resource is kind/namespace/name (kind/name without a namespace).
	Resource  string `json:"resource"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Op        string `json:"op"`
	// Diff is the unified diff of the resource, Secret values masked.
	Diff string `json:"diff"`
	// SecretKeys lists a Secret's data and stringData keys that changed
	// (their values are never shown).
	SecretKeys []string `json:"secretKeys,omitempty"`
}

// ImageChange is one container whose image moves.
type ImageChange struct {
	Resource  string `json:"resource"`
	Container string `json:"container"`
	Old       string `json:"old,omitempty"`
	New       string `json:"new,omitempty"`
}

// ValueChange is a value of one resource that moves (replicas).
type ValueChange struct {
	Resource string `json:"resource"`
	Old      string `json:"old,omitempty"`
	New      string `json:"new,omitempty"`
}

// Summary counts the changes and names those a reviewer looks for first.
type Summary struct {
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	// Kinds counts the added, removed and changed resources per kind.
	Kinds map[string]int `json:"kinds,omitempty"`
	// Images are the containers whose image moves.
	Images []ImageChange `json:"images,omitempty"`
	// Replicas are the resources whose spec.replicas moves.
	Replicas []ValueChange `json:"replicas,omitempty"`
	// ComputeResources names the containers whose requests or limits move.
	ComputeResources []string `json:"computeResources,omitempty"`
}

// Review is the comparison of two renders.
type Review struct {
	Changes []Change `json:"changes"`
	Summary Summary  `json:"summary"`
}

// Compare reads two renders (YAML streams) and compares them resource by
// resource, in the order of their keys.
func Compare(oldStream, newStream string) (*Review, error) {
	olds, err := parseStream(oldStream)
	if err != nil {
		return nil, fmt.Errorf("the current render: %w", err)
	}
	news, err := parseStream(newStream)
	if err != nil {
		return nil, fmt.Errorf("the new render: %w", err)
	}
	byKey := func(rs []resource) map[string]resource {
		m := make(map[string]resource, len(rs))
		for _, r := range rs {
			m[r.key] = r
		}
		return m
	}
	om, nm := byKey(olds), byKey(news)
	keys := map[string]bool{}
	for k := range om {
		keys[k] = true
	}
	for k := range nm {
		keys[k] = true
	}
	rv := &Review{Changes: []Change{}, Summary: Summary{Kinds: map[string]int{}}}
	for _, k := range slices.Sorted(mapKeys(keys)) {
		o, inOld := om[k]
		n, inNew := nm[k]
		ref := n
		if !inNew {
			ref = o
		}
		c := Change{Resource: k, Kind: ref.kind, Namespace: ref.ns, Name: ref.name}
		var oldObj, newObj map[string]any
		if inOld {
			oldObj = o.obj
		}
		if inNew {
			newObj = n.obj
		}
		if inOld && inNew && reflect.DeepEqual(oldObj, newObj) {
			rv.Summary.Unchanged++
			continue
		}
		rv.Summary.images(k, oldObj, newObj)
		if isSecret(ref) {
			c.SecretKeys = maskSecrets(oldObj, newObj)
		}
		var ob, nb []byte
		switch {
		case !inOld:
			c.Op, nb = Added, marshal(newObj)
			rv.Summary.Added++
		case !inNew:
			c.Op, ob = Removed, marshal(oldObj)
			rv.Summary.Removed++
		default:
			c.Op, ob, nb = Changed, marshal(oldObj), marshal(newObj)
			rv.Summary.Changed++
		}
		rv.Summary.Kinds[ref.kind]++
		if c.Diff, err = resourceDiff(k, ob, nb); err != nil {
			return nil, err
		}
		rv.Changes = append(rv.Changes, c)
	}
	return rv, nil
}

// resourceDiff is the unified diff of one resource, without git's
// "diff --git" and "index" lines.
func resourceDiff(key string, old, new []byte) (string, error) {
	d, err := udiff.Unified([]udiff.File{{Path: key, Old: old, New: new}})
	if err != nil {
		return "", err
	}
	var keep []string
	for _, l := range strings.SplitAfter(d, "\n") {
		if strings.HasPrefix(l, "diff --git ") || strings.HasPrefix(l, "index ") ||
			strings.HasPrefix(l, "new file mode") || strings.HasPrefix(l, "deleted file mode") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, ""), nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
