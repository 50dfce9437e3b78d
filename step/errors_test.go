package step

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestTerminal(t *testing.T) {
	if Terminal(nil) != nil {
		t.Fatalf("Terminal(nil) != nil")
	}
	base := fs.ErrNotExist
	err := fmt.Errorf("reading record: %w", Terminal(base))
	if !IsTerminal(err) {
		t.Errorf("IsTerminal(wrapped Terminal) = false")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Terminal hides the wrapped error from errors.Is")
	}
	if got, want := err.Error(), "reading record: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var te *TerminalError
	if !errors.As(err, &te) || te.Err != base {
		t.Errorf("errors.As(*TerminalError) = %v, %v", te, err)
	}
}

// TestClassification has one case per class of failure.
func TestClassification(t *testing.T) {
	_, cfgErr := ParseConfig([]byte(`{}`))
	tests := []struct {
		name     string
		err      error
		terminal bool
	}{
		{"nothing went wrong", nil, false},
		{"bad config", cfgErr, true},
		{"bad config, wrapped", fmt.Errorf("step: %w", cfgErr), true},
		{"verification failure marked terminal", Terminal(errors.New("digest moved")), true},
		{"Freight without the commit", func() error {
			_, err := SelectFreightCommit("https://h/r", "", "", freightOf())
			return err
		}(), true},
		{"network failure", fmt.Errorf("fetching: %w", context.DeadlineExceeded), false},
		{"plain error", errors.New("push race exhausted"), false},
		{"joined with a terminal one", errors.Join(errors.New("x"), Terminal(errors.New("y"))), true},
	}
	for _, tt := range tests {
		if got := IsTerminal(tt.err); got != tt.terminal {
			t.Errorf("%s: IsTerminal(%v) = %v, want %v", tt.name, tt.err, got, tt.terminal)
		}
	}
}
