#!/usr/bin/env bash
# make demo: one change ticket's life, from pull request to production, and a
# second one rolled back. Everything runs in a temporary directory against a
# loopback environment (examples/demoenv: an OCI registry, health and
# Prometheus endpoints; one Argo CD-style git repository per environment);
# only the HTML report is kept. Two demos can run at once: every file is under
# mktemp directories and every port is chosen by the kernel.
set -euo pipefail

cab=$(realpath "${1:-bin/cab}")
demoenv=$(realpath "${2:-bin/demoenv}")
work=$(mktemp -d "${TMPDIR:-/tmp}/cab-demo.XXXXXX")
# The HTML report outlives the demo; everything else is removed.
report=$(mktemp -d "${TMPDIR:-/tmp}/cab-demo-report.XXXXXX")
envpid=
trap '[[ -n $envpid ]] && kill "$envpid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
# The commands print as a reader would type them: cab and demoenv on PATH.
mkdir "$work/bin" && ln -s "$cab" "$work/bin/cab" && ln -s "$demoenv" "$work/bin/demoenv"
export PATH="$work/bin:$PATH" && cab=cab demoenv=demoenv

# Bold headings on a terminal only: no escapes in a log or a pipe.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
chapter() { printf '\n%s#### %s%s\n' "$bold" "$*" "$plain"; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# shown quotes an argument the way a shell would need it.
shown() { local a out=(); for a; do if [[ $a =~ ^[][A-Za-z0-9_./:=@+,%{}-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi; done; printf '%s' "${out[*]}"; }
run() { printf '$ %s\n' "$(shown "$@")"; "$@"; }
expect_fail() { printf '$ %s\n' "$(shown "$@")"; if "$@"; then echo "demo: expected a failure" >&2; exit 1; else echo "(exit $?)"; fi; }
export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
approved='Approved-by: Alice <alice@example.com>
Approved-by: Bob <bob@example.com>'

chapter "Setting the scene"

step "The environments, on loopback: a registry, health and Prometheus endpoints, a git repository per environment"
"$demoenv" serve --addr-file "$work/env.addr" & envpid=$!
for _ in $(seq 100); do [[ -s $work/env.addr ]] && break; kill -0 "$envpid" || exit 1; sleep 0.1; done
reg=$(cat "$work/env.addr")
echo "demoenv listens on $reg (a port the kernel chose)"
for env in staging prod; do
  git init -q --bare -b main "$work/env-$env.git"
  git clone -q "$work/env-$env.git" "$work/seed-$env" 2>/dev/null
  mkdir -p "$work/seed-$env/platform"
  cat > "$work/seed-$env/platform/deployment.yaml" <<YAML
# platform in $env: Argo CD syncs this file; cab bumps the image.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: platform
spec:
  template:
    spec:
      containers:
        - name: platform
          image: registry.example.com/platform:1.4.2 # the running release
YAML
  git -C "$work/seed-$env" add -A && git -C "$work/seed-$env" commit -q -m "platform in $env"
  git -C "$work/seed-$env" push -q origin main
done
# CI built two images: the release 1.4.3 and a release candidate 1.4.4-rc1.
img=$("$demoenv" push "$reg" build/platform)
rc=$("$demoenv" push "$reg" build/platform)
echo "built: $img (1.4.3)"
echo "built: $rc (1.4.4-rc1)"

step "A change repository: cab init, pointed at those environments"
run "$cab" init --repository github.com/acme/changes changes-repo
cd changes-repo
for env in staging prod; do
  sed -i -e "s|registry.$env.example.com/apps\"}|$reg/$env\", insecure: true}|" \
    -e "s|https://git.example.com/platform/env-$env.git|$work/env-$env.git|" \
    -e "s|https://prometheus.$env.example.com/|http://$reg/|" cab.cue
done
# Plain git identifies people by email (GitHub and GitLab by user id).
sed -i -e 's|"platform-approvers": members: \[|"platform-approvers": members: ["git:alice@example.com", "git:bob@example.com", |' \
  -e 's|"git:replace-me-1@example.invalid", "git:replace-me-2@example.invalid"|"git:carol@example.com", "git:dan@example.com"|' cab.cue
# The scaffold's year-end freeze would hold this demo in late December.
sed -i '/^freezes: \[{$/,/^}]$/d' cab.cue
"$cab" keygen --out "$work/cab" >/dev/null          # CI's key: signs merged tickets
"$cab" keygen --out "$work/reconciler" >/dev/null   # the reconciler's key: signs outcomes
{ printf 'keys: [{name: "ci", publicKey: """\n'; sed 's/^/\t/' "$work/cab.pub"
  printf '\t"""}, {name: "reconciler", roles: ["reconcile"], publicKey: """\n'; sed 's/^/\t/' "$work/reconciler.pub"
  printf '\t"""}]\n'; } >> cab.cue
# In plain git, approvals count only on a merge commit signed by a key cab.cue lists.
ssh-keygen -q -t ed25519 -N '' -C maintainer -f "$work/maintainer"
printf 'mergeSigners: [{identity: "git:maintainer@example.com", publicKey: "%s"}]\n' "$(cat "$work/maintainer.pub")" >> cab.cue
signed_merge() { GIT_COMMITTER_EMAIL=maintainer@example.com git -c gpg.format=ssh -c user.signingkey="$work/maintainer" merge -q --no-ff -S "$@"; }
git init -q --bare -b main "$work/remote.git"
git remote add origin "$work/remote.git"   # cab init already made this a git repository
git add -A && git commit -q -m "Change repository" && git push -q -u origin main
run grep -nE 'prometheus:|images:|deploy:|members:|mergeSigners' cab.cue

chapter "One change, from pull request to production: promote platform 1.4.3"

step "1. Draft it: cab new writes only tickets cab check accepts"
git checkout -q -b promote-platform
expect_fail "$cab" new --service platform --title "Promote platform 1.4.3"
out=$("$cab" new --service platform --title "Promote platform 1.4.3" --image "$img" \
  --precheck "http://$reg/healthz" --postcheck "http://$reg/healthz" 2>/dev/null)
echo "$out"
ticket=${out#created }
id=$(basename "$ticket" .cue)
cat "$ticket"

step "2. A careless edit: a typo'd field, a window that ends before it starts, an image by tag"
cp "$ticket" "$work/draft.cue"
sed -i \
  -e "s|image:  \".*\"|image:  \"$reg/build/platform:1.4.3\"|" -e '$a risc: "low"' \
  -e "s|end:   \".*\"|end:   \"$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z)\"|" \
  -e "s|start: \".*\"|start: \"$(date -u -d '+1 day' +%Y-%m-%dT10:00:00Z)\"|" \
  "$ticket"
expect_fail "$cab" check

step "3. Tickets are data, not code: a reference is refused before any evaluation"
cp "$work/draft.cue" "$ticket"
sed -i 's|^owner: .*|owner: service|' "$ticket"
expect_fail "$cab" check "$ticket"

step "4. The real thing: today's window, the image in both registries and the env repos, checks for production"
from=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%SZ) to=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
cat > "$ticket" <<TICKET
apiVersion: "cab.dev/v1"
id:         "$id"
title:      "Promote platform 1.4.3"
description: "Rolls out the connection-pool fix; tested in staging for 48h."
kind:       "normal"
risk:       "high"
owner:      "team-platform"
service:    "platform"
environments: ["staging", "prod"]
window: {start: "$from", end: "$to"}
actions: [
	{type: "oci", target: "images", image: "$img", repository: "platform", tag: "1.4.3"},
	{type: "git", target: "deploy", file: "platform/deployment.yaml",
	 set: {path: ".spec.template.spec.containers[0].image", value: "$img"}},
]
prechecks: [{type: "http", url: "http://$reg/healthz", expectStatus: 200}]
postchecks: [
	{type: "http", url: "http://$reg/healthz", expectStatus: 200, maxLatency: "2s"},
	{type: "prometheus", query: "sum(rate(http_errors_total{service=\"platform\"}[5m]))", op: "<", threshold: 0.5},
]
rollback: auto: true
TICKET
run "$cab" check "$ticket"
run "$cab" check --format json "$ticket"

step "5. Open the pull request: the gate refuses it, nobody approved a high-risk change"
git add "$ticket" && git commit -q -m "$id: promote platform 1.4.3" && git push -q origin promote-platform
run git fetch -q origin
expect_fail "$cab" check --base origin/main --head origin/promote-platform --forge git

step "6. Approved: the maintainer's signed merge commit carries two Approved-by trailers"
git checkout -q -b merge-candidate origin/main
signed_merge origin/promote-platform -m "Merge promote-platform" -m "$approved"
run git log -1 --format=%B
run "$cab" check --base origin/main --head merge-candidate --forge git
echo "(the same trailers on an unsigned merge count for nothing:)"
git checkout -q -b forged origin/main
GIT_COMMITTER_EMAIL=maintainer@example.com git merge -q --no-ff origin/promote-platform -m "Merge promote-platform" -m "$approved"
expect_fail "$cab" check --base origin/main --head forged --forge git

step "7. Merged. From now on the ticket is immutable: a pull request editing it fails"
git checkout -q main && git merge -q --ff-only merge-candidate && git push -q origin main
git checkout -q -b sneaky main
sed -i 's/^risk: .*/risk:       "low"/' "$ticket"
git commit -q -am "lower the risk after the fact"
expect_fail "$cab" check --base main --head sneaky --forge git
git checkout -q main

step "8. Signed: CI re-judges the merge and signs the ticket onto the ledger branch"
run "$cab" sign --key "file://$work/cab.key" --forge git
run git log --format='%h %s' origin/cab/ledger
run "$cab" verify --checkpoint "$work/checkpoint"
echo "(a ticket tampered with after the merge, in a scratch clone, is caught:)"
git clone -q -b main "$work/remote.git" "$work/scratch"
git -C "$work/scratch" fetch -q origin cab/ledger:cab/ledger
sed -i 's/^risk: .*/risk:       "low"/' "$work/scratch/$ticket"
git -C "$work/scratch" commit -q -am "quietly lower the risk"
(cd "$work/scratch" && expect_fail "$cab" verify)

step "9. The reconciler's plan: what would change, from what to what (nothing is touched)"
run "$cab" reconcile --dry-run

step "10. Applied to staging, verified; promoted to prod, verified"
run "$cab" reconcile --key "file://$work/reconciler.key" --check-budget 30s --check-interval 200ms
run "$cab" log --id "$id" --events

step "11. What the environments hold now"
run "$demoenv" tag "$reg/staging/platform:1.4.3"
run "$demoenv" tag "$reg/prod/platform:1.4.3"
run git -C "$work/env-prod.git" log -1 --format='%h %s%n%b' main
run git -C "$work/env-prod.git" show main:platform/deployment.yaml

chapter "A second change, rolled back: platform 1.4.4-rc1 fails its postcheck in staging"

step "12. Drafted, approved, merged and signed like the first"
git checkout -q -b try-rc main
out=$("$cab" new --service platform --title "Try platform 1.4.4-rc1 in staging" --env staging --image "$rc" 2>/dev/null)
rcticket=${out#created }
rcid=$(basename "$rcticket" .cue)
cat > "$rcticket" <<TICKET
apiVersion: "cab.dev/v1"
id:         "$rcid"
title:      "Try platform 1.4.4-rc1 in staging"
kind:       "normal"
risk:       "medium"
owner:      "team-platform"
service:    "platform"
environments: ["staging"]
window: {start: "$from", end: "$to"}
actions: [{type: "oci", target: "images", image: "$rc", repository: "platform", tag: "1.4.4-rc1"}]
prechecks: [{type: "http", url: "http://$reg/healthz", expectStatus: 200}]
postchecks: [{type: "http", url: "http://$reg/health/fail", expectStatus: 200}]
rollback: auto: true
TICKET
cat "$rcticket"
git add "$rcticket" && git commit -q -m "$rcid: try platform 1.4.4-rc1" && git push -q origin try-rc
git checkout -q main && signed_merge try-rc -m "Merge try-rc" -m "$approved"
run git log -1 --format='%s, signed by %ce: %(trailers:key=Approved-by,valueonly,separator=%x2C )'
run "$cab" check --base origin/main --head main --forge git
git push -q origin main
run "$cab" sign --key "file://$work/cab.key" --forge git

step "13. Applied to staging, its postcheck fails: the previous state is restored"
expect_fail "$cab" reconcile --key "file://$work/reconciler.key" --check-budget 2s --check-interval 200ms
run "$demoenv" tag "$reg/staging/platform:1.4.4-rc1"
run "$cab" log --id "$rcid" --events

chapter "The audit trail: git history alone answers the auditor"

step "14. The ledger tells both stories (git log works on it too)"
run git log --reverse --format='%s' origin/cab/ledger

step "15. Who proposed, approved, signed and applied what, and how it ended"
run "$cab" log

step "16. DORA-style metrics over the same history"
run "$cab" metrics --by service
pattern='^cab_change_(merged|success_ratio|rollback_ratio|failure_ratio)'
printf '$ %s | grep -E %s\n' "$(shown "$cab" metrics --format prometheus)" "'$pattern'"
"$cab" metrics --format prometheus | grep -E "$pattern"

step "17. A self-contained HTML report for auditors (charts, change table, verify verdict)"
run "$cab" report --html "$report"
ls -l "$report"
if [[ -n ${CAB_DEMO_REPORT:-} ]]; then mkdir -p "$CAB_DEMO_REPORT" && cp -r "$report/." "$CAB_DEMO_REPORT/" && echo "report copied to $CAB_DEMO_REPORT"; fi

printf '\n%sdemo complete:%s %s went from pull request to production: refused without approvals, approved by a signed merge, signed onto the ledger, applied to staging and verified, promoted to prod and verified; %s failed its postcheck in staging and was rolled back. cab log, cab metrics and cab report answer auditors from git history alone.\n' "$bold" "$plain" "$id" "$rcid"
echo "the HTML report is kept: $report/index.html"
