package target

import (
	"path/filepath"
	"testing"
)

func BenchmarkSetValue(b *testing.B) {
	in, err := readBench(filepath.Join("testdata", "values-eol-comment", "in.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := SetValue(in, "image", "ghcr.io/code-dot-org/code-dot-org:git-"+shaD07); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetKustomization(b *testing.B) {
	in, err := readBench(filepath.Join("testdata", "kustomize-tag", "in.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	e := KustomizeEdit{SourceRepo: "https://github.com/code-dot-org/code-dot-org", SourcePath: "k8s/kustomize/base",
		Ref: sha5f1, ImageName: "code-dot-org", NewTag: "git-" + sha5f1}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := SetKustomization(in, e); err != nil {
			b.Fatal(err)
		}
	}
}
