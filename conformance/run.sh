#!/usr/bin/env bash
# make conformance: cab's real outputs, from a short end-to-end run of the cab
# binary, fed to the real tools that read them; any rejection fails the run.
#
#   conformance/run.sh [path/to/cab]
#
# Needs what .ci/install-conformance.sh installs ($CAB_TOOLS, default
# ~/.cache/cab-conformance). Everything runs on loopback: Debian's
# docker-registry (distribution 2.8) for images, bare git repositories for the
# change and environment repositories, examples/demoenv for health endpoints.
# Artifacts (every output checked) are kept in $CAB_ARTIFACTS/conformance when
# CAB_ARTIFACTS is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cab=$(realpath "${1:-$root/bin/cab}")
tools=${CAB_TOOLS:-$HOME/.cache/cab-conformance}
export CAB_TOOLS=$tools
export PATH="$tools/bin:$PATH" GOFLAGS=-buildvcs=false
nm=$tools/node_modules
testdata=$root/conformance/testdata

work=$(mktemp -d "${TMPDIR:-/tmp}/cab-conformance.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n ${CAB_ARTIFACTS:-} ]]; then
		mkdir -p "$CAB_ARTIFACTS/conformance" && cp -r "$work/out/." "$CAB_ARTIFACTS/conformance/" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/out" "$work/home"
out=$work/out
export HOME=$work/home DOCKER_CONFIG=$work/home/.docker GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com

passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
# check NAME CMD...: run a tool, print its output on failure.
check() {
	local name=$1; shift
	if "$@" >"$work/check.log" 2>&1; then ok "$name"; else fail "$name"; sed 's/^/      /' "$work/check.log" | tail -40; fi
}
# refuses NAME CMD...: a control that must fail (the tool can say no).
refuses() {
	local name=$1; shift
	if "$@" >"$work/check.log" 2>&1; then fail "$name (accepted what it must refuse)"; else ok "$name"; fi
}
# refuses_because NAME ERE CMD...: a control that must fail for the reason ERE matches
# in its output (not for a mistyped flag).
refuses_because() {
	local name=$1 why=$2; shift 2
	if "$@" >"$work/check.log" 2>&1; then fail "$name (accepted what it must refuse)"
	elif grep -Eq "$why" "$work/check.log"; then ok "$name"
	else fail "$name (refused, but not because /$why/)"; sed 's/^/      /' "$work/check.log" | tail -40; fi
}
step() { printf '\n== %s\n' "$*"; }
freeport() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
waitfor() { # url: wait until it answers (bounded)
	for _ in $(seq 100); do node -e "fetch('$1').then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))" && return 0; sleep 0.1; done
	echo "conformance: $1 never answered" >&2; return 1
}

step "setup: docker-registry, health endpoints, repositories"
regport=$(freeport)
reg=127.0.0.1:$regport
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $reg}
EOF
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 & pids+=($!)
waitfor "http://$reg/v2/"
(cd "$root" && go build -o "$work/demoenv" ./examples/demoenv)
"$work/demoenv" serve --addr-file "$work/health.addr" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do [[ -s $work/health.addr ]] && break; sleep 0.1; done
health=$(cat "$work/health.addr")
# sign/sigstoretest's fake Fulcio, Rekor and GitHub Actions token endpoint, for
# cab sign --keyless (Sigstore's public instances are unreachable here).
(cd "$root" && go build -o "$work/fakesigstore" ./conformance/fakesigstore)
mkdir -p "$work/sigstore"
"$work/fakesigstore" --dir "$work/sigstore" >"$work/fakesigstore.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [[ -e $work/sigstore/ready ]] && break; sleep 0.1; done
[[ -e $work/sigstore/ready ]] || { cat "$work/fakesigstore.log"; echo "conformance: fakesigstore never got ready" >&2; exit 1; }
fulcio=$(cat "$work/sigstore/fulcio.url") rekor=$(cat "$work/sigstore/rekor.url")
kl_issuer=$(cat "$work/sigstore/issuer") kl_subject=$(cat "$work/sigstore/subject")

# Environment repositories: a kustomize overlay per environment (Argo CD/Flux style).
for env in staging prod; do
	git init -q --bare -b main "$work/env-$env.git"
	git clone -q "$work/env-$env.git" "$work/seed-$env" 2>/dev/null
	mkdir -p "$work/seed-$env/platform"
	cat >"$work/seed-$env/platform/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: platform
spec:
  selector:
    matchLabels: {app: platform}
  template:
    metadata:
      labels: {app: platform}
    spec:
      containers:
        - name: platform
          image: platform
EOF
	cat >"$work/seed-$env/platform/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: platform
    newName: registry.example.com/platform
    newTag: "1.4.1"
EOF
	git -C "$work/seed-$env" add -A && git -C "$work/seed-$env" commit -q -m "platform in $env" && git -C "$work/seed-$env" push -q origin main
done

"$cab" keygen --out "$work/cab" >/dev/null          # signs tickets (role sign)
"$cab" keygen --out "$work/reconciler" >/dev/null   # signs outcome events (role reconcile)
# Plain-git approvals count only on a merge commit signed by a key cab.cue lists.
ssh-keygen -q -t ed25519 -N '' -C maintainer -f "$work/maintainer"
git init -q --bare -b main "$work/changes.git"
"$cab" init --repository example.com/acme/changes "$work/changes" >/dev/null
cd "$work/changes"
{
	cat <<EOF
apiVersion: "cab.dev/v1"
repository: "example.com/acme/changes"
promotion: ["staging", "prod"]
environments: {
	staging: targets: {
		images: {type: "oci", registry: "$reg/staging", insecure: true}
		deploy: {type: "git", url: "$work/env-staging.git", branch: "main", root: "platform"}
	}
	prod: {
		protected: true
		targets: {
			images: {type: "oci", registry: "$reg/prod", insecure: true}
			deploy: {type: "git", url: "$work/env-prod.git", branch: "main", root: "platform"}
		}
	}
}
approvers: "platform-approvers": members: ["git:alice@example.com", "git:bob@example.com"]
services: platform: {approvers: "platform-approvers", owner: "team-platform"}
EOF
	printf 'keys: [{name: "ci", publicKey: """\n'
	sed 's/^/\t/' "$work/cab.pub"
	printf '\t"""}, {name: "reconciler", roles: ["reconcile"], publicKey: """\n'
	sed 's/^/\t/' "$work/reconciler.pub"
	printf '\t"""}, {name: "sign-workflow", roles: ["sign"], keyless: {issuer: "%s", subject: "%s", trustedRoot: %s}}]\n' \
		"$kl_issuer" "$kl_subject" "$(cat "$work/sigstore/trusted_root.json")"
	printf 'mergeSigners: [{identity: "git:maintainer@example.com", publicKey: "%s"}]\n' "$(cat "$work/maintainer.pub")"
} >cab.cue
git init -q -b main && git remote add origin "$work/changes.git"
git add -A && git commit -q -m "change repository" && git push -q origin main

img=$("$work/demoenv" push "$reg" build/platform)
digest=${img#*@}
from=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ) to=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)
id=CHG-$(date -u +%Y)-0001   # the ticket is written in full below (cab new writes only tickets that already pass)
ticket=changes/platform/$id.cue
mkdir -p changes/platform
write_ticket() { # $1: extra field line (a mistake) or ""
	cat >"$ticket" <<EOF
apiVersion: "cab.dev/v1"
id:         "$id"
title:      "Promote platform 1.4.3"
kind:       "normal"
risk:       "medium"
owner:      "team-platform"
service:    "platform"
environments: ["staging", "prod"]
window: {start: "$from", end: "$to"}
actions: [
	{type: "oci", target: "images", image: "$img", repository: "platform", tag: "1.4.3"},
	{type: "git", target: "deploy", file: "kustomization.yaml",
	 kustomizeImage: {name: "platform", newName: "registry.example.com/platform", newTag: "1.4.3", digest: "$digest"}},
]
prechecks: [{type: "http", url: "http://$health/health/ok", expectStatus: 200}]
postchecks: [{type: "http", url: "http://$health/health/ok", expectStatus: 200}]
rollback: auto: true
$1
EOF
}

step "cab check reports: SARIF, GitLab Code Quality, JUnit"
git checkout -q -b pr
write_ticket 'risc: "low"'
mkdir -p "$out/check" "$out/check-sub"
"$cab" check --format sarif >"$out/check/root.sarif" || true
(cd changes/platform && "$cab" check --format sarif ../.. >"$out/check/sub.sarif") || true
"$cab" check --format sarif "$work/changes/$ticket" >"$out/check/abs.sarif" || true
(cd changes/platform && "$cab" check --format gitlab --report-dir "$out/check-sub" ../.. >/dev/null) || true
"$cab" check --format gitlab --report-dir "$out/check" >/dev/null || true
check "SARIF: the same log whatever the cwd or path form" cmp "$out/check/root.sarif" "$out/check/sub.sarif"
check "SARIF: the same log for an absolute path" \
	node -e 'const r=f=>JSON.parse(require("fs").readFileSync(f,"utf8")),a=r(process.argv[1]),b=r(process.argv[2]);const u=l=>JSON.stringify(l.runs[0].results.filter(r=>r.locations[0].physicalLocation.artifactLocation.uri.endsWith(process.argv[3])).map(r=>r.locations));if(u(a)!==u(b)||u(a)==="[]")process.exit(1)' \
	"$out/check/root.sarif" "$out/check/abs.sarif" "$id.cue"
check "SARIF 2.1.0 schema (OASIS, ajv draft-04)" node "$root/conformance/validate.mjs" json "$testdata/sarif-schema-2.1.0.json" "$out/check/root.sarif"
node -e 'const f=process.argv[1],l=JSON.parse(require("fs").readFileSync(f,"utf8"));delete l.runs[0].tool.driver.name;require("fs").writeFileSync(f+".broken",JSON.stringify(l))' "$out/check/root.sarif"
refuses "control: the SARIF schema refuses a log without tool.driver.name" node "$root/conformance/validate.mjs" json "$testdata/sarif-schema-2.1.0.json" "$out/check/root.sarif.broken"
check "SARIF: GitHub code scanning rules (help, fullDescription, repository-relative URIs)" node "$root/conformance/validate.mjs" sarif-github "$out/check/root.sarif" "$ticket"
check "GitLab Code Quality: GitLab's codeclimate schema, per issue" node "$root/conformance/validate.mjs" codequality "$testdata/gitlab-codeclimate.json" "$out/check/cab-codequality.json" "$ticket"
check "GitLab Code Quality: same report from a subdirectory" cmp "$out/check/cab-codequality.json" "$out/check-sub/cab-codequality.json"
junit() { # file: validate against junit-10.xsd without testcase/@file (see testdata/SOURCES.md)
	sed -E 's/(<testcase [^>]*) file="[^"]*"/\1/' "$1" >"$1.nofile.xml"
	xmllint --noout --schema "$testdata/junit-10.xsd" "$1.nofile.xml" && grep -q "<testcase [^>]*file=\"$ticket\"" "$1"
}
check "JUnit XML: junit-10.xsd (Jenkins xUnit), file attribute kept" junit "$out/check/cab-junit.xml"
write_ticket ""
"$cab" check --format gitlab --report-dir "$out/check-pass" >/dev/null 2>&1 || { mkdir -p "$out/check-pass"; "$cab" check --format gitlab --report-dir "$out/check-pass" || true; }
check "JUnit XML: passing report valid too" junit "$out/check-pass/cab-junit.xml"
casename() { grep -o "<testcase name=\"[^\"]*\" classname=\"changes/platform\"" "$1"; }
check "JUnit XML: the ticket's case has the same name failing and passing" \
	bash -c '[[ -n $(grep -o "<testcase name=\"'"$id"'\"" "$1") && -n $(grep -o "<testcase name=\"'"$id"'\"" "$2") ]]' _ "$out/check/cab-junit.xml" "$out/check-pass/cab-junit.xml"

step "merge, sign (with --attach), reconcile"
git add "$ticket" && git commit -q -m "$id: promote platform 1.4.3"
git checkout -q main
GIT_COMMITTER_EMAIL=maintainer@example.com git -c gpg.format=ssh -c user.signingkey="$work/maintainer" merge -q --no-ff -S pr -m "Merge pr" \
	-m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
git push -q origin main
"$cab" sign --key "file://$work/cab.key" --forge git --attach | tee "$out/sign.txt"
"$cab" reconcile --key "file://$work/reconciler.key" --check-interval 100ms --check-budget 5s --log-format json >"$out/reconcile.txt" 2>"$out/reconcile.log" ||
	{ cat "$out/reconcile.txt" "$out/reconcile.log"; echo "conformance: cab reconcile failed" >&2; exit 1; }
cp "$work/cab.pub" "$out/cab.pub"

step "ledger envelopes: cosign and in-toto"
"$cab" verify --subject "$id" >"$out/ticket.json"
"$cab" verify --envelope "$id" >"$out/ticket.dsse"
check "cosign verify-blob-attestation over cab verify --subject" \
	cosign verify-blob-attestation --key "$work/cab.pub" --type https://cab.dev/change/v1 \
	--signature "$out/ticket.dsse" --insecure-ignore-tlog "$out/ticket.json"
sed 's/"title":"/"title":"X/' "$out/ticket.json" >"$work/tampered.json"
refuses "control: cosign refuses a subject changed by one byte" \
	cosign verify-blob-attestation --key "$work/cab.pub" --type https://cab.dev/change/v1 \
	--signature "$out/ticket.dsse" --insecure-ignore-tlog "$work/tampered.json"
check "in-toto Statement v1 (in-toto/attestation Go validator)" \
	bash -c 'cd "$1/conformance/intoto" && go run . "$2"' _ "$root" "$out/ticket.dsse"
attached=$(grep -o '^attached .*' "$out/sign.txt" | head -1 | cut -d' ' -f2)
check "cab sign --attach wrote an attestation" test -n "$attached"
check "cosign verify-attestation of the --attach referrer on docker-registry" \
	cosign verify-attestation --key "$work/cab.pub" --type https://cab.dev/change/v1 --insecure-ignore-tlog \
	--allow-http-registry --allow-insecure-registry "$img"

step "keyless bundle: cosign against the fake Sigstore's trusted root"
# A second ticket, signed by cab sign --keyless as the GitHub Actions workflow
# cab.cue trusts; the ledger holds a Sigstore bundle (v0.3) that the real cosign
# verifies against trusted_root.json, the same root cab.cue trusts. The fake
# Fulcio embeds no SCT and its root names no certificate transparency log (there
# is none to fake here); cab then asks for no SCT (it does when the root names a
# CT log, as the public-good root does), but cosign always wants one unless told
# --insecure-ignore-sct: that is the one check relaxed, and a control below shows
# it is the only reason cosign would refuse. The Rekor entry (SET and inclusion
# proof against the root's log key) is checked.
id2=CHG-$(date -u +%Y)-0002
ticket2=changes/platform/$id2.cue
git checkout -q -b pr2 main
from2=$to to2=$(date -u -d '+6 hours' +%Y-%m-%dT%H:%M:%SZ) # after the first ticket's window: no conflict
sed -e "s/$id/$id2/" -e 's/1\.4\.3/1.4.4/g' -e "s/start: \"$from\", end: \"$to\"/start: \"$from2\", end: \"$to2\"/" "$ticket" >"$ticket2"
git add "$ticket2" && git commit -q -m "$id2: promote platform 1.4.4"
git checkout -q main
GIT_COMMITTER_EMAIL=maintainer@example.com git -c gpg.format=ssh -c user.signingkey="$work/maintainer" merge -q --no-ff -S pr2 -m "Merge pr2" \
	-m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
git push -q origin main
(set -a && . "$work/sigstore/env" && "$cab" sign --keyless --fulcio-url "$fulcio" --rekor-url "$rekor" --forge git) >"$out/sign-keyless.txt" 2>&1 ||
	{ cat "$out/sign-keyless.txt"; echo "conformance: cab sign --keyless failed" >&2; exit 1; }
"$cab" verify --subject "$id2" >"$out/ticket-keyless.json"
"$cab" verify --envelope "$id2" >"$out/ticket-keyless.sigstore.json"
cp "$work/sigstore/trusted_root.json" "$out/trusted_root.json"
check "cab verify accepts the keyless bundle" "$cab" verify
cosign_keyless() { # issuer identity [bundle [subject]]: verify-blob-attestation of a keyless bundle
	cosign verify-blob-attestation --bundle "${3:-$out/ticket-keyless.sigstore.json}" \
		--trusted-root "$out/trusted_root.json" --insecure-ignore-sct \
		--certificate-oidc-issuer "$1" --certificate-identity "$2" \
		--type https://cab.dev/change/v1 "${4:-$out/ticket-keyless.json}"
}
check "cosign verify-blob-attestation --bundle (cab sign --keyless) --trusted-root" cosign_keyless "$kl_issuer" "$kl_subject"
refuses_because "control: cosign refuses the bundle for another workflow identity" 'expected SAN value' \
	cosign_keyless "$kl_issuer" "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main"
refuses_because "control: cosign refuses the bundle for another OIDC issuer" 'expected issuer value' \
	cosign_keyless "https://gitlab.com" "$kl_subject"
sed 's/"title":"/"title":"X/' "$out/ticket-keyless.json" >"$work/tampered-keyless.json"
refuses_because "control: cosign refuses a keyless subject changed by one byte" 'digest does not match' \
	cosign_keyless "$kl_issuer" "$kl_subject" "" "$work/tampered-keyless.json"
node -e 'const f=require("fs"),b=JSON.parse(f.readFileSync(process.argv[1],"utf8")),e=b.verificationMaterial.tlogEntries[0];e.integratedTime=String(Number(e.integratedTime)+1);f.writeFileSync(process.argv[2],JSON.stringify(b))' \
	"$out/ticket-keyless.sigstore.json" "$work/badset.sigstore.json"
refuses_because "control: cosign checks the Rekor entry (integrated time changed, SET breaks)" 'verified log entries' \
	cosign_keyless "$kl_issuer" "$kl_subject" "$work/badset.sigstore.json"
refuses_because "control: without --insecure-ignore-sct cosign wants the SCT the fake Fulcio does not embed" 'SCT' \
	cosign verify-blob-attestation --bundle "$out/ticket-keyless.sigstore.json" --trusted-root "$out/trusted_root.json" \
	--certificate-oidc-issuer "$kl_issuer" --certificate-identity "$kl_subject" --type https://cab.dev/change/v1 "$out/ticket-keyless.json"

step "promoted tags: crane"
for env in staging prod; do
	check "crane digest $env/platform:1.4.3 is the pinned digest" \
		bash -c '[[ $(crane digest --insecure "$1") == "$2" ]]' _ "$reg/$env/platform:1.4.3" "$digest"
done

step "environment repositories: kustomize, git fsck"
for env in staging prod; do
	git clone -q "$work/env-$env.git" "$work/co-$env"
	check "kustomize build of the $env overlay cab edited" \
		bash -c 'kustomize build "$1" >"$2" && grep -q "image: registry.example.com/platform:1.4.3@$3" "$2"' _ "$work/co-$env/platform" "$out/kustomize-$env.yaml" "$digest"
	check "git fsck --strict of env-$env" git -C "$work/env-$env.git" fsck --strict --no-progress
done
check "git fsck --strict of the change repository and its ledger" git -C "$work/changes.git" fsck --strict --no-progress
check "the ledger branch is there" git -C "$work/changes.git" rev-parse --verify -q refs/heads/cab/ledger

step "metrics: promtool"
"$cab" metrics --format prometheus >"$out/metrics.prom"
check "promtool check metrics: cab metrics --format prometheus" bash -c 'promtool check metrics <"$1"' _ "$out/metrics.prom"
srvport=$(freeport)
"$cab" serve --key "file://$work/reconciler.key" --listen "127.0.0.1:$srvport" --interval 1h --log-format json >"$out/serve.log" 2>&1 & servepid=$!
pids+=("$servepid")
waitfor "http://127.0.0.1:$srvport/healthz"
node -e "fetch('http://127.0.0.1:$srvport/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))" >"$out/serve-metrics.prom"
kill "$servepid" 2>/dev/null || true
check "promtool check metrics: cab serve /metrics" bash -c 'promtool check metrics <"$1"' _ "$out/serve-metrics.prom"
check "cab serve /metrics has cab's series" grep -q '^cab_' "$out/serve-metrics.prom"

step "HTML report: Nu HTML checker, axe-core in Chromium"
"$cab" report --html "$out/report" >/dev/null
check "vnu (Nu HTML checker) on cab report --html" java -jar "$nm/vnu-jar/build/dist/vnu.jar" --errors-only "$out/report/index.html"
check "axe-core in Chromium on cab report --html" \
	env CAB_REPORT_DIR="$out/report" CAB_AXE="$nm/axe-core/axe.min.js" \
	go -C "$root" test -count=1 -tags conformance -run TestAxeOnReport ./audit/htmlreport

check "kustomize build examples/deploy (cab serve as a Deployment)" \
	bash -c 'kustomize build "$1/examples/deploy" >"$2" && grep -q "path: /readyz" "$2" && grep -q "path: /livez" "$2"' _ "$root" "$out/deploy.yaml"

step "CI templates: actionlint, GitLab CI schema"
mkdir -p "$work/gh/.github/workflows"
cp "$root/examples/ci/github/"*.yml "$work/gh/.github/workflows/"
cp "$root/action.yml" "$work/gh/action.yml"
cat >"$work/gh/.github/workflows/local.yml" <<'EOF'
name: uses the action
on: pull_request
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          version: v1.0.0
          checksums-sha256: "0000000000000000000000000000000000000000000000000000000000000000"
EOF
git -C "$work/gh" init -q
check "actionlint: examples/ci/github/*.yml and action.yml (used as ./)" bash -c 'cd "$1" && actionlint -no-color' _ "$work/gh"
mkdir -p "$work/gl" && cp "$root/examples/ci/gitlab-ci.yml" "$work/gl/.gitlab-ci.yml"
git -C "$work/gl" init -q && git -C "$work/gl" add -A && git -C "$work/gl" commit -q -m x
# gitlab-ci-local needs Set.prototype.union (Node 22); Node 20 gets a polyfill.
check "gitlab-ci-local --list: examples/ci/gitlab-ci.yml against GitLab's CI schema" \
	bash -c 'cd "$1" && node --import "$2/conformance/set-polyfill.mjs" "$3/gitlab-ci-local/dist/index.js" --list' _ "$work/gl" "$root" "$nm"

step "release: container image on docker-registry"
if [[ -d $root/dist && -x $root/dist/cab-linux-amd64 ]]; then
	imgref=$reg/cab:conformance
	(cd "$root" && go run ./release/image --dist dist --version conformance --commit "$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)" --push "$imgref" --insecure) >"$out/image.digest"
	check "crane: the image index lists linux/amd64 and linux/arm64" \
		bash -c 'crane manifest --insecure "$1" | grep -q "\"architecture\": *\"arm64\"" && crane manifest --insecure "$1" | grep -q "\"architecture\": *\"amd64\""' _ "$imgref"
	check "crane: non-root user and OCI labels" \
		bash -c 'c=$(crane config --insecure --platform linux/amd64 "$1"); grep -q "\"User\":\"65532:65532\"" <<<"$c" && grep -q "org.opencontainers.image.revision" <<<"$c"' _ "$imgref"
	mkdir -p "$work/rootfs"
	crane export --insecure --platform linux/amd64 "$imgref" - | tar -xf - -C "$work/rootfs"
	check "the pulled image's cab runs: cab --help" bash -c '"$1/usr/local/bin/cab" --help | grep -q "cab check"' _ "$work/rootfs"
	check "the pulled image holds CA certificates" test -s "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
else
	fail "release image: run make release first (dist/cab-linux-amd64 missing)"
fi

printf '\nconformance: %d passed, %d failed\n' "$passed" "$failed"
[[ $failed -eq 0 ]]
