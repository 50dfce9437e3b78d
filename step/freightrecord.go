package step

// One run's read of the build-lock record at the Freight commit, through
// the Runner's record cache.

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/argo-refs/argo-refs/warehouse"
	"github.com/argo-refs/argo-refs/warehouse/gitrepo"
)

// freightRecord is one run's read of the record. It comes from the
// Runner's cache when another run has read it (or waits while another run
// is reading it); otherwise this run holds the cache's claim, reads the
// record from the GitOps repository and hands the outcome to the cache. A
// run that reads the record starts the source check before the record's
// blob arrives (see sourceGuess). The checks run on every run, cached
// record or not: a tag can move and a source commit can vanish.
type freightRecord struct {
	r      *runner
	remote *gitrepo.Remote
	cached *warehouse.Record
	claim  *recordClaim
	guess  *sourceGuess
	// listed is the release the Freight's directory listing names, once
	// looked at (haveListed); guessTried, whether the source check was
	// started.
	listed     string
	haveListed bool
	guessTried bool
}

// release is the gitCommit of the run's record before its blob is read:
// from the cache, or from the Freight's directory listing (read once).
func (fr *freightRecord) release(ctx context.Context) string {
	if fr.cached != nil {
		return fr.cached.GitCommit
	}
	if !fr.haveListed {
		fr.listed, fr.haveListed = fr.r.listedRelease(ctx, fr.remote, fr.r.freight), true
	}
	return fr.listed
}

// openFreight opens the GitOps repository and looks the run's record up in
// the Runner's cache, waiting for another run's read of it if there is one.
func (r *runner) openFreight(ctx context.Context) (*freightRecord, error) {
	remote, err := gitrepo.Open(ctx, r.plan.RepoURL, r.gitOptions(r.plan.RepoURL, r.plan.GitAuth))
	if err != nil {
		return nil, fmt.Errorf("opening the GitOps repository: %w", err)
	}
	key := newRecordKey(r.plan.RepoURL, r.freight, r.plan.BuildLockDir, r.plan.GitAuth, r.plan.InsecureSkipTLSVerifyHosts)
	cached, claim, err := r.records.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	return &freightRecord{r: r, remote: remote, cached: cached, claim: claim}, nil
}

// needsFetch reports whether this run reads the record from the
// repository, so that the Freight commit must be fetched.
func (fr *freightRecord) needsFetch() bool { return fr.claim != nil }

// fetch brings the Freight commit, for a run that reads the record.
func (fr *freightRecord) fetch(ctx context.Context) error {
	if !fr.needsFetch() {
		return nil
	}
	if err := fr.remote.Fetch(ctx, fr.r.freight); err != nil {
		err = fmt.Errorf("fetching the Freight commit: %w", err)
		fr.claim.finish(nil, err)
		return err
	}
	return nil
}

// paths lists the files the read needs at the Freight commit.
func (fr *freightRecord) paths() []string {
	return []string{path.Join(fr.r.plan.BuildLockDir, warehouse.CurrentName)}
}

// startSourceCheck starts the source check from what the Freight's
// build-lock directory names, when this run reads the record. The Freight
// commit's trees must be fetched.
func (fr *freightRecord) startSourceCheck(ctx context.Context) {
	if !fr.needsFetch() || fr.guessTried {
		return
	}
	fr.guessTried = true
	if fr.r.sourceGuessable() {
		fr.guess = fr.r.guessSource(ctx, fr.release(ctx))
	}
}

// readAndCheck returns the record, cached or read (and then cached), once
// every check the plan asks for has passed; nil with the first finding
// otherwise.
func (fr *freightRecord) readAndCheck(ctx context.Context) (*warehouse.Record, error) {
	r := fr.r
	rec := fr.cached
	if rec != nil {
		r.log.Info("read build-lock record", "release", rec.ReleaseID, "freightCommit", short(r.freight.String()), "cached", true)
	} else {
		fr.startSourceCheck(ctx)
		var err error
		rec, err = r.readRecord(ctx, fr.remote, r.freight)
		fr.claim.finish(rec, err)
		if err != nil {
			return nil, err
		}
	}
	if err := r.check(ctx, rec, fr.guess); err != nil {
		return nil, err
	}
	return rec, nil
}

// close ends the claim if the read did not (a no-op once finished) and
// stops the source check if it still runs.
func (fr *freightRecord) close() {
	if fr.claim != nil {
		fr.claim.abandon()
	}
	fr.guess.stop()
}

func (r *runner) readRecord(ctx context.Context, remote *gitrepo.Remote, freight plumbing.Hash) (*warehouse.Record, error) {
	dir := r.plan.BuildLockDir
	cur := path.Join(dir, warehouse.CurrentName)
	files, err := remote.ReadFiles(ctx, freight, cur)
	if errors.Is(err, gitrepo.ErrFileTooLarge) {
		return nil, fmt.Errorf("reading %s at %s: %w: %w", cur, short(freight.String()), warehouse.ErrInvalidRecord, err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", cur, short(freight.String()), err)
	}
	if !files[cur].Exists {
		return nil, Terminal(fmt.Errorf("reading %s at %s: %w: no build-lock record there", cur, short(freight.String()), warehouse.ErrInvalidRecord))
	}
	curData := files[cur].Data
	rec, err := warehouse.Parse(cur, curData)
	if err != nil {
		return nil, err
	}
	// Byte-identical twins share a blob, so this read costs no request.
	hist := path.Join(dir, warehouse.HistoricalName(rec.GitCommit))
	files, err = remote.ReadFiles(ctx, freight, hist)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", hist, short(freight.String()), err)
	}
	var histData []byte
	if files[hist].Exists {
		histData = files[hist].Data
	}
	rec, err = warehouse.CheckSet(dir, curData, histData, warehouse.HistoricalName(rec.GitCommit))
	if err != nil {
		return nil, err
	}
	r.log.Info("read build-lock record", "release", rec.ReleaseID, "freightCommit", short(freight.String()))
	return rec, nil
}
