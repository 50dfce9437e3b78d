package warehouse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	helmSHA    = "2b8380dc84b4e4a5616f1943847c41e42545d937"
	helmDigest = "sha256:ab14d3faa25e917efe6e7135d4ecca197866738885a88b9b95d1a16d2bb5b323"
)

// goldenCases are the hand-written files in testdata/golden and the New
// arguments that must render to them byte for byte.
var goldenCases = []struct {
	file                                     string
	commit, ref, digest, kind, repo, srcPath string
	createdAt                                time.Time
}{
	{
		file:   "helm.yaml",
		commit: helmSHA,
		ref:    "ghcr.io/code-dot-org/code-dot-org:git-" + helmSHA,
		digest: helmDigest,
		kind:   PackagingHelm, repo: "https://github.com/code-dot-org/code-dot-org.git", srcPath: "k8s/helm",
		// A non-UTC zone and sub-second part: New stores UTC whole seconds.
		createdAt: time.Date(2026, 3, 22, 11, 10, 9, 999_000_000, time.FixedZone("CET", 3600)),
	},
	{
		file:   "kustomize.yaml",
		commit: "4cb245808affb4f138c27ec8814a2f97c3cdf9fa",
		ref:    "registry.example.com:5000/apps/code-dot-org:git-4cb245808affb4f138c27ec8814a2f97c3cdf9fa",
		digest: "sha256:a93758687ddeae8a51ec33245cf43d6960bef1754d6f5f5d23bf822576868dc4",
		kind:   PackagingKustomize, repo: "git@github.com:code-dot-org/code-dot-org.git", srcPath: "k8s/kustomize/base",
		createdAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	},
	{
		// All decimal digits: Psych quotes it because it reads as an integer.
		file:   "digits.yaml",
		commit: "1234567890123456789012345678901234567890",
		ref:    "ghcr.io/code-dot-org/code-dot-org:git-1234567890123456789012345678901234567890",
		digest: "sha256:cc6b6bad31a0ff4d6dfd4953a6346a1c463d884723898a2af964b998e5499e22",
		kind:   PackagingHelm, repo: "https://github.com/code-dot-org/code-dot-org.git", srcPath: "k8s/helm",
		createdAt: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
	},
	{
		// Digits with one "e" read as a float; a leading "./" makes Psych
		// double-quote the path.
		file:   "exponent.yaml",
		commit: "1012345678901234567890e12345678901234567",
		ref:    "ghcr.io/code-dot-org/code-dot-org:git-1012345678901234567890e12345678901234567",
		digest: "sha256:27189634949e0591dd2decdf4607680f6eb3f30992949230ac110e9fff61a1f8",
		kind:   PackagingKustomize, repo: "ssh://git@github.com/code-dot-org/code-dot-org.git", srcPath: "./k8s/kustomize/base",
		createdAt: time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC),
	},
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRenderMatchesGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			want := readGolden(t, tc.file)
			r, err := New(tc.commit, tc.ref, tc.digest, tc.kind, tc.repo, tc.srcPath, tc.createdAt)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := r.Render(); !bytes.Equal(got, want) {
				t.Errorf("Render() =\n%s\nwant (testdata/golden/%s)\n%s", got, tc.file, want)
			}
			parsed, err := Parse(tc.file, want)
			if err != nil {
				t.Fatalf("Parse(golden): %v", err)
			}
			if !reflect.DeepEqual(parsed, r) {
				t.Errorf("Parse(golden) = %+v, want %+v", parsed, r)
			}
			if got := parsed.Render(); !bytes.Equal(got, want) {
				t.Errorf("Render(Parse(golden)) differs from golden:\n%s", got)
			}
		})
	}
}

func TestNew(t *testing.T) {
	r, err := New(helmSHA, "ghcr.io/a/b:git-"+helmSHA, helmDigest, PackagingHelm, "https://github.com/a/b.git", "k8s/helm",
		time.Date(2026, 3, 22, 12, 10, 9, 500, time.FixedZone("X", 2*3600)))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC); !r.CreatedAt.Equal(want) || r.CreatedAt.Location() != time.UTC || r.CreatedAt.Nanosecond() != 0 {
		t.Errorf("CreatedAt = %v, want %v in UTC whole seconds", r.CreatedAt, want)
	}
	if r.SchemaVersion != SchemaV1 || r.ReleaseID != "git-"+helmSHA {
		t.Errorf("SchemaVersion, ReleaseID = %q, %q", r.SchemaVersion, r.ReleaseID)
	}

	_, err = New("abc", "ghcr.io/a/b:git-abc", "sha256:00", "jsonnet", "", "", time.Time{})
	fields := map[string]bool{}
	for _, fe := range fieldErrors(err) {
		fields[fe.Field] = true
		if fe.File != "git-abc.yaml" {
			t.Errorf("File = %q, want git-abc.yaml", fe.File)
		}
	}
	for _, f := range []string{"gitCommit", "image.digest", "packaging.kind", "packaging.sourceRepo", "packaging.sourcePath", "createdAt"} {
		if !fields[f] {
			t.Errorf("New with bad %s: no error for it; got %v", f, err)
		}
	}
	if !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("errors.Is(%v, ErrInvalidRecord) = false", err)
	}
}

func TestHelpers(t *testing.T) {
	if got := ReleaseID(helmSHA); got != "git-"+helmSHA {
		t.Errorf("ReleaseID = %q", got)
	}
	if got := HistoricalName(helmSHA); got != "git-"+helmSHA+".yaml" {
		t.Errorf("HistoricalName = %q", got)
	}
	for ref, want := range map[string]string{
		"ghcr.io/org/app:git-" + helmSHA:         "ghcr.io/org/app",
		"localhost:5000/org/app:git-" + helmSHA:  "localhost:5000/org/app",
		"localhost:5000/org/app":                 "localhost:5000/org/app",
		"app:git-" + helmSHA:                     "app",
		"registry.example.com:5000/apps/app:tag": "registry.example.com:5000/apps/app",
	} {
		r := &Record{Image: Image{Ref: ref}}
		if got := r.ImageRepository(); got != want {
			t.Errorf("ImageRepository(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestErrorText(t *testing.T) {
	fe := &FieldError{File: "b/current.yaml", Field: "image.ref", Problem: "expected x, found \"y\""}
	if got, want := fe.Error(), `b/current.yaml: image.ref: expected x, found "y"`; got != want {
		t.Errorf("FieldError.Error() = %q, want %q", got, want)
	}
	if got, want := (&FieldError{File: "f", Problem: "is empty"}).Error(), "f: is empty"; got != want {
		t.Errorf("FieldError.Error() without field = %q, want %q", got, want)
	}
	se := &SetError{Dir: "warehouses/a/builds", Problem: "current.yaml is missing"}
	if got, want := se.Error(), "warehouses/a/builds: current.yaml is missing"; got != want {
		t.Errorf("SetError.Error() = %q, want %q", got, want)
	}
	for _, err := range []error{fe, se} {
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("errors.Is(%T, ErrInvalidRecord) = false", err)
		}
		if errors.Is(err, os.ErrNotExist) {
			t.Errorf("errors.Is(%T, os.ErrNotExist) = true", err)
		}
	}
}

// fieldErrors flattens the *FieldError values in err (joined or not).
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
		}
	}
	walk(err)
	return out
}

// replace returns the helm golden record with old replaced by new (exactly once).
func replace(t *testing.T, old, new string) []byte {
	t.Helper()
	data := string(readGolden(t, "helm.yaml"))
	if strings.Count(data, old) != 1 {
		t.Fatalf("%q occurs %d times in helm.yaml", old, strings.Count(data, old))
	}
	return []byte(strings.Replace(data, old, new, 1))
}

func billionLaughs() []byte {
	var b strings.Builder
	b.WriteString("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

func TestParseRejects(t *testing.T) {
	const sha = helmSHA
	secret := "s3cr3t-t0ken"
	tests := []struct {
		name  string
		data  func(t *testing.T) []byte
		field string // "" for whole-file problems
		want  string // substring of the FieldError's Problem
		// absent, if set, must not appear anywhere in the error text.
		absent string
	}{
		// Whole-file problems.
		{name: "oversized", data: func(t *testing.T) []byte {
			return append(readGolden(t, "helm.yaml"), bytes.Repeat([]byte("#"), MaxRecordSize+1-len(readGolden(t, "helm.yaml")))...)
		}, want: "larger than the 1048576-byte limit"},
		{name: "BOM", data: func(t *testing.T) []byte { return append([]byte("\xef\xbb\xbf"), readGolden(t, "helm.yaml")...) }, want: "byte order mark"},
		{name: "CRLF", data: func(t *testing.T) []byte {
			return bytes.ReplaceAll(readGolden(t, "helm.yaml"), []byte("\n"), []byte("\r\n"))
		}, want: "CRLF line ending) on line 1; records use LF"},
		{name: "invalid UTF-8", data: func(t *testing.T) []byte { return replace(t, "k8s/helm", "k8s/\xff") }, want: "not valid UTF-8"},
		{name: "empty", data: func(*testing.T) []byte { return nil }, want: "is empty"},
		{name: "truncated mid-value", data: func(t *testing.T) []byte {
			d := readGolden(t, "helm.yaml")
			return d[:len(d)-10]
		}, want: "not valid YAML"},
		{name: "truncated after image", data: func(t *testing.T) []byte {
			d := readGolden(t, "helm.yaml")
			return d[:bytes.Index(d, []byte("packaging:"))]
		}, field: "packaging", want: "missing"},
		{name: "two documents", data: func(t *testing.T) []byte {
			return append(append(readGolden(t, "helm.yaml"), "---\n"...), readGolden(t, "helm.yaml")...)
		}, want: "more than one YAML document"},
		{name: "anchor", data: func(t *testing.T) []byte { return replace(t, "image:\n", "image: &img\n") }, want: "anchor or alias on line 4"},
		{name: "alias", data: func(t *testing.T) []byte {
			return replace(t, "releaseId: git-"+sha+"\n", "releaseId: &r git-"+sha+"\nx: *r\n")
		}, want: "anchor or alias"},
		{name: "billion laughs", data: func(*testing.T) []byte { return billionLaughs() }, want: "anchor or alias on line 1"},
		{name: "top level is a sequence", data: func(*testing.T) []byte { return []byte("- a\n- b\n") }, want: "expected a mapping, found a sequence"},
		{name: "deep nesting", data: func(*testing.T) []byte { return bytes.Repeat([]byte("["), MaxRecordSize) }, want: "exceeded max depth"},
		{name: "many unknown keys", data: func(*testing.T) []byte { return bytes.Repeat([]byte("k: v\n"), 20_000) },
			want: "more key problems after line 11 not listed"},
		{name: "not YAML", data: func(*testing.T) []byte { return []byte("image: [unclosed\n") }, want: "not valid YAML"},

		// Structure.
		{name: "duplicate top-level key", data: func(t *testing.T) []byte {
			return replace(t, "schemaVersion: v1\n", "schemaVersion: v1\nschemaVersion: v1\n")
		}, field: "schemaVersion", want: "duplicate key on line 2 (first on line 1)"},
		{name: "duplicate nested key", data: func(t *testing.T) []byte {
			return replace(t, "  kind: helm\n", "  kind: helm\n  kind: kustomize\n")
		}, field: "packaging.kind", want: "duplicate key on line 9"},
		{name: "unknown top-level key", data: func(t *testing.T) []byte { return replace(t, "schemaVersion: v1\n", "schemaVersion: v1\nextra: x\n") },
			field: "extra", want: "unknown key on line 2; expected only schemaVersion, releaseId"},
		{name: "unknown nested key", data: func(t *testing.T) []byte { return replace(t, "  kind: helm\n", "  kind: helm\n  chart: x\n") },
			field: "packaging.chart", want: "unknown key on line 9; expected only kind, sourceRepo, sourcePath"},
		{name: "image as a string", data: func(t *testing.T) []byte {
			return replace(t, "image:\n  ref: ghcr.io/code-dot-org/code-dot-org:git-"+sha+"\n  digest: "+helmDigest+"\n", "image: ghcr.io/x:git-"+sha+"\n")
		}, field: "image", want: `expected a mapping, found the string "ghcr.io/x:git-`},
		{name: "packaging as a sequence", data: func(t *testing.T) []byte {
			return replace(t, "packaging:\n  kind: helm\n", "packaging:\n- kind: helm\n")
		}, field: "packaging", want: "expected a mapping, found a sequence"},
		{name: "gitCommit as an integer", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit: 1234") },
			field: "gitCommit", want: `expected a string, found int "1234" on line 3`},
		{name: "gitCommit null", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit:") },
			field: "gitCommit", want: "expected a string, found null"},
		{name: "schemaVersion as a bool", data: func(t *testing.T) []byte { return replace(t, "schemaVersion: v1", "schemaVersion: true") },
			field: "schemaVersion", want: `expected a string, found bool "true"`},
		{name: "createdAt unquoted", data: func(t *testing.T) []byte {
			return replace(t, "createdAt: '2026-03-22T10:10:09Z'", "createdAt: 2026-03-22T10:10:09Z")
		}, field: "createdAt", want: `expected a string, found timestamp "2026-03-22T10:10:09Z"`},
		{name: "missing gitCommit", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha+"\n", "") },
			field: "gitCommit", want: "missing; every field of a schema v1 record is required"},
		{name: "missing digest", data: func(t *testing.T) []byte { return replace(t, "  digest: "+helmDigest+"\n", "") },
			field: "image.digest", want: "missing"},

		// Field invariants.
		{name: "unknown schemaVersion", data: func(t *testing.T) []byte { return replace(t, "schemaVersion: v1", "schemaVersion: v2") },
			field: "schemaVersion", want: `expected "v1", found "v2"`},
		{name: "releaseId mismatch", data: func(t *testing.T) []byte { return replace(t, "releaseId: git-"+sha, "releaseId: v1.2.3") },
			field: "releaseId", want: `expected "git-` + sha + `" ("git-" + gitCommit), found "v1.2.3"`},
		{name: "short gitCommit", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit: 2b8380d") },
			field: "gitCommit", want: `found a short SHA of 7 characters "2b8380d"`},
		{name: "upper-case gitCommit", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit: "+strings.ToUpper(sha)) },
			field: "gitCommit", want: `found upper-case hex "2B8380DC`},
		{name: "non-hex gitCommit", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit: main") },
			field: "gitCommit", want: `found non-hex characters in "main"`},
		{name: "long gitCommit", data: func(t *testing.T) []byte { return replace(t, "gitCommit: "+sha, "gitCommit: "+sha+"00") },
			field: "gitCommit", want: "found 42 characters"},
		{name: "image ref without tag", data: func(t *testing.T) []byte {
			return replace(t, "ref: ghcr.io/code-dot-org/code-dot-org:git-"+sha, "ref: ghcr.io/code-dot-org/code-dot-org")
		}, field: "image.ref", want: `found "ghcr.io/code-dot-org/code-dot-org" with no tag`},
		{name: "image tag is not releaseId", data: func(t *testing.T) []byte {
			return replace(t, "ref: ghcr.io/code-dot-org/code-dot-org:git-"+sha, "ref: ghcr.io/code-dot-org/code-dot-org:latest")
		}, field: "image.ref", want: `expected the tag to equal releaseId "git-` + sha + `", found tag "latest"`},
		{name: "image ref with digest", data: func(t *testing.T) []byte {
			return replace(t, "ref: ghcr.io/code-dot-org/code-dot-org:git-"+sha, "ref: ghcr.io/code-dot-org/code-dot-org:git-"+sha+"@"+helmDigest)
		}, field: "image.ref", want: "without a digest (the digest goes in image.digest)"},
		{name: "image repository upper-case", data: func(t *testing.T) []byte {
			return replace(t, "ref: ghcr.io/code-dot-org/code-dot-org:", "ref: ghcr.io/Code-Dot-Org/app:")
		}, field: "image.ref", want: `whose repository "ghcr.io/Code-Dot-Org/app" is not a valid image repository`},
		{name: "digest sha512", data: func(t *testing.T) []byte { return replace(t, "digest: sha256:", "digest: sha512:") },
			field: "image.digest", want: `expected "sha256:" followed by 64 lowercase hex characters, found "sha512:ab14`},
		{name: "digest upper-case", data: func(t *testing.T) []byte { return replace(t, helmDigest, strings.ToUpper(helmDigest)) },
			field: "image.digest", want: `found "SHA256:AB14`},
		{name: "digest short", data: func(t *testing.T) []byte { return replace(t, helmDigest, "sha256:ab14") },
			field: "image.digest", want: `found "sha256:ab14"`},
		{name: "packaging kind", data: func(t *testing.T) []byte { return replace(t, "kind: helm", "kind: jsonnet") },
			field: "packaging.kind", want: `expected "helm" or "kustomize", found "jsonnet"`},
		{name: "sourceRepo empty", data: func(t *testing.T) []byte {
			return replace(t, "sourceRepo: https://github.com/code-dot-org/code-dot-org.git", "sourceRepo: ''")
		}, field: "packaging.sourceRepo", want: "found an empty value"},
		{name: "sourceRepo ftp", data: func(t *testing.T) []byte {
			return replace(t, "sourceRepo: https://github.com/", "sourceRepo: ftp://github.com/")
		}, field: "packaging.sourceRepo", want: `found scheme "ftp"`},
		{name: "sourceRepo not a URL", data: func(t *testing.T) []byte {
			return replace(t, "sourceRepo: https://github.com/code-dot-org/code-dot-org.git", "sourceRepo: code-dot-org")
		}, field: "packaging.sourceRepo", want: `with a host and a path, found "code-dot-org"`},
		{name: "sourceRepo with credentials", data: func(t *testing.T) []byte {
			return replace(t, "sourceRepo: https://github.com/", "sourceRepo: https://bot:"+secret+"@github.com/")
		}, field: "packaging.sourceRepo", want: `without credentials, found "https://REDACTED@github.com/`, absent: secret},
		{name: "sourceRepo ssh with password", data: func(t *testing.T) []byte {
			return replace(t, "sourceRepo: https://github.com/", "sourceRepo: ssh://git:"+secret+"@github.com/")
		}, field: "packaging.sourceRepo", want: "without credentials", absent: secret},
		{name: "sourcePath empty", data: func(t *testing.T) []byte { return replace(t, "sourcePath: k8s/helm", "sourcePath: ''") },
			field: "packaging.sourcePath", want: "found an empty value"},
		{name: "sourcePath absolute", data: func(t *testing.T) []byte { return replace(t, "sourcePath: k8s/helm", "sourcePath: /k8s/helm") },
			field: "packaging.sourcePath", want: `found absolute path "/k8s/helm"`},
		{name: "sourcePath escapes", data: func(t *testing.T) []byte { return replace(t, "sourcePath: k8s/helm", "sourcePath: k8s/../../etc") },
			field: "packaging.sourcePath", want: `found "k8s/../../etc" which contains ".."`},
		{name: "sourcePath with space", data: func(t *testing.T) []byte { return replace(t, "sourcePath: k8s/helm", "sourcePath: k8s/my chart") },
			field: "packaging.sourcePath", want: "printable ASCII without spaces"},
		{name: "createdAt not a time", data: func(t *testing.T) []byte { return replace(t, "'2026-03-22T10:10:09Z'", "'yesterday'") },
			field: "createdAt", want: `expected an RFC 3339 UTC time in seconds like "2026-03-22T10:10:09Z", found "yesterday"`},
		{name: "createdAt date only", data: func(t *testing.T) []byte { return replace(t, "'2026-03-22T10:10:09Z'", "'2026-03-22'") },
			field: "createdAt", want: `found "2026-03-22"`},
		{name: "createdAt offset", data: func(t *testing.T) []byte { return replace(t, "'2026-03-22T10:10:09Z'", "'2026-03-22T11:10:09+01:00'") },
			field: "createdAt", want: "with a non-UTC offset"},
		{name: "createdAt fractional", data: func(t *testing.T) []byte { return replace(t, "'2026-03-22T10:10:09Z'", "'2026-03-22T10:10:09.5Z'") },
			field: "createdAt", want: "with fractional seconds"},
		{name: "long value truncated", data: func(t *testing.T) []byte { return replace(t, "kind: helm", "kind: "+strings.Repeat("x", 500)) },
			field: "packaging.kind", want: `found "` + strings.Repeat("x", 80) + `"…`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse("b/current.yaml", tc.data(t))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error on %q containing %q", r, tc.field, tc.want)
			}
			if r != nil {
				t.Errorf("Parse returned a record with an error")
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("errors.Is(err, ErrInvalidRecord) = false for %v", err)
			}
			if tc.absent != "" && strings.Contains(err.Error(), tc.absent) {
				t.Errorf("error leaks %q: %v", tc.absent, err)
			}
			for _, fe := range fieldErrors(err) {
				if fe.File == "b/current.yaml" && fe.Field == tc.field && strings.Contains(fe.Problem, tc.want) {
					return
				}
			}
			t.Errorf("no FieldError for field %q containing %q in:\n%v", tc.field, tc.want, err)
		})
	}
}

func TestParseErrorIsBounded(t *testing.T) {
	data := bytes.Repeat([]byte("k: v\n"), 20_000)
	_, err := Parse("f", data)
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if n := len(err.Error()); n > 4096 {
		t.Errorf("error for %d unknown keys is %d bytes; want it bounded", 20_000, n)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	data := []byte(`schemaVersion: v1
releaseId: git-abc
gitCommit: ABC
image:
  ref: ghcr.io/a/b:latest
  digest: md5:00
packaging:
  kind: ksonnet
  sourceRepo: https://github.com/a/b.git
  sourcePath: /abs
createdAt: 'now'
`)
	_, err := Parse("f.yaml", data)
	got := map[string]bool{}
	for _, fe := range fieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"gitCommit", "releaseId", "image.ref", "image.digest", "packaging.kind", "packaging.sourcePath", "createdAt"} {
		if !got[f] {
			t.Errorf("no error for %s; got:\n%v", f, err)
		}
	}
	if got["packaging.sourceRepo"] || got["schemaVersion"] {
		t.Errorf("error for a valid field:\n%v", err)
	}
}

func TestParseAcceptsAtLimit(t *testing.T) {
	d := readGolden(t, "helm.yaml")
	d = append(d, '#')
	d = append(d, bytes.Repeat([]byte("x"), MaxRecordSize-len(d)-1)...)
	d = append(d, '\n')
	if len(d) != MaxRecordSize {
		t.Fatalf("test data is %d bytes", len(d))
	}
	if _, err := Parse("f", d); err != nil {
		t.Errorf("Parse of a %d-byte record: %v", len(d), err)
	}
}

func TestParseAcceptsOtherLayouts(t *testing.T) {
	// Valid YAML in another layout is still the same record.
	data := []byte(`# written by hand
schemaVersion: "v1"
releaseId: git-` + helmSHA + `
gitCommit: "` + helmSHA + `"
image: {ref: "ghcr.io/code-dot-org/code-dot-org:git-` + helmSHA + `", digest: "` + helmDigest + `"}
packaging:
    kind: helm
    sourceRepo: https://github.com/code-dot-org/code-dot-org.git
    sourcePath: k8s/helm
createdAt: "2026-03-22T10:10:09Z"
`)
	r, err := Parse("f", data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Render(), readGolden(t, "helm.yaml"); !bytes.Equal(got, want) {
		t.Errorf("Render() =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderScalar(t *testing.T) {
	// Expected styles derived by hand from Psych's visit_String and
	// ScalarScanner and libyaml's plain-scalar rules.
	for in, want := range map[string]string{
		"k8s/helm":             "k8s/helm",
		"abc123":               "abc123",
		"v1":                   "v1",
		"git@github.com:a/b":   "git@github.com:a/b",
		"1234":                 "'1234'",
		"0123":                 "'0123'",
		"0789":                 "'0789'",
		"12e34":                "12e34",
		"1.5":                  "'1.5'",
		"1,000":                "'1,000'",
		"1:30":                 "'1:30'",
		"0x1F":                 "'0x1F'",
		"2026-03-22":           "'2026-03-22'",
		"2026-03-22T10:10:09Z": "'2026-03-22T10:10:09Z'",
		"true":                 "'true'",
		"Yes":                  "'Yes'",
		"off":                  "'off'",
		"null":                 "'null'",
		"NULL":                 "'NULL'",
		"y":                    `"y"`,
		"N":                    `"N"`,
		"~":                    `"~"`,
		"./k8s":                `"./k8s"`,
		"-x":                   `"-x"`,
		`.a\b`:                 `".a\\b"`,
		"<<":                   "'<<'",
		"foo:":                 "'foo:'",
		"it's":                 "it's",
		`'a"`:                  `'''a"'`,
		"":                     "''",
		"a b":                  `"a b"`,
	} {
		if got := renderScalar(in); got != want {
			t.Errorf("renderScalar(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestPlainExponentCommitRoundTrips: Psych writes a gitCommit made of digits
// and one "e" unquoted (its float pattern needs a "."), and YAML 1.2 readers
// take it for a float; such a record must still parse, and render the same.
func TestPlainExponentCommitRoundTrips(t *testing.T) {
	sha := "1234567890123456789012345678901234567e12"
	rec, err := New(sha, "ghcr.io/org/app:git-"+sha, "sha256:"+strings.Repeat("ab", 32), PackagingHelm,
		"https://github.com/org/app.git", "k8s/helm", time.Date(2026, 3, 22, 10, 10, 9, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	out := rec.Render()
	if !strings.Contains(string(out), "\ngitCommit: "+sha+"\n") {
		t.Fatalf("gitCommit not written plain, as Psych does:\n%s", out)
	}
	back, err := Parse("current.yaml", out)
	if err != nil {
		t.Fatalf("parsing Psych's layout: %v", err)
	}
	if back.GitCommit != sha || string(back.Render()) != string(out) {
		t.Fatalf("round trip: %q\n%s", back.GitCommit, back.Render())
	}
}
