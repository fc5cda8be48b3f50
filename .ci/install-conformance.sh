#!/usr/bin/env bash
# Installs the real tools that `make conformance` feeds cab's outputs to
# (conformance/run.sh), at pinned versions, from the three package
# registries this project uses and nowhere else:
#   Debian:           docker-registry (distribution 2.8), prometheus (promtool),
#                     chromium (axe-core's browser), libxml2-utils (xmllint),
#                     default-jre-headless (the Nu HTML checker), git
#   Go module proxy:  cosign, crane, actionlint, kustomize, cyclonedx-gomod
#                     (go install mod@version)
#   npm:              ajv, ajv-draft-04, ajv-formats (JSON Schema),
#                     vnu-jar (Nu HTML checker), axe-core, gitlab-ci-local
# Go tools go to $CAB_TOOLS/bin, npm packages to $CAB_TOOLS/node_modules
# (default ~/.cache/cab-conformance). Every install fails loudly; nothing is
# downloaded from anywhere else. Needs root (CI runs as root) or
# passwordless sudo for the Debian packages.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

tools=${CAB_TOOLS:-$HOME/.cache/cab-conformance}
mkdir -p "$tools/bin"

# Pinned versions. Each Go module builds on Go 1.26 (its go.mod says at most
# go 1.26.0; the newest cosign v2 and kustomize releases declare go 1.27).
go_tools=(
	github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
	github.com/google/go-containerregistry/cmd/crane@v0.22.1
	github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
	sigs.k8s.io/kustomize/kustomize/v5@v5.8.0
	github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
)
npm_tools=(ajv@8.20.0 ajv-draft-04@1.0.0 ajv-formats@3.0.1 vnu-jar@26.9.27 axe-core@4.14.1 gitlab-ci-local@4.75.1)
debian=(docker-registry prometheus chromium fonts-dejavu-core libxml2-utils default-jre-headless git)

# Debian packages: only the missing ones.
missing=()
for p in "${debian[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	apt_install install-conformance "${missing[@]}"
fi

# Go tools: go install at the pinned version (skipped when that version is
# already in $tools/bin, recorded in a stamp file next to it).
for m in "${go_tools[@]}"; do
	bin=$(basename "${m%@*}")
	[[ $bin == v5 ]] && bin=kustomize
	stamp="$tools/bin/.$bin.version"
	if [[ -x $tools/bin/$bin && $(cat "$stamp" 2>/dev/null) == "$m" ]]; then
		continue
	fi
	echo "install-conformance: go install $m" >&2
	GOBIN="$tools/bin" GOFLAGS=-buildvcs=false go install "$m"
	echo "$m" >"$stamp"
done

# npm packages, exact versions, into $tools (no package.json in the repo).
stamp="$tools/.npm.versions"
if [[ $(cat "$stamp" 2>/dev/null) != "${npm_tools[*]}" ]]; then
	echo "install-conformance: npm install ${npm_tools[*]}" >&2
	npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "${npm_tools[@]}" >/dev/null
	echo "${npm_tools[*]}" >"$stamp"
fi

# Every tool answers with its version, or the install failed.
"$tools/bin/cosign" version 2>/dev/null | grep -E '^GitVersion'
"$tools/bin/crane" version
"$tools/bin/actionlint" -version | sed -n 1p # reads to the end: head would leave the writer a SIGPIPE (exit 141 under pipefail)
"$tools/bin/kustomize" version
"$tools/bin/cyclonedx-gomod" version 2>&1 | grep -i version | sed -n 1p # reads to the end: head would leave the writer a SIGPIPE (exit 141 under pipefail)
promtool --version 2>&1 | sed -n 1p # reads to the end: head would leave the writer a SIGPIPE (exit 141 under pipefail)
/usr/bin/docker-registry --version
/usr/bin/chromium --version 2>/dev/null || true
xmllint --version 2>&1 | sed -n 1p # reads to the end: head would leave the writer a SIGPIPE (exit 141 under pipefail)
java -version 2>&1 | sed -n 1p # reads to the end: head would leave the writer a SIGPIPE (exit 141 under pipefail)
node -e "for (const p of ['ajv','ajv-draft-04','ajv-formats','vnu-jar','axe-core','gitlab-ci-local']) console.log(p, require('$tools/node_modules/' + p + '/package.json').version)"
