#!/usr/bin/env bash
# compare-log.sh: `cab log` against C git answering the same questions on
# the benchmark change repository (bench/synth: TICKETS tickets over
# COMMITS commits), timed side by side in one run.
#
# Five questions, each asked of main by first parent (how cab reads it):
#   all      every merge that added tickets     git log --first-parent -- changes/
#   service  the merges of the largest service  git log --first-parent -- changes/<svc>/
#   small    the merges of the smallest service (where Bloom filters let
#            git skip nearly every tree, and cab's fixed cost shows)
#   quarter  the merges of one quarter          git log --first-parent --since --until -- changes/
#   id       the merge of one ticket (cab log --id X; git is given its
#            whole path, changes/<svc>/X.cue, its best case)
#
# C git answers each without and with a commit-graph carrying changed-path
# Bloom filters (git commit-graph write --reachable --changed-paths); its
# best is the faster of the two. cab answers with `cab log --format json`
# cold (no index: .git/cab removed before each run) and warm (index up to
# date). The commit sets are checked equal: C git's commits per question
# against the merge commits of cab's rows.
#
# JSON carries "merged", the number of tickets main ever merged, which
# only the whole index gives: a cold JSON run builds it. The table and CSV
# do not show it, and a cold question naming its services or a period is
# then answered by a direct first-parent walk (commit-graph Bloom filters
# when present; no index written): "cab cold csv" times that form
# (--format csv), whose output is checked byte for byte against the full
# scan's (--no-index).
#
# The repository is a local clone of the generated one (objects hardlinked,
# same packs), so the commit-graph and cab's index never touch the cache.
#
# Environment (defaults in brackets): TICKETS [10000], COMMITS [100000],
# SEED [1], RUNS [5] timed runs per form, COLD_RUNS [3], SERVICE [the
# service with the most tickets], SMALL [the one with the fewest],
# SINCE/UNTIL [2025-01-01/2025-03-31, days in UTC], CAB [bin/cab],
# OUT [bench/.repos/out].
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TICKETS=${TICKETS:-10000}
COMMITS=${COMMITS:-100000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
COLD_RUNS=${COLD_RUNS:-3}
SINCE=${SINCE:-2025-01-01}
UNTIL=${UNTIL:-2025-03-31}
CAB=${CAB:-$ROOT/bin/cab}
OUT=${OUT:-$ROOT/bench/.repos/out}

case $CAB in /*) ;; *) CAB=$ROOT/$CAB ;; esac
[[ -x $CAB ]] || { echo "compare-log: $CAB not found; run make build" >&2; exit 2; }
mkdir -p "$OUT"

name=t$TICKETS-c$COMMITS-s$SEED
SRC=$ROOT/bench/.repos/$name
go run ./bench/gen -tickets "$TICKETS" -commits "$COMMITS" -seed "$SEED" -out "$SRC" >/dev/null
REPO=$OUT/log-$name
rm -rf "$REPO"
git clone -q --local --no-checkout "$SRC" "$REPO"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
cd "$REPO"
by_size=$(git -C "$SRC" ls-files changes | awk -F/ 'NF == 3 && /\.cue$/ {n[$2]++} END {for (s in n) print n[s], s}' | sort -k1,1nr -k2)
SERVICE=${SERVICE:-$(echo "$by_size" | head -1 | cut -d' ' -f2)}
SMALL=${SMALL:-$(echo "$by_size" | tail -1 | cut -d' ' -f2)}
# The ticket of the id question: the first of the smallest service.
ID_PATH=${ID_PATH:-$(git -C "$SRC" ls-files "changes/$SMALL" | grep '\.cue$' | head -1)}
ID=$(basename "$ID_PATH" .cue)
# Dates are days in UTC, as cab reads them (--until to the end of the day);
# git gets the same instants (commit times are whole seconds).
since_iso=${SINCE}T00:00:00Z
until_iso=${UNTIL}T23:59:59Z

echo "== compare-log: $TICKETS tickets, $(git rev-list --count HEAD) commits, $(git rev-list --first-parent --count HEAD) on main by first parent ($name)"
echo "machine: $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cab: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' || echo ' (dirty tree)'); $(git --version); $(go version)"
echo "questions: all; service $SERVICE; small $SMALL; quarter $since_iso .. $until_iso (both ends included, as git log); id $ID ($ID_PATH)"

declare -A GIT CAB_ARGS
GIT[all]="log --first-parent --format=%H -- changes/"
GIT[service]="log --first-parent --format=%H -- changes/$SERVICE/"
GIT[small]="log --first-parent --format=%H -- changes/$SMALL/"
GIT[quarter]="log --first-parent --format=%H --since=$since_iso --until=$until_iso -- changes/"
CAB_ARGS[all]="log --format json"
CAB_ARGS[service]="log --format json --service $SERVICE"
CAB_ARGS[small]="log --format json --service $SMALL"
CAB_ARGS[quarter]="log --format json --since $SINCE --until $UNTIL"
GIT[id]="log --first-parent --format=%H -- $ID_PATH"
CAB_ARGS[id]="log --format json --id $ID"
questions=(all service small quarter id)
csv_args() { echo "${CAB_ARGS[$1]/--format json/--format csv}"; }

# The commit sets, untimed. The root commit touches changes/ (it adds
# changes/.gitkeep) and adds no ticket: git lists it, cab has no row for
# it; it is accepted only when it holds no ticket file.
root=$(git rev-list --max-parents=0 HEAD)
root_tickets=$(git ls-tree -r --name-only "$root" -- changes | grep -c '\.cue$' || true)
rm -rf .git/cab
for q in "${questions[@]}"; do
	# shellcheck disable=SC2086
	git ${GIT[$q]} | sort >"$OUT/log-$q.git"
	# shellcheck disable=SC2086
	"$CAB" ${CAB_ARGS[$q]} >"$OUT/log-$q.json"
	sed -n 's/^      "mergeCommit": "\([0-9a-f]\{40\}\)",$/\1/p' "$OUT/log-$q.json" | sort -u >"$OUT/log-$q.cab"
	extra=$(comm -23 "$OUT/log-$q.git" "$OUT/log-$q.cab")
	missing=$(comm -13 "$OUT/log-$q.git" "$OUT/log-$q.cab")
	if [[ -n $missing || (-n $extra && ($extra != "$root" || $root_tickets != 0)) ]]; then
		echo "compare-log: $q: the commit sets differ: $(echo "$extra" | grep -c . || true) only in git, $(echo "$missing" | grep -c . || true) only in cab" >&2
		echo "  see $OUT/log-$q.git and $OUT/log-$q.cab" >&2
		exit 1
	fi
	note=""
	[[ -n $extra ]] && note=" (git also lists the root commit, which adds changes/.gitkeep and no ticket)"
	printf 'sets equal: %-8s %6d merges, %6d rows%s\n' "$q" "$(wc -l <"$OUT/log-$q.cab")" "$(sed -n 's/^  "rows": \([0-9]*\),$/\1/p' "$OUT/log-$q.json")" "$note"
done
# The CSV form, cold (the direct walk where it applies), is the full scan's
# byte for byte, without and with a commit-graph.
check_csv() {
	for q in "${questions[@]}"; do
		rm -rf .git/cab
		# shellcheck disable=SC2046
		"$CAB" $(csv_args "$q") >"$OUT/log-$q.csv"
		# shellcheck disable=SC2046
		if ! "$CAB" $(csv_args "$q") --no-index | cmp -s - "$OUT/log-$q.csv"; then
			echo "compare-log: $q: cold CSV differs from the full scan's ($1)" >&2
			exit 1
		fi
	done
	echo "csv equal: cold CSV of every question is the full scan's ($1)"
}
check_csv "no commit-graph"
# cab --verify-index re-derives the index from git and compares.
"$CAB" log --verify-index

# median NAME RUNS WARMUP PREPARE COMMAND: seconds, to $OUT/NAME.median
median() {
	local name=$1 runs=$2 warmup=$3 prepare=$4 cmd=$5
	cut -d' ' -f1 /proc/loadavg >"$OUT/$name.load" # beside the figure: the machine is shared
	local args=(--style basic --runs "$runs" --warmup "$warmup" --export-csv "$OUT/$name.csv" -n "$name")
	[[ -n $prepare ]] && args+=(--prepare "$prepare")
	if command -v hyperfine >/dev/null; then
		hyperfine "${args[@]}" "$cmd" >/dev/null 2>&1
		awk -F, 'NR==2{print $4}' "$OUT/$name.csv" >"$OUT/$name.median"
		awk -F, 'NR==2{print $5 + $6}' "$OUT/$name.csv" >"$OUT/$name.cpu"
	else
		echo 0 >"$OUT/$name.cpu"
		for _ in $(seq "$runs"); do
			[[ -n $prepare ]] && bash -c "$prepare"
			local t0 t1
			t0=$(date +%s.%N)
			bash -c "$cmd" >/dev/null
			t1=$(date +%s.%N)
			awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}'
		done | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}' >"$OUT/$name.median"
	fi
}

rm -f .git/objects/info/commit-graph
rm -rf .git/objects/info/commit-graphs
for q in "${questions[@]}"; do
	median "git-$q" "$RUNS" 1 "" "git -c core.commitGraph=false ${GIT[$q]}"
done
start=$(date +%s.%N)
git commit-graph write --reachable --changed-paths 2>/dev/null
graph_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
check_csv "commit-graph"
# Warm, every question (--id through the index's lookup section) answers
# the full scan's JSON byte for byte, "merged" included.
"$CAB" log --format json >/dev/null
for q in "${questions[@]}"; do
	# shellcheck disable=SC2086
	if ! "$CAB" ${CAB_ARGS[$q]} | cmp -s - <("$CAB" ${CAB_ARGS[$q]} --no-index); then
		echo "compare-log: $q: warm JSON differs from the full scan's" >&2
		exit 1
	fi
done
echo "json equal: warm JSON of every question is the full scan's"
for q in "${questions[@]}"; do
	median "git-graph-$q" "$RUNS" 1 "" "git ${GIT[$q]}"
	median "cab-cold-$q" "$COLD_RUNS" 0 "rm -rf .git/cab" "$CAB ${CAB_ARGS[$q]}"
	median "cab-coldcsv-$q" "$COLD_RUNS" 0 "rm -rf .git/cab" "$CAB $(csv_args "$q")"
	"$CAB" log --format json >/dev/null # bring the index up to date
	median "cab-warm-$q" "$RUNS" 1 "" "$CAB ${CAB_ARGS[$q]}"
done
index_size=$(du -k .git/cab/log-v1.idx | cut -f1)

echo
echo "== results: medians (C git: $RUNS runs; cab cold: $COLD_RUNS runs, index removed before each; cab warm: $RUNS runs)"
echo "commit-graph with Bloom filters written in ${graph_s} s; cab's index: ${index_size} KiB"
calc() { awk "BEGIN{print $1}"; }
table() { # table KIND: wall (median) or cpu (mean user + system)
	local ext=$1
	printf '%-8s %10s %10s %10s %10s %10s %10s  %10s %10s %10s  %s\n' "$2" "git" "git+graph" "git best" "cab cold" "cold csv" "cab warm" "warm/best" "cold/best" "csv/best" "load (1 min) at git, git+graph, cold, cold csv, warm"
	for q in "${questions[@]}"; do
		local g gg best cold csv warm
		g=$(cat "$OUT/git-$q.$ext")
		gg=$(cat "$OUT/git-graph-$q.$ext")
		best=$(calc "($g < $gg) ? $g : $gg")
		cold=$(cat "$OUT/cab-cold-$q.$ext")
		csv=$(cat "$OUT/cab-coldcsv-$q.$ext")
		warm=$(cat "$OUT/cab-warm-$q.$ext")
		printf '%-8s %9.3fs %9.3fs %9.3fs %9.3fs %9.3fs %9.3fs  %9.2fx %9.2fx %9.2fx  %s %s %s %s %s\n' "$q" "$g" "$gg" "$best" "$cold" "$csv" "$warm" \
			"$(calc "$warm / $best")" "$(calc "$cold / $best")" "$(calc "$csv / $best")" \
			"$(cat "$OUT/git-$q.load")" "$(cat "$OUT/git-graph-$q.load")" "$(cat "$OUT/cab-cold-$q.load")" "$(cat "$OUT/cab-coldcsv-$q.load")" "$(cat "$OUT/cab-warm-$q.load")"
		echo "$ext $q git=$g git_graph=$gg cab_cold=$cold cab_cold_csv=$csv cab_warm=$warm" >>"$OUT/compare-log.txt"
	done
}
: >"$OUT/compare-log.txt"
table median "wall"
echo
table cpu "CPU"
echo "targets: warm at most 0.10x, cold at most 2x of C git's best; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw results in $OUT (hyperfine CSV per form)"
