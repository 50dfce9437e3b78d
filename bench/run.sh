#!/usr/bin/env bash
# The argo-refs benchmark in one command (issue 6):
#
#   bench/run.sh                    # everything, 5 runs per way
#   bench/run.sh -runs 3 -scenarios L,L-nofilter -no-go-bench
#
# Builds the tools and argo-refs, generates the synthetic repos once (cached
# in $BENCH_DIR, default /tmp/argo-refs-bench; ~1.5 GB, minutes the first
# time), starts gitserve (git http-backend + registry on 127.0.0.1:18080/18081),
# runs every way on every repo, prints the Markdown table and writes it to
# bench/results/. Flags after the script name go to bench/runner.
# Loopback only; every loop is bounded; stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${BENCH_DIR:-/tmp/argo-refs-bench}

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak RSS)" >&2
  apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi

# On a shared machine, run the measured processes and the server ahead of
# other work when allowed (root); the table records the load average.
NICE=()
if [ "$(id -u)" = 0 ]; then NICE=(nice -n -10); fi

mkdir -p bench/bin bench/results
echo "building tools" >&2
go build -o bench/bin/gen ./bench/gen
go build -o bench/bin/gitserve ./bench/gitserve
go build -o bench/bin/runner ./bench/runner
# Built as the image builds it (Dockerfile, hack/build-image.sh): static,
# trimmed, without symbol tables.
if ! CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bench/bin/argo-refs ./cmd/argo-refs; then
  echo "argo-refs does not build; its rows will say not ready" >&2
  rm -f bench/bin/argo-refs
fi
# argo-refs-render next to argo-refs, as in the image, and helm for the
# rendered review by hand (issue 17).
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bench/bin/argo-refs-render ./cmd/argo-refs-render
if [ ! -x bench/bin/helm ]; then
  echo "building helm (once)" >&2
  GOBIN="$PWD/bench/bin" GOFLAGS='' CGO_ENABLED=0 go install helm.sh/helm/v4/cmd/helm@v4.3.2
fi

bench/bin/gen -dir "$DIR"

log=$(mktemp)
"${NICE[@]}" bench/bin/gitserve -dir "$DIR" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  grep -q ready "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
grep -q ready "$log" || { echo "gitserve did not become ready" >&2; cat "$log" >&2; exit 1; }
cat "$log" >&2

"${NICE[@]}" bench/bin/runner -dir "$DIR" "$@"
