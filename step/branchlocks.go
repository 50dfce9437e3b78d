package step

// Ordering one process's pushes to the same branch: promotions of many
// stages at once (Kargo's fan-out to many targets, one Stage per cluster)
// would otherwise race each other's pushes and retry, work growing with
// the square of their number. Each still makes its own commit, on the tip
// the previous one left.

import (
	"context"
	"sync"

	"github.com/argo-refs/argo-refs/step/target"
)

// branchLocks holds one lock per repository and branch being pushed to.
type branchLocks struct {
	mu sync.Mutex
	m  map[string]*branchLock
}

type branchLock struct {
	ch    chan struct{} // holds a token while locked
	users int           // holders and waiters; the entry goes at 0
}

func newBranchLocks() *branchLocks { return &branchLocks{m: map[string]*branchLock{}} }

// lock waits until no other push to repoURL's branch is under way in this
// process, or ctx ends; unlock lets the next one go.
func (b *branchLocks) lock(ctx context.Context, repoURL, branch string) (unlock func(), err error) {
	key := target.NormalizeRepoURL(repoURL) + "\x00" + branch
	b.mu.Lock()
	l := b.m[key]
	if l == nil {
		l = &branchLock{ch: make(chan struct{}, 1)}
		b.m[key] = l
	}
	l.users++
	b.mu.Unlock()
	release := func() {
		b.mu.Lock()
		if l.users--; l.users == 0 {
			delete(b.m, key)
		}
		b.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.ch
			release()
		})
	}, nil
}
