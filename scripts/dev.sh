#!/usr/bin/env bash
# Herald's run command: install what is missing (nats-server, etcd, protoc, ...), build the
# `herald` binary, and start the local cluster: NATS, etcd, a carrier simulator and every
# role, seeded with a demo account (deploy/dev/rules.yaml). Ctrl-C stops everything.
# Extra arguments go to `herald dev` (e.g. --data-dir, --seed) or before it as
# `--set key=value` config overrides.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
# herald, and heraldctl (the admin API's client, which `herald dev` tells you how to use).
cargo build --release -p herald -p herald-control --bins
exec target/release/herald dev "$@"
