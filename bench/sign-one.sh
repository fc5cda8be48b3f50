#!/usr/bin/env bash
# sign-one.sh: `cab sign` of the one new merge on top of a long history:
# a bench/synth repository (TICKETS tickets, COMMITS commits, its last
# commit a merge) whose ledger already records every ticket merged before
# it (bench/cmd/signedledger -rev HEAD^, signed with the key cab.cue
# trusts), as on a CI job run for each push to main. Each run signs a
# fresh copy with the trusted bench key (--forge none) and is timed with
# GNU time (wall, user+sys CPU, the load beside it): WARM runs keep the
# gate's caches under .git/cab/ from a previous sign (a runner that keeps
# the checkout, or restores .git/cab), COLD runs start without them (a
# fresh clone). Every run must record the merge's tickets (signed or
# unsigned) and nothing else; with VERIFY=1 (default) `cab verify` then
# checks every signature of the ledger once.
#
# Environment: CAB [bin/cab], TICKETS [10000], COMMITS [100000], SEED [1],
# RUNS [3], MODES ["warm cold"], VERIFY [1].
set -euo pipefail
cd "$(dirname "$0")/.."
CAB=${CAB:-$PWD/bin/cab}
TICKETS=${TICKETS:-10000} COMMITS=${COMMITS:-100000} SEED=${SEED:-1}
[[ -x $CAB ]] || go build -o "$CAB" ./cmd/cab
src=bench/.repos/t$TICKETS-c$COMMITS-s$SEED
go run ./bench/gen -tickets "$TICKETS" -commits "$COMMITS" -seed "$SEED" -out "$src" >/dev/null
# The signed ledger up to the last merge's first parent, once (cached).
base=bench/.repos/sign1-t$TICKETS-c$COMMITS-s$SEED
if [[ ! -f $base/.git/cab-bench-sign1 ]]; then
	rm -rf "$base"
	git clone -q --local "$src" "$base"
	cp -a "$src/.bench-keys" "$base/"
	go run ./bench/cmd/signedledger -dir "$base" -rev 'HEAD^' >"$base/.git/cab-bench-sign1.tmp"
	# The ledger's objects packed, as a clone or a fetch of the branch has them.
	git -C "$base" repack -d -q
	mv "$base/.git/cab-bench-sign1.tmp" "$base/.git/cab-bench-sign1"
fi
# The gate's caches of a previous run, for the warm runs: those `cab
# check` leaves after checking the merge before the last one (HEAD^, a
# merge of bench/synth) as its pull request.
warm=bench/.repos/sign1-warm-t$TICKETS-c$COMMITS-s$SEED
if [[ ! -d $warm/.git/cab ]]; then
	rm -rf "$warm"
	cp -a "$base" "$warm"
	# exit 1: the approvals are missing (no evidence given), as expected
	(cd "$warm" && "$CAB" check --base 'HEAD^^' --head 'HEAD^' --format json >/dev/null 2>&1) || (($? == 1))
	[[ -d $warm/.git/cab ]] || { echo "sign-one.sh: cab check left no caches under .git/cab" >&2; exit 1; }
fi
merge=$(git -C "$base" rev-parse HEAD)
echo "== cab sign of 1 new merge ($merge) on $COMMITS commits, $TICKETS tickets ($(nproc) CPUs; $("$CAB" version 2>/dev/null | head -1))"
printf '%-5s %-4s %-8s %-9s %-8s %-8s %s\n' mode run wall_s cpu_s signed unsigned "load (1/5/15 min, at start)"
verified=0
for run in $(seq "${RUNS:-3}"); do
	for mode in ${MODES:-warm cold}; do
		work=$(mktemp -d "${TMPDIR:-/tmp}/cab-sign1.XXXXXX")
		cp -a "$base/." "$work"
		rm -rf "$work/.git/cab"
		[[ $mode == warm ]] && cp -a "$warm/.git/cab" "$work/.git/cab"
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		rc=0
		(cd "$work" && /usr/bin/time -f '%e %U %S' -o "$work/.time" "$CAB" sign --key .bench-keys/BENCH-ONLY-INSECURE-sign.key \
			--remote "" --forge none --format json >"$work/.sign.json" 2>"$work/.sign.err") || rc=$?
		((rc <= 1)) || { echo "sign-one.sh: cab sign failed ($rc):" >&2; cat "$work/.sign.err" >&2; exit 1; }
		read -r wall user sys < <(tail -1 "$work/.time") # after "Command exited with non-zero status 1"
		read -r signed unsigned other < <(python3 -c 'import json,sys,collections
d=json.load(open(sys.argv[1])); o=d["outcomes"]; c=collections.Counter(x.get("kind") for x in o)
print(c["signed"], c["unsigned"], sum(1 for x in o if x["commit"] != sys.argv[2]))' "$work/.sign.json" "$merge")
		if ((signed + unsigned == 0 || other != 0)); then
			echo "sign-one.sh: expected the tickets of $merge only, got $signed signed, $unsigned unsigned, $other of other commits" >&2
			exit 1
		fi
		printf '%-5s %-4s %-8s %-9s %-8s %-8s %s\n' "$mode" "$run" "$wall" "$(echo "$user + $sys" | bc)" "$signed" "$unsigned" "$load"
		if [[ ${VERIFY:-1} == 1 && $verified == 0 ]]; then
			verified=1
			rc=0
			(cd "$work" && "$CAB" verify --remote "" --format json >"$work/.verify.json" 2>"$work/.verify.err") || rc=$?
			((rc <= 1)) || { echo "sign-one.sh: cab verify failed ($rc):" >&2; cat "$work/.verify.err" >&2; exit 1; }
			# Every signature of the ledger: those written before, and this run's.
			want=$(($(cut -d' ' -f1 "$base/.git/cab-bench-sign1") + signed))
			got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signed"])' "$work/.verify.json")
			echo "   cab verify: $got signature(s) verified, $want made"
			((got == want)) || { echo "sign-one.sh: cab verify verified $got signature(s), the ledger holds $want" >&2; exit 1; }
		fi
		rm -rf "$work"
	done
done
