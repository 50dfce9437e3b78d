#!/usr/bin/env bash
# Way (a): Kargo's built-in chain as its git-clone step runs it: a full bare
# clone, one worktree for the Freight commit and one for the branch, then
# yaml-parse (current.yaml), yaml-update (deployment.yaml, values.yaml),
# git-commit, git-push.
source "$(dirname "$0")/common.sh"
git clone -q --bare --no-tags "$GITOPS_URL" repo.git
git -C repo.git worktree add -q --detach "$WORK/freight" "$FREIGHT"
git -C repo.git worktree add -q "$WORK/gitops" "$BRANCH"
rec=freight/$BUILDS/current.yaml
commit=$(sed -n 's/^gitCommit: *//p' "$rec")
ref=$(sed -n 's/^  ref: *//p' "$rec")
release=$(sed -n 's/^releaseId: *//p' "$rec")
d=gitops/apps/codeai/deployments/$STAGE
sed -i "s|^targetRevision: .*|targetRevision: $commit|" "$d/deployment.yaml"
sed -i "s|^image: .*|image: $ref|" "$d/values.yaml"
git -C gitops commit -q -am "Promote $STAGE to $release [skip ci]"
git -C gitops push -q origin "HEAD:refs/heads/$BRANCH"
