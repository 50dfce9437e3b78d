#!/usr/bin/env bash
# Way: `argo-refs promote` as promote.sh, with treeFetch: paths (issue 19):
# the commits come with two tree levels, then only the trees on the paths
# read and written, one request per level.
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}" "${SOURCE_URL:?}"
printf '{"repoURL": "%s", "branch": "%s", "commit": "%s", "buildLockDir": "%s", "targets": [{"deploymentFile": {}}], "checks": {"imageDigest": true, "sourceCommit": true}, "packaging": {"kind": "helm", "sourceRepo": "%s", "sourcePath": "k8s/helm"}, "insecureHTTPHosts": [], "treeFetch": "paths"}\n' \
  "$GITOPS_URL" "$BRANCH" "$FREIGHT" "$BUILDS" "$SOURCE_URL" >"$WORK/config.json"
exec "$ARGO_REFS" promote --config "$WORK/config.json" --stage "$STAGE" --project bench --promotion p1
