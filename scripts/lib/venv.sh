# Sourced by Herald's check scripts: a Python venv under .tools/ with pinned requirements,
# installed again only when the requirements file changes. The caller defines `log`,
# `die` and ROOT, and has sourced lib/apt.sh.

# python_venv <tools dir> <requirements.txt> [<file the install must leave>]: makes (or
# keeps) <tools dir>/venv with the requirements installed, and sets PY to its python.
python_venv() {
  local tools="$1" requirements="$2" must="${3:-}"
  local venv="$tools/venv" want
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3
    hash -r
  fi
  if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    # Debian's python3 has venv without ensurepip until python3-venv is installed.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
      apt_install python3-venv
    fi
    log "creating $venv"
    rm -rf "$venv" "$tools/requirements.sha256"
    mkdir -p "$tools"
    python3 -m venv "$venv.tmp" || { rm -rf "$venv.tmp"; die "python3 -m venv failed"; }
    mv "$venv.tmp" "$venv"
  fi
  PY="$venv/bin/python"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$tools/requirements.sha256" 2>/dev/null)" != "$want" ] \
    || { [ -n "$must" ] && [ ! -e "$must" ]; }; then
    log "pip install -r ${requirements#"$ROOT"/}"
    "$PY" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" >&2 \
      || die "pip install failed"
    echo "$want" >"$tools/requirements.sha256"
  fi
}
