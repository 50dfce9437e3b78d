// Package examples_test checks that every manifest under examples/ parses,
// that every argo-refs step config in it is valid once Kargo has evaluated
// its expressions, and that the pieces fit together: Stages, Warehouse,
// ProjectConfig, ApplicationSet, GitOps files, the kargo-extended plugin and
// ConfigMap, the Akuity custom steps and the GitHub Actions workflow.
package examples_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// pluginImage is the image every example runs.
const pluginImage = "ghcr.io/argo-refs/argo-refs:v0.1.0"

// Plausible values Kargo (or GitHub Actions) would substitute. Each is
// distinct, so a test can tell from a value which expression produced it.
const (
	freightCommit = "5b1e0f7c3a9d4e2f8a6b0c1d2e3f4a5b6c7d8e9f" // the GitOps commit the Freight carries
	sourceCommit  = "9fceb02d0ae598e95dc970b74767f19372d61af8" // the release's source commit
	pushedCommit  = "c3ab8ff13720e8ad9047dd39466b3c8974e592c2" // what argo-refs-promote pushed
	mergeCommit   = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" // the review PR's merge commit
	imageDigest   = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	promotionName = "production.01jexample.abc1234"
	prNumber      = 42
)

// kargoBuiltinKinds are the step kinds Kargo v1.11 ships (and two it used to
// ship); a plugin step kind must not collide with any of them.
var kargoBuiltinKinds = []string{
	"argocd-update", "argocd-wait", "compose-output", "copy", "delete", "fail",
	"file-write", "git-clear", "git-clone", "git-commit", "git-merge-pr",
	"git-open-pr", "git-push", "git-tag", "git-wait-for-pr", "github-push",
	"helm-template", "helm-update-chart", "http", "http-download", "json-parse",
	"json-update", "kustomize-build", "kustomize-set-image", "oci-download",
	"oci-push", "set-freight-alias", "set-metadata", "toml-parse", "toml-update",
	"untar", "yaml-merge", "yaml-parse", "yaml-update",
	"helm-update-image", "git-overwrite",
}

// replacedKinds are the built-ins one argo-refs step stands in for; a Stage
// using argo-refs must not still chain them.
var replacedKinds = []string{"git-clone", "yaml-parse", "yaml-update", "kustomize-set-image", "git-commit", "git-push"}

// ---------------------------------------------------------------------------
// Loading.

// doc is one YAML document of one example file.
type doc struct {
	path  string // slash-separated, relative to examples/
	index int    // position in a multi-document file
	obj   map[string]any
}

func (d doc) String() string {
	if d.index == 0 {
		return d.path
	}
	return fmt.Sprintf("%s (document %d)", d.path, d.index+1)
}

func (d doc) kind() string {
	av, _ := d.obj["apiVersion"].(string)
	k, _ := d.obj["kind"].(string)
	return av + " " + k
}

func (d doc) name() string { s, _ := dig(d.obj, "metadata", "name").(string); return s }

// variant is "helm" or "kustomize" for files of a layout, "" otherwise.
func (d doc) variant() string {
	first, _, _ := strings.Cut(d.path, "/")
	if first == "helm" || first == "kustomize" {
		return first
	}
	return ""
}

// parseDocs decodes every document of a YAML stream strictly: syntax errors,
// duplicate keys and empty documents are errors.
func parseDocs(name string, data []byte) ([]doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s document %d: %w", name, i+1, err)
		}
		if err := noDuplicateKeys(&n); err != nil {
			return nil, fmt.Errorf("parsing %s document %d: %w", name, i+1, err)
		}
		var obj map[string]any
		if err := n.Decode(&obj); err != nil {
			return nil, fmt.Errorf("decoding %s document %d as a mapping: %w", name, i+1, err)
		}
		if len(obj) == 0 {
			return nil, fmt.Errorf("%s document %d is empty", name, i+1)
		}
		docs = append(docs, doc{path: name, index: i, obj: obj})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s holds no YAML document", name)
	}
	return docs, nil
}

// noDuplicateKeys walks n and fails on the first mapping that repeats a key.
func noDuplicateKeys(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: key %q is already defined on line %d", k.Line, k.Value, line)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := noDuplicateKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// loadExamples parses every .yaml/.yml file under examples/.
func loadExamples(t *testing.T) []doc {
	t.Helper()
	var docs []doc
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ds, err := parseDocs(filepath.ToSlash(p), data)
		if err != nil {
			t.Error(err)
			return nil
		}
		docs = append(docs, ds...)
		return nil
	})
	if err != nil {
		t.Fatalf("walking examples/: %v", err)
	}
	if len(docs) < 30 {
		t.Fatalf("found only %d YAML documents under examples/; is the test running in examples/?", len(docs))
	}
	return docs
}

func byKind(docs []doc, kind string) []doc {
	var out []doc
	for _, d := range docs {
		if d.kind() == kind {
			out = append(out, d)
		}
	}
	return out
}

// dig walks v through map keys (string) and list indices (int); nil when
// anything is missing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := dig(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := dig(v, path...).([]any); return l }
