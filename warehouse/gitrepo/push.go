package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/argo-refs/argo-refs/internal/hosttls"
)

// staleReasons are report-status `ng` reasons (and their spellings across
// git versions and servers) that mean the ref was not where we expected.
var staleReasons = []string{
	"stale info",
	"fetch first",
	"failed to lock",
	"cannot lock ref",
	"failed to update ref",
	"non-fast-forward",
	"non fast forward",
	"already exists",
}

func isStaleReason(reason string) bool {
	reason = strings.ToLower(reason)
	for _, s := range staleReasons {
		if strings.Contains(reason, s) {
			return true
		}
	}
	return false
}

// Push sends the objects Commit built for new (and for its unpushed
// ancestors) and moves branch from old to new with one receive-pack request,
// never forcing. old == ZeroHash creates the branch. If the branch is not
// at old (checked in the advertisement first, then enforced by the server),
// the error wraps ErrStale; a branch to create that exists also wraps
// ErrBranchExists. Any other refusal, or an answer without a status report,
// wraps ErrPushRejected; when the request failed in transit or got a 5xx
// or 429, so that the branch may or may not have moved, the error also wraps
// ErrPushOutcomeUnknown. Pushing new == old does nothing.
func (r *Remote) Push(ctx context.Context, branch string, old, new plumbing.Hash) error {
	return r.push(ctx, branch, old, new, true)
}

// push is Push; without advertise it skips the receive-pack advertisement
// (one request) when the caller has just compared the branch with old
// itself: the server's own old-value check still guards the update.
func (r *Remote) push(ctx context.Context, branch string, old, new plumbing.Hash, advertise bool) error {
	name, err := refName(branch)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.url, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("pushing %s to branch %s of %s: %w", short(new), name.Short(), r.url, err)
	}
	if new == old {
		return nil
	}
	if new.IsZero() {
		return wrap(errors.New("deleting branches is not supported"))
	}
	pack, err := r.encodePending(new)
	if err != nil {
		return wrap(err)
	}

	sess, err := r.client.NewReceivePackSession(r.ep, r.authMethod())
	if err != nil {
		return wrap(r.classify(ctx, err))
	}
	defer sess.Close()
	r.mu.RLock()
	caps := r.rpCaps
	r.mu.RUnlock()
	if !advertise && caps == nil {
		// Every git server since 2005 offers report-status; one that
		// does not would send no report, which counts as a failure.
		caps = capability.NewList()
		_ = caps.Set(capability.ReportStatus)
	}
	if advertise {
		ar, err := sess.AdvertisedReferencesContext(ctx)
		if err != nil {
			return wrap(r.classify(ctx, err))
		}
		if err := checkRef(ar, name, old); err != nil {
			return wrap(err)
		}
		caps = ar.Capabilities
		r.mu.Lock()
		r.rpCaps = caps
		r.mu.Unlock()
	}
	if !caps.Supports(capability.ReportStatus) {
		return wrap(fmt.Errorf("server does not offer report-status, so the outcome could not be known: %w", ErrPushRejected))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	req.Commands = []*packp.Command{{Name: name, Old: old, New: new}}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	report, err := sess.ReceivePack(ctx, req)
	if report == nil {
		if err == nil {
			return wrap(fmt.Errorf("server sent no status report: %w", ErrPushRejected))
		}
		if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
			return wrap(ErrAuth)
		}
		if ctx.Err() != nil {
			return wrap(ctx.Err())
		}
		err = r.classify(ctx, err)
		if outcomeUnknown(err) {
			return wrap(fmt.Errorf("%w: %w: %w", ErrPushRejected, ErrPushOutcomeUnknown, err))
		}
		return wrap(fmt.Errorf("%w: %w", ErrPushRejected, err))
	}
	if report.UnpackStatus != "ok" {
		return wrap(fmt.Errorf("server could not unpack the objects (%s): %w", report.UnpackStatus, ErrPushRejected))
	}
	var status *packp.CommandStatus
	for _, cs := range report.CommandStatuses {
		if cs.ReferenceName == name {
			status = cs
		}
	}
	switch {
	case status == nil:
		return wrap(fmt.Errorf("server reported nothing about %s: %w", name, ErrPushRejected))
	case status.Status == "ok":
		r.markPushed(new)
		r.log.DebugContext(ctx, "pushed", "url", r.url, "branch", name.Short(), "old", old.String(), "new", new.String(), "bytes", len(pack))
		return nil
	case isStaleReason(status.Status):
		return wrap(fmt.Errorf("server refused the update (%s): %w", status.Status, ErrStale))
	default:
		return wrap(fmt.Errorf("server refused the update (%s): %w", status.Status, ErrPushRejected))
	}
}

// outcomeUnknown reports whether a failed receive-pack request may or may
// not have updated the branch: the connection failed before any answer
// came, or the answer was a 5xx or 429 (from the server or a proxy in
// front of it). An answer that came but said nothing (no report) is not
// one of these: the server spoke and did not confirm.
func outcomeUnknown(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		var he *hosttls.Error
		return !errors.As(err, &he)
	}
	var he *githttp.Err
	if errors.As(err, &he) && he.Response != nil {
		return he.Response.StatusCode >= 500 || he.Response.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// checkRef compares the advertised ref with the value the push expects.
func checkRef(ar *packp.AdvRefs, name plumbing.ReferenceName, old plumbing.Hash) error {
	cur, exists := ar.References[name.String()]
	switch {
	case old.IsZero() && exists:
		return fmt.Errorf("branch is at %s: %w: %w", short(cur), ErrBranchExists, ErrStale)
	case !old.IsZero() && !exists:
		return fmt.Errorf("branch no longer exists (expected %s): %w", short(old), ErrStale)
	case !old.IsZero() && cur != old:
		return fmt.Errorf("branch is at %s, expected %s: %w", short(cur), short(old), ErrStale)
	}
	return nil
}

// encodePending packs the objects built for commit that the server lacks.
func (r *Remote) encodePending(commit plumbing.Hash) ([]byte, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	hashes, ok := r.pending[commit]
	if !ok {
		if _, held := r.store.ObjectStorage.Commits[commit]; !held {
			return nil, fmt.Errorf("commit %s was neither built nor fetched here: %w", short(commit), ErrCommitNotFound)
		}
	}
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, r.store, false).Encode(hashes, 0); err != nil {
		return nil, fmt.Errorf("encoding pack of %d objects: %w", len(hashes), err)
	}
	return buf.Bytes(), nil
}

// markPushed records that the server now has the objects built for commit.
func (r *Remote) markPushed(commit plumbing.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.pending[commit] {
		delete(r.unpushed, h)
	}
	delete(r.pending, commit)
	r.rememberOnServer(commit)
}

// rememberOnServer records commits the server has, keeping the latest few.
// Callers hold r.mu.
func (r *Remote) rememberOnServer(commits ...plumbing.Hash) {
	r.onServer = append(r.onServer, commits...)
	if n := len(r.onServer); n > 4*maxHaves {
		r.onServer = append([]plumbing.Hash(nil), r.onServer[n-4*maxHaves:]...)
	}
}
