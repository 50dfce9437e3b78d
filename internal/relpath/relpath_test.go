package relpath

import "testing"

func TestCheck(t *testing.T) {
	for _, ok := range []string{"warehouses/app/builds", "a", "apps/.hidden/x", "a/..b/c"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "/etc", `warehouses\x`, "warehouses/../..", "warehouses/..x/../..", "a//b", "a/./b", "a/", "a\x00b", "a\nb", ".."} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%q) = nil, want an error", bad)
		}
	}
}
