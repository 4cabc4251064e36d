# syntax=docker/dockerfile:1
#
# YAKt node image: a static binary on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t yakt:dev .
#   docker run --rm yakt:dev version
#
# The image's default command is `yakt server`; configure it with YAKT_*
# environment variables (every flag has one: --node-id is YAKT_NODE_ID), as
# docker-compose.yml does. Data lives in the volume at /var/lib/yakt.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so editing the source does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
# CGO off: a static binary that needs no libc in the final image.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X github.com/yakt/yakt/internal/buildinfo.Version=${VERSION} -X github.com/yakt/yakt/internal/buildinfo.Commit=${COMMIT}" \
      -o /out/yakt ./cmd/yakt
# The data directory exists in the image, owned by the runtime user, so a
# fresh named volume mounted there starts with that owner. It is copied as
# an entry of /out/state, not as the destination itself, so that --chown
# applies to it.
RUN mkdir -p /out/state/yakt

# distroless/static: CA certificates, tzdata and /etc/passwd with the
# "nonroot" user (uid 65532), nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/yakt /usr/local/bin/yakt
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/
USER 65532:65532
# Set YAKT_LISTEN_HTTP to an address of the container that the other nodes
# and the clients reach (its host name, as docker-compose.yml does): the
# node advertises it to its peers, so 0.0.0.0 would not do, and the
# default, 127.0.0.1:8001, is reachable only from inside the container.
ENV YAKT_DATA_DIR=/var/lib/yakt
VOLUME ["/var/lib/yakt"]
# 7001: raft peer traffic (open only between the nodes); 8001: the HTTP
# API, /metrics, /healthz, /readyz and /ui (brokers, clients, operators).
EXPOSE 7001 8001
# No HEALTHCHECK here: the image has no shell and no curl or wget to run
# one with. Orchestrators probe over HTTP themselves (Kubernetes:
# livenessProbe httpGet /healthz, readinessProbe httpGet /readyz on port
# 8001); Docker and Compose can run the binary itself, as docker-compose.yml
# does with `yakt endpoint health`.
ENTRYPOINT ["/usr/local/bin/yakt"]
CMD ["server"]
