#!/usr/bin/env bash
# Way (c): the git CLI at its limit. One depth-1, blob:none fetch of the
# Freight commit and the branch tip; one batched fetch of exactly the three
# blobs read; new blobs, trees and commit written with hash-object, mktree and
# commit-tree (no checkout, no index); push of the new objects only.
source "$(dirname "$0")/common.sh"
git init -q --bare r.git
cd r.git
git config core.repositoryformatversion 1
git config extensions.partialClone origin
git remote add origin "$GITOPS_URL"
git config remote.origin.promisor true
git config remote.origin.partialclonefilter blob:none
git fetch -q --depth=1 --filter=blob:none --no-tags origin \
  "$FREIGHT" "+refs/heads/$BRANCH:refs/heads/$BRANCH"
d=apps/codeai/deployments/$STAGE
# rev-parse resolves tree paths without the blobs.
ids=$(git rev-parse "$FREIGHT:$BUILDS/current.yaml" "$BRANCH:$d/deployment.yaml" "$BRANCH:$d/values.yaml")
read -r rec dep val <<<"$(echo $ids)"
# The same request git's own lazy fetch makes, but once for all three blobs.
printf '%s\n' "$rec" "$dep" "$val" |
  git -c fetch.negotiationAlgorithm=noop fetch -q --no-tags --no-write-fetch-head \
    --recurse-submodules=no --filter=blob:none --stdin origin
record=$(git cat-file blob "$rec")
commit=$(sed -n 's/^gitCommit: *//p' <<<"$record")
ref=$(sed -n 's/^  ref: *//p' <<<"$record")
release=$(sed -n 's/^releaseId: *//p' <<<"$record")
newdep=$(git cat-file blob "$dep" | sed "s|^targetRevision: .*|targetRevision: $commit|" | git hash-object -w --stdin)
newval=$(git cat-file blob "$val" | sed "s|^image: .*|image: $ref|" | git hash-object -w --stdin)
# replace TREEISH NAME OID: print the id of TREEISH with entry NAME pointing at OID.
replace() {
  git ls-tree "$1" | awk -F '\t' -v n="$2" -v o="$3" \
    'BEGIN{OFS="\t"} $2==n {split($1,a," "); $1=a[1] " " a[2] " " o} {print}' |
    git mktree --missing
}
t=$(replace "$BRANCH:$d" deployment.yaml "$newdep")
t=$(replace "$t" values.yaml "$newval")
t=$(replace "$BRANCH:apps/codeai/deployments" "$STAGE" "$t")
t=$(replace "$BRANCH:apps/codeai" deployments "$t")
t=$(replace "$BRANCH:apps" codeai "$t")
t=$(replace "$BRANCH^{tree}" apps "$t")
new=$(git commit-tree "$t" -p "$BRANCH" -m "Promote $STAGE to $release [skip ci]")
git push -q origin "$new:refs/heads/$BRANCH"
