package review

// Reading a render's YAML stream into resources.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxResources bounds the resources read from one render.
const maxResources = 10000

// resource is one document of a render.
type resource struct {
	key                        string // kind/namespace/name, or kind/name
	apiVersion, kind, ns, name string
	obj                        map[string]any
}

// parseStream reads every document of a YAML stream; empty documents are
// skipped, a List's items are taken one by one.
func parseStream(stream string) ([]resource, error) {
	dec := yaml.NewDecoder(strings.NewReader(stream))
	var out []resource
	seen := map[string]int{}
	for i := 0; ; i++ {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d of the render: %w", i+1, err)
		}
		if len(obj) == 0 {
			continue
		}
		objs := []map[string]any{obj}
		if kind, _ := obj["kind"].(string); strings.HasSuffix(kind, "List") && obj["items"] != nil {
			objs = nil
			items, _ := obj["items"].([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					objs = append(objs, m)
				}
			}
		}
		for _, o := range objs {
			r := newResource(o)
			if n := seen[r.key]; n > 0 {
				r.key = fmt.Sprintf("%s#%d", r.key, n+1)
			}
			seen[r.key]++
			out = append(out, r)
			if len(out) > maxResources {
				return nil, fmt.Errorf("the render has more than %d resources", maxResources)
			}
		}
	}
	return out, nil
}

func newResource(obj map[string]any) resource {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	meta, _ := obj["metadata"].(map[string]any)
	r := resource{apiVersion: str(obj, "apiVersion"), kind: str(obj, "kind"), obj: obj}
	if meta != nil {
		r.ns, r.name = str(meta, "namespace"), str(meta, "name")
		if r.name == "" {
			r.name = str(meta, "generateName") + "*"
		}
	}
	r.key = r.kind + "/" + r.name
	if r.ns != "" {
		r.key = r.kind + "/" + r.ns + "/" + r.name
	}
	return r
}

// marshal writes obj as YAML with sorted keys and two-space indents, so
// that the same resource always reads the same.
func marshal(obj map[string]any) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	_ = enc.Encode(obj)
	_ = enc.Close()
	return b.Bytes()
}
