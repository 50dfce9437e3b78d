#!/usr/bin/env bash
# Way (b): the chain with a blobless, sparse clone: all commits and trees,
# blobs only for the paths checked out (current.yaml at the Freight commit,
# the stage's directory on the branch), then edit, commit, push.
source "$(dirname "$0")/common.sh"
git clone -q --filter=blob:none --no-checkout --no-tags "$GITOPS_URL" gitops
git -C gitops sparse-checkout set --no-cone "/apps/codeai/deployments/$STAGE/"
git -C gitops checkout -q "$BRANCH"
git -C gitops worktree add -q --no-checkout --detach "$WORK/freight" "$FREIGHT"
git -C freight sparse-checkout set --no-cone "/$BUILDS/current.yaml"
git -C freight checkout -q --detach "$FREIGHT"
rec=freight/$BUILDS/current.yaml
commit=$(sed -n 's/^gitCommit: *//p' "$rec")
ref=$(sed -n 's/^  ref: *//p' "$rec")
release=$(sed -n 's/^releaseId: *//p' "$rec")
d=gitops/apps/codeai/deployments/$STAGE
sed -i "s|^targetRevision: .*|targetRevision: $commit|" "$d/deployment.yaml"
sed -i "s|^image: .*|image: $ref|" "$d/values.yaml"
git -C gitops commit -q -am "Promote $STAGE to $release [skip ci]"
git -C gitops push -q origin "HEAD:refs/heads/$BRANCH"
