#!/usr/bin/env bash
# Builds the release archives: the static bot for linux and darwin on amd64
# and arm64, each with LICENSE, README.md and CHANGELOG.md, and SHA256SUMS.
#
#   scripts/release.sh                    # dist/release/unstuck_VERSION_OS_ARCH.tar.gz, SHA256SUMS
#   TARGETS="linux/amd64" scripts/release.sh
#
# VERSION is `git describe --tags --always` (tag the commit first: git tag
# v0.1.0). The Go toolchain stamps the module version and the commit into
# the binary (runtime/debug.ReadBuildInfo; -buildvcs=true, whatever GOFLAGS
# says), so no -X flags are needed;
# -trimpath leaves the build machine's paths out, and the archives' files
# carry the commit's time, so the same commit gives the same archives.
# A tree with uncommitted changes is refused (ALLOW_DIRTY=1 to build anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "release.sh: not a git checkout: the version comes from git describe" >&2
  exit 1
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ] && [ "${ALLOW_DIRTY:-}" != 1 ]; then
  echo "release.sh: the tree has uncommitted changes; commit them (or ALLOW_DIRTY=1)" >&2
  exit 1
fi
for f in LICENSE README.md CHANGELOG.md; do
  [ -f "$f" ] || { echo "release.sh: $f is missing" >&2; exit 1; }
done

version=$(git describe --tags --always --dirty)
mtime=$(git log -1 --format=%ct)
out="${DIST:-dist}/release"
targets="${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"

rm -rf "$out"
mkdir -p "$out"
for t in $targets; do
  os="${t%%/*}"; arch="${t#*/}"
  case "$os/$arch" in
    linux/amd64|linux/arm64|darwin/amd64|darwin/arm64) ;;
    *) echo "release.sh: target $t: want linux or darwin, amd64 or arm64" >&2; exit 2 ;;
  esac
  name="unstuck_${version}_${os}_${arch}"
  stage="$out/$name"
  mkdir -p "$stage"
  echo "building $name ..."
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=true -ldflags='-s -w' -o "$stage/bot" ./cmd/bot
  cp LICENSE README.md CHANGELOG.md "$stage/"
  chmod 0755 "$stage/bot"
  chmod 0644 "$stage/LICENSE" "$stage/README.md" "$stage/CHANGELOG.md"
  tar --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner \
    -C "$out" -cf - "$name" | gzip -n -9 > "$out/$name.tar.gz"
  rm -rf "$stage"
done
(cd "$out" && sha256sum -- *.tar.gz > SHA256SUMS)
echo "in $out:"
(cd "$out" && ls -l -- *.tar.gz SHA256SUMS)
echo "check with: (cd $out && sha256sum -c SHA256SUMS)"
