package target

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const (
	shaD07 = "d072d04a9e345ffd5716cd5f1c86f92d8bc5ab47"
	sha5f1 = "5f1c86f92d8bc5ab47d072d04a9e345ffd5716cd"
	digest = "sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108"
)

// edit adapts each editor to one shape for the golden table.
type edit func(in []byte) ([]byte, []Change, error)

func setValue(key, value string) edit {
	return func(in []byte) ([]byte, []Change, error) {
		out, c, err := SetValue(in, key, value)
		return out, []Change{c}, err
	}
}

func setRevision(repo, rev string) edit {
	return func(in []byte) ([]byte, []Change, error) {
		out, c, err := SetApplicationRevision(in, repo, rev)
		return out, []Change{c}, err
	}
}

func setKustomization(e KustomizeEdit) edit {
	return func(in []byte) ([]byte, []Change, error) { return SetKustomization(in, e) }
}

// TestGolden runs each editor on testdata/<case>/in.yaml and compares the
// output byte for byte with the hand-written testdata/<case>/want.yaml.
func TestGolden(t *testing.T) {
	const codeRepo = "https://github.com/code-dot-org/code-dot-org"
	tests := []struct {
		name    string
		edit    edit
		changes []Change
	}{
		{"helm-deployment", setValue("targetRevision", shaD07),
			[]Change{{"targetRevision", "staging", shaD07}}},
		{"helm-deployment-digits-sha", setValue("targetRevision", "1234567890123456789012345678901234567890"),
			[]Change{{"targetRevision", shaD07, "1234567890123456789012345678901234567890"}}},
		{"helm-deployment-float-sha", setValue("targetRevision", "1234e56789012345678901234567890123456789"),
			[]Change{{"targetRevision", "main", "1234e56789012345678901234567890123456789"}}},
		{"values-eol-comment", setValue("image", "ghcr.io/code-dot-org/code-dot-org:git-"+shaD07+"@"+digest),
			[]Change{{"image", "ghcr.io/code-dot-org/code-dot-org:staging", "ghcr.io/code-dot-org/code-dot-org:git-" + shaD07 + "@" + digest}}},
		{"values-nested-quoted", setValue("image.tag", "git-"+shaD07),
			[]Change{{"image.tag", "git-0000000000000000000000000000000000000000", "git-" + shaD07}}},
		{"multi-doc", setValue("targetRevision", shaD07),
			[]Change{{"targetRevision", "staging", shaD07}}},
		{"crlf", setValue("targetRevision", shaD07),
			[]Change{{"targetRevision", "staging", shaD07}}},
		{"app-source", setRevision("git@github.com:code-dot-org/code-dot-org.git", shaD07),
			[]Change{{"spec.source.targetRevision", "staging", shaD07}}},
		{"app-sources", setRevision(codeRepo, shaD07),
			[]Change{{"spec.sources[1].targetRevision", "production", shaD07}}},
		{"app-multidoc", setRevision("ssh://git@github.com/code-dot-org/code-dot-org", "0123456789012345678901234567890123456789"),
			[]Change{{"spec.source.targetRevision", "main", "0123456789012345678901234567890123456789"}}},
		{"kustomize-tag", setKustomization(KustomizeEdit{
			SourceRepo: codeRepo, SourcePath: "k8s/kustomize/base", Ref: sha5f1,
			ImageName: "code-dot-org", NewTag: "git-" + sha5f1}),
			[]Change{
				{"resources[0]", "github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=" + shaD07 + "&timeout=120s",
					"github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=" + sha5f1 + "&timeout=120s"},
				{"images[0].newTag", "git-" + shaD07, "git-" + sha5f1},
			}},
		{"kustomize-digest", setKustomization(KustomizeEdit{
			SourceRepo: "git@github.com:code-dot-org/code-dot-org.git", SourcePath: "/k8s/kustomize/base/", Ref: sha5f1,
			ImageName: "ghcr.io/code-dot-org/code-dot-org", NewTag: "ignored", Digest: digest}),
			[]Change{
				{"resources[0]", "https://github.com/code-dot-org/code-dot-org.git//k8s/kustomize/base?timeout=120s&version=v1.4.0",
					"https://github.com/code-dot-org/code-dot-org.git//k8s/kustomize/base?timeout=120s&ref=" + sha5f1},
				{"images[0].digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000", digest},
			}},
		{"kustomize-unchanged", setKustomization(KustomizeEdit{
			SourceRepo: codeRepo, SourcePath: "k8s/kustomize/base", Ref: shaD07,
			ImageName: "code-dot-org", NewTag: "git-" + shaD07}),
			[]Change{
				{"resources[0]", "github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=" + shaD07 + "&timeout=120s",
					"github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=" + shaD07 + "&timeout=120s"},
				{"images[0].newTag", "git-" + shaD07, "git-" + shaD07},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := readFile(t, filepath.Join("testdata", tt.name, "in.yaml"))
			want := readFile(t, filepath.Join("testdata", tt.name, "want.yaml"))
			orig := bytes.Clone(in)
			out, changes, err := tt.edit(in)
			if err != nil {
				t.Fatalf("edit: %v", err)
			}
			if !bytes.Equal(in, orig) {
				t.Errorf("the editor modified its input")
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from want.yaml\n--- got\n%s\n--- want\n%s", out, want)
			}
			if !reflect.DeepEqual(changes, tt.changes) {
				t.Errorf("changes = %q, want %q", changes, tt.changes)
			}
			// Applying the same edit again is a no-op that says so.
			again, changes, err := tt.edit(out)
			if err != nil {
				t.Fatalf("second edit: %v", err)
			}
			if !bytes.Equal(again, out) {
				t.Errorf("second edit changed the file again:\n%s", again)
			}
			for _, c := range changes {
				if c.Old != c.New {
					t.Errorf("second edit reports change %q", c)
				}
			}
		})
	}
}

func readBench(name string) ([]byte, error) { return os.ReadFile(name) }

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
