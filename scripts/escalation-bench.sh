#!/usr/bin/env bash
# Timer processing of escalation policies against the alert path: the publish latency of a
# steady stream of firing alerts while 10,000 open alerts escalate, against the same run
# without policies.
#
# Each run: a release server (`klaxon serve`, a fresh data directory, a free loopback port)
# whose route sends alerts labelled load="open" through a policy of 3 levels (waits 0s, 20s,
# 40s, repeat 1), each level a user with a webhook contact on a local HTTP sink; 10,000 such
# alerts opened through `POST /api/v2/alerts` (batches of 1,000); then, from 10 s after they
# were opened, `klaxon bench` for 70 s (NDJSON signals at --rate, --fire-pct of them firing an
# alert that follows no policy): level 2 of the 10,000 comes due about 20 s after they were
# opened, level 3 about 60 s after. The figure is the server's alert publish latency (signal
# accepted → alert committed and published) over the bench's window, as `klaxon bench` reads
# it from /monitoring/prometheus, with its parts (engine queue wait, engine → lifecycle
# handoff, time in the lifecycle, alert commit), and the server's commits of escalation levels
# that came due (`klaxon_escalation_commit_seconds`: how many, their time). The variant `none`
# is the same run with the route's `escalation_policy` left out. Variants alternate,
# ESC_BENCH_ROUNDS rounds of both.
#
#   scripts/escalation-bench.sh                     # 2 rounds, 10,000 signals/s, 5 % firing
#   ESC_BENCH_ROUNDS=3 ESC_BENCH_RATE=50000 ESC_BENCH_FIRE_PCT=1 scripts/escalation-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ESC_BENCH_ROUNDS:-2}
alerts=${ESC_BENCH_ALERTS:-10000}
seconds=${ESC_BENCH_SECONDS:-70}
rate=${ESC_BENCH_RATE:-10000}
fire_pct=${ESC_BENCH_FIRE_PCT:-5}
cargo build --release -p klaxon --quiet
bin=${CARGO_TARGET_DIR:-target}/release/klaxon
token=escalation-bench-token-0123456789
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# An HTTP/1.1 sink with keep-alive: answers 200 to everything and, when stdin closes, prints
# how many requests came per path.
sink_py='
import asyncio, collections, json, sys
counts = collections.Counter()
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = 0
            for l in lines[1:]:
                k, _, v = l.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if length:
                await reader.readexactly(length)
            counts[path] += 1
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(dict(counts)), flush=True)
asyncio.run(main())
'

# Opens ALERTS alerts through the Alertmanager API, 1,000 per request.
open_py='
import json, sys, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for start in range(0, n, 1000):
    batch = [{"labels": {"alertname": "Open", "load": "open", "severity": "high",
                         "n": str(i)}} for i in range(start, min(n, start + 1000))]
    req = urllib.request.Request(url + "/api/v2/alerts", data=json.dumps(batch).encode(),
        headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
'

run() {
    local variant=$1 dir port sink_port policy_line
    dir=$(mktemp -d)
    port=$(free_port)
    sink_port=$(free_port)
    policy_line='escalation_policy = "three-levels"'
    [ "$variant" = none ] && policy_line=''
    cat >"$dir/klaxon.toml" <<EOF
[route]
receiver = "null"
[[route.routes]]
matchers = ['load="open"']
receiver = "null"
$policy_line

[[receivers]]
name = "null"

[[users]]
name = "level1"
contacts = [{ kind = "webhook", url = "http://127.0.0.1:$sink_port/level1" }]
[[users]]
name = "level2"
contacts = [{ kind = "webhook", url = "http://127.0.0.1:$sink_port/level2" }]
[[users]]
name = "level3"
contacts = [{ kind = "webhook", url = "http://127.0.0.1:$sink_port/level3" }]

[[escalation_policies]]
name = "three-levels"
repeat = 1
[[escalation_policies.levels]]
wait = "0s"
notify = ["user:level1"]
[[escalation_policies.levels]]
wait = "20s"
notify = ["user:level2"]
[[escalation_policies.levels]]
wait = "40s"
notify = ["user:level3"]
EOF
    coproc SINK { python3 -c "$sink_py" "$sink_port"; }
    local sink_pid=$SINK_PID ready
    read -r ready <&"${SINK[0]}"
    KLAXON_ADMIN_TOKEN=$token KLAXON_COLLECTOR__ENABLED=false "$bin" serve \
        --config "$dir/klaxon.toml" --listen "127.0.0.1:$port" --data-dir "$dir/data" \
        >"$dir/server.log" 2>&1 &
    local server=$!
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/monitoring/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local load_before t0
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    t0=$(date +%s.%N)
    python3 -c "$open_py" "http://127.0.0.1:$port" "$token" "$alerts"
    local opened
    opened=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
    sleep "$(python3 -c "import time; print(max(0.0, 10 - (time.time() - $t0)))")"
    local report
    report=$("$bin" bench --url "http://127.0.0.1:$port" --token "$token" \
        --duration "$seconds" --rate "$rate" --fire-pct "$fire_pct" --json)
    local load_after
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    local escalation prometheus
    escalation=$(curl -fsS -H "authorization: Bearer $token" \
        "http://127.0.0.1:$port/alerts/metrics/escalation" || echo null)
    prometheus=$(curl -fsS -H "authorization: Bearer $token" \
        "http://127.0.0.1:$port/monitoring/prometheus" | grep '^klaxon_escalation_commit_seconds' || true)
    kill "$server"
    wait "$server" 2>/dev/null || true
    exec {SINK[1]}>&-
    local pages
    read -r pages <&"${SINK[0]}" || pages='{}'
    wait "$sink_pid" 2>/dev/null || true
    rm -rf "$dir"
    python3 - "$variant" "$report" "$pages" "$escalation" "$load_before" "$load_after" "$opened" "$prometheus" <<'PY'
import json, sys
variant, report, pages, esc, lb, la, opened, prom = sys.argv[1:9]
# The escalation commits over the whole run: count, mean, and the bucket holding the p99.
buckets, total, n = [], 0.0, 0
for line in prom.splitlines():
    name, _, value = line.rpartition(" ")
    if name.startswith("klaxon_escalation_commit_seconds_bucket"):
        le = name.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(value)))
    elif name.startswith("klaxon_escalation_commit_seconds_sum"):
        total = float(value)
    elif name.startswith("klaxon_escalation_commit_seconds_count"):
        n = int(float(value))
p99 = next((le for le, c in sorted(buckets) if n and c >= 0.99 * n), None)
r = json.loads(report)
s = r["server"] or {}
def q(name):
    h = s.get(name) or {}
    f = lambda p: "-" if not h.get(p) else (">" if h[p]["above_top_bucket"] else "") + f"{h[p]['ms']:.2f}"
    return f"p50 {f('p50')} ms, p99 {f('p99')} ms (n {h.get('count', 0)})"
esc = json.loads(esc) if esc != "null" else {}
print(f"== {variant}: load {lb} -> {la}; {opened} s to open the alerts")
print(f"   alert publish latency  {q('alert_publish_latency')}")
print(f"   alert commit           {q('alert_commit')}")
print(f"   alert in lifecycle     {q('alert_in_lifecycle')}")
print(f"   engine → lifecycle     {q('alert_handoff')}")
print(f"   engine queue wait      {q('engine_queue_wait')}")
print(f"   signals/s {r['signals_per_s']:,.0f}, alerts fired {s.get('alerts_fired')}, "
      f"request p99 {r['latency_ms']['p99']} ms, 429s {r['throttled_429']}, errors {r['errors']}")
print(f"   pages received by level: {pages}; escalations {esc.get('escalations')}, "
      f"pages {esc.get('pages')}")
print(f"   escalation commits (whole run): {n}, mean {1000 * total / max(n, 1):.2f} ms, "
      f"p99 <= {'-' if p99 is None else f'{1000 * p99:g}'} ms")
print("   json " + json.dumps({"variant": variant, "load_before": lb, "load_after": la,
      "publish": s.get("alert_publish_latency"), "commit": s.get("alert_commit"),
      "handoff": s.get("alert_handoff"), "lifecycle": s.get("alert_in_lifecycle"),
      "escalation_commits": n, "escalation_commit_s": total,
      "pages": json.loads(pages or "{}")}))
PY
}

echo "== $(nproc) cores; $alerts alerts, bench ${seconds}s at $rate signals/s, $fire_pct % firing"
for _ in $(seq "$rounds"); do
    run policies
    run none
done
