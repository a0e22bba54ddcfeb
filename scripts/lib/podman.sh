# Sourced by Herald's container scripts (build-images.sh, check-pods.sh): podman and its
# settings for this kind of machine, without touching the machine's own configuration.
# The caller defines `log`, `die` and ROOT, and has sourced lib/apt.sh.
#
# - cgroupfs: there is no systemd to ask for cgroups;
# - the OCI runtime is scripts/lib/runc-no-rlimits (runc without the rlimits the kernel
#   refuses); crun refuses the hybrid cgroup layout;
# - netavark and aardvark-dns for pod networks; events and logs in files (no journald).
# All of it through CONTAINERS_CONF, a file under .tools/podman/ that podman and the
# buildah inside `podman build` read instead of /etc/containers/containers.conf.

# podman_setup: installs podman, buildah, runc (and what podman's networks need) from
# Debian when missing, and writes .tools/podman/containers.conf.
podman_setup() {
  local missing=() cmd
  for cmd in podman:podman buildah:buildah runc:runc netavark:netavark aardvark-dns:aardvark-dns \
    slirp4netns:slirp4netns newuidmap:uidmap iptables:iptables catatonit:catatonit; do
    if ! command -v "${cmd%%:*}" >/dev/null 2>&1 && [ ! -x "/usr/lib/podman/${cmd%%:*}" ] \
      && [ ! -x "/usr/sbin/${cmd%%:*}" ]; then
      missing+=("${cmd#*:}")
    fi
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  PODMAN_CONF_DIR="$ROOT/.tools/podman"
  mkdir -p "$PODMAN_CONF_DIR"
  cat >"$PODMAN_CONF_DIR/containers.conf.tmp" <<CONF
# Written by scripts/lib/podman.sh: podman settings for Herald's container scripts.
[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "herald-runc"
# Debian puts netavark and aardvark-dns in /usr/lib/podman.
helper_binaries_dir = ["/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman", "/usr/local/lib/podman"]

[engine.runtimes]
herald-runc = ["$ROOT/scripts/lib/runc-no-rlimits"]

[network]
network_backend = "netavark"
CONF
  mv "$PODMAN_CONF_DIR/containers.conf.tmp" "$PODMAN_CONF_DIR/containers.conf"
  export CONTAINERS_CONF="$PODMAN_CONF_DIR/containers.conf"
}
