package target

import (
	"errors"
	"strings"
	"testing"
)

const wrapper = `# Machine-owned: argo-refs-promote applies the wrapper contract.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: old-ns   # from deployment.yaml
resources:
  - https://github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=0000000000000000000000000000000000000000&timeout=120s
components:
  - ../../../envTypes/staging
images:
  - name: code-dot-org
    newName: ghcr.io/old/place # moved
    newTag: git-0000000000000000000000000000000000000000
`

var contractEdit = KustomizeEdit{
	SourceRepo: "https://github.com/code-dot-org/code-dot-org.git", SourcePath: "k8s/kustomize/base",
	Ref: "0cc4cd87f40ae606d1822d5652b552f8c50a4668", ImageName: "code-dot-org", NewTag: "git-0cc4cd87f40ae606d1822d5652b552f8c50a4668",
	Contract: &WrapperContract{Namespace: "levelbuilder", EnvType: "levelbuilder", NewName: "ghcr.io/code-dot-org/code-dot-org"},
}

// TestWrapperContractGolden: the whole contract is applied and every other
// byte, comments included, is kept. The expected file is written by hand.
func TestWrapperContractGolden(t *testing.T) {
	want := `# Machine-owned: argo-refs-promote applies the wrapper contract.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: levelbuilder   # from deployment.yaml
resources:
  - https://github.com/code-dot-org/code-dot-org//k8s/kustomize/base?ref=0cc4cd87f40ae606d1822d5652b552f8c50a4668&timeout=120s
components:
  - ../../../envTypes/levelbuilder
images:
  - name: code-dot-org
    newName: ghcr.io/code-dot-org/code-dot-org # moved
    newTag: git-0cc4cd87f40ae606d1822d5652b552f8c50a4668
`
	out, changes, err := SetKustomization([]byte(wrapper), contractEdit)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	var keys []string
	for _, c := range changes {
		keys = append(keys, c.Key)
	}
	if got := strings.Join(keys, " "); got != "resources[0] images[0].newTag namespace components[0] images[0].newName" {
		t.Fatalf("changes %s", got)
	}
	// A second run changes nothing.
	again, _, err := SetKustomization(out, contractEdit)
	if err != nil || string(again) != want {
		t.Fatalf("second run: %v\n%s", err, again)
	}
}

func TestWrapperContractRefusals(t *testing.T) {
	strict := contractEdit
	c := *contractEdit.Contract
	c.Strict = true
	strict.Contract = &c
	for _, tc := range []struct {
		name string
		in   string
		edit KustomizeEdit
		want string
	}{
		{"two resources", strings.Replace(wrapper, "components:", "  - ../extra\ncomponents:", 1), contractEdit, "resources has 2 entries"},
		{"two components", strings.Replace(wrapper, "images:", "  - ../../../components/autoscaling\nimages:", 1), contractEdit, "components has 2 entries"},
		{"components not an envType", strings.Replace(wrapper, "../../../envTypes/staging", "../../base", 1), contractEdit, "want <relative path>/envTypes/<envType>"},
		{"no namespace", strings.Replace(wrapper, "namespace: old-ns   # from deployment.yaml\n", "", 1), contractEdit, "namespace"},
		{"strict: a field outside the contract", wrapper + "patches:\n  - path: p.yaml\n", strict, `top-level field "patches"`},
		{"strict: another kind", strings.Replace(wrapper, "kind: Kustomization", "kind: Component", 1), strict, `kind is "Component", want "Kustomization"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := SetKustomization([]byte(tc.in), tc.edit)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrUnsupported or ErrNotFound", err)
			}
		})
	}
	// Not strict: a field outside the contract is policy, kept as it is.
	in := wrapper + "patches:\n  - path: p.yaml\n"
	out, _, err := SetKustomization([]byte(in), contractEdit)
	if err != nil || !strings.HasSuffix(string(out), "patches:\n  - path: p.yaml\n") {
		t.Fatalf("non-strict: %v\n%s", err, out)
	}
}

func TestReadDeploymentMeta(t *testing.T) {
	env, ns, err := ReadDeploymentMeta([]byte("# read by the ApplicationSet\nenvType: production\nnamespace: production-2\n"))
	if err != nil || env != "production" || ns != "production-2" {
		t.Fatalf("= %q, %q, %v", env, ns, err)
	}
	for _, bad := range []string{"namespace: x\n", "envType: a/b\nnamespace: x\n", "envType: ..\nnamespace: x\n", "envType: [a]\nnamespace: x\n", "- a\n"} {
		if _, _, err := ReadDeploymentMeta([]byte(bad)); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReadDeploymentMeta(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}
