#!/usr/bin/env bash
# make demo: scaffold a change repository in a temporary directory, propose
# a change, watch `cab check` refuse it with precise diagnostics, fix it,
# and watch it pass. Runs on embedded defaults; needs nothing but the binary.
set -euo pipefail

cab=$(realpath "${1:-bin/cab}")
work=$(mktemp -d "${TMPDIR:-/tmp}/cab-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect_fail() { printf '$ %s\n' "$*"; if "$@"; then echo "demo: expected a failure" >&2; exit 1; else echo "(exit $?)"; fi; }

step "1. Scaffold a change repository"
run "$cab" init --repository github.com/acme/changes changes-repo
cd changes-repo

step "2. Propose a change: cab new writes a ticket with the next free id"
out=$("$cab" new --service platform --title "Promote platform 1.4.2 to production")
echo "$out"
ticket=${out#created }
id=$(basename "$ticket" .cue)
cat "$ticket"

step "3. The scaffold is not a change yet: cab check says what is missing"
expect_fail "$cab" check

step "4. A careless edit: a typo'd field, a window that ends before it starts, an image by tag"
start=$(date -u -d '+1 day' +%Y-%m-%dT10:00:00Z)
sed -i \
  -e 's|^actions: \[\]|actions: [{type: "oci", target: "images", image: "ghcr.io/acme/platform:1.4.2", tag: "platform"}]\nrisc: "low"|' \
  -e "s|end:   \".*\"|end:   \"$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z)\"|" \
  -e "s|start: \".*\"|start: \"$start\"|" \
  "$ticket"
expect_fail "$cab" check

step "5. Tickets are data, not code: a reference is refused before any evaluation"
cp "$ticket" /tmp/cab-demo-backup.cue
sed -i 's|^owner: .*|owner: service|' "$ticket"
expect_fail "$cab" check "$ticket"
cp /tmp/cab-demo-backup.cue "$ticket" && rm /tmp/cab-demo-backup.cue

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
run "$cab" check --format json | head -20

step "8. The pull-request gate: a shared repository, a branch, a high-risk change"
export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
# In plain git, approvers are identified by email; on GitHub/GitLab by user id.
sed -i 's|"platform-approvers": members: \[|"platform-approvers": members: ["git:alice@example.com", "git:bob@example.com", |' cab.cue
git init -q --bare "$work/remote.git"
git init -q -b main . && git remote add origin "$work/remote.git"
"$cab" keygen --out "$work/cab" >/dev/null   # CI's signing key; cab.cue trusts its public half
{ printf 'keys: [{name: "ci", publicKey: """\n'; sed 's/^/\t/' "$work/cab.pub"; printf '\t"""}]\n'; } >> cab.cue
mv "$ticket" "$work/ticket.cue"   # the ticket arrives through a pull request
git add cab.cue policy changes && git commit -q -m "Change repository" && git push -q origin main
git checkout -q -b promote-platform
sed 's/^risk: .*/risk:       "high"/' "$work/ticket.cue" > "$ticket"
git add "$ticket" && git commit -q -m "$id: promote platform 1.4.2" && git push -q origin promote-platform
run git log --oneline --all
run git fetch -q origin
expect_fail "$cab" check --base origin/main --head origin/promote-platform --forge git

step "9. Two maintainers approve: the merge commit carries Approved-by trailers"
git checkout -q -b merge-candidate origin/main
GIT_COMMITTER_EMAIL=maintainer@example.com git merge -q --no-ff origin/promote-platform -m "Merge promote-platform" \
  -m "$(printf 'Approved-by: Alice <alice@example.com>\nApproved-by: Bob <bob@example.com>')"
run git log -1 --format=%B
run "$cab" check --base origin/main --head merge-candidate --forge git

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

printf '\n\033[1mdemo complete:\033[0m tickets are checked as data against the base branch\047s rules; approvals, immutability and governance are enforced in the pull request; merged tickets are signed onto an append-only ledger that cab verify checks.\n'
