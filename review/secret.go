package review

// Secrets: their values never leave this package. Each value of data and
// stringData is replaced by a mark that says only whether it changed.

import "slices"

const (
	redacted        = "(redacted)"
	redactedChanged = "(redacted, changed)"
)

func isSecret(r resource) bool {
	return r.kind == "Secret" && (r.apiVersion == "v1" || r.apiVersion == "")
}

// maskSecrets replaces the values of a Secret's data and stringData in old
// and new (either may be nil) and returns the keys whose values differ,
// were added or removed.
func maskSecrets(old, new map[string]any) []string {
	var changed []string
	for _, field := range []string{"data", "stringData"} {
		o, _ := field2(old, field)
		n, _ := field2(new, field)
		keys := map[string]bool{}
		for k := range o {
			keys[k] = true
		}
		for k := range n {
			keys[k] = true
		}
		for k := range keys {
			ov, inOld := o[k]
			nv, inNew := n[k]
			mark := redacted
			if !inOld || !inNew || ov != nv {
				mark = redactedChanged
				changed = append(changed, field+"."+k)
			}
			if inOld {
				o[k] = mark
			}
			if inNew {
				n[k] = mark
			}
		}
	}
	slices.Sort(changed)
	return changed
}

func field2(obj map[string]any, f string) (map[string]any, bool) {
	if obj == nil {
		return nil, false
	}
	m, ok := obj[f].(map[string]any)
	return m, ok
}
