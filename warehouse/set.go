package warehouse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// CheckSet verifies the pair of files a published build leaves in dir (for
// example "warehouses/codeai/builds"): current.yaml and its historical twin
// named historicalName. nil data means the file is absent. Both must be
// present and byte-identical, historicalName must be
// HistoricalName(record.GitCommit), and the record must be valid. It returns
// the record. Every error matches ErrInvalidRecord: a *SetError for the pair,
// *FieldError values for the content.
func CheckSet(dir string, current, historical []byte, historicalName string) (*Record, error) {
	base := path.Base(filepath.ToSlash(historicalName))
	switch {
	case current == nil && historical == nil:
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("both %s and %s are missing; a published build writes both", CurrentName, base)}
	case current == nil:
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("%s is missing; expected it next to %s with identical bytes", CurrentName, base)}
	case historical == nil:
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("%s is missing; expected it next to %s with identical bytes", base, CurrentName)}
	}
	if !bytes.Equal(current, historical) {
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("%s and %s differ (%s); expected identical bytes", CurrentName, base, firstDifference(current, historical))}
	}
	r, err := Parse(path.Join(dir, CurrentName), current)
	if err != nil {
		return nil, err
	}
	if want := HistoricalName(r.GitCommit); base != want {
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("historical record is named %q, expected %q for gitCommit %s", base, want, r.GitCommit)}
	}
	return r, nil
}

// firstDifference says where two byte slices first differ, by line and column.
func firstDifference(a, b []byte) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	line := bytes.Count(a[:i], []byte("\n")) + 1
	col := i - bytes.LastIndexByte(a[:i], '\n')
	if i == n {
		return fmt.Sprintf("lengths %d and %d bytes, first difference at line %d column %d", len(a), len(b), line, col)
	}
	return fmt.Sprintf("first difference at byte %d, line %d column %d", i, line, col)
}

// ReadDir reads dir/current.yaml from the local file system, then the
// historical record named after its gitCommit, and checks the pair with
// CheckSet. A missing or oversized file is an invalid record (ErrInvalidRecord);
// other I/O failures are returned wrapped and do not match ErrInvalidRecord.
func ReadDir(dir string) (*Record, error) {
	current, err := readRecordFile(filepath.Join(dir, CurrentName))
	if err != nil {
		return nil, err
	}
	if current == nil {
		return nil, &SetError{Dir: dir, Problem: fmt.Sprintf("%s is missing; a published build writes it", CurrentName)}
	}
	r, err := Parse(filepath.Join(dir, CurrentName), current)
	if err != nil {
		return nil, err
	}
	name := HistoricalName(r.GitCommit)
	historical, err := readRecordFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return CheckSet(dir, current, historical, name)
}

// readRecordFile returns nil, nil for a missing file, and refuses to read more
// than MaxRecordSize+1 bytes so a huge file is never loaded whole.
func readRecordFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading record: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading record %s: %w", file, err)
	}
	if len(data) > MaxRecordSize {
		return nil, &FieldError{File: file, Problem: fmt.Sprintf("file is larger than the %d-byte limit for a record", MaxRecordSize)}
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}
