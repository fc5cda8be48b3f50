#!/usr/bin/env bash
# run.sh: what `make bench` runs (after `make build`). Installs what the
# comparisons need (hyperfine, GNU time, the cue CLI at the version in
# go.mod), runs the Go benchmarks, then every bench/compare-*.sh,
# bench/startup.sh and bench/sign.sh, and prints the figures bench/RESULTS.md reports.
#
# Environment: BENCH_PKGS [./...] packages whose Go benchmarks run,
# BENCHTIME [1s]; the sizes and runs of the comparisons are those of
# bench/compare-check.sh (TICKETS, COMMITS, RUNS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/bench/.repos/out}
export OUT
mkdir -p "$OUT"
start=$(date +%s)

# Tools. apt only when something is missing and we may.
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "run.sh: installing ${missing[*]}" >&2
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		echo "run.sh: missing ${missing[*]}; comparisons fall back to plain timing loops where they can" >&2
	fi
fi
cue_version=$(go list -m -f '{{.Version}}' cuelang.org/go)
CUE=$(go env GOPATH)/bin/cue
if ! [[ -x $CUE ]] || ! "$CUE" version 2>/dev/null | grep -q "cue version $cue_version\$"; then
	echo "run.sh: installing the cue CLI $cue_version" >&2
	go install "cuelang.org/go/cmd/cue@$cue_version"
fi
export CUE
[[ -x bin/cab ]] || go build -o bin/cab ./cmd/cab

echo "== machine: $(nproc) CPUs; $(go version); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== Go benchmarks"
status=0
go test -run '^$' -bench . -benchmem -benchtime "${BENCHTIME:-1s}" ${BENCH_PKGS:-./...} >"$OUT/go-bench.txt" 2>&1 || status=$?
grep -E '^(Benchmark|FAIL|---|panic)|^ok .*[0-9]s$' "$OUT/go-bench.txt" | grep -v 'no test files' || true
((status == 0)) || echo "run.sh: go test failed (exit $status); see $OUT/go-bench.txt" >&2
awk '/^BenchmarkEvaluateOne/ {printf "one ticket in process: %.2f ms of CUE evaluation (target: under 5 ms)\n", $3 / 1e6}' "$OUT/go-bench.txt"

for script in bench/compare-*.sh; do
	echo
	bash "$script" || status=$?
done
echo
CAB=$PWD/bin/cab bash bench/startup.sh || status=$?
echo
CAB=$PWD/bin/cab bash bench/sign.sh || status=$?
echo
echo "== bench done in $(($(date +%s) - start)) s; raw results in $OUT"
exit "$status"
