# syntax=docker/dockerfile:1
#
# unstuck's container image, for those who build with Docker, BuildKit,
# Podman or Kaniko:
#
#   docker build -t unstuck:dev \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) .
#
# scripts/image.sh builds the same image with no container engine at all
# (tools/image). Keep the two alike: tools/image/image_test.go holds this
# file's final stage to what tools/image builds (FROM scratch, the static
# bot and healthcheck, CA certificates, user 65532, no shell, /data a
# volume, entrypoint /bot, command serve, the OCI labels).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# --build-arg GOFLAGS=-buildvcs=false where .git is not in the context, or
# is a git worktree's pointer to a repository outside it.
ARG GOFLAGS=""
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo), no build paths, no symbol table. The Go toolchain
# stamps the module and commit into the binary from .git when it is in the
# build context (runtime/debug.ReadBuildInfo); no -X flags are needed.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags='-s -w' -o /out/bot ./cmd/bot \
 && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags='-s -w' -o /out/healthcheck ./tools/healthcheck
# The user's entries, its home and the work directory, and /tmp.
RUN mkdir -p /rootfs/etc /rootfs/tmp /rootfs-user/home/nonroot /rootfs-user/data \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /rootfs/etc/group \
 && printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && chmod 1777 /rootfs/tmp \
 && chmod 0700 /rootfs-user/home/nonroot /rootfs-user/data

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs-user/ /
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/bot /bot
COPY --from=build /out/healthcheck /healthcheck
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/unstuck/unstuck
LABEL org.opencontainers.image.title="unstuck" \
      org.opencontainers.image.description="A Slack bot that investigates incidents on AWS" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV HOME=/home/nonroot
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["/bot"]
CMD ["serve"]
