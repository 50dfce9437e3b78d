package step

// Output keys a step sets, for later steps (argocd-update's desiredRevision,
// set-metadata, git-open-pr) to read as outputs['<alias>'].<key>.
const (
	OutputReleaseID     = "releaseId"
	OutputGitCommit     = "gitCommit"
	OutputImageRef      = "imageRef"
	OutputImageDigest   = "imageDigest"
	OutputImage         = "image" // the value written to the stage: ref, or repo@digest when pinned
	OutputSourceRepo    = "sourceRepo"
	OutputSourcePath    = "sourcePath"
	OutputFreightCommit = "freightCommit"
	OutputGitopsCommit  = "gitopsCommit"
	OutputBranch        = "branch"
	OutputChanged       = "changed"
	OutputTargets       = "targets"
	OutputAttempts      = "attempts"
	// OutputSkippedChecks lists the checks the config turned off
	// (imageDigest, sourceCommit); absent when none is.
	OutputSkippedChecks = "skippedChecks"
)

// TargetChange is one scalar a promotion moved (or found already in place),
// as reported in the "targets" output.
type TargetChange struct {
	Path string `json:"path"`
	Key  string `json:"key"`
	Old  string `json:"old"`
	New  string `json:"new"`
}
