package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// notOurRefHelp explains upload-pack's "not our ref". Over smart HTTP git
// sends any commit that a branch or tag reaches, whatever
// uploadpack.allowReachableSHA1InWant says; what it refuses is a commit no
// ref reaches.
const notOurRefHelp = "the server will not send it (\"not our ref\"): no branch or tag of the repository reaches it there " +
	"(it was never pushed, or a force-push left it behind); only a server with uploadpack.allowAnySHA1InWant=true sends such a commit"

// serverError is an ERR line the server sent instead of a pack.
type serverError struct{ msg string }

func (e *serverError) Error() string { return "server said: " + e.msg }

func (e *serverError) notOurRef() bool { return strings.Contains(e.msg, "not our ref") }

// caps returns the upload-pack capabilities, advertising once if needed.
func (r *Remote) caps(ctx context.Context) (*capability.List, error) {
	r.mu.RLock()
	c := r.upCaps
	r.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	if _, err := r.advertise(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.upCaps == nil {
		return nil, fmt.Errorf("repository is empty: %w", ErrCommitNotFound)
	}
	return r.upCaps, nil
}

// uploadPack makes one upload-pack request for wants (depth > 0 makes it
// shallow; filter "" asks for everything) and adds the objects received to
// the store.
func (r *Remote) uploadPack(ctx context.Context, caps *capability.List, wants, haves []plumbing.Hash, depth int, filter packp.Filter) error {
	return r.uploadPackN(ctx, caps, wants, haves, depth, filter, 0, 0)
}

// errTooLarge is an upload-pack answer over the caller's limit.
var errTooLarge = errors.New("answer larger than expected")

// uploadPackN is uploadPack failing with errTooLarge once the answer
// exceeds limit bytes (0: no limit), and with ErrFileTooLarge for a blob
// that declares more than maxBlob bytes (0: no limit).
func (r *Remote) uploadPackN(ctx context.Context, caps *capability.List, wants, haves []plumbing.Hash, depth int, filter packp.Filter, limit, maxBlob int64) error {
	req := packp.NewUploadPackRequest()
	req.Wants = append([]plumbing.Hash(nil), wants...)
	// A server without `shallow` (go-git's own, for one) gets a plain fetch
	// of the wants' whole history, without haves: our depth-1 commits are no
	// base it could compute a pack against. Only small repositories live on
	// such servers.
	shallow := caps.Supports(capability.Shallow)
	if !shallow {
		depth, haves = 0, nil
	}
	if len(haves) > 0 {
		// Every commit held here is a depth-1 boundary: say so, so the
		// server does not assume we have their history. A thin pack is
		// what makes the server leave out the trees the haves share with
		// the wants (without it, pack-objects walks with --objects, not
		// --objects-edge); its deltas against held objects resolve below.
		req.Haves = append([]plumbing.Hash(nil), haves...)
		req.Shallows = append([]plumbing.Hash(nil), haves...)
		r.mu.RLock()
		thin := r.thinPack
		r.mu.RUnlock()
		if thin {
			_ = req.Capabilities.Set(capability.ThinPack)
		}
	}
	setBasicCaps(req, caps)
	if depth > 0 {
		_ = req.Capabilities.Set(capability.Shallow)
		req.Depth = packp.DepthCommits(depth)
	}
	if filter != "" {
		if !caps.Supports(capability.Filter) {
			return ErrFilterUnsupported
		}
		_ = req.Capabilities.Set(capability.Filter)
		req.Filter = filter
	}

	res, sn, done, err := r.sendUploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer done()
	// Read the pack first, so the store is not locked during network I/O.
	body := res
	if limit > 0 {
		body = io.LimitReader(res, limit+1)
	}
	pack, err := io.ReadAll(body)
	if err != nil {
		return r.classify(ctx, err)
	}
	if limit > 0 && int64(len(pack)) > limit {
		return fmt.Errorf("upload-pack of %s: %w (over %d bytes)", shorts(wants), errTooLarge, limit)
	}
	if msg, ok := sn.errLine(); ok {
		return &serverError{msg: msg}
	}
	// Bases of REF_DELTA entries not in the pack (a thin pack): objects
	// held already.
	held := func(h plumbing.Hash) plumbing.EncodedObject {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if obj, ok := r.store.ObjectStorage.Objects[h]; ok {
			return obj
		}
		return nil
	}
	objs, _, err := readPackBytes(pack, packOptions{held: held, maxBlob: maxBlob})
	if err != nil {
		return fmt.Errorf("reading pack of %d bytes: %w", len(pack), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.storeLocked(objs)
}

// setBasicCaps asks for what every upload-pack request here wants when the
// server offers it: offset deltas, no progress, and our agent name. No
// side-band: the answer is the pack itself, after the shallow and NAK lines
// go-git reads.
func setBasicCaps(req *packp.UploadPackRequest, caps *capability.List) {
	for _, c := range []capability.Capability{capability.OFSDelta, capability.NoProgress} {
		if caps.Supports(c) {
			_ = req.Capabilities.Set(c)
		}
	}
	if caps.Supports(capability.Agent) {
		_ = req.Capabilities.Set(capability.Agent, capability.DefaultAgent())
	}
}

// sendUploadPack sends req and returns the pack that answers it, the
// sniffer holding the answer's first bytes (for ERR lines), and done, which
// closes the answer and the session. An ERR line instead of an answer is a
// *serverError.
func (r *Remote) sendUploadPack(ctx context.Context, req *packp.UploadPackRequest) (pack io.Reader, sn *sniffer, done func(), err error) {
	sess, err := r.client.NewUploadPackSession(r.ep, r.authMethod())
	if err != nil {
		return nil, nil, nil, r.classify(ctx, err)
	}
	sctx, sn := withSniffer(ctx)
	res, err := sess.UploadPack(sctx, req)
	if err != nil {
		sess.Close()
		if msg, ok := sn.errLine(); ok {
			return nil, nil, nil, &serverError{msg: msg}
		}
		return nil, nil, nil, r.classify(ctx, err)
	}
	return res, sn, func() {
		res.Close()
		sess.Close()
	}, nil
}

// storeLocked adds objects read from a pack to the store. Callers hold r.mu
// for writing.
func (r *Remote) storeLocked(objs []*packObject) error {
	for _, obj := range objs {
		if _, err := r.store.SetEncodedObject(obj); err != nil {
			return fmt.Errorf("storing object %s: %w", obj.Hash(), err)
		}
	}
	return nil
}

func shorts(hs []plumbing.Hash) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = short(h)
	}
	return strings.Join(s, ", ")
}

// Fetch makes the commits and all their trees available locally with ONE
// depth-1 upload-pack request: without blobs (filter blob:none) when the
// server advertises `filter`, with them otherwise. Commits already held are
// skipped; if none is missing, no request is made. A commit the server
// refuses or does not send yields ErrCommitNotFound.
func (r *Remote) Fetch(ctx context.Context, commits ...plumbing.Hash) error {
	var missing []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	r.mu.RLock()
	for _, c := range commits {
		if seen[c] {
			continue
		}
		seen[c] = true
		if _, ok := r.store.ObjectStorage.Commits[c]; !ok {
			missing = append(missing, c)
		}
	}
	r.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	for _, c := range missing {
		if c.IsZero() {
			return fmt.Errorf("fetching from %s: zero commit hash: %w", r.url, ErrCommitNotFound)
		}
	}
	wrap := func(err error) error {
		return fmt.Errorf("fetching %s from %s: %w", shorts(missing), r.url, err)
	}
	caps, err := r.caps(ctx)
	if err != nil {
		return wrap(err)
	}
	var filter packp.Filter
	if caps.Supports(capability.Filter) {
		filter = packp.FilterBlobNone()
	}
	err = r.uploadPack(ctx, caps, missing, r.haves(missing), 1, filter)
	var se *serverError
	if errors.As(err, &se) && se.notOurRef() {
		for _, c := range missing {
			if strings.Contains(se.msg, c.String()) {
				return fmt.Errorf("fetching %s from %s: %w: %s", short(c), r.url, ErrCommitNotFound, notOurRefHelp)
			}
		}
		return wrap(fmt.Errorf("%w (%s): %s", ErrCommitNotFound, se.msg, notOurRefHelp))
	}
	if err != nil {
		return wrap(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range missing {
		if _, ok := r.store.ObjectStorage.Commits[c]; !ok {
			return fmt.Errorf("fetching %s from %s: server did not send it: %w", short(c), r.url, ErrCommitNotFound)
		}
	}
	r.rememberOnServer(missing...)
	return nil
}

// maxHaves bounds the commits offered as "have": the latest ones are the
// closest to any new tip.
const maxHaves = 16

// haves returns the latest commits known to be on the server (fetched, or
// pushed from here), except those wanted. Offering them lets the server
// leave out every tree they share with what is wanted, so fetching a tip
// that moved costs only the trees that changed.
func (r *Remote) haves(wants []plumbing.Hash) []plumbing.Hash {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []plumbing.Hash
	for i := len(r.onServer) - 1; i >= 0 && len(out) < maxHaves; i-- {
		h := r.onServer[i]
		if !slices.Contains(wants, h) && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// File is a file read from a commit.
type File struct {
	// Path is the path as asked for.
	Path string
	// Data is the file content; nil if the file does not exist.
	Data []byte
	// Hash is the blob ID.
	Hash plumbing.Hash
	// Mode is filemode.Regular or filemode.Executable.
	Mode filemode.FileMode
	// Exists is false if nothing is at Path.
	Exists bool
}

// splitPath checks a repository-relative, slash-separated path and splits
// it into components.
func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path: %w", ErrPathOutsideRepo)
	}
	if strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q is absolute: %w", p, ErrPathOutsideRepo)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, fmt.Errorf("path %q contains NUL: %w", p, ErrPathOutsideRepo)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		switch {
		case c == "":
			return nil, fmt.Errorf("path %q has an empty component: %w", p, ErrPathOutsideRepo)
		case c == "." || c == "..":
			return nil, fmt.Errorf("path %q has a %q component: %w", p, c, ErrPathOutsideRepo)
		case strings.EqualFold(c, ".git"):
			return nil, fmt.Errorf("path %q goes into .git: %w", p, ErrPathOutsideRepo)
		}
	}
	return parts, nil
}

// treeLocked decodes a tree held in the store. Callers hold r.mu.
func (r *Remote) treeLocked(h plumbing.Hash) (*object.Tree, error) {
	obj, err := r.store.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("tree %s not held: %w", short(h), err)
	}
	t := &object.Tree{}
	if err := t.Decode(obj); err != nil {
		return nil, fmt.Errorf("decoding tree %s: %w", short(h), err)
	}
	return t, nil
}

// commitTreeLocked returns the root tree hash of a held commit.
func (r *Remote) commitTreeLocked(c plumbing.Hash) (plumbing.Hash, bool) {
	obj, ok := r.store.ObjectStorage.Commits[c]
	if !ok {
		return plumbing.ZeroHash, false
	}
	cm := &object.Commit{}
	if err := cm.Decode(obj); err != nil {
		return plumbing.ZeroHash, false
	}
	return cm.TreeHash, true
}

func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// lookupLocked walks parts from the root tree, refusing symbolic links on
// the way and at the end. found is false if a component is missing or a
// parent is not a directory.
func (r *Remote) lookupLocked(root plumbing.Hash, p string, parts []string) (e object.TreeEntry, found bool, err error) {
	t, err := r.treeLocked(root)
	if err != nil {
		return e, false, err
	}
	for i, name := range parts {
		e, ok := findEntry(t, name)
		if !ok {
			return e, false, nil
		}
		if e.Mode == filemode.Symlink {
			return e, false, fmt.Errorf("path %q: %q is a symbolic link: %w", p, strings.Join(parts[:i+1], "/"), ErrPathOutsideRepo)
		}
		if i == len(parts)-1 {
			return e, true, nil
		}
		if e.Mode != filemode.Dir {
			return e, false, nil
		}
		if t, err = r.treeLocked(e.Hash); err != nil {
			return e, false, err
		}
	}
	return e, false, nil
}

// ReadFiles reads files at a commit. The commit is fetched first if it is
// not held. Blobs not held are fetched with ONE upload-pack request wanting
// exactly them. A missing path gives File{Exists: false}; a path that is
// empty, absolute, has a "..", or goes through a symbolic link gives
// ErrPathOutsideRepo; a directory or submodule gives ErrNotRegularFile.
func (r *Remote) ReadFiles(ctx context.Context, commit plumbing.Hash, paths ...string) (map[string]File, error) {
	wrap := func(err error) error {
		return fmt.Errorf("reading files at %s in %s: %w", short(commit), r.url, err)
	}
	split := make([][]string, len(paths))
	for i, p := range paths {
		parts, err := splitPath(p)
		if err != nil {
			return nil, wrap(err)
		}
		split[i] = parts
	}
	if err := r.Fetch(ctx, commit); err != nil {
		return nil, err
	}
	out := make(map[string]File, len(paths))
	var need []plumbing.Hash
	r.mu.RLock()
	root, ok := r.commitTreeLocked(commit)
	if !ok {
		r.mu.RUnlock()
		return nil, wrap(ErrCommitNotFound)
	}
	for i, p := range paths {
		e, found, err := r.lookupLocked(root, p, split[i])
		if err != nil {
			r.mu.RUnlock()
			return nil, wrap(err)
		}
		if !found {
			out[p] = File{Path: p}
			continue
		}
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable && e.Mode != filemode.Deprecated {
			r.mu.RUnlock()
			return nil, wrap(fmt.Errorf("path %q is %s: %w", p, describeMode(e.Mode), ErrNotRegularFile))
		}
		out[p] = File{Path: p, Hash: e.Hash, Mode: e.Mode, Exists: true}
		if _, held := r.store.ObjectStorage.Blobs[e.Hash]; !held {
			need = append(need, e.Hash)
		}
	}
	r.mu.RUnlock()
	if len(need) > 0 {
		need = dedupe(need)
		caps, err := r.caps(ctx)
		if err != nil {
			return nil, wrap(err)
		}
		if err := r.uploadPackN(ctx, caps, need, nil, 0, "", 0, r.maxFile); err != nil {
			var se *serverError
			if errors.As(err, &se) && se.notOurRef() {
				err = fmt.Errorf("%w: blob refused (%s)", ErrPathNotFound, se.msg)
			}
			if errors.Is(err, ErrFileTooLarge) {
				return nil, wrap(r.whichTooLarge(ctx, caps, out, err))
			}
			return nil, wrap(fmt.Errorf("fetching %d blobs: %w", len(need), err))
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for p, f := range out {
		if !f.Exists {
			continue
		}
		obj, ok := r.store.ObjectStorage.Blobs[f.Hash]
		if !ok {
			return nil, wrap(fmt.Errorf("server did not send blob %s of %q: %w", short(f.Hash), p, ErrPathNotFound))
		}
		data, err := readObject(obj)
		if err != nil {
			return nil, wrap(fmt.Errorf("reading blob %s of %q: %w", short(f.Hash), p, err))
		}
		f.Data = data
		out[p] = f
	}
	return out, nil
}

func readObject(obj plumbing.EncodedObject) ([]byte, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func dedupe(hs []plumbing.Hash) []plumbing.Hash {
	seen := map[plumbing.Hash]bool{}
	out := hs[:0]
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

func describeMode(m filemode.FileMode) string {
	switch m {
	case filemode.Dir:
		return "a directory"
	case filemode.Submodule:
		return "a submodule"
	case filemode.Symlink:
		return "a symbolic link"
	default:
		return "a file"
	}
}

// whichTooLarge names the file of out that is over the size limit, asking
// for each unread blob alone (a request each, on the failure path only);
// err is the error of the request for them all.
func (r *Remote) whichTooLarge(ctx context.Context, caps *capability.List, out map[string]File, err error) error {
	paths := make([]string, 0, len(out))
	for p := range out {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := out[p]
		if !f.Exists {
			continue
		}
		r.mu.RLock()
		_, held := r.store.ObjectStorage.Blobs[f.Hash]
		r.mu.RUnlock()
		if held {
			continue
		}
		if one := r.uploadPackN(ctx, caps, []plumbing.Hash{f.Hash}, nil, 0, "", 0, r.maxFile); errors.Is(one, ErrFileTooLarge) {
			return fmt.Errorf("file %q: %w", p, one)
		}
	}
	return err
}

// Prefetch fetches, in one request, every blob that ReadFiles would need for
// the given paths of each commit, so that those ReadFiles calls then cost no
// request. The commits are fetched first if they are not held. It is
// best-effort: a path that is missing, leaves the repository or is not a
// regular file is skipped, for ReadFiles to report.
func (r *Remote) Prefetch(ctx context.Context, reads map[plumbing.Hash][]string) error {
	commits := make([]plumbing.Hash, 0, len(reads))
	for c := range reads {
		commits = append(commits, c)
	}
	if err := r.Fetch(ctx, commits...); err != nil {
		return err
	}
	var need []plumbing.Hash
	r.mu.RLock()
	for commit, paths := range reads {
		root, ok := r.commitTreeLocked(commit)
		if !ok {
			continue
		}
		for _, p := range paths {
			parts, err := splitPath(p)
			if err != nil {
				continue
			}
			e, found, err := r.lookupLocked(root, p, parts)
			if err != nil || !found || (e.Mode != filemode.Regular && e.Mode != filemode.Executable && e.Mode != filemode.Deprecated) {
				continue
			}
			if _, held := r.store.ObjectStorage.Blobs[e.Hash]; !held {
				need = append(need, e.Hash)
			}
		}
	}
	r.mu.RUnlock()
	if len(need) == 0 {
		return nil
	}
	need = dedupe(need)
	caps, err := r.caps(ctx)
	if err != nil {
		return fmt.Errorf("prefetching %d blobs from %s: %w", len(need), r.url, err)
	}
	if err := r.uploadPackN(ctx, caps, need, nil, 0, "", 0, r.maxFile); err != nil {
		return fmt.Errorf("prefetching %d blobs from %s: %w", len(need), r.url, err)
	}
	return nil
}
