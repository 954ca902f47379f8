#!/usr/bin/env bash
# OTLP/HTTP protobuf spans against native NDJSON signals, in the same run: one release server
# (`klaxon serve` on a free loopback port, a fresh data directory), then `klaxon bench` with
# NDJSON batches of 1,000 signals and `klaxon bench --otlp` with exports of 500 spans (1,000
# signals), the same connections and duration each, unpaced. Prints both reports and the
# ratio of the signal rates (a span is two signals).
#
#   scripts/otlp-bench.sh                           # 20 s each, 32 connections
#   OTLP_BENCH_SECONDS=30 OTLP_BENCH_CONNECTIONS=16 scripts/otlp-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${OTLP_BENCH_SECONDS:-20}
connections=${OTLP_BENCH_CONNECTIONS:-32}
cargo build --release -p klaxon --quiet
bin=${CARGO_TARGET_DIR:-target}/release/klaxon
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=otlp-bench-token-0123456789
KLAXON_ADMIN_TOKEN=$token KLAXON_COLLECTOR__ENABLED=false "$bin" serve \
    --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/monitoring/health" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "== load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
run() {
    "$bin" bench --url "http://127.0.0.1:$port" --token "$token" --duration "$seconds" \
        --connections "$connections" --batch 1000 --json "$@"
}
native=$(run)
otlp=$(run --otlp)
echo "== NDJSON"; echo "$native"
echo "== OTLP/HTTP protobuf"; echo "$otlp"
python3 - "$native" "$otlp" <<'PY'
import json, sys
n, o = (json.loads(a) for a in sys.argv[1:3])
ns, os_ = n["signals_per_s"], o["signals_per_s"]
print(f"NDJSON {ns:,.0f} signals/s; OTLP {os_ / 2:,.0f} spans/s = {os_:,.0f} signals/s; "
      f"OTLP/native {os_ / ns:.2f} (429: {n['throttled_429']} and {o['throttled_429']})")
PY
