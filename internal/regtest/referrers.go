package regtest

// Artifacts attached to an image: OCI 1.1 referrers (served as the
// distribution spec v1.1 says, or through the referrers tag schema on a
// registry without the API) and cosign's signature tag.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WithReferrersAPI makes the registry serve GET /v2/<name>/referrers/<digest>
// for the artifacts pushed with PushReferrer, as the OCI distribution spec
// v1.1 says: an image index whose entries carry the manifest's
// artifactType (else its config's media type) and annotations, filtered by
// ?artifactType= with OCI-Filters-Applied. go-containerregistry's registry
// reports the config's media type only, which is not what registries
// serving cosign's referrers (GHCR, Docker Hub, ECR, ACR, GAR) do. Without
// this option the endpoint answers 404, like a registry without the API,
// and PushReferrer maintains the referrers tag schema's index instead.
func WithReferrersAPI() Option {
	return func(r *Registry) { r.referrersAPI = true }
}

// referrers serves the referrers API from what PushReferrer recorded.
func (r *Registry) referrersHandler(w http.ResponseWriter, req *http.Request) bool {
	repo, kind := splitPath(req.URL.Path)
	if kind != "referrers" {
		return false
	}
	if !r.referrersAPI {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no referrers API")
		return true
	}
	subject := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	r.mu.Lock()
	list := append([]v1.Descriptor{}, r.referrers[repo+"@"+subject]...)
	r.mu.Unlock()
	if at := req.URL.Query().Get("artifactType"); at != "" {
		var kept []v1.Descriptor
		for _, d := range list {
			if d.ArtifactType == at {
				kept = append(kept, d)
			}
		}
		list = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if list == nil {
		list = []v1.Descriptor{}
	}
	body, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: list})
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	_, _ = w.Write(body)
	return true
}

// artifactManifest is an OCI image manifest with the v1.1 artifactType
// field, which go-containerregistry's v1.Manifest lacks.
type artifactManifest struct {
	v1.Manifest
	ArtifactType string `json:"artifactType,omitempty"`
}

// PushReferrer pushes, to repo, an artifact about subject (sha256:<hex>):
// an OCI manifest with artifactType, the empty config, one layer holding
// data with layerType, the given annotations and subject, as cosign's
// bundle spec lays out a Sigstore bundle. It returns the manifest's
// digest.
func (r *Registry) PushReferrer(t testing.TB, repo, subject, artifactType, layerType string, data []byte, annotations map[string]string) string {
	t.Helper()
	layer := static.NewLayer(data, types.MediaType(layerType))
	r.writeBlob(t, repo, layer)
	emptyCfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	r.writeBlob(t, repo, emptyCfg)
	ld := descriptorOf(t, layer)
	cd := descriptorOf(t, emptyCfg)
	sd := r.descriptorAt(t, repo, subject)
	m := artifactManifest{Manifest: v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cd,
		Layers: []v1.Descriptor{ld}, Subject: &sd, Annotations: annotations}, ArtifactType: artifactType}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dg := r.putManifest(t, repo, "", raw, types.OCIManifestSchema1)
	d := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(raw)), Digest: dg, ArtifactType: artifactType, Annotations: annotations}
	r.mu.Lock()
	r.referrers[repo+"@"+subject] = append(r.referrers[repo+"@"+subject], d)
	list := append([]v1.Descriptor{}, r.referrers[repo+"@"+subject]...)
	r.mu.Unlock()
	if !r.referrersAPI {
		// The referrers tag schema: the client that pushes keeps an
		// index at sha256-<hex> listing the subject's referrers.
		idx, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: list})
		if err != nil {
			t.Fatal(err)
		}
		r.putManifest(t, repo, strings.Replace(subject, ":", "-", 1), idx, types.OCIImageIndex)
	}
	return dg.String()
}

// SignatureLayer is one layer of a cosign signature manifest.
type SignatureLayer struct {
	Payload     []byte
	Annotations map[string]string
}

// PushSignatureTag pushes cosign v2's signature manifest for digest:
// the tag sha256-<hex>.sig, one simple-signing layer per signature, the
// signature and certificate in each layer's annotations.
func (r *Registry) PushSignatureTag(t testing.TB, repo, digest string, layers ...SignatureLayer) {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.Payload, "application/vnd.dev.cosign.simplesigning.v1+json"), Annotations: l.Annotations})
		if err != nil {
			t.Fatal(err)
		}
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	r.write(t, repo+":"+strings.Replace(digest, ":", "-", 1)+".sig", img)
}

func (r *Registry) writeBlob(t testing.TB, repo string, l v1.Layer) {
	t.Helper()
	if err := remote.WriteLayer(r.adminRef(t, repo).Context(), l, remote.WithContext(ctx(t))); err != nil {
		t.Fatalf("regtest: pushing a blob to %s: %v", repo, err)
	}
}

func descriptorOf(t testing.TB, l v1.Layer) v1.Descriptor {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := l.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}
}

// descriptorAt is the descriptor of the manifest repo@digest.
func (r *Registry) descriptorAt(t testing.TB, repo, digest string) v1.Descriptor {
	t.Helper()
	d, err := remote.Head(r.adminRef(t, repo+"@"+digest), remote.WithContext(ctx(t)))
	if err != nil {
		t.Fatalf("regtest: %s@%s: %v", repo, digest, err)
	}
	return *d
}

// putManifest PUTs raw as a manifest of repo at tag (or by digest when
// tag is empty) and returns its digest.
func (r *Registry) putManifest(t testing.TB, repo, tag string, raw []byte, mt types.MediaType) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ref := tag
	if ref == "" {
		ref = h.String()
	}
	req, err := http.NewRequestWithContext(ctx(t), http.MethodPut, r.admin.URL+"/v2/"+repo+"/manifests/"+ref, strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("regtest: PUT manifest %s:%s: %s", repo, ref, resp.Status)
	}
	return h
}

// CopyTag points dst (repo:tag) at the manifest src (repo:tag) points at.
func (r *Registry) CopyTag(t testing.TB, src, dst string) {
	t.Helper()
	desc, err := remote.Get(r.adminRef(t, src), remote.WithContext(ctx(t)))
	if err != nil {
		t.Fatalf("regtest: %s: %v", src, err)
	}
	repo, tag, _ := strings.Cut(dst, ":")
	r.putManifest(t, repo, tag, desc.Manifest, desc.MediaType)
}
