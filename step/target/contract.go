package target

// The kustomize deploy-wrapper contract of the code-dot-org plan: a
// machine-owned apps/<app>/deployments/<d>/deploy/kustomization.yaml whose
// namespace comes from the deployment's deployment.yaml, whose one
// components entry is ../…/envTypes/<envType> from the same file, whose one
// resources entry is the source base at ?ref=<gitCommit>, and whose one
// images entry (name code-dot-org) has newName the record's repository and
// newTag git-<sha>. Every other field is policy the step leaves alone; a
// strict edit refuses a wrapper that has any.

import (
	"fmt"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// WrapperContract is what the contract takes from the deployment's
// metadata and the record, beyond KustomizeEdit's ref and tag.
type WrapperContract struct {
	// Namespace and EnvType come from the deployment's deployment.yaml.
	Namespace, EnvType string
	// NewName is the record's image repository.
	NewName string
	// Strict refuses top-level fields other than the contract's, and an
	// apiVersion or kind other than kustomize.config.k8s.io/v1beta1
	// Kustomization.
	Strict bool
}

// contractKeys are the top-level fields of a wrapper; the last four are
// the step's.
var contractKeys = []string{"apiVersion", "kind", "namespace", "resources", "components", "images"}

// ReadDeploymentMeta returns envType and namespace from a deployment.yaml.
func ReadDeploymentMeta(in []byte) (envType, namespace string, err error) {
	docs, err := parseDocs(in)
	if err != nil {
		return "", "", err
	}
	if len(docs) == 0 || len(docs[0].Content) == 0 || docs[0].Content[0].Kind != yaml.MappingNode {
		return "", "", fmt.Errorf("reading deployment metadata: not a mapping: %w", ErrNotFound)
	}
	for _, k := range []struct {
		name string
		to   *string
	}{{"envType", &envType}, {"namespace", &namespace}} {
		n, err := mapValue(docs[0].Content[0], k.name)
		if err != nil {
			return "", "", fmt.Errorf("reading deployment metadata: %w", err)
		}
		if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" || strings.ContainsAny(n.Value, "/\\ \t") || n.Value == "." || n.Value == ".." {
			return "", "", fmt.Errorf("reading deployment metadata: %s: want a single name, found %s: %w", k.name, describe(n), ErrNotFound)
		}
		*k.to = n.Value
	}
	return envType, namespace, nil
}

func describe(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "a " + kindName(n)
}

// applyContract sets namespace, components[0] and images[0].newName of a
// wrapper whose resources[] and images[] have been edited, after checking
// that each owned list has exactly one entry. It returns the changes.
func applyContract(in []byte, c WrapperContract, imageIndex int) ([]byte, []Change, error) {
	docs, err := parseDocs(in)
	if err != nil {
		return nil, nil, err
	}
	root := docs[0].Content[0]
	if c.Strict {
		if err := checkStrict(root); err != nil {
			return nil, nil, err
		}
	}
	for _, key := range []string{"resources", "components", "images"} {
		seq, err := rootSequence(docs, key)
		if err != nil {
			return nil, nil, fmt.Errorf("applying the wrapper contract: %w", err)
		}
		if len(seq.Content) != 1 {
			return nil, nil, fmt.Errorf("applying the wrapper contract: %s has %d entries, the contract is exactly one (the wrapper is machine-owned: reseed it with the documented shape): %w", key, len(seq.Content), ErrUnsupported)
		}
	}
	comps, _ := rootSequence(docs, "components")
	cur := comps.Content[0]
	if cur.Kind != yaml.ScalarNode || path.Base(path.Dir(cur.Value)) != "envTypes" {
		return nil, nil, fmt.Errorf("applying the wrapper contract: components[0] is %s, want <relative path>/envTypes/<envType>: %w", describe(cur), ErrUnsupported)
	}
	var changes []Change
	out := in
	for _, set := range []struct {
		path  []pathElem
		value string
	}{
		{[]pathElem{{key: "namespace"}}, c.Namespace},
		{[]pathElem{{key: "components"}, {index: 0, isIndex: true}}, path.Join(path.Dir(cur.Value), c.EnvType)},
		{[]pathElem{{key: "images"}, {index: imageIndex, isIndex: true}, {key: "newName"}}, c.NewName},
	} {
		var ch Change
		if out, ch, err = setAt(out, 0, set.path, set.value); err != nil {
			return nil, nil, fmt.Errorf("applying the wrapper contract: %w", err)
		}
		changes = append(changes, ch)
	}
	return out, changes, nil
}

// checkStrict refuses fields the contract does not have.
func checkStrict(root *yaml.Node) error {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		known := false
		for _, c := range contractKeys {
			known = known || k.Value == c
		}
		if !known {
			return fmt.Errorf("strict wrapper contract: top-level field %q (line %d) is not the contract's (%s): %w", k.Value, k.Line, strings.Join(contractKeys, ", "), ErrUnsupported)
		}
		want := map[string]string{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}[k.Value]
		if want != "" && (v.Kind != yaml.ScalarNode || v.Value != want) {
			return fmt.Errorf("strict wrapper contract: %s is %s, want %q: %w", k.Value, describe(v), want, ErrUnsupported)
		}
	}
	return nil
}
