#!/usr/bin/env bash
# Not a way to promote: the floor under way (d). `argo-refs version` starts
# the same binary (runtime and package initialisation) and does no work.
source "$(dirname "$0")/common.sh"
: "${ARGO_REFS:?}"
exec "$ARGO_REFS" version
