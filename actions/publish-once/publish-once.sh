#!/usr/bin/env bash
# publish-once.sh: build an image for a source commit at most once, and
# publish its build-lock record with the digest the tag really has.
#
# A re-run of a CI job must not move the image tag git-<sha>: a record
# already names the first build's digest, and a tag that moved fails every
# promotion of that build. So:
#   1. ask the registry whether <image-repo>:git-<sha> exists;
#   2. if it does, skip the build and the push and keep its digest;
#      if not, run the build command (which pushes that tag) and read the
#      digest the registry now serves for it;
#   3. argo-refs publish with that digest (a re-run of a published build
#      is "already published", exit 0); with --no-publish, stop before it
#      (to sign and attest the image first, then run again to publish).
# The tag check and the push are not atomic: run one job per commit at a
# time (a concurrency group keyed by the commit in GitHub Actions).
#
# Usage:
#   publish-once.sh --image-repo REPO --git-commit SHA [--no-publish] [publish flags...] -- BUILD COMMAND...
# Every flag other than --image-repo, --git-commit and --no-publish goes to
# `argo-refs publish` (--repo, --dir, --branch, --packaging-kind,
# --source-repo, --source-path, --signing-key-file, ...). The build command
# runs with IMAGE_REF=<image-repo>:git-<sha> in its environment and must
# push that tag. Credentials come from the environment, as argo-refs reads
# them (GITHUB_TOKEN or GIT_USERNAME/GIT_PASSWORD for the GitOps repo,
# ARGO_REFS_REGISTRY_* or a Docker config.json for the registry).
#
# ARGO_REFS names the argo-refs command (default: argo-refs on PATH; e.g.
# "docker run --rm -e GITHUB_TOKEN ... IMAGE" works too).
# Outputs: digest=, built=true|false and image-ref= lines on stdout, and in
# $GITHUB_OUTPUT when it is set. Exit codes are argo-refs's: 0 done, 1
# refused, 2 bad usage, 3 transient.
set -euo pipefail

# ARGO_REFS may be a command with arguments: split it into words on purpose.
# shellcheck disable=SC2206
argo_refs=(${ARGO_REFS:-argo-refs})
image_repo=""
git_commit=""
no_publish=false
publish_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --image-repo) image_repo="${2:-}"; shift 2 ;;
    --image-repo=*) image_repo="${1#*=}"; shift ;;
    --git-commit) git_commit="${2:-}"; shift 2 ;;
    --git-commit=*) git_commit="${1#*=}"; shift ;;
    --no-publish) no_publish=true; shift ;;
    --) shift; break ;;
    *) publish_args+=("$1"); shift ;;
  esac
done
build=("$@")

fail() { echo "publish-once: $2" >&2; exit "$1"; }
[ -n "$image_repo" ] || fail 2 "--image-repo is required (e.g. ghcr.io/org/app)"
[[ "$git_commit" =~ ^[0-9a-f]{40}$ ]] || fail 2 "--git-commit must be 40 lowercase hex digits, got '$git_commit'"
[ ${#build[@]} -gt 0 ] || fail 2 "give the build command after --"
case "$image_repo" in *@*) fail 2 "--image-repo '$image_repo' must not carry a digest" ;; esac
case "${image_repo##*/}" in *:*) fail 2 "--image-repo '$image_repo' must not carry a tag" ;; esac

image_ref="$image_repo:git-$git_commit"

# resolve prints the digest the registry serves for the tag, or nothing
# when the tag does not exist; any other failure stops the script.
resolve() {
  local out code=0
  out=$("${argo_refs[@]}" images resolve --output json "$image_ref") || code=$?
  local result digest
  result=$(printf '%s' "$out" | sed -n 's/.*"result": *"\([a-z-]*\)".*/\1/p' | head -n1)
  digest=$(printf '%s' "$out" | sed -n 's/.*"digest": *"\(sha256:[0-9a-f]\{64\}\)".*/\1/p' | head -n1)
  case "$code:$result" in
    0:resolved) printf '%s' "$digest" ;;
    1:not-found) ;;
    *) echo "$out" >&2; fail "$(( code == 0 ? 1 : code ))" "asking the registry for $image_ref: $result" ;;
  esac
}

digest=$(resolve)
built=false
if [ -n "$digest" ]; then
  echo "publish-once: $image_ref already exists at $digest: not building, not pushing (a published tag never moves)"
else
  echo "publish-once: $image_ref does not exist yet: building and pushing it"
  IMAGE_REF="$image_ref" "${build[@]}"
  built=true
  digest=$(resolve)
  [ -n "$digest" ] || fail 1 "the build command did not push $image_ref"
fi

if $no_publish; then
  echo "publish-once: --no-publish: $image_ref at $digest is not recorded yet"
else
  "${argo_refs[@]}" publish --git-commit "$git_commit" --image-ref "$image_ref" --image-digest "$digest" "${publish_args[@]}"
fi

for line in "digest=$digest" "built=$built" "image-ref=$image_ref"; do
  echo "$line"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$line" >> "$GITHUB_OUTPUT"; fi
done
