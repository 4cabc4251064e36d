#!/usr/bin/env bash
# Builds YAKt's release archives: a static `yakt` binary (CGO off) per
# platform, stamped with the version and commit, packed with the unit file,
# the example env file and the docs, plus SHA256SUMS.
#
#   packaging/build-release.sh                      # version from git describe
#   VERSION=v1.2.0 packaging/build-release.sh
#   PLATFORMS="linux/amd64" OUT=/tmp/rel packaging/build-release.sh
#
# Output: $OUT/yakt_<version>_<os>_<arch>.tar.gz and $OUT/SHA256SUMS.
# Archives are reproducible: the same commit and Go version give the same
# bytes (-trimpath, no build id, fixed file times, owners and order).
set -euo pipefail

cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
OUT=${OUT:-dist}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64"}
# File times in the archives: the commit's time, so they do not depend on
# when the build ran.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

case $VERSION in
*[!A-Za-z0-9._+-]*) echo "build-release: VERSION '$VERSION' has characters a file name should not" >&2; exit 2 ;;
esac

pkg=github.com/yakt/yakt/internal/buildinfo
ldflags="-s -w -buildid= -X $pkg.Version=$VERSION -X $pkg.Commit=$COMMIT"

mkdir -p "$OUT"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

archives=()
for platform in $PLATFORMS; do
	goos=${platform%/*}
	goarch=${platform#*/}
	name=yakt_${VERSION}_${goos}_${goarch}
	dir=$stage/$name
	mkdir -p "$dir"
	echo "build-release: $name" >&2
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch \
		go build -trimpath -ldflags "$ldflags" -o "$dir/yakt" ./cmd/yakt
	cp README.md "$dir/"
	mkdir -p "$dir/docs" "$dir/packaging"
	cp docs/*.md "$dir/docs/"
	cp packaging/yakt.service packaging/yakt.env "$dir/packaging/"
	tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
		-C "$stage" -cf - "$name" | gzip -9 -n >"$OUT/$name.tar.gz"
	archives+=("$name.tar.gz")
done

(cd "$OUT" && sha256sum "${archives[@]}" >SHA256SUMS)
echo "build-release: wrote ${archives[*]} and SHA256SUMS to $OUT" >&2
