#!/usr/bin/env bash
# startup.sh: what a cab process costs before it does any work (issue 12:
# `cab --help` and a warm `cab log --id X` within 15 ms wall), beside
# `git --version`, and where the start-up goes (package init, by
# GODEBUG=inittrace=1).
#
#   git --version             the floor a small C program pays
#   cab --help                start-up only: runtime, package init, cobra
#   cab log --id X (warm)     one ticket's history from the index on the
#                             benchmark repository (bench/synth, as
#                             bench/compare-log.sh builds it)
#
# Each command runs RUNS times, in rounds alternating with the others (and
# with the BASE binary when one is given), timed by hyperfine: wall (median
# and minimum) and CPU (user + sys, mean). The machine may be shared: the load
# average is printed beside every figure; compare CPU, and BASE against CAB
# from the same run, rather than wall figures across runs.
#
# Environment (defaults in brackets): CAB [bin/cab], BASE [none: a second
# cab binary, e.g. one built from an earlier commit, timed alternately with
# CAB], RUNS [40], ROUNDS [8], INIT_RUNS [20] runs of GODEBUG=inittrace=1 (each
# package's minimum is kept), TICKETS [10000], COMMITS [100000], SEED [1],
# CALLGRIND [1: count each form's instructions with valgrind when it is
# installed], CALLGRIND_RUNS [3], OUT [bench/.repos/out].
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CAB=${CAB:-$ROOT/bin/cab}
RUNS=${RUNS:-40}
INIT_RUNS=${INIT_RUNS:-20}
TICKETS=${TICKETS:-10000}
COMMITS=${COMMITS:-100000}
SEED=${SEED:-1}
OUT=${OUT:-$ROOT/bench/.repos/out}
abs() { case $1 in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
CAB=$(abs "$CAB")
[[ -x $CAB ]] || { echo "startup: $CAB not found; run make build" >&2; exit 2; }
if [[ -n ${BASE:-} ]]; then
	BASE=$(abs "$BASE")
	[[ -x $BASE ]] || { echo "startup: BASE $BASE not found" >&2; exit 2; }
fi
command -v hyperfine >/dev/null || { echo "startup: needs hyperfine (make bench installs it)" >&2; exit 2; }
mkdir -p "$OUT"
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The benchmark repository, cloned so that the index lands in the clone.
name=t$TICKETS-c$COMMITS-s$SEED
SRC=$ROOT/bench/.repos/$name
go run ./bench/gen -tickets "$TICKETS" -commits "$COMMITS" -seed "$SEED" -out "$SRC" >/dev/null
REPO=$OUT/startup-$name
rm -rf "$REPO"
git clone -q --local --no-checkout "$SRC" "$REPO"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
ID=$(git -C "$REPO" ls-tree -r --name-only HEAD -- changes | sed -n 's|^changes/[^/]*/\(CHG-[0-9-]*\)\.cue$|\1|p' | awk 'NR == 1')
(cd "$REPO" && "$CAB" log --format json >/dev/null) # build the index: the runs below are warm
# BASE reads its own clone: a binary of another index version would
# rebuild the index the other one wrote on every run (cold, not warm).
REPO_BASE=$OUT/startup-base-$name
if [[ -n ${BASE:-} ]]; then
	rm -rf "$REPO_BASE"
	git clone -q --local --no-checkout "$SRC" "$REPO_BASE"
	(cd "$REPO_BASE" && "$BASE" log --format json >/dev/null)
fi

echo "== startup: $(nproc) CPUs; $(git --version); $(go version)"
echo "tree: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' || echo ' (dirty)'); cab: $CAB ($(du -m "$CAB" | cut -f1) MB)$([[ -z ${BASE:-} ]] || echo "; base: $BASE ($(du -m "$BASE" | cut -f1) MB)")"
echo "repository: $name ($(git -C "$REPO" rev-list --count HEAD) commits), warm index; ticket $ID"

# The forms timed: label, command and the directory it runs in, in ROUNDS rounds of
# RUNS / ROUNDS runs of each form, so that a change in the machine's load
# falls on every form alike.
labels=("git --version")
cmds=("git --version")
dirs=("$REPO")
for b in "$CAB" ${BASE:+"$BASE"}; do
	tag=cab dir=$REPO
	[[ $b == "${BASE:-}" ]] && tag=base dir=$REPO_BASE
	labels+=("$tag --help" "$tag log --id (warm)")
	cmds+=("$b --help" "$b log --format json --id $ID")
	dirs+=("$dir" "$dir")
done
ROUNDS=${ROUNDS:-8}
per=$(((RUNS + ROUNDS - 1) / ROUNDS))
: >"$OUT/startup-rounds.csv"
load_start=$(load)
for r in $(seq "$ROUNDS"); do
	# Each form in its directory, one after the other within the round.
	for i in "${!cmds[@]}"; do
		(cd "${dirs[$i]}" && hyperfine -N --style none --warmup 2 --runs "$per" --export-csv "$OUT/startup-round.csv" "${cmds[$i]}" >/dev/null 2>&1) ||
			{ echo "startup: hyperfine failed (a command exits non-zero?)" >&2; exit 1; }
		# command,mean,stddev,median,user,system,min,max
		tail -n +2 "$OUT/startup-round.csv" | awk -F, -v i="$i" -v r="$r" -v l="$(load | cut -d' ' -f1)" '{print i "," r "," l "," $0}' >>"$OUT/startup-rounds.csv"
	done
done
echo
echo "== $ROUNDS rounds of $per runs of each form (hyperfine -N; load average $load_start at the start, $(load) at the end)"
printf '%-24s %12s %10s %16s  %s\n' form "wall median" "wall min" "CPU (u+s) mean" "load (1 min) of the rounds"
for i in "${!cmds[@]}"; do
	# sorted by the round's median, for the median of medians (mawk has no asort)
	awk -F, -v i="$i" '$1 == i' "$OUT/startup-rounds.csv" | sort -t, -k7,7g | awk -F, -v l="${labels[$i]}" '
		{n++; med[n] = $7; cpu += $8 + $9; if (n == 1 || $10 < mn) mn = $10; loads = loads " " $3}
		END {m = n % 2 ? med[(n + 1) / 2] : (med[n / 2] + med[n / 2 + 1]) / 2
			printf "%-24s %9.1f ms %7.1f ms %13.1f ms  %s\n", l, m * 1000, mn * 1000, cpu / n * 1000, loads}'
done | tee "$OUT/startup.txt"
echo "(wall median: the median of the rounds' medians; CPU: the mean of the rounds' user + system means)"

# Package init: each package's minimum over INIT_RUNS runs of --help.
inits() {
	for _ in $(seq "$INIT_RUNS"); do
		GODEBUG=inittrace=1 "$1" --help 2>&1 >/dev/null | awk '/^init /{print $2, $5, $8}'
	done | awk '{if (!($1 in m) || $2 < m[$1]) m[$1] = $2; b[$1] = $3}
		END {for (k in m) {t += m[k]; tb += b[k]; n++}
			printf "%d packages with init work: %.2f ms (sum of each package'"'"'s minimum), %.2f MB allocated\n", n, t, tb / 1e6
			for (k in m) printf "%8.3f ms %9d B  %s\n", m[k], b[k], k}' | sort -k1,1 -rn -s | awk -v n="${TOP:-16}" 'NR <= n'
}
echo
echo "== package init of cab --help ($INIT_RUNS runs; load $(load))"
inits "$CAB"
if [[ -n ${BASE:-} ]]; then
	echo
	echo "== package init of base --help"
	inits "$BASE"
fi
# Instructions (valgrind's callgrind; the figure the machine's load does
# not move): GOMAXPROCS=1 and asyncpreemptoff=1, without which callgrind
# aborts on Go's preemption signal.
if [[ ${CALLGRIND:-1} == 1 ]] && command -v valgrind >/dev/null; then
	echo
	echo "== instructions (callgrind, GOMAXPROCS=1, ${CALLGRIND_RUNS:-3} runs each)"
	# instr DIR CMD...: in DIR, the median of CALLGRIND_RUNS counts (the garbage
	# collector's timing moves a count by a few per cent), in millions
	instr() {
		local dir=$1
		shift
		for _ in $(seq "${CALLGRIND_RUNS:-3}"); do
			(cd "$dir" && GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) |
				sed -n 's/.*Collected : \([0-9]*\)/\1/p'
		done | sort -n | awk '{v[NR] = $1} END {printf "%.1f M (median of %d; %.1f .. %.1f)\n", v[int((NR + 1) / 2)] / 1e6, NR, v[1] / 1e6, v[NR] / 1e6}'
	}
	for i in "${!cmds[@]}"; do
		# shellcheck disable=SC2086
		printf '%-24s %s\n' "${labels[$i]}" "$(instr "${dirs[$i]}" ${cmds[$i]})"
	done | tee "$OUT/startup-instructions.txt"
fi
echo "target: cab --help and warm cab log --id at most 15 ms wall"
