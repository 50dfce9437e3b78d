package warehouse

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and that every record it accepts
// renders to bytes that parse back to the same record, and renders stably.
func FuzzParse(f *testing.F) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "golden", "*.yaml"))
	if err != nil || len(goldens) == 0 {
		f.Fatalf("no golden seeds: %v", err)
	}
	for _, g := range goldens {
		data, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(billionLaughs())
	f.Add([]byte("schemaVersion: v1\nschemaVersion: v1\n"))
	f.Add([]byte("image: &a {ref: *a}\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", data)
		if err != nil {
			if r != nil {
				t.Fatalf("Parse returned a record and an error: %v", err)
			}
			return
		}
		out := r.Render()
		r2, err := Parse("rendered.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Render(r)) failed: %v\ninput:\n%q\nrendered:\n%s", err, data, out)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("Parse(Render(r)) = %+v, want %+v", r2, r)
		}
		if out2 := r2.Render(); !bytes.Equal(out, out2) {
			t.Fatalf("Render is not stable:\n%s\nthen\n%s", out, out2)
		}
	})
}

// FuzzRender checks Render's quoting: any record New accepts, whatever its
// gitCommit and sourcePath, renders to bytes that Parse reads back unchanged.
func FuzzRender(f *testing.F) {
	f.Add(helmSHA, "k8s/helm")
	f.Add("1234567890123456789012345678901234567890", "./k8s")
	f.Add("1012345678901234567890e12345678901234567", "1e3")
	f.Add("0000000000000000000000000000000000000009", "true")
	f.Add("0b01010101010101010101010101010101010101", "foo:")
	f.Add("e000000000000000000000000000000000000000", "2026-03-22")
	f.Add("123456789012345678901234567890123456789e", "'a\"")
	f.Fuzz(func(t *testing.T, commit, srcPath string) {
		r, err := New(commit, "ghcr.io/a/b:"+ReleaseID(commit), helmDigest, PackagingKustomize,
			"https://github.com/a/b.git", srcPath, time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
		if err != nil {
			return
		}
		out := r.Render()
		r2, err := Parse("rendered.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Render(r)) failed: %v\nrendered:\n%s", err, out)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("Parse(Render(r)) = %+v, want %+v", r2, r)
		}
	})
}
