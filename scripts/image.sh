#!/usr/bin/env bash
# Builds unstuck's container image with no container engine and no
# registry: static binaries (go build), then tools/image assembles an OCI
# image layout FROM scratch (the binaries, CA certificates, user 65532, no
# shell) and checks it.
#
#   scripts/image.sh                                  # this machine's architecture
#   scripts/image.sh --platforms linux/amd64,linux/arm64
#   scripts/image.sh --add channels.yaml:/etc/unstuck/channels.yaml
#
# Writes dist/image/ (an OCI image layout) and dist/unstuck-image.tar (the
# same as one file; with one platform, `docker load` takes it too), and
# prints the image's size. Push it with your own tools (docs/deploying.md):
#
#   skopeo copy --all oci:dist/image:$VERSION docker://REGISTRY/unstuck:$VERSION
#   crane push dist/unstuck-image.tar REGISTRY/unstuck:$VERSION     # one platform
#
# Environment: UNSTUCK_SOURCE (the org.opencontainers.image.source label,
# default https://github.com/unstuck/unstuck), CA_BUNDLE (default
# /etc/ssl/certs/ca-certificates.crt), DIST (default dist).
set -euo pipefail
cd "$(dirname "$0")/.."

platforms="linux/$(go env GOARCH)"
adds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --platforms) platforms="${2:?--platforms needs a value such as linux/amd64,linux/arm64}"; shift 2 ;;
    --platforms=*) platforms="${1#*=}"; shift ;;
    --add) adds+=(-add "${2:?--add needs SRC:DEST}"); shift 2 ;;
    --add=*) adds+=(-add "${1#*=}"); shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

dist="${DIST:-dist}"
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "image.sh: not a git checkout: the image's version and revision come from git" >&2
  exit 1
fi
version=$(git describe --tags --always --dirty)
revision=$(git rev-parse HEAD)
created=$(git log -1 --format=%ct)
source_url="${UNSTUCK_SOURCE:-https://github.com/unstuck/unstuck}"

bins=()
IFS=',' read -ra plats <<<"$platforms"
for p in "${plats[@]}"; do
  os="${p%%/*}"; rest="${p#*/}"; arch="${rest%%/*}"
  if [ "$os" != linux ] || [ -z "$arch" ] || [ "$arch" = "$p" ]; then
    echo "image.sh: platform $p: want linux/amd64 or linux/arm64" >&2
    exit 2
  fi
  out="$dist/build/${os}_${arch}"
  mkdir -p "$out"
  echo "building $p ..."
  # Static, no build paths, no symbol table; the toolchain stamps the
  # module and commit (runtime/debug.ReadBuildInfo), so no -X flags
  # (-buildvcs=true: over a GOFLAGS=-buildvcs=false set on the machine).
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=true -ldflags='-s -w' -o "$out/bot" ./cmd/bot
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=true -ldflags='-s -w' -o "$out/healthcheck" ./tools/healthcheck
  bins+=(-bin "$p=$out")
done

go run ./tools/image build "${bins[@]}" "${adds[@]}" \
  -out "$dist/image" -tar "$dist/unstuck-image.tar" \
  -tag "unstuck:$version" -version "$version" -revision "$revision" \
  -source "$source_url" -created "$created" -ca "${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
echo "tarball: $(du -h "$dist/unstuck-image.tar" | cut -f1) $dist/unstuck-image.tar"
