// Package benchdata holds what the benchmark's generator and server must
// agree on: addresses, repository names, and the deterministic container
// image each release names.
package benchdata

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Default loopback addresses. Records carry these URLs in their bytes, so
// the server must listen where the generator said it would.
const (
	DefaultGitAddr      = "127.0.0.1:18080"
	DefaultRegistryAddr = "127.0.0.1:18081"
	// ImageRepo is the repository, inside the registry, that records name.
	ImageRepo = "code-dot-org/code-dot-org"
	// SourceRepo is the bare repository name of the source repo "S".
	SourceRepo = "S.git"
)

// Meta is what the generator writes to <dir>/meta.json for the runner and
// the server.
type Meta struct {
	GitAddr      string              `json:"gitAddr"`
	RegistryAddr string              `json:"registryAddr"`
	Repos        map[string]RepoMeta `json:"repos"`
	// Releases maps an image tag to the release number whose image it names
	// (the registry holds all of them, spare builds included).
	Releases map[string]int `json:"releases"`
	// SourceURL is the source repo S as records name it.
	SourceURL string `json:"sourceURL"`
	// Spare lists builds of S that have an image but no record yet: what
	// publish runs publish.
	Spare []Build `json:"spare"`
}

// Build is one build of S: its commit and the image built from it.
type Build struct {
	GitCommit string `json:"gitCommit"`
	ImageRef  string `json:"imageRef"`
	Digest    string `json:"digest"`
}

// RepoMeta describes one generated GitOps repository.
type RepoMeta struct {
	Name    string `json:"name"`
	Commits int    `json:"commits"`
	// Tip is the pristine branch tip the runner restores before each run.
	Tip string `json:"tip"`
	// Freight is the record-publishing commit ~50 commits behind the tip.
	Freight string `json:"freight"`
	// GitCommit, ImageRef and Digest are what the Freight's current.yaml says.
	GitCommit   string  `json:"gitCommit"`
	ImageRef    string  `json:"imageRef"`
	Digest      string  `json:"digest"`
	TipFiles    int     `json:"tipFiles"`
	TipBytes    int64   `json:"tipBytes"`
	PackedBytes int64   `json:"packedBytes"`
	GenSeconds  float64 `json:"genSeconds"`
}

// Image returns the deterministic image of release n: an empty image plus one
// fixed layer, so the generator can write its digest into records and the
// server can push the very same image.
func Image(n int) (v1.Image, error) {
	layer := static.NewLayer([]byte(fmt.Sprintf("argo-refs bench release %d\n", n)), types.DockerLayer)
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("building image of release %d: %w", n, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config of release %d: %w", n, err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting config of release %d: %w", n, err)
	}
	return img, nil
}

// Digest returns the manifest digest of Image(n).
func Digest(n int) (string, error) {
	img, err := Image(n)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("hashing image of release %d: %w", n, err)
	}
	return d.String(), nil
}
