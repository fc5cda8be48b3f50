#!/usr/bin/env bash
# compare-reconcile.sh: reconcile throughput of the oci driver against
# crane, on one registry on loopback, in one run.
#
#   (a) cab    bench/cmd/ocithroughput apply: N changes through the oci
#              driver (reconcile/target/oci), each observe -> copy
#              staging/app@digest into prod/app -> tag t<NNNN> -> read back
#   (b) crane  crane copy <staging/app@digest> <prod-crane/app:t<NNNN>>, one
#              process per copy (what a promotion script does); no read-back
#
# Both do JOBS copies at a time (default 1: one after another, as the
# reconciler applies changes). The registry is Debian's docker-registry
# (CNCF distribution) when it is installed or installable, else the
# in-memory go-containerregistry pkg/registry served by ocithroughput.
# N small random images are pushed to staging/app first (untimed); after
# the timed runs every tag crane wrote is checked (untimed).
#
# Environment (defaults in brackets): N [1000], JOBS [1], REGISTRY [auto]
# (distribution | ggcr | auto), CRANE [installed at the go.mod version into
# a temporary GOBIN], OUT [bench/.repos/out] for the raw results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

N=${N:-1000}
JOBS=${JOBS:-1}
REGISTRY=${REGISTRY:-auto}
OUT=${OUT:-$ROOT/bench/.repos/out}
mkdir -p "$OUT"

WORK=$(mktemp -d)
registry_pid=
cleanup() {
	if [[ -n $registry_pid ]]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# Tools: crane at the version go.mod requires, and the driver's harness.
ggcr_version=$(go list -m -f '{{.Version}}' github.com/google/go-containerregistry)
if [[ -z ${CRANE:-} ]]; then
	echo "compare-reconcile: installing crane $ggcr_version" >&2
	GOBIN=$WORK/bin GOFLAGS= go install "github.com/google/go-containerregistry/cmd/crane@$ggcr_version"
	CRANE=$WORK/bin/crane
fi
go build -o "$WORK/bin/ocithroughput" ./bench/cmd/ocithroughput
OT=$WORK/bin/ocithroughput

# The registry.
if [[ $REGISTRY == auto ]]; then
	if ! command -v docker-registry >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "compare-reconcile: trying apt-get install docker-registry" >&2
		(timeout 120 apt-get install -y -qq docker-registry >/dev/null 2>&1 ||
			{ timeout 120 apt-get update -qq >/dev/null 2>&1 && timeout 120 apt-get install -y -qq docker-registry >/dev/null 2>&1; }) || true
	fi
	if command -v docker-registry >/dev/null; then REGISTRY=distribution; else REGISTRY=ggcr; fi
fi

# free_port: a loopback port nothing listens on (bounded tries).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "compare-reconcile: no free loopback port found" >&2
	exit 2
}

case $REGISTRY in
distribution)
	HOST=127.0.0.1:$(free_port)
	cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/storage
  delete:
    enabled: true
http:
  addr: $HOST
EOF
	docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
	registry_pid=$!
	registry_desc="distribution $(docker-registry --version | awk '{print $3}') (Debian docker-registry, filesystem storage in $WORK)"
	;;
ggcr)
	"$OT" serve -addr-file "$WORK/addr" -for 10m 2>"$WORK/registry.log" &
	registry_pid=$!
	for _ in $(seq 100); do [[ -s $WORK/addr ]] && break; sleep 0.1; done
	[[ -s $WORK/addr ]] || { echo "compare-reconcile: ocithroughput serve did not start:" >&2; cat "$WORK/registry.log" >&2; exit 2; }
	HOST=$(cat "$WORK/addr")
	registry_desc="go-containerregistry pkg/registry $ggcr_version (in memory, ocithroughput serve)"
	;;
*)
	echo "compare-reconcile: REGISTRY must be distribution, ggcr or auto, not $REGISTRY" >&2
	exit 2
	;;
esac
up=
for _ in $(seq 100); do
	if curl -fsS -o /dev/null "http://$HOST/v2/" 2>/dev/null; then up=1 && break; fi
	sleep 0.1
done
[[ -n $up ]] || { echo "compare-reconcile: the registry on $HOST did not answer:" >&2; cat "$WORK/registry.log" >&2; exit 2; }

echo "== compare-reconcile: $N oci applies, $JOBS at a time"
echo "machine: $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cab: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo ' (dirty tree)'); $("$CRANE" version); $(go version)"
echo "registry: $registry_desc on $HOST"

"$OT" seed -registry "$HOST" -repo staging/app -n "$N" -jobs 8 -out "$WORK/images.txt"

# timed NAME CMD...: runs CMD, writes its wall seconds to $WORK/NAME.s.
timed() {
	local name=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f\n", b - a}' >"$WORK/$name.s"
}

# (a) the driver, in one process.
timed cab "$OT" apply -registry "$HOST" -repo prod/app -images "$WORK/images.txt" -jobs "$JOBS"
cab_s=$(cat "$WORK/cab.s")

# (b) crane copy, one process per copy.
awk -v h="$HOST" '{printf "%s %s/prod-crane/app:t%04d\n", $1, h, NR - 1}' "$WORK/images.txt" >"$WORK/crane.args"
crane_copy() {
	xargs -P "$JOBS" -n 2 "$CRANE" copy --insecure <"$WORK/crane.args" 2>"$WORK/crane.log" ||
		{ echo "compare-reconcile: crane copy failed:" >&2 && tail -20 "$WORK/crane.log" >&2 && return 1; }
}
timed crane crane_copy
crane_s=$(cat "$WORK/crane.s")
"$OT" verify -registry "$HOST" -repo prod-crane/app -images "$WORK/images.txt" -jobs 8

calc() { awk "BEGIN{printf \"%.1f\", $1}"; }
cab_ops=$(calc "$N / $cab_s")
crane_ops=$(calc "$N / $crane_s")
echo
echo "== results: $N applies, $JOBS at a time, wall time including process start"
printf '%-6s %8s s  %8s applies/s\n' cab "$cab_s" "$cab_ops"
printf '%-6s %8s s  %8s copies/s\n' crane "$crane_s" "$crane_ops"
printf 'ratio cab / crane throughput: %.2f\n' "$(calc "$crane_s / $cab_s")"
echo "n=$N jobs=$JOBS registry=$REGISTRY cab_s=$cab_s crane_s=$crane_s cab_ops=$cab_ops crane_ops=$crane_ops" >"$OUT/compare-reconcile.txt"
