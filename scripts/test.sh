#!/usr/bin/env bash
# Herald's test command: install the external tools the tests need, then run the
# whole workspace's tests (nextest when installed, else cargo test) and doctests, then
# the deployment and observability checks, and the chart's pods running under podman.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run() {
  printf '+ %s\n' "$*"
  "$@"
}

run scripts/install-deps.sh

if cargo nextest --version >/dev/null 2>&1; then
  run cargo nextest run --workspace --all-targets
else
  run cargo test --workspace --all-targets
fi
# nextest does not run doctests.
run cargo test --doc --workspace

# Deployment and observability checks (issue 8), after the tests built the binaries:
# the Helm chart and kustomize manifests rendered and validated; alert rules, their unit
# tests and the dashboards checked, and every metric they use scraped from real nodes by a
# real Prometheus. Each installs its own tools under .tools/.
run scripts/check-chart.sh
run scripts/check-observability.sh --build
# The HTTP submit API against its description (docs/openapi.yaml): schemathesis fuzzes a
# live `herald dev`, then a few fixed cases.
run scripts/check-http-api.sh
# The image and the chart's pods, running (issue 22): the Dockerfile built offline with
# podman (a debootstrap base, BINARIES=prebuilt) from the binaries the tests just built
# (debug ones: the release build would add minutes; scripts/build-images.sh alone builds
# the release image), the rendered pods run with podman kube play and messages sent
# through them; then three broken pod specs, each of which must make the check fail.
target="${CARGO_TARGET_DIR:-target}"
run env HERALD_BIN_DIR="$target/debug" HERALD_SIM_BIN="$target/debug/herald-sim" \
  scripts/check-pods.sh --build-images
run scripts/check-pods.sh --breaks
