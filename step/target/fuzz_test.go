package target

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// FuzzSetValue checks that a successful SetValue reads back as the new
// value, and that the output differs from the input only inside the
// replaced scalar's span.
func FuzzSetValue(f *testing.F) {
	for _, c := range []struct{ in, key, value string }{
		{"targetRevision: staging # c\n", "targetRevision", "d072d04a9e345ffd5716cd5f1c86f92d8bc5ab47"},
		{"a: 'x' # c\n", "a", "it's"},
		{"a: \"x\"\r\nb: 1\r\n", "a", "1234"},
		{"a:\n  b: [x, y]\n", "a.b[1]", "z,w"},
		{"a: {b: c}\n", "a.b", "true"},
		{"---\na: x\n...\n---\na: y\n", "a", "null"},
		{"a: !!str x\n", "a", "# no"},
		{"é: ü\n", "é", "\u2028"},
		{"a: \"x\n  y\"\n", "a", "z\n"},
	} {
		f.Add([]byte(c.in), c.key, c.value)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "in.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "targetRevision", "1e5")
		f.Add(b, "image", "x: y")
	}
	f.Fuzz(func(t *testing.T, in []byte, key, value string) {
		orig := bytes.Clone(in)
		out, change, err := SetValue(in, key, value)
		if !bytes.Equal(in, orig) {
			t.Fatalf("SetValue modified its input")
		}
		if err != nil {
			return
		}
		if change.New != value {
			t.Fatalf("change.New = %q, want %q", change.New, value)
		}
		// Re-reading, independently of the editor, gives the new value.
		path, err := parsePath(key)
		if err != nil {
			t.Fatalf("SetValue accepted key %q that does not parse: %v", key, err)
		}
		var doc yaml.Node
		if err := yaml.NewDecoder(bytes.NewReader(out)).Decode(&doc); err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		n, _, err := lookup(&doc, path)
		if err != nil {
			t.Fatalf("output lost %s: %v\n%q", key, err, out)
		}
		if n.Value != value {
			t.Fatalf("output reads %q, want %q\n%q", n.Value, value, out)
		}
		if change.Old == change.New {
			if !bytes.Equal(out, in) {
				t.Fatalf("no-op edit changed bytes:\n%q\n%q", in, out)
			}
			return
		}
		// Only the scalar's span differs.
		var before yaml.Node
		if err := yaml.NewDecoder(bytes.NewReader(in)).Decode(&before); err != nil {
			t.Fatalf("input does not parse but SetValue succeeded: %v", err)
		}
		old, _, err := lookup(&before, path)
		if err != nil {
			t.Fatalf("input lacks %s but SetValue succeeded: %v", key, err)
		}
		start, end, err := scalarSpan(in, old)
		if err != nil {
			t.Fatalf("span of %s: %v", key, err)
		}
		if !bytes.HasPrefix(out, in[:start]) || !bytes.HasSuffix(out[start:], in[end:]) {
			t.Fatalf("output differs outside [%d,%d):\nin  %q\nout %q", start, end, in, out)
		}
		if strings.ContainsAny(string(out[start:len(out)-(len(in)-end)]), "\r\n") {
			t.Fatalf("replacement spans lines: %q", out)
		}
	})
}

// FuzzRewriteRemoteRef checks that RewriteRemoteRef never panics and that
// a rewritten URL still points at the repository and path and carries ref.
func FuzzRewriteRemoteRef(f *testing.F) {
	for _, u := range []string{
		"github.com/org/repo//k8s/base?ref=old&timeout=120s",
		"https://github.com/org/repo.git//k8s/base?version=v1",
		"git@github.com:org/repo.git//k8s/base",
		"git::https://github.com/org/repo//k8s/base?ref=a",
		"https://github.com/org/repo/k8s/base",
		"../../base",
		"https://u:p@github.com/org/repo//k8s/base?ref=a#frag",
	} {
		f.Add(u, "https://github.com/org/repo", "k8s/base", "abc123")
	}
	f.Fuzz(func(t *testing.T, url, repo, path, ref string) {
		out, ok, err := RewriteRemoteRef(url, repo, path, ref)
		if err != nil || !ok {
			if ok {
				t.Fatalf("ok with error %v", err)
			}
			return
		}
		r, isRemote := parseRemote(out)
		if !isRemote || r.repo != NormalizeRepoURL(repo) || r.path != cleanPath(path) {
			t.Fatalf("rewritten %q no longer points at %q//%q (parsed %+v)", out, repo, path, r)
		}
		got, err := remoteRef(out)
		if err != nil || got != ref {
			t.Fatalf("rewritten %q carries ref %q (%v), want %q", out, got, err, ref)
		}
		again, ok, err := RewriteRemoteRef(out, repo, path, ref)
		if err != nil || !ok || again != out {
			t.Fatalf("rewriting %q again gave %q, %v, %v", out, again, ok, err)
		}
	})
}
