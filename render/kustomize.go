package render

// Kustomize directories, as Argo CD builds them: krusty with its default
// options (load restrictions to the kustomization roots, no plugins, no
// Helm inflation), on an in-memory file system.

import (
	"fmt"
	"path"
	"slices"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/argo-refs/argo-refs/render/spec"
)

func kustomize(k *spec.Kustomize) spec.Output {
	fs := filesys.MakeFsInMemory()
	names := make([]string, 0, len(k.Files))
	for n := range k.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := path.Join("/", n)
		if err := fs.MkdirAll(path.Dir(p)); err != nil {
			return spec.Output{Error: fmt.Sprintf("placing %s: %v", n, err)}
		}
		if err := fs.WriteFile(p, k.Files[n]); err != nil {
			return spec.Output{Error: fmt.Sprintf("placing %s: %v", n, err)}
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, path.Join("/", k.Dir))
	if err != nil {
		return spec.Output{Error: err.Error()}
	}
	out, err := m.AsYaml()
	if err != nil {
		return spec.Output{Error: fmt.Sprintf("writing the build out: %v", err)}
	}
	return spec.Output{Manifests: string(out)}
}
