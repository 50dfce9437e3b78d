#!/usr/bin/env bash
# `argo-refs publish` as CI runs it (README "Publishing from CI"): write
# warehouses/codeai/builds/git-<sha>.yaml and current.yaml in one commit,
# after checking the tag resolves to the digest. Inputs (environment):
# GITOPS_URL, BRANCH, BUILDS, WORK, ARGO_REFS, and GIT_COMMIT, IMAGE_REF,
# IMAGE_DIGEST, SOURCE_URL for the build being published.
export FREIGHT=unused
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}" "${GIT_COMMIT:?}" "${IMAGE_REF:?}" "${IMAGE_DIGEST:?}" "${SOURCE_URL:?}"
exec "$ARGO_REFS" publish --repo "$GITOPS_URL" --branch "$BRANCH" --dir "$BUILDS" \
  --git-commit "$GIT_COMMIT" --image-ref "$IMAGE_REF" --image-digest "$IMAGE_DIGEST" \
  --packaging-kind helm --source-repo "$SOURCE_URL" --source-path k8s/helm
