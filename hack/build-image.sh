#!/usr/bin/env bash
# Builds the argo-refs container image without a Docker engine and without
# pulling a base image: builds the static binaries here, stages a build context
# with it (plus the host's CA bundle, a passwd/group file for 65532 and the
# writable directories), then builds the Dockerfile's final stage from that
# context with buildah (BINARY_FROM=prebuilt).
#
# Usage: hack/build-image.sh [--if-available] [--tag NAME] [--oci-archive FILE] [--context DIR]
#   --if-available  exit 0 (after staging the context) when buildah is missing
#   --tag NAME      image name (default argo-refs:dev)
#   --oci-archive F also write the image to F as an OCI archive
#   --context DIR   stage the context in DIR and keep it (default: a temp dir)
# Env: VERSION (default: git describe), REVISION (default: git rev-parse HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."

if_available=false
tag=argo-refs:dev
archive=
ctx=
while [ $# -gt 0 ]; do
  case "$1" in
    --if-available) if_available=true ;;
    --tag) tag=${2:?--tag needs a name}; shift ;;
    --oci-archive) archive=${2:?--oci-archive needs a file}; shift ;;
    --context) ctx=${2:?--context needs a directory}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
ca=/etc/ssl/certs/ca-certificates.crt
if [ ! -s "$ca" ]; then
  echo "build-image.sh: no CA bundle at $ca (install ca-certificates)" >&2
  exit 1
fi

if [ -z "$ctx" ]; then
  ctx=$(mktemp -d)
  own_ctx=1
  trap 'rm -rf "$ctx"' EXIT
else
  mkdir -p "$ctx"
fi

echo "build-image.sh: building argo-refs $version ($revision) into $ctx"
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/argo-refs" ./cmd/argo-refs
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$ctx/argo-refs-render" ./cmd/argo-refs-render
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$ctx/argo-refs-cloud-auth" ./cmd/argo-refs-cloud-auth
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$ctx/argo-refs-trust" ./cmd/argo-refs-trust
cp "$ca" "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"
mkdir -p "$ctx/rw/workspace" "$ctx/rw/tmp"
chmod 0755 "$ctx/rw/workspace"
chmod 1777 "$ctx/rw/tmp"

if ! command -v buildah >/dev/null 2>&1; then
  echo "build-image.sh: buildah not installed; the image was not built (context staged at $ctx)" >&2
  if $if_available; then exit 0; fi
  exit 1
fi

# buildah commits every stage a later stage builds FROM (here "prebuilt"
# and "files") as an untagged image, and a failed build leaves its working
# container: remove what this run added, and nothing that was there before.
dangling_before=$(buildah images --quiet --filter dangling=true 2>/dev/null | sort -u || true)
containers_before=$(buildah containers --quiet 2>/dev/null | sort -u || true)
cleanup_buildah() {
  local id
  for id in $(buildah containers --quiet 2>/dev/null | sort -u); do
    grep -qx "$id" <<<"$containers_before" || buildah rm "$id" >/dev/null 2>&1 || true
  done
  for id in $(buildah images --quiet --filter dangling=true 2>/dev/null | sort -u); do
    grep -qx "$id" <<<"$dangling_before" || buildah rmi "$id" >/dev/null 2>&1 || true
  done
}
trap 'cleanup_buildah; [ -z "${own_ctx:-}" ] || rm -rf "$ctx"' EXIT

buildah bud --isolation chroot --layers=false \
  --build-arg BINARY_FROM=prebuilt \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  -f "$PWD/Dockerfile" -t "$tag" "$ctx"

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
if [ "$user" != "65532:65532" ]; then
  echo "build-image.sh: image $tag runs as '$user', want 65532:65532" >&2
  exit 1
fi
if [ -n "$archive" ]; then
  rm -f "$archive"
  buildah push "$tag" "oci-archive:$archive:$tag"
  echo "build-image.sh: wrote $archive"
fi
echo "build-image.sh: built $tag (user $user, version $version)"
