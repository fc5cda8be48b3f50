#!/usr/bin/env bash
# make release: cab's release artifacts in $DIST (default dist/):
#   cab-<os>-<arch>        static binaries (CGO_ENABLED=0, -trimpath) for
#                          linux and darwin on amd64 and arm64, with the version
#                          and commit stamped by -ldflags -X main.releaseVersion / main.releaseCommit (cmd/cab/version.go)
#   cab.cdx.json           a CycloneDX SBOM of the Go modules in the binary (cyclonedx-gomod bin)
#   SHA256SUMS             sha256sum of all of the above
# Everything is reproducible: the same source, VERSION, COMMIT and
# SOURCE_DATE_EPOCH give the same bytes (release/reproducible.sh checks it).
#
# Environment: VERSION (default: git describe, else "dev"), COMMIT (default:
# git rev-parse HEAD, else "unknown"), DIST, SOURCE_DATE_EPOCH (default: the
# commit's time, else 0), CYCLONEDX_GOMOD (the cyclonedx-gomod binary; default
# from PATH or $CAB_TOOLS/bin, installed by .ci/install-conformance.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
DIST=${DIST:-dist}
export SOURCE_DATE_EPOCH
tools=${CAB_TOOLS:-$HOME/.cache/cab-conformance}
cyclonedx=${CYCLONEDX_GOMOD:-$(command -v cyclonedx-gomod || echo "$tools/bin/cyclonedx-gomod")}

rm -rf "$DIST" && mkdir -p "$DIST"
ldflags="-s -w -buildid= -X main.releaseVersion=$VERSION -X main.releaseCommit=$COMMIT"
for platform in ${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}; do
	os=${platform%/*} arch=${platform#*/}
	echo "release: cab $VERSION $os/$arch" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS=-buildvcs=false \
		go build -trimpath -ldflags "$ldflags" -o "$DIST/cab-$os-$arch" ./cmd/cab
done

# The SBOM: the modules linked into the linux/amd64 binary, read from its
# build information (cyclonedx-gomod bin), without the random serial number
# and the timestamp, which would change every build.
if [[ ! -x $cyclonedx ]]; then
	echo "release: cyclonedx-gomod not found; run .ci/install-conformance.sh" >&2
	exit 1
fi
sbom_bin=cab-linux-amd64
[[ -f $DIST/$sbom_bin ]] || sbom_bin=$(cd "$DIST" && ls cab-* | head -1)
"$cyclonedx" bin -json -licenses=false -noserial -notimestamp -std -version "$VERSION" \
	-output "$DIST/cab.cdx.json" "$DIST/$sbom_bin" >/dev/null 2>"$DIST/.sbom.log" ||
	{ cat "$DIST/.sbom.log" >&2; exit 1; }
rm -f "$DIST/.sbom.log"

(cd "$DIST" && sha256sum cab-* cab.cdx.json >SHA256SUMS)
echo "$VERSION $COMMIT $SOURCE_DATE_EPOCH ${PLATFORMS:-all}" >"$DIST/.stamp" # what was built (not a release asset)
cat "$DIST/SHA256SUMS"
