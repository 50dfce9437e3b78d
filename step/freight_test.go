package step

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/argo-refs/argo-refs/step/kargo"
)

const (
	shaA = "4f1c2b9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"
	shaB = "0123456789abcdef0123456789abcdef01234567"
)

func freightOf(items ...kargo.FreightReference) kargo.FreightCollection {
	fc := kargo.FreightCollection{ID: "c0ffee", Items: map[string]kargo.FreightReference{}}
	for _, it := range items {
		fc.Items[it.Origin.Kind+"/"+it.Origin.Name] = it
	}
	return fc
}

func warehouseFreight(name string, commits ...kargo.GitCommit) kargo.FreightReference {
	return kargo.FreightReference{
		Name:    "f-" + name,
		Origin:  kargo.FreightOrigin{Kind: "Warehouse", Name: name},
		Commits: commits,
	}
}

func TestSelectFreightCommit(t *testing.T) {
	const repo = "https://github.com/code-dot-org/k8s-gitops.git"
	tests := []struct {
		name      string
		repoURL   string
		warehouse string
		explicit  string
		freight   kargo.FreightCollection
		want      string
		wantErr   error
		wantInErr []string
	}{
		{
			name:    "single match",
			repoURL: repo,
			freight: freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA})),
			want:    shaA,
		},
		{
			name:    "match after normalising http, .git, trailing slash and host case",
			repoURL: "https://GitHub.com/code-dot-org/k8s-gitops/",
			freight: freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: "http://github.com/code-dot-org/k8s-gitops.git", ID: shaA})),
			want:    shaA,
		},
		{
			name:    "scp-like Freight URL matches",
			repoURL: repo,
			freight: freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: "git@github.com:code-dot-org/k8s-gitops.git", ID: shaA})),
			want:    shaA,
		},
		{
			name:    "path case matters",
			repoURL: "https://github.com/Code-Dot-Org/k8s-gitops",
			freight: freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA})),
			wantErr: ErrNoFreightCommit,
		},
		{
			name:    "upper-case id comes back lower-case",
			repoURL: repo,
			freight: freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: strings.ToUpper(shaA)})),
			want:    shaA,
		},
		{
			name:    "the same commit from two warehouses is one candidate",
			repoURL: repo,
			freight: freightOf(
				warehouseFreight("a", kargo.GitCommit{RepoURL: repo, ID: shaA}),
				warehouseFreight("b", kargo.GitCommit{RepoURL: repo + "/", ID: shaA}),
			),
			want: shaA,
		},
		{
			name:    "several candidates",
			repoURL: repo,
			freight: freightOf(
				warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA}),
				warehouseFreight("codeai-config", kargo.GitCommit{RepoURL: repo, ID: shaB}),
			),
			wantErr: ErrAmbiguousFreightCommit,
			wantInErr: []string{
				shaB + " (Warehouse/codeai-config)",
				shaA + " (Warehouse/codeai-builds)",
				"set commit",
			},
		},
		{
			name:     "explicit wins over several candidates",
			repoURL:  repo,
			explicit: shaB,
			freight: freightOf(
				warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA}),
				warehouseFreight("codeai-config", kargo.GitCommit{RepoURL: repo, ID: shaA[:39] + "d"}),
			),
			want: shaB,
		},
		{
			name:     "explicit wins without Freight",
			repoURL:  repo,
			explicit: strings.ToUpper(shaB),
			want:     shaB,
		},
		{
			name:      "explicit must be a full SHA",
			repoURL:   repo,
			explicit:  "4f1c2b9",
			freight:   freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA})),
			wantErr:   ErrBadCommitID,
			wantInErr: []string{`"4f1c2b9"`},
		},
		{
			name:      "warehouse filter picks one of several",
			repoURL:   repo,
			warehouse: "codeai-config",
			freight: freightOf(
				warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA}),
				warehouseFreight("codeai-config", kargo.GitCommit{RepoURL: repo, ID: shaB}),
			),
			want: shaB,
		},
		{
			name:      "warehouse filter leaves nothing",
			repoURL:   repo,
			warehouse: "other",
			freight:   freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: shaA})),
			wantErr:   ErrNoFreightCommit,
			wantInErr: []string{"from Warehouse/other", "Warehouse/codeai-builds (not Warehouse/other)"},
		},
		{
			name:    "none names the repo and the items seen",
			repoURL: repo,
			freight: freightOf(
				warehouseFreight("src", kargo.GitCommit{RepoURL: "https://github.com/code-dot-org/code-dot-org.git", ID: shaA}),
				kargo.FreightReference{Origin: kargo.FreightOrigin{Kind: "Warehouse", Name: "images"}, Images: []kargo.Image{{RepoURL: "ghcr.io/x/y", Tag: "t"}}},
			),
			wantErr: ErrNoFreightCommit,
			wantInErr: []string{
				repo,
				"Warehouse/images: no commits (1 images, 0 charts)",
				"Warehouse/src: commit " + shaA[:12] + " of https://github.com/code-dot-org/code-dot-org.git",
			},
		},
		{
			name:      "empty Freight",
			repoURL:   repo,
			wantErr:   ErrNoFreightCommit,
			wantInErr: []string{"no Freight at all"},
		},
		{
			name:      "a malformed Freight id",
			repoURL:   repo,
			freight:   freightOf(warehouseFreight("codeai-builds", kargo.GitCommit{RepoURL: repo, ID: "main"})),
			wantErr:   ErrBadCommitID,
			wantInErr: []string{`"main"`, "Warehouse/codeai-builds"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SelectFreightCommit(tt.repoURL, tt.warehouse, tt.explicit, tt.freight)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("SelectFreightCommit = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got != "" {
				t.Errorf("returned %q with an error", got)
			}
			if !IsTerminal(err) {
				t.Errorf("error is not terminal: %v", err)
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestSelectFreightCommitFromKargoJSON(t *testing.T) {
	raw, err := os.ReadFile("testdata/config/freight/codeai.json")
	if err != nil {
		t.Fatal(err)
	}
	var fc kargo.FreightCollection
	if err := json.Unmarshal(raw, &fc); err != nil {
		t.Fatal(err)
	}
	for _, warehouse := range []string{"", "codeai-builds"} {
		got, err := SelectFreightCommit("https://github.com/code-dot-org/k8s-gitops", warehouse, "", fc)
		if err != nil || got != shaA {
			t.Errorf("warehouse %q: got %q, %v; want %q", warehouse, got, err, shaA)
		}
	}
	if _, err := SelectFreightCommit("https://github.com/code-dot-org/k8s-gitops", "codeai-base-images", "", fc); !errors.Is(err, ErrNoFreightCommit) {
		t.Errorf("image-only warehouse: error = %v, want ErrNoFreightCommit", err)
	}
}

func TestNormaliseRepoURL(t *testing.T) {
	same := []string{
		"https://github.com/org/repo",
		"https://github.com/org/repo.git",
		"https://github.com/org/repo/",
		"https://github.com/org/repo.git/",
		"http://GitHub.COM/org/repo",
		"HTTPS://github.com/org/repo",
		"https://github.com:443/org/repo",
		"https://user@github.com/org/repo",
		"ssh://git@github.com/org/repo.git",
		"git@github.com:org/repo.git",
		" https://github.com/org/repo ",
	}
	want := normaliseRepoURL(same[0])
	if want != "github.com/org/repo" {
		t.Fatalf("normaliseRepoURL(%q) = %q", same[0], want)
	}
	for _, s := range same[1:] {
		if got := normaliseRepoURL(s); got != want {
			t.Errorf("normaliseRepoURL(%q) = %q, want %q", s, got, want)
		}
	}
	for _, s := range []string{
		"https://github.com/org/Repo",
		"https://github.com/org/repo2",
		"https://gitlab.com/org/repo",
		"https://github.com:8443/org/repo",
		"https://github.com/org",
	} {
		if got := normaliseRepoURL(s); got == want {
			t.Errorf("normaliseRepoURL(%q) = %q, should differ", s, got)
		}
	}
}
