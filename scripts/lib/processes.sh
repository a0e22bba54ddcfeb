# Sourced by Herald's check scripts that start servers: every process started is
# recorded and stopped on exit, by pid, newest first (SIGTERM, then SIGKILL), and the
# work directory removed (kept with KEEP=1). The caller defines `log` and WORK.

PIDS=()      # every process started here, stopped newest first
ADOPTED=()   # processes started by one of ours (`herald dev`'s nats-server and etcd), in case it dies first
alive() { kill -0 "$1" 2>/dev/null; }
stop_pid() { # stop_pid <pid> <seconds>: SIGTERM, then SIGKILL after <seconds>
  local pid="$1" tries=$(( $2 * 5 ))
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ "$tries" -gt 0 ]; do sleep 0.2; tries=$((tries - 1)); done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do stop_pid "${PIDS[$i]}" 15; done
  for pid in "${ADOPTED[@]}"; do stop_pid "$pid" 5; done
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it: a signal then interrupts `wait` and
# the cleanup runs at once, instead of after the command.
waitfor() {
  "$@" &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid"
}
