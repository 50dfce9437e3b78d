// Package repolint checks a GitOps repository against the contract the
// code-dot-org plan asks its own CI to enforce: build-lock records valid,
// each current.yaml identical to its twin, packaging allowed for the
// layout; every deployment.yaml with envType and namespace (and
// targetRevision in the helm layout); the ApplicationSet's source as the
// layout needs it; envTypes present (Kustomize Components in the kustomize
// layout); and every deploy wrapper seeded in the documented shape. It
// reports every violation with its file and line.
package repolint

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/argo-refs/argo-refs/warehouse"
)

// Tree is the repository at one commit: a checkout or a remote ref.
type Tree interface {
	// ReadDir lists a directory: names, and which are directories. A
	// missing directory is an empty list.
	ReadDir(ctx context.Context, dir string) ([]Entry, error)
	// ReadFiles reads files at once; a missing file is absent from the map.
	ReadFiles(ctx context.Context, paths ...string) (map[string][]byte, error)
}

// Entry is one directory entry.
type Entry struct {
	Name  string
	IsDir bool
}

// Options say which contract applies.
type Options struct {
	// App is the application, e.g. codeai.
	App string
	// Layout is warehouse.PackagingHelm or warehouse.PackagingKustomize.
	Layout string
	// SourcePath is the packaging.sourcePath the layout allows; default
	// k8s/helm for helm, k8s/kustomize for kustomize (which also allows
	// paths under it, such as k8s/kustomize/base).
	SourcePath string
}

// Violation is one broken rule.
type Violation struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Rule    string `json:"rule"`
	Problem string `json:"problem"`
}

// String is "file:line: rule: problem".
func (v Violation) String() string {
	loc := v.File
	if v.Line > 0 {
		loc = fmt.Sprintf("%s:%d", v.File, v.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, v.Rule, v.Problem)
}

// The rules, as the violations name them.
const (
	RuleRecord          = "record"
	RuleTwin            = "record-twin"
	RulePackaging       = "packaging"
	RuleDeployment      = "deployment"
	RuleApplicationSet  = "applicationset"
	RuleEnvType         = "envtype"
	RuleWrapper         = "deploy-wrapper"
	RuleWrapperMissing  = "deploy-wrapper-missing"
	maxFilesPerCheck    = 10000
	kustomizeAPIVersion = "kustomize.config.k8s.io/v1beta1"
)

var (
	hex40     = regexp.MustCompile(`^[0-9a-f]{40}$`)
	refSuffix = regexp.MustCompile(`\?(?:.*&)?ref=([0-9a-f]{40})(?:&|$)`)
)

type linter struct {
	ctx  context.Context
	tree Tree
	opts Options
	out  []Violation
}

func (l *linter) add(file string, line int, rule, format string, args ...any) {
	l.out = append(l.out, Violation{File: file, Line: line, Rule: rule, Problem: fmt.Sprintf(format, args...)})
}

// Lint checks tree and returns every violation, sorted by file and line.
func Lint(ctx context.Context, tree Tree, opts Options) ([]Violation, error) {
	if opts.Layout != warehouse.PackagingHelm && opts.Layout != warehouse.PackagingKustomize {
		return nil, fmt.Errorf("layout %q: want %s or %s", opts.Layout, warehouse.PackagingHelm, warehouse.PackagingKustomize)
	}
	if opts.SourcePath == "" {
		opts.SourcePath = map[string]string{warehouse.PackagingHelm: "k8s/helm", warehouse.PackagingKustomize: "k8s/kustomize"}[opts.Layout]
	}
	l := &linter{ctx: ctx, tree: tree, opts: opts}
	if err := l.records(); err != nil {
		return nil, err
	}
	deployments, err := l.deployments()
	if err != nil {
		return nil, err
	}
	if err := l.applicationSet(); err != nil {
		return nil, err
	}
	if err := l.envTypes(deployments); err != nil {
		return nil, err
	}
	if opts.Layout == warehouse.PackagingKustomize {
		if err := l.wrappers(deployments); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(l.out, func(i, j int) bool {
		if l.out[i].File != l.out[j].File {
			return l.out[i].File < l.out[j].File
		}
		return l.out[i].Line < l.out[j].Line
	})
	return l.out, nil
}

func (l *linter) appDir() string { return path.Join("apps", l.opts.App) }

// records checks every build-lock record and the current.yaml twin rule.
func (l *linter) records() error {
	dir := path.Join("warehouses", l.opts.App, "builds")
	entries, err := l.tree.ReadDir(l.ctx, dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir && strings.HasSuffix(e.Name, ".yaml") {
			names = append(names, path.Join(dir, e.Name))
		}
	}
	if len(names) > maxFilesPerCheck {
		return fmt.Errorf("%s holds %d records, more than %d", dir, len(names), maxFilesPerCheck)
	}
	files, err := l.tree.ReadFiles(l.ctx, names...)
	if err != nil {
		return err
	}
	cur := path.Join(dir, warehouse.CurrentName)
	for _, p := range names {
		data := files[p]
		rec, err := warehouse.Parse(p, data)
		if err != nil {
			l.add(p, 0, RuleRecord, "%v", strings.TrimPrefix(err.Error(), p+": "))
			continue
		}
		if p != cur && path.Base(p) != warehouse.HistoricalName(rec.GitCommit) {
			l.add(p, 0, RuleRecord, "named %s, but its gitCommit is %s (want %s)", path.Base(p), rec.GitCommit, warehouse.HistoricalName(rec.GitCommit))
		}
		if rec.Packaging.Kind != l.opts.Layout || !l.sourcePathAllowed(rec.Packaging.SourcePath) {
			l.add(p, 0, RulePackaging, "packaging %s at %s, want %s at %s for the %s layout", rec.Packaging.Kind, rec.Packaging.SourcePath, l.opts.Layout, l.opts.SourcePath, l.opts.Layout)
		}
		if p == cur {
			twin := path.Join(dir, warehouse.HistoricalName(rec.GitCommit))
			if _, err := warehouse.CheckSet(dir, data, files[twin], twin); err != nil {
				l.add(p, 0, RuleTwin, "%v", strings.TrimPrefix(err.Error(), dir+": "))
			}
		}
	}
	return nil
}

func (l *linter) sourcePathAllowed(p string) bool {
	if l.opts.Layout == warehouse.PackagingKustomize {
		return p == l.opts.SourcePath || strings.HasPrefix(p, l.opts.SourcePath+"/")
	}
	return p == l.opts.SourcePath
}

// deployment is one apps/<app>/deployments/<d>/deployment.yaml.
type deployment struct {
	name, file         string
	envType, namespace string
}

// deployments checks every deployment.yaml and returns the valid ones.
func (l *linter) deployments() ([]deployment, error) {
	dir := path.Join(l.appDir(), "deployments")
	entries, err := l.tree.ReadDir(l.ctx, dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir {
			paths = append(paths, path.Join(dir, e.Name, "deployment.yaml"))
		}
	}
	files, err := l.tree.ReadFiles(l.ctx, paths...)
	if err != nil {
		return nil, err
	}
	var out []deployment
	for _, p := range paths {
		data, ok := files[p]
		if !ok {
			continue // a directory without deployment.yaml is not a deployment
		}
		root, err := mapping(data)
		if err != nil {
			l.add(p, 0, RuleDeployment, "%v", err)
			continue
		}
		d := deployment{name: path.Base(path.Dir(p)), file: p}
		keys := []string{"envType", "namespace"}
		if l.opts.Layout == warehouse.PackagingHelm {
			keys = append(keys, "targetRevision")
		}
		ok = true
		for _, k := range keys {
			v, line := scalar(root, k)
			switch {
			case v == "":
				l.add(p, line, RuleDeployment, "needs %s (a non-empty string)", k)
				ok = false
			case k == "envType":
				d.envType = v
			case k == "namespace":
				d.namespace = v
			case k == "targetRevision" && !hex40.MatchString(v):
				l.add(p, line, RuleDeployment, "targetRevision %q is not a full commit SHA", v)
			}
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// applicationSet checks the source the layout needs.
func (l *linter) applicationSet() error {
	p := path.Join(l.appDir(), "applicationset.yaml")
	files, err := l.tree.ReadFiles(l.ctx, p)
	if err != nil {
		return err
	}
	data, ok := files[p]
	if !ok {
		l.add(p, 0, RuleApplicationSet, "is missing")
		return nil
	}
	root, err := mapping(data)
	if err != nil {
		l.add(p, 0, RuleApplicationSet, "%v", err)
		return nil
	}
	sources := seqAt(root, "spec", "template", "spec", "sources")
	if sources == nil {
		if s := nodeAt(root, "spec", "template", "spec", "source"); s != nil {
			sources = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{s}}
		}
	}
	if sources == nil {
		l.add(p, 0, RuleApplicationSet, "spec.template.spec has no sources")
		return nil
	}
	wantPath := l.opts.SourcePath
	wantRev := "{{targetRevision}}"
	if l.opts.Layout == warehouse.PackagingKustomize {
		wantPath = path.Join(l.appDir(), "deployments", "{{path.basename}}", "deploy")
		wantRev = "main"
	}
	for _, s := range sources.Content {
		if v, _ := scalar(s, "path"); v != wantPath {
			continue
		}
		if v, line := scalar(s, "targetRevision"); v != wantRev {
			l.add(p, line, RuleApplicationSet, "the source at path %s has targetRevision %q, want %q for the %s layout", wantPath, v, wantRev, l.opts.Layout)
		}
		return nil
	}
	l.add(p, sources.Line, RuleApplicationSet, "no source has path %s (the %s layout deploys it)", wantPath, l.opts.Layout)
	return nil
}

// envTypes checks that every envType a deployment names exists: a values
// file (helm) or a Kustomize Component (kustomize).
func (l *linter) envTypes(ds []deployment) error {
	want := map[string]string{}
	for _, d := range ds {
		p := path.Join(l.appDir(), "envTypes", d.envType+".values.yaml")
		if l.opts.Layout == warehouse.PackagingKustomize {
			p = path.Join(l.appDir(), "envTypes", d.envType, "kustomization.yaml")
		}
		want[p] = d.file
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	files, err := l.tree.ReadFiles(l.ctx, paths...)
	if err != nil {
		return err
	}
	for _, p := range paths {
		data, ok := files[p]
		if !ok {
			l.add(want[p], 0, RuleEnvType, "its envType needs %s, which is missing", p)
			continue
		}
		if l.opts.Layout != warehouse.PackagingKustomize {
			continue
		}
		root, err := mapping(data)
		if err != nil {
			l.add(p, 0, RuleEnvType, "%v", err)
			continue
		}
		if v, line := scalar(root, "kind"); v != "Component" {
			l.add(p, line, RuleEnvType, "kind is %q, want Component (deploy wrappers consume envTypes through components:)", v)
		}
	}
	return nil
}

// wrappers checks every deployment's deploy/kustomization.yaml against the
// documented shape.
func (l *linter) wrappers(ds []deployment) error {
	paths := make([]string, len(ds))
	for i, d := range ds {
		paths[i] = path.Join(path.Dir(d.file), "deploy", "kustomization.yaml")
	}
	files, err := l.tree.ReadFiles(l.ctx, paths...)
	if err != nil {
		return err
	}
	for i, d := range ds {
		p := paths[i]
		data, ok := files[p]
		if !ok {
			l.add(p, 0, RuleWrapperMissing, "deployment %s has no deploy wrapper; seed it with the documented shape before its first promotion", d.name)
			continue
		}
		root, err := mapping(data)
		if err != nil {
			l.add(p, 0, RuleWrapper, "%v", err)
			continue
		}
		if v, line := scalar(root, "apiVersion"); v != kustomizeAPIVersion {
			l.add(p, line, RuleWrapper, "apiVersion %q, want %s", v, kustomizeAPIVersion)
		}
		if v, line := scalar(root, "kind"); v != "Kustomization" {
			l.add(p, line, RuleWrapper, "kind %q, want Kustomization", v)
		}
		if v, line := scalar(root, "namespace"); v != d.namespace {
			l.add(p, line, RuleWrapper, "namespace %q, but %s says %q", v, d.file, d.namespace)
		}
		l.wrapperList(p, root, "resources", func(n *yaml.Node) string {
			if !strings.Contains(n.Value, "//"+l.opts.SourcePath) || !refSuffix.MatchString(n.Value) {
				return fmt.Sprintf("%q is not the base //%s…?ref=<full commit SHA>", n.Value, l.opts.SourcePath)
			}
			return ""
		})
		l.wrapperList(p, root, "components", func(n *yaml.Node) string {
			if path.Base(n.Value) != d.envType || path.Base(path.Dir(n.Value)) != "envTypes" {
				return fmt.Sprintf("%q is not …/envTypes/%s (the envType %s names)", n.Value, d.envType, d.file)
			}
			return ""
		})
		l.wrapperList(p, root, "images", func(n *yaml.Node) string {
			name, _ := scalar(n, "name")
			newName, _ := scalar(n, "newName")
			tag, _ := scalar(n, "newTag")
			digest, _ := scalar(n, "digest")
			switch {
			case name != "code-dot-org":
				return fmt.Sprintf("name %q, want code-dot-org (the image name in the base)", name)
			case newName == "":
				return "has no newName"
			case digest == "" && (!strings.HasPrefix(tag, "git-") || !hex40.MatchString(strings.TrimPrefix(tag, "git-"))):
				return fmt.Sprintf("newTag %q is not git-<full commit SHA>", tag)
			}
			return ""
		})
	}
	return nil
}

// wrapperList checks that key holds exactly one entry that check accepts.
func (l *linter) wrapperList(p string, root *yaml.Node, key string, check func(*yaml.Node) string) {
	seq := seqAt(root, key)
	switch {
	case seq == nil:
		l.add(p, 0, RuleWrapper, "has no %s list", key)
	case len(seq.Content) != 1:
		l.add(p, seq.Line, RuleWrapper, "%s has %d entries; the contract is exactly one", key, len(seq.Content))
	default:
		if msg := check(seq.Content[0]); msg != "" {
			l.add(p, seq.Content[0].Line, RuleWrapper, "%s[0] %s", key, msg)
		}
	}
}

func mapping(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("is not valid YAML: %v", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("is not a YAML mapping")
	}
	return doc.Content[0], nil
}

func nodeAt(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func seqAt(n *yaml.Node, keys ...string) *yaml.Node {
	if s := nodeAt(n, keys...); s != nil && s.Kind == yaml.SequenceNode {
		return s
	}
	return nil
}

// scalar returns the string at key of mapping n and its line (the
// mapping's when absent).
func scalar(n *yaml.Node, key string) (string, int) {
	v := nodeAt(n, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		if n != nil {
			return "", n.Line
		}
		return "", 0
	}
	return v.Value, v.Line
}
