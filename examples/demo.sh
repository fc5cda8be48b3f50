#!/usr/bin/env bash
# make demo: scaffold a change repository in a temporary directory, propose
# a change, watch `cab check` refuse it with precise diagnostics, fix it,
# and watch it pass. Runs on embedded defaults; needs nothing but the binary.
set -euo pipefail

cab=$(realpath "${1:-bin/cab}")
demoenv=$(realpath "${2:-bin/demoenv}")
work=$(mktemp -d "${TMPDIR:-/tmp}/cab-demo.XXXXXX")
# The HTML report outlives the demo; everything else is removed.
report=$(mktemp -d "${TMPDIR:-/tmp}/cab-demo-report.XXXXXX")
envpid=
trap '[[ -n $envpid ]] && kill $envpid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

# Bold headings on a terminal only: no escapes in a log or a pipe.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect_fail() { printf '$ %s\n' "$*"; if "$@"; then echo "demo: expected a failure" >&2; exit 1; else echo "(exit $?)"; fi; }

step "1. Scaffold a change repository"
run "$cab" init --repository github.com/acme/changes changes-repo
cd changes-repo

step "2. Propose a change: cab new writes only tickets cab check accepts"
expect_fail "$cab" new --service platform --title "Promote platform 1.4.2 to production"
out=$("$cab" new --service platform --title "Promote platform 1.4.2 to production" \
  --image ghcr.io/acme/platform@sha256:4f1b0c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c \
  --precheck https://platform.example.com/healthz --postcheck https://platform.example.com/healthz 2>/dev/null)
echo "$out"
ticket=${out#created }
id=$(basename "$ticket" .cue)
cat "$ticket"

step "3. (cab new checked it: a ticket it writes passes cab check)"
run "$cab" check "$ticket"

step "4. A careless edit: a typo'd field, a window that ends before it starts, an image by tag"
start=$(date -u -d '+1 day' +%Y-%m-%dT10:00:00Z)
sed -i \
  -e 's|image:  ".*"|image:  "ghcr.io/acme/platform:1.4.2"|' -e '$a risc: "low"' \
  -e "s|end:   \".*\"|end:   \"$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z)\"|" \
  -e "s|start: \".*\"|start: \"$start\"|" \
  "$ticket"
expect_fail "$cab" check

step "5. Tickets are data, not code: a reference is refused before any evaluation"
cp "$ticket" "$work/backup.cue"
sed -i 's|^owner: .*|owner: service|' "$ticket"
expect_fail "$cab" check "$ticket"
cp "$work/backup.cue" "$ticket"

step "6. Fix it: digest-pinned image, a real window, checks for production"
cat > "$ticket" <<TICKET
apiVersion: "cab.dev/v1"
id:         "$id"
title:      "Promote platform 1.4.2 to production"
description: "Rolls out the connection-pool fix; tested in staging for 48h."
kind:       "normal"
risk:       "medium"
owner:      "team-platform"
service:    "platform"
environments: ["staging", "prod"]
window: {start: "$start", end: "$(date -u -d '+1 day' +%Y-%m-%dT12:00:00Z)"}
actions: [{
	type:   "oci"
	target: "images"
	image:  "ghcr.io/acme/platform@sha256:4f1b0c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
	tag:    "platform"
}]
prechecks: [{type: "http", url: "https://platform.example.com/healthz", expectStatus: 200}]
postchecks: [{type: "prometheus", query: "sum(rate(http_errors_total{service=\"platform\"}[5m]))", op: "<", threshold: 0.5}]
rollback: auto: true
TICKET
run "$cab" check

step "7. The same verdict, for machines"
run "$cab" check --format json

step "8. The pull-request gate: a shared repository, a branch, a high-risk change"
export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
# The environments of this demo live on loopback: an OCI registry with health
# endpoints (examples/demoenv) and one Argo CD-style git repository per environment.
"$demoenv" serve --addr-file "$work/env.addr" & envpid=$!
for _ in $(seq 50); do [[ -s $work/env.addr ]] && break; sleep 0.1; done
reg=$(cat "$work/env.addr")
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
          image: registry.example.com/platform:1.4.1 # the running release
YAML
  git -C "$work/seed-$env" add -A && git -C "$work/seed-$env" commit -q -m "platform in $env"
  git -C "$work/seed-$env" push -q origin main
  sed -i -e "s|registry.$env.example.com/apps\"}|$reg/$env\", insecure: true}|" \
    -e "s|https://git.example.com/platform/env-$env.git|$work/env-$env.git|" cab.cue
done
# In plain git, approvers are identified by email; on GitHub/GitLab by user id.
sed -i 's|"platform-approvers": members: \[|"platform-approvers": members: ["git:alice@example.com", "git:bob@example.com", |' cab.cue
git init -q --bare "$work/remote.git"
git remote add origin "$work/remote.git"   # cab init already made this a git repository
"$cab" keygen --out "$work/cab" >/dev/null          # CI's signing key; cab.cue trusts its public half to sign tickets
"$cab" keygen --out "$work/reconciler" >/dev/null   # the reconciler's key; cab.cue trusts it to sign outcomes
{ printf 'keys: [{name: "ci", publicKey: """\n'; sed 's/^/\t/' "$work/cab.pub"; printf '\t"""}, {name: "reconciler", roles: ["reconcile"], publicKey: """\n'; sed 's/^/\t/' "$work/reconciler.pub"; printf '\t"""}]\n'; } >> cab.cue
# In plain git, approvals count only on a merge commit signed by a key cab.cue lists.
ssh-keygen -q -t ed25519 -N '' -C maintainer -f "$work/maintainer"
printf 'mergeSigners: [{identity: "git:maintainer@example.com", publicKey: "%s"}]\n' "$(cat "$work/maintainer.pub")" >> cab.cue
signed_merge() { GIT_COMMITTER_EMAIL=maintainer@example.com git -c gpg.format=ssh -c user.signingkey="$work/maintainer" merge -q --no-ff -S "$@"; }
mv "$ticket" "$work/ticket.cue"   # the ticket arrives through a pull request
git add cab.cue policy changes && git commit -q -m "Change repository" && git push -q origin main
git checkout -q -b promote-platform
sed 's/^risk: .*/risk:       "high"/' "$work/ticket.cue" > "$ticket"
git add "$ticket" && git commit -q -m "$id: promote platform 1.4.2" && git push -q origin promote-platform
run git log --oneline --all
run git fetch -q origin
expect_fail "$cab" check --base origin/main --head origin/promote-platform --forge git

step "9. Two maintainers approve: the maintainer's signed merge commit carries Approved-by trailers"
git checkout -q -b merge-candidate origin/main
signed_merge origin/promote-platform -m "Merge promote-platform" \
  -m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
run git log -1 --format=%B
run "$cab" check --base origin/main --head merge-candidate --forge git
git checkout -q -b forged origin/main   # the same trailers without the signature count for nothing
GIT_COMMITTER_EMAIL=maintainer@example.com git merge -q --no-ff origin/promote-platform -m "Merge promote-platform" \
  -m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
expect_fail "$cab" check --base origin/main --head forged --forge git
git checkout -q merge-candidate

step "10. A later pull request may not rewrite history: editing a merged ticket fails"
git checkout -q -b sneaky merge-candidate
sed -i 's/^risk: .*/risk:       "low"/' "$ticket"
git commit -q -am "lower the risk after the fact"
expect_fail "$cab" check --base merge-candidate --head sneaky --forge git

step "11. Merge, then CI signs what was merged and records it on the ledger branch"
git checkout -q main && git merge -q --ff-only merge-candidate && git push -q origin main
run "$cab" sign --key "file://$work/cab.key" --forge git
run git log --format='%h %s' origin/cab/ledger

step "12. The chain verifies: merged, approved, signed, unchanged"
run "$cab" verify --checkpoint "$work/checkpoint"

step "13. Tamper with the merged ticket (in a scratch clone): verify names what broke"
git clone -q -b main "$work/remote.git" "$work/scratch" && cd "$work/scratch"
git fetch -q origin cab/ledger:cab/ledger
sed -i 's/^risk: .*/risk:       "low"/' "$ticket"
git commit -q -am "quietly lower the risk"
expect_fail "$cab" verify
cd "$work/changes-repo"

step "14. Two more changes: promote platform 1.4.3 everywhere, and a release candidate to staging"
img=$("$demoenv" push "$reg" build/platform)
rc=$("$demoenv" push "$reg" build/platform)
git checkout -q -b next-release origin/main
health="http://$reg/health/ok"
a=$("$cab" new --service platform --title "Promote platform 1.4.3" --image "$img" --precheck "$health" --postcheck "$health" 2>/dev/null); a=${a#created }
b=$("$cab" new --service platform --title "Try platform 1.4.4-rc1 in staging" --env staging --image "$rc" 2>/dev/null); b=${b#created }
from=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ) to=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
cat > "$a" <<TICKET
apiVersion: "cab.dev/v1"
id:         "$(basename "$a" .cue)"
title:      "Promote platform 1.4.3"
kind:       "normal"
risk:       "medium"
owner:      "team-platform"
service:    "platform"
environments: ["staging", "prod"]
window: {start: "$from", end: "$to"}
actions: [
	{type: "oci", target: "images", image: "$img", repository: "platform", tag: "1.4.3"},
	{type: "git", target: "deploy", file: "platform/deployment.yaml",
	 set: {path: ".spec.template.spec.containers[0].image", value: "$img"}},
]
prechecks: [{type: "http", url: "http://$reg/health/ok", expectStatus: 200}]
postchecks: [{type: "http", url: "http://$reg/health/ok", expectStatus: 200, maxLatency: "2s"}]
rollback: auto: true
TICKET
cat > "$b" <<TICKET
apiVersion: "cab.dev/v1"
id:         "$(basename "$b" .cue)"
title:      "Try platform 1.4.4-rc1 in staging"
kind:       "normal"
risk:       "medium"
owner:      "team-platform"
service:    "platform"
environments: ["staging"]
window: {start: "$from", end: "$to"}
actions: [{type: "oci", target: "images", image: "$rc", repository: "platform", tag: "1.4.4-rc1"}]
prechecks: [{type: "http", url: "http://$reg/health/ok", expectStatus: 200}]
postchecks: [{type: "http", url: "http://$reg/health/fail", expectStatus: 200}]
rollback: auto: true
TICKET
git add changes && git commit -q -m "platform 1.4.3 and 1.4.4-rc1"
git checkout -q -b release-candidate origin/main
signed_merge next-release -m "Merge next-release" \
  -m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
run "$cab" check --base origin/main --head release-candidate --forge git
git checkout -q main && git merge -q --ff-only release-candidate && git push -q origin main
run "$cab" sign --key "file://$work/cab.key" --forge git

step "15. The reconciler's plan: what would change, from what to what (nothing is touched)"
run "$cab" reconcile --dry-run

step "16. Reconcile: verify each signature, check, apply, check again; roll back what fails"
expect_fail "$cab" reconcile --key "file://$work/reconciler.key" --check-budget 2s --check-interval 200ms

step "17. What the environments hold now"
run "$demoenv" tag "$reg/staging/platform:1.4.3"
run "$demoenv" tag "$reg/prod/platform:1.4.3"
run "$demoenv" tag "$reg/staging/platform:1.4.4-rc1"
run git -C "$work/env-prod.git" log -1 --format='%h %s%n%b' main
run git -C "$work/env-prod.git" show main:platform/deployment.yaml

step "18. The ledger tells both stories (git log works on it too)"
run git log --reverse --format='%<(60,trunc)%s' origin/cab/ledger

step "19. Audit from git history: who proposed, approved, signed and applied what, and how it ended"
run "$cab" log
run "$cab" log --id "$(basename "$b" .cue)" --events

step "20. DORA-style metrics over the same history"
run "$cab" metrics --by service
run "$cab" metrics --format prometheus | grep -E '^cab_change_(merged|success_ratio|rollback_ratio|failure_ratio)'

step "21. A self-contained HTML report for auditors (charts, change table, verify verdict)"
run "$cab" report --html "$report"
ls -l "$report"
if [[ -n ${CAB_DEMO_REPORT:-} ]]; then mkdir -p "$CAB_DEMO_REPORT" && cp -r "$report/." "$CAB_DEMO_REPORT/" && echo "report copied to $CAB_DEMO_REPORT"; fi
echo "the HTML report is kept: $report/index.html"

printf '\n%sdemo complete:%s tickets are checked as data against the base branch\047s rules; approvals, immutability and governance are enforced in the pull request; merged tickets are signed onto an append-only ledger that cab verify checks; the reconciler applies only what is signed, in promotion order, and rolls back what fails its checks; cab log, cab metrics and cab report answer auditors from git history alone.\n' "$bold" "$plain"
