#!/usr/bin/env bash
# API conformance: schemathesis (pinned below) generates requests from klaxon's own
# /openapi.json and checks every answer against it: no 5xx, only documented statuses and
# content types, bodies that fit their schemas, a token enforced everywhere, 405 for an
# undocumented method. Starts `klaxon serve` on a free port with a fresh data dir and a known
# admin token, runs, stops the server; exits non-zero on any failure.
#
#   pip install schemathesis==4.32.5 && scripts/schemathesis.sh
#   SCHEMATHESIS_EXAMPLES=100 SCHEMATHESIS_SEED=7 scripts/schemathesis.sh
#
# Uses $CARGO_TARGET_DIR/debug/klaxon (built here) unless KLAXON_BIN names another binary.
# Left out: the endpoints that stream until the server stops (server-sent events, the
# WebSocket), which the integration tests cover; and the checks `negative_data_rejection` and
# `positive_data_acceptance`, which demand that the schema say everything the server checks:
# klaxon takes more than it documents (`null` for an absent signal field, epoch milliseconds
# for a time) and refuses documented values on grounds a schema cannot state (a duration of
# zero, `from` after `to`).
set -euo pipefail
cd "$(dirname "$0")/.."
PINNED=4.32.5
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
SEED=${SCHEMATHESIS_SEED:-1}
TOKEN=schemathesis-admin-token-0123456789

if ! command -v schemathesis >/dev/null; then
    echo "schemathesis is not installed: pip install schemathesis==$PINNED" >&2
    exit 2
fi
version=$(schemathesis --version | awk '{print $NF}')
if [ "$version" != "$PINNED" ]; then
    echo "schemathesis $version found; this script is pinned to $PINNED (pip install schemathesis==$PINNED)" >&2
    exit 2
fi

if [ -z "${KLAXON_BIN:-}" ]; then
    cargo build --quiet -p klaxon
    KLAXON_BIN=${CARGO_TARGET_DIR:-target}/debug/klaxon
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
PID=
stop() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap stop EXIT
"$KLAXON_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --admin-token "$TOKEN" \
    >"$WORK/serve.log" 2>&1 &
PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
    curl -sf "$URL/monitoring/health" >/dev/null && break
    sleep 0.1
done
curl -sf "$URL/monitoring/health" >/dev/null || { cat "$WORK/serve.log"; exit 1; }

run() {
    # From the temp dir: schemathesis keeps a cache in its working directory.
    (cd "$WORK" && schemathesis run "$URL/openapi.json" \
        --header "Authorization: Bearer $TOKEN" \
        --checks all --exclude-checks negative_data_rejection,positive_data_acceptance \
        --exclude-path-regex '(/stream|/ws)$' \
        --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --request-timeout 10 \
        --generation-database none --no-color "$@")
}

status=0
# Everything but revoking tokens: a revocation of the admin token this run uses (once another
# admin token exists) would leave every later request a 401.
run --exclude-operation-id delete_v1_tokens_id || status=1
# Then revoking tokens, alone, last.
run --include-operation-id delete_v1_tokens_id || status=1
if [ "$status" -ne 0 ]; then
    echo "== the server's log" >&2
    tail -n 50 "$WORK/serve.log" >&2
fi
exit "$status"
