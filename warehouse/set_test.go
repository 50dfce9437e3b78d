package warehouse

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const builds = "warehouses/codeai/builds"

func TestCheckSet(t *testing.T) {
	golden := readGolden(t, "helm.yaml")
	name := HistoricalName(helmSHA)
	oneByte := bytes.Clone(golden)
	oneByte[bytes.Index(oneByte, []byte("k8s/helm"))+4] = 'H'
	longer := append(bytes.Clone(golden), '\n')
	other := readGolden(t, "kustomize.yaml")

	tests := []struct {
		name                string
		current, historical []byte
		histName            string
		want                string // substring of the error; "" means success
		field               string // for a *FieldError; empty means a *SetError
	}{
		{name: "valid pair", current: golden, historical: golden, histName: name},
		{name: "historical name given as a path", current: golden, historical: golden, histName: builds + "/" + name},
		{name: "current missing", current: nil, historical: golden, histName: name, want: "current.yaml is missing; expected it next to " + name},
		{name: "twin missing", current: golden, historical: nil, histName: name, want: name + " is missing; expected it next to current.yaml"},
		{name: "both missing", histName: name, want: "both current.yaml and " + name + " are missing"},
		{name: "one byte differs", current: golden, historical: oneByte, histName: name,
			want: "current.yaml and " + name + " differ (first difference at byte 406, line 10 column 19); expected identical bytes"},
		{name: "twin longer", current: golden, historical: longer, histName: name, want: "lengths 445 and 446 bytes, first difference at line 12 column 1"},
		{name: "empty current is present", current: []byte{}, historical: []byte{}, histName: name, field: "", want: "is empty"},
		{name: "historical name not the commit", current: golden, historical: golden, histName: HistoricalName("4cb245808affb4f138c27ec8814a2f97c3cdf9fa"),
			want: `historical record is named "git-4cb245808affb4f138c27ec8814a2f97c3cdf9fa.yaml", expected "` + name + `"`},
		{name: "pair of another record", current: other, historical: other, histName: name, want: "expected \"git-4cb2"},
		{name: "invalid record in both", current: replace(t, "kind: helm", "kind: ksonnet"), historical: replace(t, "kind: helm", "kind: ksonnet"),
			histName: name, field: "packaging.kind", want: `found "ksonnet"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CheckSet(builds, tc.current, tc.historical, tc.histName)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckSet: %v", err)
				}
				want, _ := Parse("x", golden)
				if !reflect.DeepEqual(r, want) {
					t.Errorf("CheckSet record = %+v, want %+v", r, want)
				}
				return
			}
			if err == nil || r != nil {
				t.Fatalf("CheckSet = %v, %v; want error containing %q", r, err, tc.want)
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("errors.Is(err, ErrInvalidRecord) = false for %v", err)
			}
			var se *SetError
			if tc.field == "" && errors.As(err, &se) {
				if se.Dir != builds || !strings.Contains(se.Problem, tc.want) {
					t.Errorf("SetError = %q, want Dir %q and problem containing %q", se, builds, tc.want)
				}
				return
			}
			for _, fe := range fieldErrors(err) {
				if fe.File == builds+"/current.yaml" && fe.Field == tc.field && strings.Contains(fe.Problem, tc.want) {
					return
				}
			}
			t.Errorf("error %q: want field %q containing %q", err, tc.field, tc.want)
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadDir(t *testing.T) {
	golden := readGolden(t, "helm.yaml")
	name := HistoricalName(helmSHA)
	tests := []struct {
		name  string
		files map[string][]byte
		want  string // "" means success
	}{
		{name: "valid pair", files: map[string][]byte{CurrentName: golden, name: golden}},
		{name: "older records beside it", files: map[string][]byte{CurrentName: golden, name: golden,
			HistoricalName("4cb245808affb4f138c27ec8814a2f97c3cdf9fa"): readGolden(t, "kustomize.yaml")}},
		{name: "current missing", files: map[string][]byte{name: golden}, want: "current.yaml is missing"},
		{name: "twin missing", files: map[string][]byte{CurrentName: golden}, want: name + " is missing"},
		{name: "twin differs", files: map[string][]byte{CurrentName: golden, name: append(bytes.Clone(golden), '#')}, want: "differ"},
		{name: "current invalid", files: map[string][]byte{CurrentName: []byte("schemaVersion: v1\n")}, want: "releaseId: missing"},
		{name: "current oversized", files: map[string][]byte{CurrentName: bytes.Repeat([]byte("#"), MaxRecordSize+1)},
			want: "larger than the 1048576-byte limit"},
		{name: "twin oversized", files: map[string][]byte{CurrentName: golden, name: bytes.Repeat([]byte("#"), MaxRecordSize+1)},
			want: "larger than the 1048576-byte limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, data := range tc.files {
				writeFile(t, filepath.Join(dir, n), data)
			}
			r, err := ReadDir(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ReadDir: %v", err)
				}
				if r.GitCommit != helmSHA {
					t.Errorf("GitCommit = %q, want %q", r.GitCommit, helmSHA)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadDir error = %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory or file", err)
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("errors.Is(err, ErrInvalidRecord) = false for %v", err)
			}
		})
	}
}

func TestReadDirIOErrorIsNotInvalidRecord(t *testing.T) {
	// dir is a regular file: opening dir/current.yaml fails with ENOTDIR,
	// an I/O problem rather than a bad record.
	dir := filepath.Join(t.TempDir(), "builds")
	writeFile(t, dir, []byte("x"))
	_, err := ReadDir(dir)
	if err == nil {
		t.Fatal("ReadDir of a regular file succeeded")
	}
	if errors.Is(err, ErrInvalidRecord) {
		t.Errorf("I/O error %v matches ErrInvalidRecord; want it classified apart", err)
	}
	if !strings.HasPrefix(err.Error(), "reading record: ") {
		t.Errorf("error %q does not start with the action", err)
	}
}

func BenchmarkParse(b *testing.B) {
	data := readGolden(b, "helm.yaml")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("current.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckSet(b *testing.B) {
	data := readGolden(b, "helm.yaml")
	historical := bytes.Clone(data)
	name := HistoricalName(helmSHA)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(data)))
	for b.Loop() {
		if _, err := CheckSet(builds, data, historical, name); err != nil {
			b.Fatal(err)
		}
	}
}
