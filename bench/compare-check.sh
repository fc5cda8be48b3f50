#!/usr/bin/env bash
# compare-check.sh: `cab check` against the cue CLI on a synthetic change
# repository (bench/synth), timed in one run.
#
#   (a) cab       bin/cab check, in the repository, over every ticket, with
#                 its verdict cache emptied before each run (cold: every
#                 ticket evaluated, every verdict stored)
#   (a') cab-warm the same with the verdicts of an earlier run in the cache
#                 (.git/cab/verdicts) and nothing changed since
#   (b) cue-1     cue vet -c -d '#Ticket' over the JSON exports of every
#                 ticket, as few processes as the argument list allows
#                 (one for 10,000 tickets): cue's strongest form
#   (c) cue-each  one cue vet process per ticket, two at a time
#                 (xargs -P 2), the naive CI form; on a sample of
#                 NAIVE_SAMPLE tickets, extrapolated linearly
#
# The JSON exports are written once, untimed (bench/gen -json), and a
# sample is compared with `cue export`. Also measured: cab's peak memory,
# parent and sandboxed child together (see peak_rss below).
#
# Environment (defaults in brackets): TICKETS [10000], COMMITS [100000],
# SEED [1], RUNS [3] runs per form, CAB_RUNS [RUNS], NAIVE_SAMPLE [1000]
# (0: every ticket), CAB [bin/cab], CUE [cue on PATH or in GOPATH/bin],
# OUT [bench/.repos/out] for the raw results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TICKETS=${TICKETS:-10000}
COMMITS=${COMMITS:-100000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
CAB_RUNS=${CAB_RUNS:-$RUNS}
NAIVE_SAMPLE=${NAIVE_SAMPLE:-1000}
CAB=${CAB:-$ROOT/bin/cab}
CUE=${CUE:-$(command -v cue || echo "$(go env GOPATH)/bin/cue")}
OUT=${OUT:-$ROOT/bench/.repos/out}

case $CAB in /*) ;; *) CAB=$ROOT/$CAB ;; esac
[[ -x $CAB ]] || { echo "compare-check: $CAB not found; run make build" >&2; exit 2; }
[[ -x $CUE ]] || { echo "compare-check: cue not found; go install cuelang.org/go/cmd/cue@v0.17.1" >&2; exit 2; }
mkdir -p "$OUT"

name=t$TICKETS-c$COMMITS-s$SEED
REPO=$ROOT/bench/.repos/$name
JSON=$ROOT/bench/.repos/$name.json
go run ./bench/gen -tickets "$TICKETS" -commits "$COMMITS" -seed "$SEED" -out "$REPO" -json "$JSON" >/dev/null

SCHEMA=$OUT/schema
rm -rf "$SCHEMA" && mkdir -p "$SCHEMA"
cp schema/config.cue schema/ticket.cue "$SCHEMA/" # what `cab schema` prints: package schema

echo "== compare-check: $TICKETS tickets ($name)"
echo "machine: $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cab: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' || echo ' (dirty tree)'); $("$CUE" version | head -1); $(go version)"

# Sanity, untimed: the exports are what cue exports; cue vet passes them
# and fails a broken one; cab check passes the repository.
for f in $(ls "$JSON" | grep '\.json$' | awk 'NR % 997 == 1'); do
	id=${f%.json}
	src=$(ls "$REPO"/changes/*/"$id.cue")
	cmp -s <("$CUE" export --out json "$src") "$JSON/$f" || { echo "compare-check: $JSON/$f differs from cue export $src" >&2; exit 1; }
done
sed 's/"kind": "[a-z]*"/"kind": "weird"/' "$JSON/$(ls "$JSON" | grep '\.json$' | head -1)" >"$OUT/broken.json"
if "$CUE" vet -c -d '#Ticket' "$SCHEMA"/*.cue "$OUT/broken.json" >/dev/null 2>&1; then
	echo "compare-check: cue vet accepted a broken ticket" >&2
	exit 1
fi

# cue-1: the JSON files as arguments, packed into as few processes as the
# kernel's argument limit allows (names are relative and short).
ARGMAX=$(($(getconf ARG_MAX) - $(env | wc -c) - 8192))
cue_one="cd '$JSON' && ls | grep '\\.json\$' | xargs -s $ARGMAX '$CUE' vet -c -d '#Ticket' '$SCHEMA/config.cue' '$SCHEMA/ticket.cue'"
procs=$(cd "$JSON" && ls | grep '\.json$' | xargs -s "$ARGMAX" echo | wc -l)
echo "cue-1: $procs cue vet process(es) for $TICKETS JSON files (xargs -s $ARGMAX)"

# cue-each: one process per ticket, two at a time.
sample=$NAIVE_SAMPLE
((sample == 0 || sample > TICKETS)) && sample=$TICKETS
cue_each="cd '$JSON' && ls | grep '\\.json\$' | head -n $sample | xargs -P 2 -n 1 '$CUE' vet -c -d '#Ticket' '$SCHEMA/config.cue' '$SCHEMA/ticket.cue'"

cab_check="cd '$REPO' && '$CAB' check >/dev/null"
(cd "$REPO" && "$CAB" check >"$OUT/cab-check.txt") || { echo "compare-check: cab check failed on $REPO:" >&2; tail -5 "$OUT/cab-check.txt" >&2; exit 1; }
tail -1 "$OUT/cab-check.txt"

# median NAME RUNS WARMUP COMMAND [PREPARE]: seconds, to $OUT/NAME.median
median() {
	local name=$1 runs=$2 warmup=$3 cmd=$4 prepare=${5:-true}
	cut -d' ' -f1 /proc/loadavg >"$OUT/$name.load" # beside the figure: the machine is shared
	if command -v hyperfine >/dev/null; then
		hyperfine --style basic --warmup "$warmup" --runs "$runs" --prepare "$prepare" --export-csv "$OUT/$name.csv" -n "$name" "$cmd" >&2
		awk -F, 'NR==2{print $4}' "$OUT/$name.csv" >"$OUT/$name.median"
		awk -F, 'NR==2{print $5 + $6}' "$OUT/$name.csv" >"$OUT/$name.cpu"
	else
		echo 0 >"$OUT/$name.cpu"
		for _ in $(seq "$runs"); do
			local t0 t1
			bash -c "$prepare"
			t0=$(date +%s.%N)
			bash -c "$cmd"
			t1=$(date +%s.%N)
			awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}'
		done | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}' >"$OUT/$name.median"
	fi
}

# The sanity run above warmed the file cache for cab.
median cue-1 "$RUNS" 1 "$cue_one"
median cue-each "$RUNS" 1 "$cue_each"
cold="rm -rf '$REPO/.git/cab/verdicts'"
median cab "$CAB_RUNS" 0 "$cab_check" "$cold"
# The last cold run filled the cache.
median cab-warm "$CAB_RUNS" 0 "$cab_check"

# peak_rss: cab's parent and its sandboxed child run at the same time, so
# the footprint is their sum. GNU time reports the largest single process
# of the tree (wait4 returns the max RSS over the child and the
# descendants it waited for, not a sum); /proc is sampled every 10 ms for
# the sum.
descendants() {
	local p
	for p in $(pgrep -P "$1" || true); do
		echo "$p"
		descendants "$p"
	done
}
peak_rss() {
	bash -c "$cold"
	(cd "$REPO" && exec /usr/bin/time -f '%M' -o "$OUT/cab.time" "$CAB" check >/dev/null) &
	local pid=$! peak=0 sum p r
	while kill -0 "$pid" 2>/dev/null; do
		sum=0
		for p in $(descendants "$pid"); do
			r=$(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || true)
			sum=$((sum + ${r:-0}))
		done
		((sum > peak)) && peak=$sum
		sleep 0.01
	done
	wait "$pid"
	echo "$peak" >"$OUT/cab.peak-sum"
}
if [[ -x /usr/bin/time ]]; then
	peak_rss
	maxrss=$(cat "$OUT/cab.time")
	sumrss=$(cat "$OUT/cab.peak-sum")
else
	maxrss=0 sumrss=0
	echo "compare-check: /usr/bin/time missing (apt-get install time): no memory figures" >&2
fi

cab=$(cat "$OUT/cab.median")
warm=$(cat "$OUT/cab-warm.median")
one=$(cat "$OUT/cue-1.median")
each=$(cat "$OUT/cue-each.median")
calc() { awk "BEGIN{print $1}"; }
each_all=$(calc "$each * $TICKETS / $sample")
echo
echo "== results: medians of $RUNS runs (cab: $CAB_RUNS), $TICKETS tickets"
cpu() { calc "$(cat "$OUT/$1.cpu") * $2"; }
printf '%-10s %10s  %10s  %s\n' form "wall s" "CPU s" "wall per ticket, load (1 min) at the start  (wall: median; CPU: mean user+sys)"
printf '%-10s %10.2f  %10.2f  %6.2f ms  load %s\n' cab "$cab" "$(cpu cab 1)" "$(calc "$cab * 1000 / $TICKETS")" "$(cat "$OUT/cab.load")"
printf '%-10s %10.2f  %10.2f  %6.2f ms  load %s\n' cab-warm "$warm" "$(cpu cab-warm 1)" "$(calc "$warm * 1000 / $TICKETS")" "$(cat "$OUT/cab-warm.load")"
printf '%-10s %10.2f  %10.2f  %6.2f ms  load %s\n' cue-1 "$one" "$(cpu cue-1 1)" "$(calc "$one * 1000 / $TICKETS")" "$(cat "$OUT/cue-1.load")"
printf '%-10s %10.2f  %10.2f  %6.2f ms  load %s  (%d tickets: %.2f s, extrapolated)\n' cue-each "$each_all" "$(cpu cue-each "$TICKETS / $sample")" \
	"$(calc "$each * 1000 / $sample")" "$(cat "$OUT/cue-each.load")" "$sample" "$each"
printf 'ratio cab / cue-1:    %.2f wall, %.2f CPU  (target: at most 0.5, wall and CPU)\n' "$(calc "$cab / $one")" "$(calc "$(cpu cab 1) / $(cpu cue-1 1)")"
printf 'ratio cab-warm / cue-1: %.2f wall, %.2f CPU  (verdicts of an earlier run reused)\n' "$(calc "$warm / $one")" "$(calc "$(cpu cab-warm 1) / $(cpu cue-1 1)")"
printf 'ratio cab / cue-each: %.3f\n' "$(calc "$cab / $each_all")"
printf 'cab peak memory (cold): %d MiB largest process (GNU time), %d MiB parent + child (sampled)  (target: under 500 MB)\n' \
	$((maxrss / 1024)) $((sumrss / 1024))
{
	echo "tickets=$TICKETS cab=$cab cab_warm=$warm cue1=$one cue_each=$each_all cue_each_sample=$sample:$each"
	echo "maxrss_kib=$maxrss sum_rss_kib=$sumrss"
} >"$OUT/compare-check.txt"
