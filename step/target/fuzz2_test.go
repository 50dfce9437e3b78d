package target

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

const (
	fuzzSHA    = "d072d04a9e345ffd5716cd5f1c86f92d8bc5ab47"
	fuzzSHA2   = "1e5e5f3a9d6c2b7e8f90a1b2c3d4e5f60718293a"
	fuzzDigest = "sha256:57d9cbb2d7c6a1e3f4b5a6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9012"
)

// seedFiles adds every golden input under testdata whose directory name
// starts with prefix.
func seedFiles(f *testing.F, prefix string, add func([]byte)) {
	files, _ := filepath.Glob(filepath.Join("testdata", prefix+"*", "in.yaml"))
	if len(files) == 0 {
		f.Fatalf("no golden inputs testdata/%s*/in.yaml to seed from", prefix)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// assertOnlyChangedLines fails unless the lines of out that differ from the
// same lines of in are at most as many as the values the edit changed: an
// edit rewrites the edited scalars and no other line.
func assertOnlyChangedLines(t *testing.T, in, out []byte, changes []Change) {
	t.Helper()
	edited := 0
	for _, c := range changes {
		if c.Old == c.New {
			continue
		}
		if strings.ContainsAny(c.New+c.Old, "\n\r") {
			return // a multi-line scalar may legitimately move lines
		}
		edited++
	}
	a, b := strings.Split(string(in), "\n"), strings.Split(string(out), "\n")
	if len(a) != len(b) {
		t.Fatalf("the edit changed the line count from %d to %d:\n%q\n%q", len(a), len(b), in, out)
	}
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			differ++
		}
	}
	if differ > edited {
		t.Fatalf("%d lines changed for %d edited values:\n%q\n%q", differ, edited, in, out)
	}
}

// FuzzSetKustomization checks that a successful SetKustomization leaves its
// input alone, gives YAML that parses, touches only the lines holding the new
// values, and is idempotent: applying the same edit to its output changes
// nothing.
func FuzzSetKustomization(f *testing.F) {
	seedFiles(f, "kustomize", func(b []byte) {
		f.Add(b, "github.com/code-dot-org/code-dot-org", "k8s/kustomize/base", fuzzSHA2, "code-dot-org", "git-"+fuzzSHA2, "")
		f.Add(b, "https://github.com/code-dot-org/code-dot-org.git", "k8s/kustomize/base", fuzzSHA2, "ghcr.io/code-dot-org/code-dot-org", "", fuzzDigest)
	})
	f.Add([]byte("resources:\r\n  - https://example.com/r.git//base?ref=main\r\nimages:\r\n  - name: a\r\n    newTag: x\r\n"),
		"https://example.com/r.git", "base", fuzzSHA, "a", "y: z", "")
	f.Add([]byte("resources: [\"example.com/r//p?ref=v1&timeout=9s\"]\nimages: [{name: a, digest: 'sha256:00'}]\n"),
		"example.com/r", "p", fuzzSHA, "a", "", fuzzDigest)
	f.Fuzz(func(t *testing.T, in []byte, repo, srcPath, ref, imageName, tag, digest string) {
		orig := bytes.Clone(in)
		e := KustomizeEdit{SourceRepo: repo, SourcePath: srcPath, Ref: ref, ImageName: imageName, NewTag: tag, Digest: digest}
		out, changes, err := SetKustomization(in, e)
		if !bytes.Equal(in, orig) {
			t.Fatal("SetKustomization modified its input")
		}
		if err != nil {
			return
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		if !bytes.Contains(out, []byte(ref)) {
			t.Fatalf("output lacks the new ref %q:\n%q", ref, out)
		}
		assertOnlyChangedLines(t, in, out, changes)
		again, changes2, err := SetKustomization(out, e)
		if err != nil {
			t.Fatalf("re-applying the edit to its own output: %v\n%q", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("the edit is not idempotent:\n%q\n%q", out, again)
		}
		for _, c := range changes2 {
			if c.Old != c.New {
				t.Fatalf("re-applying reports a change %+v", c)
			}
		}
	})
}

// FuzzSetApplicationRevision checks the Application editor the same way:
// input untouched, output parses and reads back the new revision, only the
// revision's line changes, and the edit is idempotent.
func FuzzSetApplicationRevision(f *testing.F) {
	seedFiles(f, "app", func(b []byte) {
		f.Add(b, "https://github.com/code-dot-org/code-dot-org.git", fuzzSHA2)
		f.Add(b, "https://github.com/code-dot-org/code-dot-org", "v1: x")
	})
	f.Add([]byte("kind: Application\nspec:\n  source:\n    repoURL: https://e.com/r\n    targetRevision: main\r\n"), "https://e.com/r", fuzzSHA)
	f.Fuzz(func(t *testing.T, in []byte, repo, revision string) {
		orig := bytes.Clone(in)
		out, change, err := SetApplicationRevision(in, repo, revision)
		if !bytes.Equal(in, orig) {
			t.Fatal("SetApplicationRevision modified its input")
		}
		if err != nil {
			return
		}
		if change.New != revision {
			t.Fatalf("change.New = %q, want %q", change.New, revision)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		if change.Old == change.New && !bytes.Equal(in, out) {
			t.Fatalf("a no-op edit changed bytes:\n%q\n%q", in, out)
		}
		assertOnlyChangedLines(t, in, out, []Change{change})
		again, change2, err := SetApplicationRevision(out, repo, revision)
		if err != nil {
			t.Fatalf("re-applying the edit to its own output: %v\n%q", err, out)
		}
		if !bytes.Equal(again, out) || change2.Old != change2.New {
			t.Fatalf("the edit is not idempotent (%+v):\n%q\n%q", change2, out, again)
		}
	})
}
