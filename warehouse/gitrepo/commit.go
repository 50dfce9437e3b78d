package gitrepo

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Change creates or replaces the regular file at Path (mode 0644; an
// existing executable file stays executable).
type Change struct {
	Path string
	Data []byte
}

// Signature names the author (and committer) of a commit. A zero When means
// now.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

func (s Signature) validate() error {
	if s.Name == "" || s.Email == "" {
		return fmt.Errorf("author name and email must not be empty")
	}
	if strings.ContainsAny(s.Name+s.Email, "<>\n\x00") {
		return fmt.Errorf("author name and email must not contain '<', '>', newlines or NUL")
	}
	return nil
}

type changeNode struct {
	children map[string]*changeNode // nil for a file
	data     []byte
}

// Signer signs a commit: Sign returns the armored signature of payload,
// the commit encoded without one, for its gpgsig header (an OpenPGP or SSH
// signature, as internal/commitsign makes them).
type Signer interface {
	Sign(payload []byte) (string, error)
}

// Commit builds, in memory, a commit on top of parent (which must have been
// fetched or built here) that applies e.Changes, with e.Author as author and
// committer, signed by e.Signer when it is set (a signing failure is an
// error: an unsigned commit is never built in its place). Only the trees
// along the changed paths are rebuilt; unchanged subtrees are referenced by
// hash. If the changes leave the tree as it is, Commit returns parent itself
// and builds nothing. Nothing is sent until Push.
func (r *Remote) Commit(parent plumbing.Hash, e Edit) (plumbing.Hash, error) {
	changes, message, author := e.Changes, e.Message, e.Author
	wrap := func(err error) error {
		return fmt.Errorf("committing on %s in %s: %w", short(parent), r.url, err)
	}
	if strings.TrimSpace(message) == "" {
		return plumbing.ZeroHash, wrap(fmt.Errorf("empty commit message"))
	}
	if err := author.validate(); err != nil {
		return plumbing.ZeroHash, wrap(err)
	}
	root := &changeNode{children: map[string]*changeNode{}}
	for _, c := range changes {
		parts, err := splitPath(c.Path)
		if err != nil {
			return plumbing.ZeroHash, wrap(err)
		}
		n := root
		for i, name := range parts {
			child, ok := n.children[name]
			last := i == len(parts)-1
			switch {
			case !ok && last:
				n.children[name] = &changeNode{data: c.Data}
			case !ok:
				child = &changeNode{children: map[string]*changeNode{}}
				n.children[name] = child
			case last && child.children == nil:
				return plumbing.ZeroHash, wrap(fmt.Errorf("path %q changed twice", c.Path))
			case last || child.children == nil:
				return plumbing.ZeroHash, wrap(fmt.Errorf("path %q conflicts with another change: %w", c.Path, ErrNotRegularFile))
			}
			n = child
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	rootTree, ok := r.commitTreeLocked(parent)
	if !ok {
		return plumbing.ZeroHash, wrap(fmt.Errorf("parent not fetched: %w", ErrCommitNotFound))
	}
	var created []plumbing.Hash
	b := &treeBuilder{r: r, created: &created}
	newTree, changed, err := b.build(rootTree, root, "")
	if err != nil {
		return plumbing.ZeroHash, wrap(err)
	}
	if !changed || newTree == rootTree {
		return parent, nil
	}
	when := author.When
	if when.IsZero() {
		when = time.Now()
	}
	sig := object.Signature{Name: author.Name, Email: author.Email, When: when}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     newTree,
		ParentHashes: []plumbing.Hash{parent},
	}
	if e.Signer != nil {
		payload := &plumbing.MemoryObject{}
		if err := c.EncodeWithoutSignature(payload); err != nil {
			return plumbing.ZeroHash, wrap(err)
		}
		data, err := readObject(payload)
		if err != nil {
			return plumbing.ZeroHash, wrap(err)
		}
		if c.PGPSignature, err = e.Signer.Sign(data); err != nil {
			return plumbing.ZeroHash, wrap(fmt.Errorf("%w: %w", ErrSign, err))
		}
	}
	h, err := b.store(c)
	if err != nil {
		return plumbing.ZeroHash, wrap(err)
	}
	r.pending[h] = append(created, r.pending[parent]...)
	return h, nil
}

type treeBuilder struct {
	r       *Remote
	created *[]plumbing.Hash
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

// store encodes an object into the store and records it as new unless it
// was held already.
func (b *treeBuilder) store(o encoder) (plumbing.Hash, error) {
	obj := b.r.store.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.add(obj)
}

func (b *treeBuilder) add(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, held := b.r.store.ObjectStorage.Objects[h]; held {
		// Built before but never pushed (a lost race): the server may
		// still lack it.
		if _, unpushed := b.r.unpushed[h]; unpushed {
			*b.created = append(*b.created, h)
		}
		return h, nil
	}
	if _, err := b.r.store.SetEncodedObject(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	b.r.unpushed[h] = struct{}{}
	*b.created = append(*b.created, h)
	return h, nil
}

// build applies the changes under n to the tree at treeHash (zero for a new
// directory) and returns the resulting tree's hash.
func (b *treeBuilder) build(treeHash plumbing.Hash, n *changeNode, dir string) (plumbing.Hash, bool, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := b.r.treeLocked(treeHash)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		entries = append(entries, t.Entries...)
	}
	index := make(map[string]int, len(entries))
	for i, e := range entries {
		index[e.Name] = i
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	changed := false
	for _, name := range names {
		child := n.children[name]
		p := dir + name
		i, exists := index[name]
		var old object.TreeEntry
		if exists {
			old = entries[i]
			if old.Mode == filemode.Symlink {
				return plumbing.ZeroHash, false, fmt.Errorf("path %q is a symbolic link: %w", p, ErrPathOutsideRepo)
			}
		}
		var entry object.TreeEntry
		if child.children == nil {
			mode := filemode.Regular
			if exists {
				switch old.Mode {
				case filemode.Executable:
					mode = filemode.Executable
				case filemode.Regular, filemode.Deprecated:
				default:
					return plumbing.ZeroHash, false, fmt.Errorf("path %q is %s: %w", p, describeMode(old.Mode), ErrNotRegularFile)
				}
			}
			blob := b.r.store.NewEncodedObject()
			blob.SetType(plumbing.BlobObject)
			blob.SetSize(int64(len(child.data)))
			w, err := blob.Writer()
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if _, err := w.Write(child.data); err != nil {
				return plumbing.ZeroHash, false, err
			}
			if err := w.Close(); err != nil {
				return plumbing.ZeroHash, false, err
			}
			if exists && old.Hash == blob.Hash() && old.Mode == mode {
				continue
			}
			h, err := b.add(blob)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			entry = object.TreeEntry{Name: name, Mode: mode, Hash: h}
		} else {
			sub := plumbing.ZeroHash
			if exists {
				if old.Mode != filemode.Dir {
					return plumbing.ZeroHash, false, fmt.Errorf("path %q is %s, not a directory: %w", p, describeMode(old.Mode), ErrNotRegularFile)
				}
				sub = old.Hash
			}
			h, ch, err := b.build(sub, child, p+"/")
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if !ch {
				continue
			}
			entry = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
		changed = true
		if exists {
			entries[i] = entry
		} else {
			entries = append(entries, entry)
			index[name] = len(entries) - 1
		}
	}
	if !changed {
		return treeHash, false, nil
	}
	sort.Sort(object.TreeEntrySorter(entries))
	h, err := b.store(&object.Tree{Entries: entries})
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encoding tree %q: %w", dir, err)
	}
	return h, true, nil
}
