package demo

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/argo-refs/argo-refs/internal/layout"
)

// gitopsFiles is the helm layout of CONTRACTS §2 for two stages, with the
// comments and quoting people keep in such files.
func gitopsFiles(gitURL string) map[string]string {
	files := map[string]string{
		"apps/codeai/applicationset.yaml": layout.ApplicationSet(gitURL+"/gitops.git", gitURL+"/source.git"),
		"warehouses/codeai/builds/.keep":  "",
	}
	for _, stage := range []string{"staging", "production"} {
		files["apps/codeai/deployments/"+stage+"/deployment.yaml"] = fmt.Sprintf(`# Read by the codeai ApplicationSet; Kargo moves targetRevision.
envType: %[1]s
namespace: %[1]s
targetRevision: %[1]s # the source commit Argo CD renders
`, stage)
		files["apps/codeai/deployments/"+stage+"/values.yaml"] = fmt.Sprintf(`image: 'ghcr.io/code-dot-org/code-dot-org:%[1]s' # set by promotion
autoscaling:
  maxReplicas: 1
locals.yml:
  stack_name: %[1]s
`, stage)
		files["apps/codeai/envTypes/"+stage+".values.yaml"] = "replicaCount: 1\n"
	}
	return files
}

// sortEntries orders tree entries as Git does: by name, directories compared
// as if their name ended in "/".
func sortEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
