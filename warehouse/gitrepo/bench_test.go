package gitrepo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// BenchmarkUpdate measures one whole promotion-shaped Update (tip, blobless
// fetch, read two files, commit, push) with a fresh Remote each time, against
// a repo with 2 MB of other blobs.
func BenchmarkUpdate(b *testing.B) {
	f := newFixture(b, 2<<20)
	ctx := context.Background()
	f.srv.ResetStats()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r, err := gitrepo.Open(ctx, f.url, gitrepo.Options{})
		if err != nil {
			b.Fatal(err)
		}
		_, err = r.Update(ctx, "main", gitrepo.UpdateOptions{}, func(ctx context.Context, tip gitrepo.Snapshot) (*gitrepo.Edit, error) {
			if _, err := tip.ReadFiles(ctx, "apps/a/values.yaml", "apps/b/values.yaml"); err != nil {
				return nil, err
			}
			return &gitrepo.Edit{Changes: []gitrepo.Change{{Path: "apps/a/values.yaml", Data: fmt.Appendf(nil, "image: a:%d\n", i)}}, Message: "bench", Author: author}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	st := f.srv.Stats()
	b.ReportMetric(float64(st.Requests)/float64(i), "requests/op")
	b.ReportMetric(float64(st.BytesSent)/float64(i), "served-bytes/op")
}
