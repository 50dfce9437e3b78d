#!/usr/bin/env bash
# Fails when a tracked file is an executable binary: an ELF, Mach-O or PE
# file, or a file with the executable bit that is not a script (no "#!").
# Build outputs belong in .gitignore, not in the history (issue 13: a 49.7 MB
# debug binary once made up 97 % of the pack).
set -euo pipefail
cd "$(dirname "$0")/.."

bad=0
while IFS= read -r -d '' entry; do
  mode=${entry%% *}
  file=${entry#*$'\t'}
  [ -f "$file" ] || continue
  magic=$(head -c 4 -- "$file" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46) why="an ELF binary" ;;
    cffaedfe|cefaedfe|feedfacf|feedface|cafebabe) why="a Mach-O binary" ;;
    4d5a*) why="a PE (Windows) binary" ;;
    *)
      why=
      if [ "$mode" = 100755 ] && [ "$(head -c 2 -- "$file")" != '#!' ]; then
        why="executable but not a script"
      fi
      ;;
  esac
  if [ -n "$why" ]; then
    echo "tracked file $file is $why: remove it (git rm --cached) and ignore it" >&2
    bad=1
  fi
done < <(git ls-files -s -z | sed -z 's/^\([0-9]*\) [0-9a-f]* [0-9]\t/\1 \t/')
exit $bad
