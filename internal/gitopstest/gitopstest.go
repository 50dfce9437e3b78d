// Package gitopstest builds the GitOps test data that several packages' tests
// share: the helm layout's stage files and a published build-lock record.
package gitopstest

import (
	"path"
	"testing"

	"github.com/argo-refs/argo-refs/internal/gittest"
	"github.com/argo-refs/argo-refs/warehouse"
)

// HelmStages returns each stage's deployment.yaml and values.yaml in the
// helm layout of the codeai app, with the comments and quoting people keep
// in such files: targetRevision is single-quoted with an end-of-line
// comment, image is plain with one.
func HelmStages(stages ...string) map[string]string {
	files := map[string]string{}
	for _, stage := range stages {
		dir := "apps/codeai/deployments/" + stage + "/"
		files[dir+"deployment.yaml"] = "# Read by the codeai ApplicationSet.\n" +
			"envType: " + stage + "\nnamespace: " + stage + "\n" +
			"targetRevision: '" + stage + "' # moved by Kargo\n"
		files[dir+"values.yaml"] = "image: ghcr.io/code-dot-org/code-dot-org:" + stage + "  # set at promotion\n" +
			"autoscaling:\n  maxReplicas: 1\n"
	}
	return files
}

// PublishRecord commits rec into dir on branch of the bare repository
// bareDir as publish does (current.yaml and its historical twin, one commit)
// and returns that commit, the Freight a Warehouse would see.
func PublishRecord(t testing.TB, bareDir, branch, dir string, rec *warehouse.Record) string {
	t.Helper()
	return gittest.CommitFiles(t, bareDir, branch, map[string]string{
		path.Join(dir, warehouse.CurrentName):                   string(rec.Render()),
		path.Join(dir, warehouse.HistoricalName(rec.GitCommit)): string(rec.Render()),
	}, "publish "+rec.ReleaseID)
}
