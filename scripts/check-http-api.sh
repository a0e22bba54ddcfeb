#!/usr/bin/env bash
# Checks Herald's HTTP submit API against its description, docs/openapi.yaml, on a live
# local Herald (`herald dev` on free loopback ports, its data in a temp dir):
#
#   1. openapi.yaml        schemathesis loads the description
#   2. schemathesis        fuzzes POST /v1/messages and GET /v1/messages/{id} with Basic
#                          auth demo:demopass (all four phases: the spec's examples,
#                          coverage, fuzzing of valid and invalid requests, and stateful
#                          sequences following the 202's link to the id's status). Checks:
#                            not_a_server_error            never a 5xx
#                            status_code_conformance       only documented statuses
#                            content_type_conformance      only documented media types
#                            response_schema_conformance   bodies match their schemas
#                            response_headers_conformance  WWW-Authenticate on 401,
#                                                          Retry-After on 429 and 503
#                            negative_data_rejection       requests the spec forbids
#                                                          (unknown fields, ...) get a 4xx
#                            missing_required_header, unsupported_method,
#                            allow_header_conformance, ignored_auth
#                          Not used: positive_data_acceptance (a valid-looking request is
#                          refused when no route takes its destination, its validity is not
#                          a humantime duration, ...), ensure_resource_availability (an id
#                          is 404 until a router took the message, as docs/edge.md says),
#                          use_after_free (nothing is deleted), object_level_authorization
#                          (one account).
#   3. fixed cases         requests the fuzzer does not make, each answer's status, headers
#                          and body checked against the description: no credentials (401
#                          and its challenge), a body that is not JSON, an unknown field,
#                          101 destinations, 256 segments, a body over 256 KiB, a bad
#                          Idempotency-Key, a replay and a reused key, 207, the status of
#                          an accepted id, and (last, as it spends the account's rate) 429.
#
# The run is deterministic (Hypothesis derandomized, no example database) and bounded
# (CHECK_HTTP_API_EXAMPLES per operation and phase, default 300: about 2,700 requests;
# one worker at most 250 requests/s, under the demo account's 1000 messages/s, which the
# fuzzer's occasional long multi-destination texts may still exceed: 429 is documented).
# It takes about 30 s on two cores once the tools are installed; schemathesis is stopped
# (and fails) after FUZZ_TIMEOUT.
#
# Tools install idempotently into .tools/http-api/ (a Python venv with the pinned
# scripts/check-http-api/requirements.txt, reinstalled only when that file changes).
# nats-server and etcd come from scripts/install-deps.sh, which runs when one is missing.
# One line per check; exit status non-zero if any failed. Everything started here is
# stopped on exit, by pid.
#
# Environment:
#   HERALD_BIN=path              the herald binary (default: target/debug/herald, under
#                                $CARGO_TARGET_DIR when set)
#   CHECK_HTTP_API_EXAMPLES=N    examples per operation and phase (default 300)
#   KEEP=1                       keep the temp dir (herald dev's log, the HAR of every
#                                request schemathesis made)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/check-http-api"
TOOLS="$ROOT/.tools/http-api"
VENV="$TOOLS/venv"
REQUIREMENTS="$HERE/requirements.txt"
SPEC="$ROOT/docs/openapi.yaml"
EXAMPLES="${CHECK_HTTP_API_EXAMPLES:-300}"
AUTH="demo:demopass"
# The whole schemathesis run may take this long before it counts as failed.
FUZZ_TIMEOUT=120

log() { printf '[check-http-api] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
FAILED=()
result() { # result <check> <status 0|1> <message>
  if [ "$2" -eq 0 ]; then printf 'ok      %-16s %s\n' "$1" "$3"; else printf 'FAILED  %-16s %s\n' "$1" "$3"; FAILED+=("$1"); fi
}

# shellcheck source=lib/apt.sh
. "$ROOT/scripts/lib/apt.sh"

# ---------------------------------------------------------------- python venv
# shellcheck source=lib/venv.sh
. "$ROOT/scripts/lib/venv.sh"
ST="$VENV/bin/schemathesis"
python_venv "$TOOLS" "$REQUIREMENTS" "$ST"

# ---------------------------------------------------------------- herald, nats-server, etcd
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
HERALD="${HERALD_BIN:-$TARGET/debug/herald}"
[ -x "$HERALD" ] || die "no herald binary at $HERALD (cargo build -p herald --bin herald, or set HERALD_BIN)"
if ! command -v nats-server >/dev/null 2>&1 || ! command -v etcd >/dev/null 2>&1; then
  log "running scripts/install-deps.sh (nats-server or etcd missing)"
  "$ROOT/scripts/install-deps.sh" >&2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-http-api.XXXXXX")"
# shellcheck source=lib/processes.sh
. "$ROOT/scripts/lib/processes.sh"
show_log() { echo "--- herald dev (last lines of $WORK/dev.log)"; tail -n 30 "$WORK/dev.log"; }

L=127.0.0.1
read -r NATS ETCD ADMIN CTL SMPP HTTP SIM < <("$PY" "$HERE/helper.py" ports 7)
# deploy/dev/rules.yaml (the demo account, 1000 messages/s), with the simulator moved to a
# free port.
"$PY" "$HERE/helper.py" seed "$ROOT/deploy/dev/rules.yaml" "$WORK/seed.yaml" "$SIM"

log "starting herald dev on loopback (HTTP API on $L:$HTTP, work dir $WORK)"
"$HERALD" dev --data-dir "$WORK/dev" --seed "$WORK/seed.yaml" \
  --set "nats.urls=nats://$L:$NATS" --set "etcd.endpoints=http://$L:$ETCD" \
  --set telemetry.log_filter=warn --set node.id=http-api-check \
  --set "admin.listen=$L:$ADMIN" --set "control.listen=$L:$CTL" \
  --set "edge.smpp_listen=$L:$SMPP" --set "edge.http_listen=$L:$HTTP" \
  >"$WORK/dev.log" 2>&1 &
DEV_PID=$!
PIDS+=("$DEV_PID")
URL="http://$L:$HTTP"
if ! waitfor "$PY" "$HERE/helper.py" wait-api "$URL" "$AUTH" 90; then
  show_log
  result "herald dev" 1 "the HTTP API did not answer within 90 s"
  exit 1
fi
for child in $("$PY" "$HERE/helper.py" children "$DEV_PID"); do ADOPTED+=("$child"); done
result "herald dev" 0 "HTTP API answering on $URL ($("$HERALD" --version 2>/dev/null || echo herald), built $(date -u -r "$HERALD" '+%Y-%m-%d %H:%M UTC'))"

# ---------------------------------------------------------------- schemathesis
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance
CHECKS+=,response_schema_conformance,response_headers_conformance,negative_data_rejection
CHECKS+=,missing_required_header,unsupported_method,allow_header_conformance,ignored_auth
# shellcheck disable=SC2054 # the commas separate check and phase names
ST_ARGS=(
  --no-color run "$SPEC"
  --url "$URL" --auth "$AUTH"
  --checks "$CHECKS"
  --phases examples,coverage,fuzzing,stateful
  --generation-deterministic
  --max-examples "$EXAMPLES"
  # Credentials are always sent (ignored_auth and the fixed cases try without them), so
  # the examples go to the API rather than to 401s.
  --generation-with-security-parameters false
  --workers 1 --rate-limit 250/s
  --request-timeout 15
  --report har --report-har-path "$WORK/requests.har"
)
log "schemathesis ${ST_ARGS[*]}"
started=$SECONDS
st_rc=0
# In the work dir: nothing Hypothesis or schemathesis writes lands in the repository. In
# the background, so that a signal stops it at once (timeout passes SIGTERM on).
(cd "$WORK" && exec timeout "$FUZZ_TIMEOUT" "$ST" "${ST_ARGS[@]}") >"$WORK/schemathesis.log" 2>&1 &
PIDS+=("$!")
wait "$!" || st_rc=$?
elapsed=$((SECONDS - started))
if grep -q 'Loaded specification' "$WORK/schemathesis.log"; then
  result "openapi.yaml" 0 "loaded by schemathesis $("$ST" --version 2>/dev/null | awk '{print $NF}') ($(grep -o 'Open API [0-9.]*' "$WORK/schemathesis.log" | head -1))"
else
  cat "$WORK/schemathesis.log"
  result "openapi.yaml" 1 "schemathesis could not load ${SPEC#"$ROOT"/}"
fi
cases="$(grep -oE '[0-9]+ generated' "$WORK/schemathesis.log" | head -1 || true)"
requests="$("$PY" "$HERE/helper.py" har-summary "$WORK/requests.har" 2>/dev/null || echo "no HAR")"
if [ "$st_rc" -eq 0 ]; then
  result "schemathesis" 0 "${cases:-? generated} test cases, $requests, in ${elapsed}s"
else
  if grep -q '= \(FAILURES\|ERRORS\) =' "$WORK/schemathesis.log"; then
    sed -n '/= \(FAILURES\|ERRORS\) =/,$p' "$WORK/schemathesis.log"
  else
    tail -n 30 "$WORK/schemathesis.log"
  fi
  [ "$st_rc" -ne 124 ] || echo "schemathesis did not finish within ${FUZZ_TIMEOUT}s"
  alive "$DEV_PID" || show_log
  result "schemathesis" 1 "exit $st_rc after ${elapsed}s (${cases:-? generated}; $requests)"
fi

# ---------------------------------------------------------------- fixed cases
if out="$("$PY" "$HERE/helper.py" cases "$URL" "$AUTH" "$SPEC" 2>&1)"; then
  result "fixed cases" 0 "$(grep -c '^ok' <<<"$out") requests answered as documented"
else
  printf '%s\n' "$out"
  result "fixed cases" 1 "$(grep -c '^FAILED' <<<"$out" || true) case(s) failed (see above)"
fi

if ! alive "$DEV_PID"; then
  show_log
  result "herald dev" 1 "herald dev exited during the checks"
fi

if [ "${#FAILED[@]}" -ne 0 ]; then
  echo "check-http-api: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "check-http-api: ok"
