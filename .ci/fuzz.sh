#!/usr/bin/env bash
# make fuzz: run every fuzz target of the tree, each for FUZZTIME (default 30s).
# The list is generated from the source (every `func FuzzX(f *testing.F)` in a
# _test.go file), never kept by hand; internal/treetest fails when this script
# would miss one.
#   .ci/fuzz.sh            run them all
#   .ci/fuzz.sh --list     print "<package dir> <target>" lines, sorted
set -euo pipefail
cd "$(dirname "$0")/.."

targets() {
  grep -rE --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git \
    '^func Fuzz[A-Za-z0-9_]*\(' . |
    sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' |
    LC_ALL=C sort -u
}

if [[ ${1:-} == --list ]]; then
  targets
  exit 0
fi

fuzztime=${FUZZTIME:-30s}
go=${GO:-go}
n=0
while read -r dir target; do
  n=$((n + 1))
  echo "== $dir $target ($fuzztime)"
  "$go" test "$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime"
done < <(targets)
echo "fuzz: $n targets passed"
