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
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/argo-refs/argo-refs/internal/netpolicy"
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
		// git's receive-pack offers side-band-64k wherever its upload-pack
		// does; go-git's server offers neither and refuses a capability
		// it does not know, so the upload-pack advertisement decides.
		if up := r.uploadCaps(); up != nil && up.Supports(capability.Sideband64k) {
			_ = caps.Set(capability.Sideband64k)
		}
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
	// With side-band the server's own words (index-pack's fsck findings, a
	// hook's refusal) come back on the progress channel.
	remote := &serverWords{}
	if caps.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k)
		req.Progress = remote
	}
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
		return wrap(fmt.Errorf("server could not unpack the objects (%s)%s: %w: %w", report.UnpackStatus, remote.said(), ErrPushRefused, ErrPushRejected))
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
	case isHookReason(status.Status):
		// A hook's verdict (a freeze window, a required check) can
		// change: retryable, and bounded by the caller's retries.
		return wrap(fmt.Errorf("server refused the update (%s)%s: %w", status.Status, remote.said(), ErrPushRejected))
	default:
		return wrap(fmt.Errorf("server refused the update (%s)%s: %w: %w", status.Status, remote.said(), ErrPushRefused, ErrPushRejected))
	}
}

// isHookReason reports whether a report-status `ng` reason is a hook's
// refusal ("pre-receive hook declined", "hook declined").
func isHookReason(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "hook declined")
}

// outcomeUnknown reports whether a failed receive-pack request may or may
// not have updated the branch: the connection failed before any answer
// came, or the answer was a 5xx or 429 (from the server or a proxy in
// front of it). An answer that came but said nothing (no report) is not
// one of these: the server spoke and did not confirm.
func outcomeUnknown(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		// A refused redirect or an untrusted certificate stopped the
		// request before it reached the server.
		var he *netpolicy.TLSError
		return !errors.As(err, &he) && !errors.Is(err, ErrRedirect)
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
	// An object built twice (two paths given the same bytes, or a retry
	// that rebuilt what an earlier attempt built) is sent once: a strict
	// host's index-pack refuses a pack holding an object twice.
	hashes = uniqueHashes(hashes)
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

// uploadCaps returns the capabilities of the last upload-pack
// advertisement, nil before one.
func (r *Remote) uploadCaps() *capability.List {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.upCaps
}

// uniqueHashes returns hs without repeats, in first-seen order.
func uniqueHashes(hs []plumbing.Hash) []plumbing.Hash {
	seen := make(map[plumbing.Hash]struct{}, len(hs))
	out := make([]plumbing.Hash, 0, len(hs))
	for _, h := range hs {
		if _, dup := seen[h]; !dup {
			seen[h] = struct{}{}
			out = append(out, h)
		}
	}
	return out
}

// serverWords keeps the start of what a server sends on the side-band
// progress channel, for the error when it refuses a push.
type serverWords struct {
	mu  sync.Mutex
	buf []byte
}

const maxServerWords = 2 << 10

func (w *serverWords) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := maxServerWords - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// said returns the lines the server wrote as ": line; line", with control
// characters dropped and progress meters ("Resolving deltas: 42%") left
// out, or "" when it wrote nothing of note.
func (w *serverWords) said() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for _, l := range strings.FieldsFunc(string(w.buf), func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return -1
			}
			return r
		}, l))
		if l == "" || strings.HasSuffix(l, "%") || strings.Contains(l, "%,") || strings.HasSuffix(l, ", done.") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return ""
	}
	said := strings.Join(lines, "; ")
	if len(said) > maxSaid {
		said = strings.ToValidUTF8(said[:maxSaid], "") + " …"
	}
	return "; the server said: " + said
}

// maxSaid bounds the server's words in an error message.
const maxSaid = 512
