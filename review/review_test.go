package review

import (
	"encoding/json"
	"strings"
	"testing"
)

const oldRender = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: staging
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/o/app:git-1
          resources: {requests: {cpu: 100m}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: staging}
stringData:
  password: old-Pa55-value
  user: admin
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone, namespace: staging}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: staging}
spec: {ports: [{port: 80}]}
`

const newRender = `# Source: codeai/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: staging
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/o/app:git-2
          resources: {requests: {cpu: 200m}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: staging}
stringData:
  password: new-Pa55-value
  user: admin
  token: added-T0ken-value
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: staging}
spec: {ports: [{port: 80}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec: {template: {spec: {containers: [{name: m, image: "ghcr.io/o/app:git-2"}]}}}
`

var secrets = []string{"old-Pa55-value", "new-Pa55-value", "added-T0ken-value"}

func TestCompare(t *testing.T) {
	rv, err := Compare(oldRender, newRender)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range rv.Changes {
		ops = append(ops, c.Op+" "+c.Resource)
	}
	if got := strings.Join(ops, "; "); got != "removed ConfigMap/staging/gone; changed Deployment/staging/web; added Job/migrate; changed Secret/staging/creds" {
		t.Errorf("changes: %s", got)
	}
	s := rv.Summary
	if s.Added != 1 || s.Removed != 1 || s.Changed != 2 || s.Unchanged != 1 {
		t.Errorf("counts: %+v", s)
	}
	if len(s.Images) != 2 || s.Images[0] != (ImageChange{"Deployment/staging/web", "web", "ghcr.io/o/app:git-1", "ghcr.io/o/app:git-2"}) || s.Images[1].Old != "" {
		t.Errorf("images: %+v", s.Images)
	}
	if len(s.Replicas) != 1 || s.Replicas[0] != (ValueChange{"Deployment/staging/web", "2", "3"}) {
		t.Errorf("replicas: %+v", s.Replicas)
	}
	if len(s.ComputeResources) != 1 || s.ComputeResources[0] != "Deployment/staging/web web" {
		t.Errorf("compute resources: %v", s.ComputeResources)
	}
	sec := rv.Changes[3]
	if strings.Join(sec.SecretKeys, ",") != "stringData.password,stringData.token" {
		t.Errorf("secret keys: %v", sec.SecretKeys)
	}
	dep := rv.Changes[1].Diff
	for _, want := range []string{"--- a/Deployment/staging/web", "-  replicas: 2", "+  replicas: 3", "+        - image: ghcr.io/o/app:git-2", "-              cpu: 100m"} {
		if !strings.Contains(dep, want) {
			t.Errorf("the Deployment's diff lacks %q:\n%s", want, dep)
		}
	}
	md, cut := rv.Markdown("staging: git-1 → git-2", 1<<20)
	j, _ := json.Marshal(rv)
	for what, text := range map[string]string{"text": rv.Text(), "markdown": md, "json": string(j)} {
		for _, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("the %s shows a Secret value %q:\n%s", what, v, text)
			}
		}
		if !strings.Contains(text, "redacted, changed") && what != "json" {
			t.Errorf("the %s does not mark the changed Secret values", what)
		}
	}
	if cut || !strings.Contains(md, "<summary><code>~ Deployment/staging/web</code></summary>") || !strings.Contains(md, "| `Deployment/staging/web` | `web` | `ghcr.io/o/app:git-1` | `ghcr.io/o/app:git-2` |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestMarkdownIsCut(t *testing.T) {
	rv, err := Compare(oldRender, newRender)
	if err != nil {
		t.Fatal(err)
	}
	md, cut := rv.Markdown("staging", 1200)
	if !cut || len(md) > 1200 || !strings.Contains(md, "more changed resources are not shown") {
		t.Errorf("cut=%v len=%d:\n%s", cut, len(md), md)
	}
}

func TestSameRender(t *testing.T) {
	rv, err := Compare(oldRender, oldRender)
	if err != nil || len(rv.Changes) != 0 || rv.Summary.Unchanged != 4 {
		t.Fatalf("%+v %v", rv, err)
	}
	if md, _ := rv.Markdown("x", 4096); !strings.Contains(md, "The rendered manifests are the same.") {
		t.Errorf("markdown: %s", md)
	}
}

func FuzzCompare(f *testing.F) {
	f.Add(oldRender, newRender)
	f.Add("kind: List\nitems: [{kind: Secret, apiVersion: v1, metadata: {name: s}, data: {k: c2VjcmV0LXZhbHVl}}]\n", "a: [")
	f.Fuzz(func(t *testing.T, a, b string) {
		rv, err := Compare(a, b)
		if err != nil {
			return
		}
		md, _ := rv.Markdown("t", 8192)
		if len(md) > 8192 {
			t.Fatalf("markdown of %d bytes, over its cap", len(md))
		}
		_ = rv.Text()
	})
}
