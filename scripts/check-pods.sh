#!/usr/bin/env bash
# Runs the Helm chart's pods for real, without a cluster, with `podman kube play`:
#
#   - the chart (helm/herald) rendered with scripts/check-pods/values-local.yaml (local
#     images; the secure defaults on: NATS users, etcd TLS, NodeService TLS), a random
#     control API token and carrier password;
#   - the rendered NATS and etcd StatefulSets and the control, router, connector and edge
#     Deployments run as pods (the images of scripts/build-images.sh, built first when
#     missing) on a podman network of their own, next to a carrier simulator pod; every
#     startup, readiness and liveness probe must pass;
#   - pods run as 65532 on a read-only root filesystem; a rules file applied with heraldctl
#     inside the control pod; every pod registered as a node;
#   - a third-party ESME (PyPI smpplib, tests/interop/esme_smpplib.py) sends messages with
#     receipts through each edge pod: each must be accepted, reach the simulator and come
#     back as a receipt;
#   - a router pod, then the connector holding the carrier's bind, killed (SIGKILL) while
#     messages flow: each replacement gets ready and registers, and every message still
#     arrives with its receipt;
#   - the edge scaled to 3: binds to each edge pod, the new one included, deliver;
#   - everything torn down (pods, volumes, the network).
#
# What podman does not do and the driver (scripts/check-pods/check.py) does instead, as a
# kubelet and the controllers would: docs/kubernetes.md, "What the pod check proves".
#
# Usage: scripts/check-pods.sh [--break mount-path|secret-key|probe-port] [--breaks]
#                              [--build-images] [--values FILE] [--messages N] [--keep]
#   --break KIND    run with one fault put into the rendered pod specs; the check must fail
#   --breaks        run once per fault and pass only when each run fails as it should
#   --build-images  rebuild the images first (scripts/build-images.sh)
#   --values FILE   more chart values over values-local.yaml (e.g.
#                   scripts/check-pods/cluster-values.yaml: 3 NATS servers, 3 etcd members)
#   --keep          leave the pods running (remove with: podman pod rm -f <names>)
#
# One line per check ("ok ..." or "FAIL ..."); exits non-zero on any failure. Needs root
# (podman networks, volume ownership). Tools: podman, buildah, runc, debootstrap (Debian,
# installed when missing), the .tools/chart venv of scripts/check-chart.sh, smpplib
# (scripts/install-deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/chart"
REQUIREMENTS="$ROOT/scripts/check-chart/requirements.txt"

log() { printf '[check-pods] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

BREAK=""
BREAKS=0
BUILD=0
KEEP=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --break) BREAK="${2:?--break needs a kind}"; shift ;;
    --break=*) BREAK="${1#--break=}" ;;
    --breaks) BREAKS=1 ;;
    --build-images) BUILD=1 ;;
    --messages) EXTRA+=(--messages "${2:?}"); shift ;;
    --values) EXTRA+=(--extra-values "$(cd "$(dirname "${2:?}")" && pwd)/$(basename "$2")"); shift ;;
    --keep) EXTRA+=(--keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || die "needs root (podman networks and volume ownership)"

# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"
# shellcheck source=lib/podman.sh
. "$ROOT/scripts/lib/podman.sh"
# shellcheck source=lib/venv.sh
. "$ROOT/scripts/lib/venv.sh"

podman_setup
python_venv "$TOOLS" "$REQUIREMENTS"

# The third-party ESME's library (scripts/install-deps.sh pins and installs it).
ESME_PY="$(command -v python3)"
"$ESME_PY" -c 'import smpplib' 2>/dev/null || die "smpplib missing for $ESME_PY: run scripts/install-deps.sh"

# ---------------------------------------------------------------- images
values="$ROOT/scripts/check-pods/values-local.yaml"
images=(localhost/herald:dev localhost/herald-sim:dev
  "localhost/herald-nats:$("$PY" -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["nats"]["image"]["tag"])' "$values")"
  "localhost/herald-etcd:$("$PY" -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["etcd"]["image"]["tag"])' "$values")")
for image in "${images[@]}"; do
  podman image exists "$image" || { log "no image $image"; BUILD=1; }
done
if [ "$BUILD" = 1 ]; then
  log "scripts/build-images.sh"
  "$ROOT/scripts/build-images.sh" >&2 || die "scripts/build-images.sh failed"
fi
for image in "${images[@]}"; do
  podman image exists "$image" || die "image $image is not there after scripts/build-images.sh (see values-local.yaml)"
done

# ---------------------------------------------------------------- one run
# run_once [--break KIND]: a network of its own (a free 10.89.X.0/24), the driver, cleanup.
run_once() {
  local network="herald-pods-$$-${RANDOM}" subnet="" n work rc=0
  for n in $(seq 200 250); do
    if ! podman network ls --format '{{range .Subnets}}{{.Subnet}} {{end}}' | grep -q "10\.89\.$n\.0/24"; then
      subnet="10.89.$n.0/24"
      break
    fi
  done
  [ -n "$subnet" ] || die "no free 10.89.200-250.0/24 subnet for the pod network"
  podman network create --subnet "$subnet" "$network" >/dev/null
  work="$(mktemp -d /tmp/herald-pods.XXXXXX)"
  if [ "$KEEP" = 1 ]; then
    log "--keep: network $network and $work stay (podman network rm -f $network removes all)"
  else
    # shellcheck disable=SC2064  # expand now: the names are this run's
    trap "podman network rm -f '$network' >/dev/null 2>&1 || true; rm -rf '$work'" RETURN
  fi
  "$PY" "$ROOT/scripts/check-pods/check.py" --root "$ROOT" --values "$values" --network "$network" \
    --subnet "$subnet" --work "$work" --esme-python "$ESME_PY" "$@" "${EXTRA[@]}" || rc=$?
  return "$rc"
}

START=$SECONDS
if [ "$BREAKS" = 1 ]; then
  failed=0
  for kind in mount-path secret-key probe-port; do
    log "--break $kind: the check must fail"
    # Healthy pods are ready within ~15 s here: a shorter wait keeps the probe case short.
    out="$(run_once --break "$kind" --ready-timeout 45 2>&1)" && rc=0 || rc=$?
    if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q '^FAIL '; then
      # The failure: its FAIL line and what follows, up to the next log line.
      why="$(printf '%s\n' "$out" | awk '/^FAIL /{on=1} on && /^\[check-pods\]/{exit} on' | tr '\n' ' ' | cut -c1-400)"
      printf 'ok   --break %s caught: %s\n' "$kind" "$why"
    else
      printf 'FAIL --break %s: the check passed with a broken pod spec\n%s\n' "$kind" "$out"
      failed=1
    fi
  done
  log "done in $((SECONDS - START))s"
  exit "$failed"
fi
if [ -n "$BREAK" ]; then
  run_once --break "$BREAK" && rc=0 || rc=$?
else
  run_once && rc=0 || rc=$?
fi
log "done in $((SECONDS - START))s"
exit "$rc"
