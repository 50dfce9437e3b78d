package target

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/akuity/kargo/pkg/controller/argocd/api/v1alpha1"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestApplicationModelAgreesWithKargo decodes every Application in the test
// data, and a few malformed ones, with the local model and with Kargo's, and
// requires the same verdict and the same fields.
func TestApplicationModelAgreesWithKargo(t *testing.T) {
	docs := map[string][]byte{
		"source as a string": []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source: main\n"),
		"sources as a map":   []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  sources: {repoURL: x}\n"),
		"revision as a list": []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    repoURL: x\n    targetRevision: [a]\n"),
		"name as a map":      []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {a: b}\n"),
		"no spec":            []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\n"),
		"numeric revision":   []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    repoURL: x\n    targetRevision: 1234\n"),
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if bytes.Contains(doc, []byte("kind: Application")) {
				docs[f+"#"+string(rune('0'+i))] = doc
			}
		}
	}
	if len(docs) < 8 {
		t.Fatalf("only %d documents to compare", len(docs))
	}
	for name, doc := range docs {
		var ours application
		var theirs v1alpha1.Application
		errOurs := sigsyaml.Unmarshal(doc, &ours)
		errTheirs := sigsyaml.Unmarshal(doc, &theirs)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Errorf("%s: local model error %v, Kargo's %v", name, errOurs, errTheirs)
			continue
		}
		if errOurs != nil {
			continue
		}
		if ours.APIVersion != theirs.APIVersion || ours.Kind != theirs.Kind || ours.Metadata.Name != theirs.Name {
			t.Errorf("%s: header %s/%s/%s, Kargo reads %s/%s/%s", name, ours.APIVersion, ours.Kind, ours.Metadata.Name, theirs.APIVersion, theirs.Kind, theirs.Name)
		}
		if (ours.Spec.Source == nil) != (theirs.Spec.Source == nil) || len(ours.Spec.Sources) != len(theirs.Spec.Sources) {
			t.Errorf("%s: source/sources shape differs from Kargo's reading", name)
			continue
		}
		same := func(a appSource, b v1alpha1.ApplicationSource) bool {
			return a.RepoURL == b.RepoURL && a.TargetRevision == b.TargetRevision && a.Chart == b.Chart
		}
		if ours.Spec.Source != nil && !same(*ours.Spec.Source, *theirs.Spec.Source) {
			t.Errorf("%s: spec.source %+v, Kargo reads %+v", name, *ours.Spec.Source, *theirs.Spec.Source)
		}
		for i := range ours.Spec.Sources {
			if !same(ours.Spec.Sources[i], theirs.Spec.Sources[i]) {
				t.Errorf("%s: spec.sources[%d] %+v, Kargo reads %+v", name, i, ours.Spec.Sources[i], theirs.Spec.Sources[i])
			}
		}
	}
}
