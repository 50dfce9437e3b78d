package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"repoURL", "branch", "buildLockDir", "targets", "timeout", "app"}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"repoUrl", "repoURL", true},
		{"REPOURL", "repoURL", true},
		{"brnch", "branch", true},
		{"buildlockdir", "buildLockDir", true},
		{"target", "targets", true},
		{"tmeout", "timeout", true},
		{"apps", "app", true},
		{"ap", "app", true},
		{"xyz", "", false},
		{"branchname", "", false},
		{"", "", false},
	} {
		got, ok := Closest(tc.name, keys)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := Closest("x", nil); ok {
		t.Error("Closest with no candidates found one")
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"é", "e", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	long := string(make([]rune, 65))
	if Distance(long, long) < 1000 {
		t.Error("strings over 64 runes count as close")
	}
}
