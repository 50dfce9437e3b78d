#!/usr/bin/env bash
# Way (d): `argo-refs promote`, with record verification, the registry check
# and the source check on. ARGO_REFS names the binary (bench/bin/argo-refs),
# SOURCE_URL the source repository. The config pins the record's packaging,
# as every Stage in examples/ does.
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}" "${SOURCE_URL:?}"
printf '{"repoURL": "%s", "branch": "%s", "commit": "%s", "buildLockDir": "%s", "targets": [{"deploymentFile": {}}], "checks": {"imageDigest": true, "sourceCommit": true}, "packaging": {"kind": "helm", "sourceRepo": "%s", "sourcePath": "k8s/helm"}, "insecureHTTPHosts": []}\n' \
  "$GITOPS_URL" "$BRANCH" "$FREIGHT" "$BUILDS" "$SOURCE_URL" >"$WORK/config.json"
exec "$ARGO_REFS" promote --config "$WORK/config.json" --stage "$STAGE" --project bench --promotion p1
