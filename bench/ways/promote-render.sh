#!/usr/bin/env bash
# Way (issue 17): `argo-refs promote` as promote.sh, with `render: {}`: the
# chart is read at the stage's current commit and at the release's, both
# rendered by argo-refs-render (next to ARGO_REFS) and reviewed, before the
# push.
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}" "${SOURCE_URL:?}"
printf '{"repoURL": "%s", "branch": "%s", "commit": "%s", "buildLockDir": "%s", "targets": [{"deploymentFile": {}}], "checks": {"imageDigest": true, "sourceCommit": true}, "packaging": {"kind": "helm", "sourceRepo": "%s", "sourcePath": "k8s/helm"}, "insecureHTTPHosts": [], "render": {}}\n' \
  "$GITOPS_URL" "$BRANCH" "$FREIGHT" "$BUILDS" "$SOURCE_URL" >"$WORK/config.json"
exec "$ARGO_REFS" promote --config "$WORK/config.json" --stage "$STAGE" --project bench --promotion p1
