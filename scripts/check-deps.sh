#!/usr/bin/env bash
# The dependency policy (deny.toml, ADR 0015): licenses, sources and version bans of every
# crate Herald builds, checked offline with cargo-deny. cargo-deny is installed from
# crates.io at a fixed version under .tools/ the first time (about three minutes of
# compiling). Advisories are not checked here: see docs/security.md (Dependencies).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_DENY_VERSION=0.20.2
root=.tools/cargo-deny-$CARGO_DENY_VERSION
if ! [ -x "$root/bin/cargo-deny" ]; then
  printf 'installing cargo-deny %s into %s\n' "$CARGO_DENY_VERSION" "$root"
  cargo install --quiet --locked cargo-deny --version "$CARGO_DENY_VERSION" --root "$root"
fi
# cargo-deny reads `cargo metadata` for every platform, offline: the crates only other
# platforms build (windows-sys and the like) must be in the local registry too, and a
# machine that only ever built for itself has not downloaded them.
cargo fetch --locked --quiet
"$root/bin/cargo-deny" --offline check licenses bans sources
