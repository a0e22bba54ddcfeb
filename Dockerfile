# syntax=docker/dockerfile:1
# Herald: one image for every role. The role is the argument:
#   docker run herald:dev --config /etc/herald/herald.toml edge
# Build:  docker build -t herald:dev .
# Offline (no registry): scripts/build-images.sh builds herald and heraldctl on the host and
# passes --build-arg BINARIES=prebuilt (they are copied from target/prebuilt/) and a local
# Debian base as RUNTIME_IMAGE; the runtime stage is the same.
# The Helm chart (helm/herald) and the manifests (k8s/) run this image as user 65532.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
# Where herald and heraldctl come from: `build` compiles them in RUST_IMAGE; `prebuilt`
# copies them from target/prebuilt/ in the context (built on the host, as in `build`).
ARG BINARIES=build

FROM ${RUST_IMAGE} AS build
# protoc and the protobuf well-known types: etcd-client's and herald-proto's build scripts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the registry and target/ between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    # Without default features: no `herald dev`, so no test harness or simulator inside.
    cargo build --release --locked --no-default-features \
        -p herald --bin herald -p herald-control --bin heraldctl \
    && install -D -m 0755 target/release/herald /out/herald \
    && install -D -m 0755 target/release/heraldctl /out/heraldctl

FROM scratch AS prebuilt
COPY target/prebuilt/herald target/prebuilt/heraldctl /out/

FROM ${BINARIES} AS binaries

FROM ${RUNTIME_IMAGE}
# ca-certificates: the connector verifies carriers' TLS certificates against the system
# roots when a carrier names no ca_file. tini is not needed: herald handles SIGTERM (drain).
# A base that has it already (scripts/build-images.sh's, made offline) needs no apt.
RUN if ! dpkg-query -W -f '${Status}' ca-certificates 2>/dev/null | grep -q 'ok installed'; then \
        apt-get update \
        && apt-get install -y --no-install-recommends ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && mkdir -p /etc/herald
COPY --from=binaries /out/herald /out/heraldctl /usr/local/bin/
COPY crates/config/herald.example.toml /etc/herald/herald.example.toml
# Admin HTTP (/metrics /healthz /readyz), NodeService gRPC, SMPP, SMPP over TLS, control API.
EXPOSE 9090 9091 2775 3550 9092
USER 65532:65532
ENTRYPOINT ["herald"]
CMD ["--help"]
