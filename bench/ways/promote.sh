#!/usr/bin/env bash
# Way (d): `argo-refs promote`, with record verification, the registry check
# and the source check on. ARGO_REFS names the binary (bench/bin/argo-refs).
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}"
printf '{"repoURL": "%s", "branch": "%s", "commit": "%s", "buildLockDir": "%s", "targets": [{"deploymentFile": {}}], "checks": {"imageDigest": true, "sourceCommit": true}, "insecureHTTPHosts": []}\n' \
  "$GITOPS_URL" "$BRANCH" "$FREIGHT" "$BUILDS" >"$WORK/config.json"
exec "$ARGO_REFS" promote --config "$WORK/config.json" --stage "$STAGE" --project bench --promotion p1
