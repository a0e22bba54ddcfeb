# Sourced by Herald's scripts: root or sudo for system-wide installs, and apt-get install
# with one `apt-get update` per run. The caller defines `log` and `die`.

# Privileged commands go through "${SUDO[@]}": nothing as root, sudo otherwise.
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(no_sudo)
fi
no_sudo() { die "need root to run '$*' (not root, and sudo is not installed)"; }

APT_UPDATED=0
# apt_update: refreshes the package lists, once per run.
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
}
# apt_install PACKAGE...: installs without recommends, quietly.
apt_install() {
  apt_update
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "$@" >&2
}
