#!/usr/bin/env bash
# sign.sh: `cab sign` of N new merges on an empty ledger, then `cab verify`
# of what it signed, on repositories from bench/gen (N merges: 2N tickets,
# 4N commits). Signs with the key the generated cab.cue trusts
# (.bench-keys/BENCH-ONLY-INSECURE-sign.key) and fails unless `cab verify` verifies
# exactly as many signatures as `cab sign` made, and at least one.
#
# Environment: CAB [bin/cab], SIGN_MERGES ["100 500 1000"], SEED [1],
# OUT [bench/.repos/out]. Repositories are cached under bench/.repos; each
# run signs a fresh copy. sign_cpu_s is the CPU time (user + sys) of
# cab sign and its evaluation children, the figure to compare on a shared
# machine; objects is what the run left in the repository: loose objects,
# packs (the generated repository has one) and their size in MiB.
#
# SIGN_INCREMENTAL=K signs the merges up to HEAD~K first (untimed), then
# times cab sign of the last K on top of that ledger: what CI pays on a
# push, which must not grow with the ledger or the history.
set -euo pipefail
cd "$(dirname "$0")/.."
CAB=${CAB:-$PWD/bin/cab}
OUT=${OUT:-$PWD/bench/.repos/out}
SEED=${SEED:-1}
mkdir -p "$OUT"
[[ -x $CAB ]] || go build -o "$CAB" ./cmd/cab
[[ -x /usr/bin/time ]] || { echo "sign.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
count() { # count FILE KEY: the number in "KEY": N of a JSON file
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"
}
if [[ -n ${SIGN_INCREMENTAL:-} ]]; then
	echo "== cab sign: the last $SIGN_INCREMENTAL of N merges on a ledger of the others, then cab verify of all ($(nproc) CPUs)"
else
	echo "== cab sign: N new merges on an empty ledger, then cab verify ($(nproc) CPUs)"
fi
printf '%-8s %-9s %-11s %-7s %-9s %-18s %-9s %-9s %s\n' merges sign_s sign_cpu_s signed unsigned loose/packs/MiB verify_s verified "load (1/5/15 min, at start)"
for n in ${SIGN_MERGES:-100 500 1000}; do
	src=bench/.repos/t$((2 * n))-c$((4 * n))-s$SEED
	go run ./bench/gen -tickets $((2 * n)) -commits $((4 * n)) -seed "$SEED" -out "$src" >/dev/null
	work=$(mktemp -d "${TMPDIR:-/tmp}/cab-sign-bench.XXXXXX")
	cp -a "$src/." "$work"
	before=0
	if [[ -n ${SIGN_INCREMENTAL:-} ]]; then
		rc=0
		(cd "$work" && "$CAB" sign --rev "HEAD~$SIGN_INCREMENTAL" --key "$work/.bench-keys/BENCH-ONLY-INSECURE-sign.key" --remote "" --forge none --format json >"$OUT/sign-$n-first.json" 2>"$OUT/sign-$n-first.err") || rc=$?
		((rc <= 1)) || { echo "sign.sh: cab sign --rev HEAD~$SIGN_INCREMENTAL failed ($rc):" >&2; cat "$OUT/sign-$n-first.err" >&2; exit 1; }
		before=$(python3 -c 'import json,sys; print(sum(o.get("kind") == "signed" for o in json.load(open(sys.argv[1]))["outcomes"]))' "$OUT/sign-$n-first.json")
	fi
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	start=$(date +%s.%N)
	rc=0
	(cd "$work" && /usr/bin/time -f '%U %S' -o "$OUT/sign-$n.time" "$CAB" sign --key "$work/.bench-keys/BENCH-ONLY-INSECURE-sign.key" --remote "" --forge none --format json >"$OUT/sign-$n.json" 2>"$OUT/sign-$n.err") || rc=$?
	sign_s=$(echo "$(date +%s.%N) - $start" | bc)
	sign_cpu=$(tail -1 "$OUT/sign-$n.time" | awk '{print $1 + $2}')
	# exit 1: some merges were recorded unsigned (no approvals with --forge none)
	((rc <= 1)) || { echo "sign.sh: cab sign failed ($rc):" >&2; cat "$OUT/sign-$n.err" >&2; exit 1; }
	objects=$(git -C "$work" count-objects -v | awk '/^count:/ {c=$2} /^size:/ {s=$2} /^packs:/ {p=$2} /^size-pack:/ {sp=$2} END {printf "%d/%d/%.0f", c, p, (s + sp)/1024}')
	read -r signed unsigned < <(python3 -c 'import json,sys,collections
d=json.load(open(sys.argv[1])); c=collections.Counter(o.get("kind") for o in d["outcomes"]); print(c["signed"], c["unsigned"])' "$OUT/sign-$n.json")
	start=$(date +%s.%N)
	rc=0
	(cd "$work" && "$CAB" verify --remote "" --format json >"$OUT/verify-$n.json" 2>"$OUT/verify-$n.err") || rc=$?
	verify_s=$(echo "$(date +%s.%N) - $start" | bc)
	((rc <= 1)) || { echo "sign.sh: cab verify failed ($rc):" >&2; cat "$OUT/verify-$n.err" >&2; exit 1; }
	verified=$(count "$OUT/verify-$n.json" signed)
	if ((signed + before == 0 || verified != signed + before)); then
		echo "sign.sh: cab sign signed $before + $signed ticket(s) but cab verify verified $verified signature(s)" >&2
		exit 1
	fi
	printf '%-8s %-9.2f %-11.2f %-7s %-9s %-18s %-9.2f %-9s %s\n' "$n" "$sign_s" "$sign_cpu" "$signed" "$unsigned" "$objects" "$verify_s" "$verified" "$load"
	rm -rf "$work"
done
