package trust

// Reading what a build provenance statement says: its builder and the
// source repository and commit it was built from, for SLSA v1 (GitHub's
// attest-build-provenance, cosign attest) and SLSA v0.2.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/argo-refs/argo-refs/trust/spec"
)

// statement is the part of an in-toto statement argo-refs reads.
type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// subjects lists a statement's subjects as sha256:<hex> (other algorithms
// as algo:<hex>), for messages.
func (s statement) subjects() []string {
	var out []string
	for _, sub := range s.Subject {
		for algo, hex := range sub.Digest {
			out = append(out, algo+":"+hex)
		}
	}
	return out
}

// names reports whether the statement has digest (sha256:<hex>) as a
// subject.
func (s statement) names(digest string) bool {
	algo, hex, _ := strings.Cut(digest, ":")
	for _, sub := range s.Subject {
		if strings.EqualFold(sub.Digest[algo], hex) {
			return true
		}
	}
	return false
}

func parseStatement(payload []byte) (statement, error) {
	var s statement
	if err := json.Unmarshal(payload, &s); err != nil {
		return statement{}, fmt.Errorf("the signed payload is not an in-toto statement: %w", err)
	}
	if s.PredicateType == "" {
		return statement{}, fmt.Errorf("the signed payload is not an in-toto statement: no predicateType")
	}
	return s, nil
}

// facts is what a provenance predicate says about the build.
type facts struct {
	Builder string
	// Sources are the git repositories and commits the build resolved.
	Sources []source
}

type source struct {
	Repo, Commit string
}

// slsaV1 is the part of a SLSA v1 predicate argo-refs reads.
type slsaV1 struct {
	BuildDefinition struct {
		ExternalParameters struct {
			Workflow struct {
				Repository string `json:"repository"`
			} `json:"workflow"`
		} `json:"externalParameters"`
		ResolvedDependencies []resourceDescriptor `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
	} `json:"runDetails"`
}

type resourceDescriptor struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// slsaV02 is the part of a SLSA v0.2 predicate argo-refs reads.
type slsaV02 struct {
	Builder struct {
		ID string `json:"id"`
	} `json:"builder"`
	Invocation struct {
		ConfigSource resourceDescriptor `json:"configSource"`
	} `json:"invocation"`
	Materials []resourceDescriptor `json:"materials"`
}

// provenanceFacts reads the builder and sources of a provenance predicate.
func provenanceFacts(predicateType string, predicate []byte) (facts, error) {
	var f facts
	var deps []resourceDescriptor
	switch predicateType {
	case spec.PredicateSLSAv1:
		var p slsaV1
		if err := json.Unmarshal(predicate, &p); err != nil {
			return f, fmt.Errorf("reading the SLSA v1 predicate: %w", err)
		}
		f.Builder = p.RunDetails.Builder.ID
		deps = p.BuildDefinition.ResolvedDependencies
	case spec.PredicateSLSAv02:
		var p slsaV02
		if err := json.Unmarshal(predicate, &p); err != nil {
			return f, fmt.Errorf("reading the SLSA v0.2 predicate: %w", err)
		}
		f.Builder = p.Builder.ID
		deps = append([]resourceDescriptor{p.Invocation.ConfigSource}, p.Materials...)
	default:
		return f, fmt.Errorf("predicate type %q is not build provenance", predicateType)
	}
	for _, d := range deps {
		repo, ok := gitRepo(d.URI)
		if !ok {
			continue
		}
		commit := d.Digest["gitCommit"]
		if commit == "" {
			commit = d.Digest["sha1"]
		}
		if commit == "" {
			continue
		}
		f.Sources = append(f.Sources, source{Repo: repo, Commit: strings.ToLower(commit)})
	}
	return f, nil
}

// gitRepo returns the repository of an SPDX download location such as
// git+https://github.com/org/app@refs/heads/main, without the "git+" and
// the ref; ok is false for anything that is not git.
func gitRepo(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "git+")
	if !ok {
		return "", false
	}
	u, err := url.Parse(rest)
	if err != nil || u.Host == "" {
		return "", false
	}
	if i := strings.IndexByte(u.Path, '@'); i >= 0 {
		u.Path = u.Path[:i]
	}
	u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", nil
	return u.String(), true
}

// sameRepo reports whether two repository URLs name the same repository:
// scheme and host case-insensitively, the path exactly, with or without
// ".git" and a trailing slash.
func sameRepo(a, b string) bool {
	return normalRepo(a) == normalRepo(b)
}

func normalRepo(s string) string {
	s = strings.TrimPrefix(s, "git+")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + p
}

// checkFacts compares what a provenance says with the record and the
// allowed builders; the message names what was found and what was
// required.
func checkFacts(f facts, repo, commit string, builders []string) (source, error) {
	allowed := false
	for _, b := range builders {
		if f.Builder == b {
			allowed = true
		}
	}
	if !allowed {
		return source{}, fmt.Errorf("built by %q, allowed builders: %s", f.Builder, quoteAll(builders))
	}
	if len(f.Sources) == 0 {
		return source{}, fmt.Errorf("the provenance names no git source commit (record says %s at %s)", repo, commit)
	}
	for _, s := range f.Sources {
		if sameRepo(s.Repo, repo) && strings.EqualFold(s.Commit, commit) {
			return s, nil
		}
	}
	for _, s := range f.Sources {
		if sameRepo(s.Repo, repo) {
			return source{}, fmt.Errorf("provenance says commit %s, record says %s", s.Commit, commit)
		}
	}
	s := f.Sources[0]
	return source{}, fmt.Errorf("provenance says source repository %s (commit %s), record says %s (commit %s)", s.Repo, s.Commit, repo, commit)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
