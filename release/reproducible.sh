#!/usr/bin/env bash
# The reproducibility test of `make release`: builds the release a second
# time from a copy of the source tree at another path, and fails unless both
# SHA256SUMS (every binary and the SBOM) and both container image digests
# are identical. The first build is dist/ when `make release` just made it
# for the same VERSION and COMMIT (as make conformance does), else a fresh
# one. The second shares the Go build cache (fast: -trimpath keeps paths out
# of every action), or, with CAB_REPRO_FRESH_CACHE=1, starts from an empty
# cache (every package compiled again: slower, and a stronger proof).
set -euo pipefail
cd "$(dirname "$0")/.."

export VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
work=$(mktemp -d "${TMPDIR:-/tmp}/cab-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT

image_digest() { # dist → digest of the image index built from it
	GOFLAGS=-buildvcs=false go run ./release/image --dist "$1" --version "$VERSION" --commit "$COMMIT" --layout "$work/layout-$(basename "$1")"
}

if [[ -f dist/SHA256SUMS && -f dist/.stamp && $(cat dist/.stamp) == "$VERSION $COMMIT $SOURCE_DATE_EPOCH ${PLATFORMS:-all}" ]]; then
	cp -r dist "$work/a"
else
	DIST="$work/a" bash release/build.sh >/dev/null
fi
a_image=$(image_digest "$work/a")

# The same source at another path (tracked and modified files; -trimpath
# must keep the path out).
mkdir -p "$work/src/elsewhere"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$work/src/elsewhere"
cache=$(go env GOCACHE)
[[ ${CAB_REPRO_FRESH_CACHE:-} == 1 ]] && cache=$work/gocache
(cd "$work/src/elsewhere" && DIST="$work/b" GOCACHE="$cache" bash release/build.sh >/dev/null)
b_image=$(image_digest "$work/b")

if ! diff -u "$work/a/SHA256SUMS" "$work/b/SHA256SUMS"; then
	echo "reproducible: FAIL: two builds of the same source differ" >&2
	exit 1
fi
if [[ $a_image != "$b_image" ]]; then
	echo "reproducible: FAIL: image $a_image vs $b_image" >&2
	exit 1
fi
echo "reproducible: two builds, same bytes: $(wc -l <"$work/a/SHA256SUMS") artifacts, image $a_image"
