package customstep

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// MaxOutputBytes is the most output Kargo accepts from a custom step.
const MaxOutputBytes = 256 << 10

// OutputEnv names the environment variable holding the path of the outputs
// file.
const OutputEnv = "KARGO_OUTPUT"

// delimiterPrefix starts every heredoc delimiter; a random suffix follows.
const delimiterPrefix = "ARGO_REFS_EOF_"

// ErrOutputTooLarge reports outputs that do not fit in MaxOutputBytes.
var ErrOutputTooLarge = errors.New("outputs too large")

// ErrBadKey reports an output key that the key=value format cannot carry.
var ErrBadKey = errors.New("bad output key")

// Format renders outputs as $KARGO_OUTPUT lines, in key order: `key=value`
// for a one-line value, and for a value with a line break
//
//	key<<ARGO_REFS_EOF_<random>
//	value
//	ARGO_REFS_EOF_<random>
//
// A string is written as it is; nil as empty; any other value as its JSON
// encoding. It fails with ErrOutputTooLarge past MaxOutputBytes.
func Format(outputs map[string]any) ([]byte, error) {
	return format(outputs, randomDelimiter)
}

func format(outputs map[string]any, delimiter func() (string, error)) ([]byte, error) {
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		if k == "" || strings.ContainsAny(k, "=\r\n") || strings.Contains(k, "<<") {
			return nil, fmt.Errorf("formatting output %q: %w: a key must be non-empty and hold no '=', '<<' or line break", k, ErrBadKey)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		v, err := valueString(outputs[k])
		if err != nil {
			return nil, fmt.Errorf("formatting output %q: %w", k, err)
		}
		if !strings.ContainsAny(v, "\r\n") {
			fmt.Fprintf(&buf, "%s=%s\n", k, v)
			continue
		}
		d, err := delimiter()
		if err != nil {
			return nil, fmt.Errorf("formatting output %q: %w", k, err)
		}
		for strings.Contains(v, d) {
			if d, err = delimiter(); err != nil {
				return nil, fmt.Errorf("formatting output %q: %w", k, err)
			}
		}
		fmt.Fprintf(&buf, "%s<<%s\n%s\n%s\n", k, d, v, d)
	}
	if buf.Len() > MaxOutputBytes {
		return nil, fmt.Errorf("formatting %d outputs: %w: %d bytes, over the limit of %d", len(keys), ErrOutputTooLarge, buf.Len(), MaxOutputBytes)
	}
	return buf.Bytes(), nil
}

func valueString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding value as JSON: %w", err)
	}
	return string(b), nil
}

func randomDelimiter() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a heredoc delimiter: %w", err)
	}
	return delimiterPrefix + hex.EncodeToString(b), nil
}

// WriteFile writes outputs to the file at path in the Format form,
// replacing what it held, so that a retried command leaves one set of
// outputs. Nothing is written when the outputs do not fit.
func WriteFile(path string, outputs map[string]any) error {
	return WriteFileAs(path, outputs, FormatKeyValue)
}

// The $KARGO_OUTPUT formats a CustomPromotionStep may declare in
// spec.output.source.format: KeyValue (the default) turns every value into
// a string; JSON keeps numbers, booleans and lists typed, as the StepPlugin
// runtime's outputs are.
const (
	FormatKeyValue = "keyvalue"
	FormatJSON     = "json"
)

// FormatJSONObject writes outputs as one JSON object, under the same size
// limit.
func FormatJSONObject(outputs map[string]any) ([]byte, error) {
	if outputs == nil {
		outputs = map[string]any{}
	}
	b, err := json.Marshal(outputs)
	if err != nil {
		return nil, fmt.Errorf("formatting outputs as JSON: %w", err)
	}
	if len(b) > MaxOutputBytes {
		return nil, fmt.Errorf("formatting %d outputs: %w: %d bytes, over the limit of %d", len(outputs), ErrOutputTooLarge, len(b), MaxOutputBytes)
	}
	return append(b, '\n'), nil
}

// WriteFileAs writes outputs to path in format (FormatKeyValue or
// FormatJSON).
func WriteFileAs(path string, outputs map[string]any, format string) error {
	var b []byte
	var err error
	switch format {
	case FormatKeyValue:
		b, err = Format(outputs)
	case FormatJSON:
		b, err = FormatJSONObject(outputs)
	default:
		err = fmt.Errorf("unknown output format %q", format)
	}
	if err != nil {
		return fmt.Errorf("writing outputs to %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing outputs to %s: %w", path, err)
	}
	return nil
}
