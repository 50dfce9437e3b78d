package target

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSetValueQuoting checks that a plain scalar stays plain when the new
// value reads back as the same string, and is quoted otherwise.
func TestSetValueQuoting(t *testing.T) {
	tests := []struct {
		name, in, value, want string
	}{
		{"plain stays plain", "k: v # c\n", "git-abc", "k: git-abc # c\n"},
		{"image ref with colon stays plain", "k: v\n", "ghcr.io/a/b:1.2", "k: ghcr.io/a/b:1.2\n"},
		{"true", "k: v\n", "true", "k: 'true'\n"},
		{"yaml 1.1 bool", "k: v\n", "yes", "k: 'yes'\n"},
		{"on", "k: v\n", "on", "k: 'on'\n"},
		{"null", "k: v\n", "null", "k: 'null'\n"},
		{"tilde", "k: v\n", "~", "k: '~'\n"},
		{"empty", "k: v\n", "", "k: ''\n"},
		{"digits", "k: v\n", "0123", "k: '0123'\n"},
		{"underscored digits", "k: v\n", "1_000", "k: '1_000'\n"},
		{"hex", "k: v\n", "0x1F", "k: '0x1F'\n"},
		{"huge exponent", "k: v\n", "9e999", "k: '9e999'\n"},
		{"date", "k: v\n", "2001-12-14", "k: '2001-12-14'\n"},
		{"infinity", "k: v\n", ".inf", "k: '.inf'\n"},
		{"colon space", "k: v\n", "a: b", "k: 'a: b'\n"},
		{"space hash", "k: v\n", "a #b", "k: 'a #b'\n"},
		{"leading dash", "k: v\n", "- a", "k: '- a'\n"},
		{"leading star", "k: v\n", "*x", "k: '*x'\n"},
		{"single quote inside", "k: v\n", "it's", "k: it's\n"},
		{"single quote doubled", "k: 'v'\n", "it's", "k: 'it''s'\n"},
		{"newline needs double quotes", "k: v\n", "a\nb", "k: \"a\\nb\"\n"},
		{"double quoted escapes", "k: \"v\" # c\n", "a\"b\\c\td", "k: \"a\\\"b\\\\c\\td\" # c\n"},
		{"flow mapping comma", "m: {k: v, o: w}\n", "a,b", "m: {k: 'a,b', o: w}\n"},
		{"flow sequence", "m: [v, w]\n", "x", "m: [x, w]\n"},
		{"flow mapping colon", "m: {k: v}\n", "a:b", "m: {k: 'a:b'}\n"},
		{"explicit tag kept", "k: !!str 123 # c\n", "456", "k: !!str '456' # c\n"},
		{"multi-line quoted", "k: \"a\n  b\" # c\nn: 1\n", "z", "k: \"z\" # c\nn: 1\n"},
		{"unicode before", "é: 'ü' # ø\nk: v\n", "ß", "é: 'ü' # ø\nk: ß\n"},
		{"bom", "\uFEFFk: v # c\n", "w", "\uFEFFk: w # c\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k"
			if strings.HasPrefix(tt.in, "m:") {
				key = "m.k"
				if strings.HasPrefix(tt.in, "m: [") {
					key = "m[0]"
				}
			}
			out, c, err := SetValue([]byte(tt.in), key, tt.value)
			if err != nil {
				t.Fatalf("SetValue: %v", err)
			}
			if string(out) != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
			if c.New != tt.value {
				t.Errorf("change.New = %q, want %q", c.New, tt.value)
			}
		})
	}
}

// TestSetValueUnchanged checks that setting the current value returns the
// input bytes and a Change with Old == New.
func TestSetValueUnchanged(t *testing.T) {
	in := []byte("# c\nimage: \"x:1\"   # keep\n")
	out, c, err := SetValue(in, "image", "x:1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) || c != (Change{"image", "x:1", "x:1"}) {
		t.Errorf("got %q, %+v", out, c)
	}
}

// TestErrors lists the inputs every editor must refuse, and the sentinel
// each refusal wraps.
func TestErrors(t *testing.T) {
	const app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n"
	const kust = "resources:\n- github.com/o/r//base?ref=a\nimages:\n- name: app\n  newTag: t\n"
	set := func(in, key string) func() error {
		return func() error { _, _, err := SetValue([]byte(in), key, "new"); return err }
	}
	rev := func(in, repo string) func() error {
		return func() error { _, _, err := SetApplicationRevision([]byte(in), repo, "abc"); return err }
	}
	kz := func(in string, e KustomizeEdit) func() error {
		return func() error { _, _, err := SetKustomization([]byte(in), e); return err }
	}
	base := KustomizeEdit{SourceRepo: "https://github.com/o/r", SourcePath: "base", Ref: "b", ImageName: "app", NewTag: "t2"}
	with := func(f func(*KustomizeEdit)) KustomizeEdit { e := base; f(&e); return e }
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"missing leaf key", set("image: x\n", "targetRevision"), ErrNotFound},
		{"missing nested key", set("image:\n  repository: x\n", "image.tag"), ErrNotFound},
		{"path through a scalar", set("image: x\n", "image.tag"), ErrNotFound},
		{"index out of range", set("a: [x]\n", "a[1]"), ErrNotFound},
		{"empty file", set("", "a"), ErrNotFound},
		{"only a comment", set("# nothing\n", "a"), ErrNotFound},
		{"literal block scalar", set("a: |\n  x\n", "a"), ErrUnsupported},
		{"folded block scalar", set("a: >-\n  x\n", "a"), ErrUnsupported},
		{"alias", set("x: &v old\na: *v\n", "a"), ErrUnsupported},
		{"anchored scalar", set("a: &v old\nb: *v\n", "a"), ErrUnsupported},
		{"alias on the way", set("x: &m {t: 1}\na: *m\n", "a.t"), ErrUnsupported},
		{"merge key", set("x: &m {t: 1}\na:\n  <<: *m\n  u: 2\n", "a.t"), ErrUnsupported},
		{"duplicate key", set("a: 1\na: 2\n", "a"), ErrUnsupported},
		{"mapping, not scalar", set("a:\n  b: c\n", "a"), ErrUnsupported},
		{"multi-line plain scalar", set("a: x\n  y\n", "a"), ErrUnsupported},
		{"empty value", set("a:\nb: c\n", "a"), ErrUnsupported},
		{"not YAML", set("a: [\n", "a"), ErrInvalid},
		{"not UTF-8", set("a: \xff\n", "a"), ErrInvalid},
		{"too large", set("a: x\n#"+strings.Repeat("x", MaxFileSize), "a"), ErrInvalid},
		{"bad key path", set("a: x\n", "a..b"), ErrInvalid},
		{"no Application", rev("kind: ConfigMap\n", "github.com/o/r"), ErrNotApplication},
		{"Application of another group", rev("apiVersion: v1\nkind: Application\nspec: {}\n", ""), ErrNotApplication},
		{"Application that does not decode", rev(app+"  sources: {a: b}\n", "github.com/o/r"), ErrNotApplication},
		{"two Applications", rev(app+"  source: {repoURL: x, targetRevision: y}\n---\n"+app+"  source: {repoURL: x}\n", ""), ErrAmbiguous},
		{"two matching sources", rev(app+"  sources:\n  - repoURL: https://github.com/o/r\n    targetRevision: a\n  - repoURL: git@github.com:o/r.git\n    targetRevision: b\n", "github.com/o/r"), ErrAmbiguous},
		{"no matching source", rev(app+"  sources:\n  - repoURL: https://github.com/o/other\n    targetRevision: a\n", "github.com/o/r"), ErrNotFound},
		{"source of another repo", rev(app+"  source:\n    repoURL: https://github.com/o/other\n    targetRevision: a\n", "github.com/o/r"), ErrNotFound},
		{"source without targetRevision", rev(app+"  source:\n    repoURL: https://github.com/o/r\n", "github.com/o/r"), ErrNotFound},
		{"no source at all", rev(app+"  project: default\n", "github.com/o/r"), ErrNotFound},
		{"sources without a repo to choose", rev(app+"  sources:\n  - repoURL: https://github.com/o/r\n    targetRevision: a\n", ""), ErrInvalid},
		{"no matching remote", kz(kust, with(func(e *KustomizeEdit) { e.SourcePath = "other" })), ErrNotFound},
		{"two matching remotes", kz("resources:\n- github.com/o/r//base?ref=a\n- https://github.com/o/r.git//base\n", base), ErrAmbiguous},
		{"remote with ref and version", kz("resources:\n- github.com/o/r//base?ref=a&version=b\n", base), ErrAmbiguous},
		{"no resources", kz("images: []\n", base), ErrNotFound},
		{"no matching image", kz(kust, with(func(e *KustomizeEdit) { e.ImageName = "other" })), ErrNotFound},
		{"two matching images", kz(kust+"- name: app\n  newTag: u\n", base), ErrAmbiguous},
		{"digest key absent", kz(kust, with(func(e *KustomizeEdit) { e.Digest = digest })), ErrNotFound},
		{"newTag key absent", kz("resources:\n- github.com/o/r//base\nimages:\n- name: app\n", base), ErrNotFound},
		{"empty ref", kz(kust, with(func(e *KustomizeEdit) { e.Ref = "" })), ErrInvalid},
		{"ref needing escapes", kz(kust, with(func(e *KustomizeEdit) { e.Ref = "a&b=c" })), ErrInvalid},
		{"bad tag", kz(kust, with(func(e *KustomizeEdit) { e.NewTag = "a b" })), ErrInvalid},
		{"bad digest", kz(kust, with(func(e *KustomizeEdit) { e.Digest = "sha256" })), ErrInvalid},
		{"block scalar remote", kz("resources:\n- |\n  github.com/o/r//base?ref=a\n", base), ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want one wrapping %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

// TestErrorsRedactCredentials checks that a token in a repository URL
// never appears in an error message.
func TestErrorsRedactCredentials(t *testing.T) {
	const token = "ghp_s3cr3tT0ken"
	app := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n" +
		"  source: {repoURL: 'https://x:" + token + "@github.com/o/other', targetRevision: a}\n"
	_, _, err1 := SetApplicationRevision([]byte(app), "https://"+token+"@github.com/o/r", "b")
	_, _, err2 := SetKustomization([]byte("resources:\n- https://"+token+"@github.com/o/r//base?ref=a&ref=b\n"),
		KustomizeEdit{SourceRepo: "https://" + token + "@github.com/o/r", SourcePath: "base", Ref: "c"})
	_, _, err3 := SetKustomization([]byte("resources: []\n"),
		KustomizeEdit{SourceRepo: "https://u:" + token + "@github.com/o/r", SourcePath: "base", Ref: "c"})
	for i, err := range []error{err1, err2, err3} {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("case %d: error leaks the token: %v", i, err)
		}
	}
}

// TestSetValueOtherDocument checks that later documents never move, even
// when they hold the same key.
func TestSetValueOtherDocument(t *testing.T) {
	in := "a: 1\n---\na: 1\n"
	out, _, err := SetValue([]byte(in), "a", "2")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: '2'\n---\na: 1\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestParsePath checks key path parsing, including escaped dots.
func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want string // formatPath of the result, "" for an error
		n    int
	}{
		{"a", "a", 1},
		{"spec.sources[0].targetRevision", "spec.sources[0].targetRevision", 4},
		{`locals\.yml.stack_name`, `locals\.yml.stack_name`, 2},
		{"[2].a", "[2].a", 2},
		{"a[0][1]", "a[0][1]", 3},
		{"", "", 0},
		{"a.", "", 0},
		{".a", "", 0},
		{"a[x]", "", 0},
		{"a[-1]", "", 0},
		{"a[0", "", 0},
		{"a[0]b", "", 0},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("parsePath(%q) = %v, %v; want ErrInvalid", tt.in, p, err)
			}
			continue
		}
		if err != nil || formatPath(p) != tt.want || len(p) != tt.n {
			t.Errorf("parsePath(%q) = %v (%q), %v; want %q with %d elements", tt.in, p, formatPath(p), err, tt.want, tt.n)
		}
	}
	out, _, err := SetValue([]byte("locals.yml:\n  stack_name: staging\n"), `locals\.yml.stack_name`, "prod")
	if err != nil || string(out) != "locals.yml:\n  stack_name: prod\n" {
		t.Errorf("escaped dot: got %q, %v", out, err)
	}
}

// TestSetValueInDocument checks that only the chosen document moves.
func TestSetValueInDocument(t *testing.T) {
	in := "# one\na: x # c\n---\n# two\na: x # c\n...\n"
	out, c, err := SetValueInDocument([]byte(in), 1, "a", "z")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# one\na: x # c\n---\n# two\na: z # c\n...\n"; string(out) != want || c.Old != "x" {
		t.Errorf("got %q, %+v; want %q", out, c, want)
	}
	if _, _, err := SetValueInDocument([]byte(in), 2, "a", "y"); !errors.Is(err, ErrNotFound) {
		t.Errorf("document 3 of 2: err = %v, want ErrNotFound", err)
	}
}
