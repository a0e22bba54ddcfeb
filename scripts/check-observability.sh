#!/usr/bin/env bash
# Checks Herald's dashboards and alerts (helm/herald/files/{dashboards,alerts}):
#
#   1. promtool check rules       the rule file is valid
#   2. promtool test rules        the alert unit tests pass (alerts/tests/*.yaml)
#      alerts and runbooks        every alert has severity, summary, description, a
#                                 runbook_url to its heading in docs/operations.md, and
#                                 unit tests where it fires and where it does not
#   3. dashboards                 every dashboard type-checks against @grafana/schema
#                                 (tests/deploy/dashboards/check.mjs, tsc --strict)
#   4. metric names (static)      every metric the dashboards and alerts name is one of
#                                 crates/telemetry/src/names.rs
#   5. metric names (live)        ... and is really exported: a local Herald (`herald dev`
#                                 plus separate edge, router, connector and control
#                                 processes, a carrier sending MO and errors) is driven
#                                 with herald-load while a real Prometheus scrapes every
#                                 node; every name used must be among the names it saw
#   6. expressions (live)         every dashboard and alert expression evaluates on it
#
#   scripts/check-observability.sh            all of it
#   scripts/check-observability.sh --static   1-4 only (no cluster, no cargo)
#   scripts/check-observability.sh --build    run `cargo build` for herald and herald-load
#                                             first even when the binaries exist
#   KEEP=1 scripts/check-observability.sh     keep the temp dir (logs, prometheus.yml)
#
# Tools install idempotently under .tools/obs/: promtool and prometheus from Debian's
# `prometheus` package (apt-get download + dpkg -x, nothing installed system-wide, no
# service), and `npm ci` in tests/deploy/dashboards. nats-server, etcd, node and the npm
# `smpp` package come from scripts/install-deps.sh, which runs when one is missing;
# python3-yaml from apt when python3 cannot import yaml (as root, or through sudo).
# Everything listens on free loopback ports; every process started here is stopped on
# exit, by pid. One line per check; exit status non-zero if any check failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/check-observability"
TOOLS="$ROOT/.tools/obs"
DASH_DIR="$ROOT/tests/deploy/dashboards"
RULES="$ROOT/helm/herald/files/alerts/herald.rules.yaml"
TESTS_DIR="$ROOT/helm/herald/files/alerts/tests"
PROMTOOL="$TOOLS/root/usr/bin/promtool"
PROMETHEUS="$TOOLS/root/usr/bin/prometheus"

STATIC=0
BUILD=0
for arg in "$@"; do
  case "$arg" in
    --static) STATIC=1 ;;
    --build) BUILD=1 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[check-observability] %s\n' "$*" >&2; }
FAILED=()
result() { # result <check> <status 0|1> <message>
  if [ "$2" -eq 0 ]; then printf 'ok      %-22s %s\n' "$1" "$3"; else printf 'FAILED  %-22s %s\n' "$1" "$3"; FAILED+=("$1"); fi
}

checked() { # checked <check> <failure message, or "" for the output's last line> <command...>
  # The command prints "<check>: ok, <detail>" on success; the detail is reported.
  local name=$1 failure=$2 out
  shift 2
  if out="$("$@" 2>&1)"; then
    result "$name" 0 "${out#*: ok, }"
  else
    printf '%s\n' "$out"
    result "$name" 1 "${failure:-${out##*$'\n'}}"
  fi
}

die() { log "ERROR: $*"; exit 1; }
# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

# ------------------------------------------------------------------ tools
install_prometheus() {
  [ -x "$PROMTOOL" ] && [ -x "$PROMETHEUS" ] && return 0
  log "installing promtool and prometheus (Debian package, unpacked) under $TOOLS"
  mkdir -p "$TOOLS/deb"
  rm -rf "$TOOLS/root"
  (
    cd "$TOOLS/deb"
    rm -f prometheus_*.deb
    if ! apt-get download prometheus >&2 2>/dev/null; then
      apt_update # the package lists do not know prometheus yet
      apt-get download prometheus >&2
    fi
  )
  local deb
  deb="$(ls "$TOOLS"/deb/prometheus_*.deb | head -1)"
  dpkg -x "$deb" "$TOOLS/root"
  [ -x "$PROMTOOL" ] && [ -x "$PROMETHEUS" ] || { log "promtool/prometheus missing from $deb"; exit 1; }
}

need_deps=0
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || need_deps=1
if [ "$STATIC" -eq 0 ]; then
  command -v nats-server >/dev/null 2>&1 || need_deps=1
  command -v etcd >/dev/null 2>&1 || need_deps=1
  [ -d "$ROOT/tests/interop/node/node_modules/smpp" ] || need_deps=1
fi
if [ "$need_deps" -eq 1 ]; then
  log "running scripts/install-deps.sh (node, nats-server, etcd or npm smpp missing)"
  "$ROOT/scripts/install-deps.sh" >&2
fi
install_prometheus
if ! python3 -c 'import yaml' 2>/dev/null; then
  log "installing python3-yaml (the alert checks read the rule file)"
  apt_install python3-yaml || log "could not install python3-yaml"
fi

# npm ci when node_modules does not match package-lock.json.
lock_sum="$(sha256sum "$DASH_DIR/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$DASH_DIR/node_modules/.herald-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci in tests/deploy/dashboards"
  (cd "$DASH_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_sum" > "$DASH_DIR/node_modules/.herald-lock-sha256"
fi

# ------------------------------------------------------------------ 1-4: static checks
if out="$("$PROMTOOL" check rules "$RULES" 2>&1)"; then
  result "promtool check rules" 0 "$(grep -o '[0-9]* rules found' <<<"$out") in ${RULES#"$ROOT"/}"
else
  printf '%s\n' "$out"; result "promtool check rules" 1 "${RULES#"$ROOT"/}"
fi

mapfile -t test_files < <(find "$TESTS_DIR" -maxdepth 1 -name '*.yaml' | sort)
if [ "${#test_files[@]}" -eq 0 ]; then
  result "promtool test rules" 1 "no tests in ${TESTS_DIR#"$ROOT"/}"
elif out="$(cd "$TESTS_DIR" && "$PROMTOOL" test rules "${test_files[@]##*/}" 2>&1)"; then
  result "promtool test rules" 0 "$(grep -c 'alertname:' "${test_files[@]}" | awk -F: '{s+=$NF} END {print s}') alert expectations in ${#test_files[@]} file(s)"
else
  printf '%s\n' "$out"; result "promtool test rules" 1 "see above"
fi

checked "alerts and runbooks" "" python3 "$HERE/obs.py" alerts
checked "dashboards" "type check against @grafana/schema failed" node "$DASH_DIR/check.mjs"
checked "metric names (static)" "names not defined in crates/telemetry/src/names.rs" \
  python3 "$HERE/obs.py" static

if [ "$STATIC" -eq 1 ]; then
  [ "${#FAILED[@]}" -eq 0 ] || { echo "check-observability: FAILED: ${FAILED[*]}"; exit 1; }
  echo "check-observability: ok (static checks only)"
  exit 0
fi

# ------------------------------------------------------------------ 5-6: live
# Cargo's target directory: CARGO_TARGET_DIR when set (relative to the repository), else target/.
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
HERALD="$TARGET/debug/herald"
LOAD="$TARGET/debug/herald-load"
if [ "$BUILD" -eq 1 ] || [ ! -x "$HERALD" ] || [ ! -x "$LOAD" ]; then
  log "cargo build -p herald -p herald-load --bin herald --bin herald-load"
  (cd "$ROOT" && cargo build -q -p herald -p herald-load --bin herald --bin herald-load >&2)
fi
built="$(date -u -r "$HERALD" '+%Y-%m-%d %H:%M UTC')"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-obs.XXXXXX")"
# Newest first: the load, the roles, then `herald dev` (it stops its nats-server and
# etcd itself), the carrier, Prometheus.
# shellcheck source=lib/processes.sh
. "$ROOT/scripts/lib/processes.sh"
start() { # start <name> <command...>: runs it in the background, logs in $WORK/<name>.log
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
}
adopt_children() { # the children of <pid> (herald dev's nats-server and etcd)
  local child
  for child in $(python3 "$HERE/obs.py" children "$1"); do ADOPTED+=("$child"); done
}
wait_http() { # wait_http <url> <seconds> <what>
  waitfor python3 "$HERE/obs.py" wait-http "$1" --timeout "$2" && return 0
  log "$3 did not come up ($1); logs in $WORK"
  return 1
}
fail_live() {
  result "metric names (live)" 1 "$1"
  for f in "$WORK"/*.log; do echo "--- ${f##*/} (last lines)"; tail -n 15 "$f"; done
  exit 1
}

read -r NATS ETCD DEV_ADMIN DEV_CTL DEV_SMPP DEV_HTTP SIM CARRIER EDGE_ADMIN EDGE_SMPP EDGE_HTTP \
  ROUTER_ADMIN CONN_ADMIN CTL_ADMIN CTL PROM HOOK < <(python3 "$HERE/obs.py" free-ports 17)
L=127.0.0.1

# The rules: an account that can send (with a webhook, to herald dev's receiver), one
# whose quota throttles, the built-in simulator for most destinations, the MO-and-errors
# carrier for 4479, and a route capped at 5/s for 4478.
cat >"$WORK/seed.yaml" <<EOF
simulator:
  listen: $L:$SIM
  system_id: herald
  password: sim-secret
  receipt_delay: 100ms
webhook_sink:
  listen: $L:$HOOK
accounts:
  - {id: demo, name: Demo, password: demopass, quota: {tps: 5000}, window: 100, max_binds: 16,
     webhook: {url: "http://$L:$HOOK/webhook", secrets: [{file: demo-webhook-secret}], events: [receipt]}}
  - {id: obs2, name: Second, password: obs2pass, quota: {tps: 5000}, window: 100, max_binds: 16}
  - {id: obs3, name: Third, password: obs3pass, quota: {tps: 5000}, window: 100, max_binds: 16}
  - {id: http, name: HTTP, password: httppass, quota: {tps: 100}, window: 10, max_binds: 2}
  - {id: tiny, name: Tiny quota, password: tinypass, quota: {tps: 5}, window: 10, max_binds: 4}
carriers:
  - {id: sim, name: Simulator, host: $L, port: $SIM, system_id: herald, password: {file: sim-password}, binds: 2, window: 50, throughput: {tps: 5000}}
  - {id: moerr, name: MO and errors, host: $L, port: $CARRIER, system_id: herald, password: {file: sim-password}, binds: 2, window: 20, throughput: {tps: 2000}, retry_schedule: [1s]}
routes:
  - {id: everything, priority: 100, action: {type: carrier, carrier: sim}}
  - {id: moerr, priority: 100, match: {destination_prefixes: ["4479"]}, action: {type: carrier, carrier: moerr}}
  - {id: capped, priority: 100, match: {destination_prefixes: ["4478"]}, action: {type: carrier, carrier: sim}, quota: {tps: 5}}
EOF
echo "obs-check-token" >"$WORK/tokens"
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: herald-dev
    static_configs: [{targets: ["$L:$DEV_ADMIN"], labels: {namespace: obs-check}}]
  - job_name: herald-edge
    static_configs: [{targets: ["$L:$EDGE_ADMIN"], labels: {namespace: obs-check}}]
  - job_name: herald-router
    static_configs: [{targets: ["$L:$ROUTER_ADMIN"], labels: {namespace: obs-check}}]
  - job_name: herald-connector
    static_configs: [{targets: ["$L:$CONN_ADMIN"], labels: {namespace: obs-check}}]
  - job_name: herald-control
    static_configs: [{targets: ["$L:$CTL_ADMIN"], labels: {namespace: obs-check}}]
EOF

log "starting prometheus, herald dev, a carrier and four role processes on loopback (work dir $WORK)"
start prometheus "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="$L:$PROM" --log.level=warn
start carrier node "$HERE/carrier.js" --port "$CARRIER" --error-every 5 --throttle-every 7 --mo-ms 300
COMMON=(--set "nats.urls=nats://$L:$NATS" --set "etcd.endpoints=http://$L:$ETCD" --set telemetry.log_filter=warn)
start dev "$HERALD" dev --data-dir "$WORK/dev" --seed "$WORK/seed.yaml" "${COMMON[@]}" \
  --set node.id=obs-dev --set "admin.listen=$L:$DEV_ADMIN" --set "control.listen=$L:$DEV_CTL" \
  --set "edge.smpp_listen=$L:$DEV_SMPP" --set "edge.http_listen=$L:$DEV_HTTP" \
  --set router.mo_default_account=http
DEV_PID="${PIDS[-1]}"
wait_http "http://$L:$DEV_ADMIN/readyz" 90 "herald dev" || fail_live "herald dev did not become ready"
adopt_children "$DEV_PID"
ROLE=(--set "grpc.listen=$L:0" --set "edge.smpp_listen=$L:0" --set "control.listen=$L:0")
start edge "$HERALD" edge "${COMMON[@]}" "${ROLE[@]}" --set node.id=obs-edge --set "admin.listen=$L:$EDGE_ADMIN" \
  --set "edge.smpp_listen=$L:$EDGE_SMPP" --set "edge.http_listen=$L:$EDGE_HTTP" \
  --set edge.webhooks.allow_http=true
start router "$HERALD" router "${COMMON[@]}" "${ROLE[@]}" --set node.id=obs-router --set "admin.listen=$L:$ROUTER_ADMIN" \
  --set router.mo_default_account=http
start connector "$HERALD" connector "${COMMON[@]}" "${ROLE[@]}" --set node.id=obs-connector \
  --set "admin.listen=$L:$CONN_ADMIN" --set connector.rebalance_interval=1s
start control "$HERALD" control "${COMMON[@]}" "${ROLE[@]}" --set node.id=obs-control --set "admin.listen=$L:$CTL_ADMIN" \
  --set "control.listen=$L:$CTL" --set "control.tokens_file=$WORK/tokens"
for pair in "edge:$EDGE_ADMIN" "router:$ROUTER_ADMIN" "connector:$CONN_ADMIN" "control:$CTL_ADMIN"; do
  wait_http "http://$L:${pair#*:}/readyz" 60 "herald ${pair%%:*}" || fail_live "herald ${pair%%:*} did not become ready"
done
wait_http "http://$L:$PROM/-/ready" 30 "prometheus" || fail_live "prometheus did not become ready"

# Traffic: receipts on, to both carriers, through the separate edge and the dev one; an
# account over its quota; a route over its quota; a failed bind; the HTTP API.
log "driving traffic with herald-load"
LOADARGS=(--sessions 2 --window 50 --grace 5s -q)
"$LOAD" --port "$EDGE_SMPP" --system-id demo --password demopass "${LOADARGS[@]}" --rate 300 --duration 6s --mix gsm=80,ucs2=10,long=10 >"$WORK/load-sim.log" 2>&1 &
l1=$!; PIDS+=("$l1")
"$LOAD" --port "$EDGE_SMPP" --system-id obs2 --password obs2pass "${LOADARGS[@]}" --rate 100 --duration 6s --destination '447900######' >"$WORK/load-moerr.log" 2>&1 &
l2=$!; PIDS+=("$l2")
"$LOAD" --port "$DEV_SMPP" --system-id obs3 --password obs3pass "${LOADARGS[@]}" --rate 100 --duration 3s >"$WORK/load-dev.log" 2>&1 &
l3=$!; PIDS+=("$l3")
waitfor "$LOAD" --port "$EDGE_SMPP" --system-id tiny --password tinypass --sessions 1 --rate 50 --duration 3s --grace 1s -q \
  >"$WORK/load-tiny.log" 2>&1 || true
# A route over its own quota (5/s), whatever the account's.
waitfor "$LOAD" --port "$EDGE_SMPP" --system-id obs2 --password obs2pass --sessions 1 --rate 50 --duration 2s --grace 1s -q \
  --destination '4478########' >"$WORK/load-capped.log" 2>&1 || true
waitfor "$LOAD" --port "$EDGE_SMPP" --system-id demo --password wrong --sessions 1 --count 1 --grace 0s -q \
  >"$WORK/load-badpass.log" 2>&1 || true
for auth in http:httppass http:httppass http:wrong; do
  python3 "$HERE/obs.py" post "http://$L:$EDGE_HTTP/v1/messages" "$auth" \
    '{"from": "Herald", "to": "+447700900001", "text": "Hello"}' >>"$WORK/http.log"
done
wait "$l1" || log "herald-load (simulator) exited $? (see $WORK/load-sim.log)"
wait "$l2" || true  # the MO-and-errors carrier refuses some submits on purpose
wait "$l3" || log "herald-load (dev edge) exited $? (see $WORK/load-dev.log)"

# Let Prometheus scrape what the traffic left (the routers poll the bus depths every
# 15 s); stop waiting as soon as every name used has been seen.
waitfor python3 "$HERE/obs.py" wait-names --prometheus "http://$L:$PROM" --timeout 20
live_rc=0
out="$(python3 "$HERE/obs.py" live --prometheus "http://$L:$PROM" 2>&1)" || live_rc=$?
names_line="$(grep '^metric names (live):' <<<"$out" || true)"
expr_line="$(grep '^expressions (live):' <<<"$out" || true)"
grep -v '^metric names (live):\|^expressions (live):' <<<"$out" || true
if [[ "$names_line" == *": ok, "* ]]; then
  result "metric names (live)" 0 "${names_line#metric names (live): ok, } (herald built $built)"
else
  result "metric names (live)" 1 "${names_line#metric names (live): FAILED, } (herald built $built; --build rebuilds)"
fi
if [[ "$expr_line" == *": ok, "* ]]; then
  result "expressions (live)" 0 "${expr_line#expressions (live): ok, }"
else
  result "expressions (live)" 1 "${expr_line#expressions (live): FAILED, }"
fi

if [ "${#FAILED[@]}" -ne 0 ]; then
  echo "check-observability: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "check-observability: ok"
