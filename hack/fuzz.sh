#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one at a time, for FUZZTIME each
# (default 30s), with FUZZPARALLEL workers (default 2) and FUZZMINIMIZETIME
# (default 3s) to minimise each new input. New interesting
# inputs land in the fuzz cache; failing inputs land in
# <pkg>/testdata/fuzz/<FuzzName>/, where plain `go test` replays them with
# the seeds on every CI run. With KEEP=1 the new interesting inputs this run
# found (under 2 KiB each) are copied there too, to be reviewed and committed.
#
#   hack/fuzz.sh                    # every target, 30s each
#   FUZZTIME=20s hack/fuzz.sh       # shorter
#   hack/fuzz.sh ./step/target      # only these packages
#   KEEP=1 FUZZTIME=20s hack/fuzz.sh
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-30s}
parallel=${FUZZPARALLEL:-2}
# Minimising each new input may take go test's default 60s, which would eat
# a short run whole.
minimize=${FUZZMINIMIZETIME:-3s}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	# Only packages whose tests declare a fuzz target: listing the tests of
	# every package would compile them all.
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi
cache=$(go env GOCACHE)/fuzz

failed=()
ran=0
for pkg in "${pkgs[@]}"; do
	targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	[ -n "$targets" ] || continue
	dir=$(go list -f '{{.Dir}}' "$pkg")
	path=$(go list -f '{{.ImportPath}}' "$pkg")
	for name in $targets; do
		ran=$((ran + 1))
		echo "== $pkg $name ($fuzztime)"
		stamp=$(mktemp)
		if ! go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" -parallel "$parallel"; then
			failed+=("$pkg $name")
		fi
		if [ "${KEEP:-0}" = 1 ] && [ -d "$cache/$path/$name" ]; then
			# Only what this run found, and only small entries: the
			# corpus is replayed on every go test.
			new=$(find "$cache/$path/$name" -type f -newer "$stamp" -size -2k)
			if [ -n "$new" ]; then
				mkdir -p "$dir/testdata/fuzz/$name"
				echo "$new" | xargs cp -n -t "$dir/testdata/fuzz/$name/"
				echo "   kept $(echo "$new" | wc -l) new corpus entries in $dir/testdata/fuzz/$name"
			fi
		fi
		rm -f "$stamp"
	done
done

echo "== ran $ran fuzz targets, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
	printf '   failing: %s\n' "${failed[@]}"
	echo "   the failing inputs are in <pkg>/testdata/fuzz/<FuzzName>/; commit them with the fix"
	exit 1
fi
