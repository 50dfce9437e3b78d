package step

// What Argo CD passes to `helm template` for a stage in the helm layout:
// the source of the stage's Application that names the release's source
// repository, as the ApplicationSet's git files generator makes it from the
// stage's deployment.yaml (or as an Application manifest says it), with
// the render config's overrides.

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"

	"github.com/argo-refs/argo-refs/render/spec"
	"github.com/argo-refs/argo-refs/step/target"
)

// helmSource is one Application source rendered with Helm.
type helmSource struct {
	chartPath   string   // in the source repository
	releaseName string   // Argo CD's default is the Application's name
	namespace   string   // the destination namespace
	valueFiles  []string // "$<ref>/path" or relative to the chart
	values      string   // helm.values, or helm.valuesObject as YAML
	parameters  []spec.Parameter
	from        string // where these came from, for messages
	// optional are value files left out when they do not exist (the
	// layout defaults' envType values).
	optional map[string]bool
}

// argoApp is the part of an Application (or an ApplicationSet's template)
// that says how a source is rendered.
type argoApp struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Source      *argoSource  `json:"source,omitempty"`
		Sources     []argoSource `json:"sources,omitempty"`
		Destination struct {
			Namespace string `json:"namespace"`
		} `json:"destination"`
	} `json:"spec"`
}

type argoSource struct {
	RepoURL        string `json:"repoURL"`
	TargetRevision string `json:"targetRevision"`
	Path           string `json:"path"`
	Ref            string `json:"ref"`
	Helm           *struct {
		ReleaseName  string         `json:"releaseName"`
		ValueFiles   []string       `json:"valueFiles"`
		Values       string         `json:"values"`
		ValuesObject map[string]any `json:"valuesObject"`
		Parameters   []struct {
			Name        string `json:"name"`
			Value       string `json:"value"`
			ForceString bool   `json:"forceString"`
		} `json:"parameters"`
	} `json:"helm"`
}

// helmSourceOf reads the source of app that names sourceRepo.
func helmSourceOf(app argoApp, sourceRepo, from string) (helmSource, error) {
	srcs := app.Spec.Sources
	if app.Spec.Source != nil {
		srcs = append([]argoSource{*app.Spec.Source}, srcs...)
	}
	want := target.NormalizeRepoURL(sourceRepo)
	for _, s := range srcs {
		if target.NormalizeRepoURL(s.RepoURL) != want || s.Ref != "" {
			continue
		}
		hs := helmSource{chartPath: s.Path, releaseName: app.Metadata.Name, namespace: app.Spec.Destination.Namespace, from: from}
		if h := s.Helm; h != nil {
			if h.ReleaseName != "" {
				hs.releaseName = h.ReleaseName
			}
			hs.valueFiles = h.ValueFiles
			hs.values = h.Values
			if len(h.ValuesObject) > 0 {
				b, err := yaml.Marshal(h.ValuesObject)
				if err != nil {
					return helmSource{}, fmt.Errorf("%s: helm.valuesObject: %w", from, err)
				}
				hs.values = string(b)
			}
			for _, p := range h.Parameters {
				hs.parameters = append(hs.parameters, spec.Parameter{Name: p.Name, Value: p.Value, ForceString: p.ForceString})
			}
		}
		return hs, nil
	}
	return helmSource{}, fmt.Errorf("%s has no source with repoURL %s", from, sourceRepo)
}

// appSetApp evaluates an ApplicationSet's template for one git files
// generator file (the stage's deployment.yaml, path p, content file), as
// Argo CD's git files generator does: with fasttemplate ({{key}}) on the
// flattened file and the path parameters, or text/template with
// goTemplate.
func appSetApp(appSet []byte, p string, file []byte) (argoApp, error) {
	var set struct {
		Spec struct {
			GoTemplate bool           `json:"goTemplate"`
			Template   map[string]any `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(appSet, &set); err != nil {
		return argoApp{}, fmt.Errorf("reading the ApplicationSet: %w", err)
	}
	var content map[string]any
	if err := yaml.Unmarshal(file, &content); err != nil {
		return argoApp{}, fmt.Errorf("reading %s: %w", p, err)
	}
	dir := path.Dir(p)
	segments := strings.Split(dir, "/")
	var eval func(string) (string, error)
	if set.Spec.GoTemplate {
		params := map[string]any{}
		for k, v := range content {
			params[k] = v
		}
		params["path"] = map[string]any{
			"path": dir, "basename": path.Base(dir), "filename": path.Base(p),
			"basenameNormalized": normalizeName(path.Base(dir)), "filenameNormalized": normalizeName(path.Base(p)),
			"segments": segments,
		}
		eval = func(s string) (string, error) {
			t, err := template.New("").Option("missingkey=zero").Parse(s)
			if err != nil {
				return "", err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, params); err != nil {
				return "", err
			}
			return strings.ReplaceAll(b.String(), "<no value>", ""), nil
		}
	} else {
		params := map[string]string{}
		flatten("", content, params)
		params["path"] = dir
		params["path.basename"] = path.Base(dir)
		params["path.filename"] = path.Base(p)
		params["path.basenameNormalized"] = normalizeName(path.Base(dir))
		params["path.filenameNormalized"] = normalizeName(path.Base(p))
		for i, s := range segments {
			params[fmt.Sprintf("path[%d]", i)] = s
		}
		eval = func(s string) (string, error) {
			return fastTemplate.ReplaceAllStringFunc(s, func(m string) string {
				if v, ok := params[strings.TrimSpace(m[2:len(m)-2])]; ok {
					return v
				}
				return m
			}), nil
		}
	}
	tmpl, err := evalTree(set.Spec.Template, eval)
	if err != nil {
		return argoApp{}, fmt.Errorf("evaluating the ApplicationSet's template for %s: %w", p, err)
	}
	b, err := yaml.Marshal(tmpl)
	if err != nil {
		return argoApp{}, err
	}
	var app argoApp
	if err := yaml.Unmarshal(b, &app); err != nil {
		return argoApp{}, fmt.Errorf("reading the ApplicationSet's template: %w", err)
	}
	return app, nil
}

// fastTemplate matches a fasttemplate tag.
var fastTemplate = regexp.MustCompile(`\{\{[^{}]*\}\}`)

func evalTree(v any, eval func(string) (string, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return eval(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := evalTree(e, eval)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := evalTree(e, eval)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// flatten writes nested keys joined with dots, as the git files generator
// flattens a file without goTemplate.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case nil:
		out[prefix] = ""
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// normalizeName is Argo CD's path.basenameNormalized: lower case, and
// characters other than letters, digits, dots and dashes as dashes.
func normalizeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
