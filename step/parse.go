package step

// Parsing a step config: the schema's findings and the rules the schema
// cannot express, reported together as one *ConfigError.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ConfigError lists every problem found in a step config, each starting with
// the JSON pointer of the offending value. It is terminal, and it never
// contains a credential value.
type ConfigError struct {
	Problems []string
}

// Error returns the problems, one per line.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid step config"
	}
	return strings.Join(e.Problems, "\n")
}

// Terminal reports true: a bad config does not get better by retrying.
func (e *ConfigError) Terminal() bool { return true }

// problem is one finding about a config, located by JSON pointer.
type problem struct {
	ptr string
	msg string
}

func (p problem) String() string {
	ptr := p.ptr
	if ptr == "" {
		ptr = "(root)"
	}
	return ptr + ": " + p.msg
}

func configError(ps []problem) *ConfigError {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	sort.Strings(lines)
	lines = slices.Compact(lines)
	return &ConfigError{Problems: lines}
}

// ParseConfig validates raw against ConfigSchema and decodes it. Every
// problem is reported at once in a *ConfigError, schema violations and
// cross-field rules alike.
func ParseConfig(raw []byte) (*Config, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, Terminal(fmt.Errorf("loading the config schema: %w", err))
	}
	ps := cs.validate(raw)
	cfg := new(Config)
	if len(ps) == 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, configError([]problem{{"", "decoding: " + err.Error()}})
		}
	} else {
		// Decode what decodes so the cross-field rules below can still
		// report their findings together with the schema's.
		_ = json.Unmarshal(raw, cfg)
	}
	if ps = preferFirst(ps, cfg.check()); len(ps) > 0 {
		return nil, configError(ps)
	}
	return cfg, nil
}

// problems returns what is wrong with a config built in Go, by the same
// rules ParseConfig applies to one written in JSON: the schema's, on the
// config encoded as JSON, and check's.
func (c *Config) problems() ([]problem, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, Terminal(fmt.Errorf("loading the config schema: %w", err))
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, Terminal(fmt.Errorf("encoding the config: %w", err))
	}
	return preferFirst(cs.validate(raw), c.check()), nil
}

// preferFirst returns first and the problems of later at JSON pointers
// first does not report on: one finding per value, the more specific one.
func preferFirst(first, later []problem) []problem {
	seen := make(map[string]bool, len(first))
	for _, p := range first {
		seen[p.ptr] = true
	}
	out := first
	for _, p := range later {
		if !seen[p.ptr] {
			out = append(out, p)
		}
	}
	return out
}

// check applies the rules the schema does not express. It must cope with a
// partially decoded config.
func (c *Config) check() []problem {
	var ps []problem
	add := func(ptr, format string, args ...any) {
		ps = append(ps, problem{ptr, fmt.Sprintf(format, args...)})
	}
	if c.Timeout != "" {
		if _, err := parseTimeout(c.Timeout); err != nil {
			add("/timeout", "%v", err)
		}
	}
	if c.Branch != "" {
		if err := checkBranchName(c.Branch); err != nil {
			add("/branch", "%v", err)
		}
	}
	if c.TargetBranch != "" {
		if err := checkBranchName(c.TargetBranch); err != nil {
			add("/targetBranch", "%v", err)
		}
		if c.GenerateTargetBranch {
			add("/generateTargetBranch", "cannot be combined with targetBranch; set one of them")
		}
	}
	if c.RepoURL != "" {
		if err := checkURL(c.RepoURL, c.InsecureHTTPHosts); err != nil {
			add("/repoURL", "%v", err)
		}
	}
	if c.Packaging != nil && c.Packaging.SourceRepo != "" {
		if err := checkURL(c.Packaging.SourceRepo, c.InsecureHTTPHosts); err != nil {
			add("/packaging/sourceRepo", "%v", err)
		}
	}
	if c.Message != "" {
		if _, err := parseMessage(c.Message); err != nil {
			add("/message", "%v", err)
		}
	}
	if c.Credentials != nil && c.Credentials.Git != nil {
		for ptr, msg := range gitCredentialProblems(c.Credentials.Git, c.RepoURL) {
			add("/credentials/git"+ptr, "%s", msg)
		}
	}
	if c.Credentials != nil && c.Credentials.Registry != nil {
		for ptr, msg := range registryCredentialProblems(c.Credentials.Registry, c.ImageRepository) {
			add("/credentials/registry"+ptr, "%s", msg)
		}
	}
	for i, t := range c.Targets {
		d := t.DeploymentFile
		if d == nil || d.SetImage == nil || *d.SetImage {
			continue
		}
		base := fmt.Sprintf("/targets/%d/deploymentFile/", i)
		if d.ImageKey != "" {
			add(base+"imageKey", "has no effect with setImage false; drop one of them")
		}
		if d.ValuesFile != "" {
			add(base+"valuesFile", "has no effect with setImage false; drop one of them")
		}
		if d.PinDigest {
			add(base+"pinDigest", "has no effect with setImage false; drop one of them")
		}
	}
	return ps
}
