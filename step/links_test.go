package step

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/argo-refs/argo-refs/warehouse"
)

// TestLinksOutput pins the links output, hand-written in
// testdata/links.json, for each host shape.
func TestLinksOutput(t *testing.T) {
	const (
		src    = "d072d04c1b2a39384756abcdef0123456789abcd"
		prev   = "1111111111111111111111111111111111111111"
		gitops = "9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3"
		digest = "sha256:57d9c2a1b0f3e4d5c6b7a8990011223344556677889900aabbccddeeff0011"
	)
	record := func(image, sourceRepo string) *warehouse.Record {
		return &warehouse.Record{SchemaVersion: "v1", ReleaseID: "git-" + src, GitCommit: src,
			Image:     warehouse.Image{Ref: image + ":git-" + src, Digest: digest},
			Packaging: warehouse.Packaging{Kind: "helm", SourceRepo: sourceRepo, SourcePath: "k8s/helm"}}
	}
	moved := []TargetChange{
		{Path: "apps/codeai/deployments/staging/deployment.yaml", Key: "targetRevision", Old: prev, New: src},
		{Path: "apps/codeai/deployments/staging/values.yaml", Key: "image", Old: "ghcr.io/code-dot-org/code-dot-org:git-" + prev, New: "x"},
	}
	cases := map[string]*outcome{
		"promote on GitHub, image on ghcr.io": {
			record:  record("ghcr.io/code-dot-org/code-dot-org", "https://github.com/code-dot-org/code-dot-org.git"),
			repoURL: "https://github.com/code-dot-org/k8s-gitops.git", gitopsCommit: gitops, branch: "main", changed: true, targets: moved,
		},
		"verify on GitLab, image on Docker Hub": {
			record:  record("docker.io/library/app", "https://gitlab.com/platform/sub/app"),
			repoURL: "https://gitlab.com/platform/gitops.git/", gitopsCommit: gitops,
		},
		"dry run on a self-hosted Git server, image on Quay": {
			record:  record("quay.io/team/app", "https://git.example.com/team/app.git"),
			repoURL: "https://github.com/code-dot-org/k8s-gitops.git", branch: "main", changed: true, targets: moved, diff: "--- a\n+++ b\n",
		},
		"nothing on known hosts": {
			record:  record("registry.example.com/team/app", "http://127.0.0.1:8080/app.git"),
			repoURL: "https://user:pw@github.com/code-dot-org/k8s-gitops.git", gitopsCommit: gitops, branch: "main", targets: moved,
		},
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "links.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(cases) {
		t.Fatalf("testdata/links.json has %d cases, the test %d", len(want), len(cases))
	}
	for name, out := range cases {
		t.Run(name, func(t *testing.T) {
			res := resultFor(out, nil)
			got, err := json.Marshal(res.Output[OutputLinks])
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			if err := json.Unmarshal(want[name], &w); err != nil {
				t.Fatal(err)
			}
			gj, _ := json.MarshalIndent(g, "", "  ")
			wj, _ := json.MarshalIndent(w, "", "  ")
			if string(gj) != string(wj) {
				t.Errorf("links =\n%s\nwant\n%s", gj, wj)
			}
		})
	}
}
