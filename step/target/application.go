package target

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
)

// SetApplicationRevision sets the targetRevision of the Argo CD Application
// in the file (the one document with kind: Application): in spec.sources[],
// the entry whose repoURL equals sourceRepo (compared with NormalizeRepoURL);
// else spec.source, whose repoURL must equal sourceRepo unless sourceRepo is
// empty. The document must decode as an argoproj.io Application. No or
// several matching sources is an error (ErrNotFound, ErrAmbiguous); so is a
// matching source without a targetRevision key. Only the revision's bytes
// change, as with SetValue.
func SetApplicationRevision(in []byte, sourceRepo, revision string) (out []byte, change Change, err error) {
	if revision == "" {
		return nil, Change{}, fmt.Errorf("setting Application revision: empty revision: %w", ErrInvalid)
	}
	docs, err := parseDocs(in)
	if err != nil {
		return nil, Change{}, err
	}
	at := -1
	for i, d := range docs {
		if len(d.Content) == 0 || d.Content[0].Kind != yaml.MappingNode {
			continue
		}
		k, err := mapValue(d.Content[0], "kind")
		if err != nil {
			return nil, Change{}, fmt.Errorf("reading kind of document %d: %w", i+1, err)
		}
		if k == nil || k.Kind != yaml.ScalarNode || k.Value != "Application" {
			continue
		}
		if at >= 0 {
			return nil, Change{}, fmt.Errorf("finding the Application: documents %d and %d both have kind Application: %w", at+1, i+1, ErrAmbiguous)
		}
		at = i
	}
	if at < 0 {
		return nil, Change{}, fmt.Errorf("finding the Application: no document has kind: Application: %w", ErrNotApplication)
	}
	app, err := decodeApplication(docs[at])
	if err != nil {
		return nil, Change{}, fmt.Errorf("decoding document %d: %w", at+1, err)
	}
	var path []pathElem
	want := NormalizeRepoURL(sourceRepo)
	switch {
	case len(app.Spec.Sources) > 0:
		if sourceRepo == "" {
			return nil, Change{}, fmt.Errorf("choosing among spec.sources of Application %s: no source repository given: %w", app.Metadata.Name, ErrInvalid)
		}
		match := -1
		for i, s := range app.Spec.Sources {
			if NormalizeRepoURL(s.RepoURL) != want {
				continue
			}
			if match >= 0 {
				return nil, Change{}, fmt.Errorf("choosing among spec.sources of Application %s: entries %d and %d both have repoURL %s: %w", app.Metadata.Name, match, i, netpolicy.RedactURL(want), ErrAmbiguous)
			}
			match = i
		}
		if match < 0 {
			return nil, Change{}, fmt.Errorf("choosing among spec.sources of Application %s: no entry has repoURL %s: %w", app.Metadata.Name, netpolicy.RedactURL(want), ErrNotFound)
		}
		path = []pathElem{{key: "spec"}, {key: "sources"}, {index: match, isIndex: true}, {key: "targetRevision"}}
	case app.Spec.Source != nil:
		if sourceRepo != "" && NormalizeRepoURL(app.Spec.Source.RepoURL) != want {
			return nil, Change{}, fmt.Errorf("checking spec.source of Application %s: repoURL is %s, want %s: %w", app.Metadata.Name, netpolicy.RedactURL(app.Spec.Source.RepoURL), netpolicy.RedactURL(want), ErrNotFound)
		}
		path = []pathElem{{key: "spec"}, {key: "source"}, {key: "targetRevision"}}
	default:
		return nil, Change{}, fmt.Errorf("reading Application %s: it has neither spec.source nor spec.sources: %w", app.Metadata.Name, ErrNotFound)
	}
	return setAt(in, at, path, revision)
}

// decodeApplication checks that doc is an argoproj.io Application by
// decoding it the way Kubernetes tools do.
func decodeApplication(doc *yaml.Node) (*application, error) {
	raw, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("re-encoding: %v: %w", err, ErrUnsupported)
	}
	var app application
	if err := sigsyaml.Unmarshal(raw, &app); err != nil {
		return nil, fmt.Errorf("reading it as an Argo CD Application: %v: %w", err, ErrNotApplication)
	}
	if app.Kind != "Application" || !strings.HasPrefix(app.APIVersion, "argoproj.io/") {
		return nil, fmt.Errorf("reading it as an Argo CD Application: apiVersion %q kind %q, want argoproj.io/* Application: %w", app.APIVersion, app.Kind, ErrNotApplication)
	}
	return &app, nil
}
