#!/usr/bin/env bash
# scale.sh: issue 12's scale targets for `cab verify` and a reconcile
# pass, as Go benchmarks on repositories of bench/synth (cached under
# bench/.repos), each size run COUNT times with the machine's load printed
# beside it (the machine may be shared: read the CPU figures, cpu-s/op and
# cpu-ms/pass, beside the wall ones).
#
#   BenchmarkVerify             audit.Verify over N signed tickets (2N
#                               commits), every signature verified against
#                               the key the generated cab.cue trusts:
#                               nocache (a first run: every ticket parsed),
#                               full (the parses and the proofs an earlier
#                               run left in .git/cab/verify), and from a
#                               checkpoint 100 tickets back (only those 100
#                               judged)
#   BenchmarkReconcileInFlight  one pass with 10 tickets in flight over a
#                               ledger of N tickets verified in staging
#                               (written by bench/signedledger.Append: a
#                               100,000-ticket ledger takes minutes): warm
#                               (a Reconciler kept between passes, as in
#                               cab serve) and cold (a new one)
#   BenchmarkReconcile1000      one pass applying N ticket-environments:
#                               CPU per ticket-environment (cpu-ms/ticket-env)
#
# Environment (defaults in brackets): VERIFY_SIZES [1000 10000],
# LEDGER_SIZES [1000 10000 100000], COUNT [3] (runs per verify size),
# LEDGER_COUNT [1] (runs per ledger size), PASSES [3] (passes timed per
# reconcile benchmark run), PASS_SIZES [250 1000 10000].
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false}
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "== machine: $(nproc) CPUs; $(go version)"
for n in ${VERIFY_SIZES:-1000 10000}; do
	echo "== cab verify, $n tickets (load $(load))"
	CAB_BENCH_TICKETS=$n go test ./audit -run '^$' -bench "^BenchmarkVerify$/tickets=$n/" \
		-benchtime 1x -count "${COUNT:-3}" -timeout 0 | grep -E '^(Benchmark|FAIL|---|panic)'
	echo "   (load $(load))"
done
for n in ${LEDGER_SIZES:-1000 10000 100000}; do
	echo "== reconcile pass, 10 in flight on a ledger of $n tickets (load $(load))"
	CAB_BENCH_LEDGER=$n go test ./reconcile -run '^$' -bench "^BenchmarkReconcileInFlight$/ledger=$n/" \
		-benchtime "${PASSES:-3}x" -count "${LEDGER_COUNT:-1}" -timeout 0 | grep -E '^(Benchmark|FAIL|---|panic)'
	echo "   (load $(load))"
done
for n in ${PASS_SIZES:-250 1000 10000}; do
	echo "== reconcile pass applying $n ticket-environments (load $(load))"
	CAB_BENCH_TICKETS=$n go test ./reconcile -run '^$' -bench '^BenchmarkReconcile1000$' \
		-benchtime 1x -count "${LEDGER_COUNT:-1}" -timeout 0 | grep -E '^(Benchmark|FAIL|---|panic)'
	echo "   (load $(load))"
done
