#!/usr/bin/env bash
# A hostile client against a running `klaxon serve` on this machine: four 60 MB bodies without a
# token (RSS before and at its peak, the answers, health meanwhile), then 2,000 idle connections
# from one address (how many are refused at once, health from another loopback address, the
# server's open descriptors, and how many idle ones the header deadline closed). Needs curl and
# python3. Uses target/debug/klaxon unless KLAXON_BIN names another binary.
#
#   cargo build -p klaxon && scripts/edge-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KLAXON_BIN:-target/debug/klaxon}
PORT=${EDGE_PORT:-17731}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    --admin-token edge-check-admin-token >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/monitoring/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/monitoring/health" >/dev/null || { cat "$WORK/serve.log"; exit 1; }
python3 - "$PORT" "$PID" "$WORK" <<'PY'
import os, socket, subprocess, sys, threading, time
port, pid, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def rss(kind): return [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith(kind)][0]
def health(iface="127.0.0.1"):
    t = time.time()
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", iface,
                        f"http://127.0.0.1:{port}/monitoring/health"], capture_output=True, text=True)
    return f"{r.stdout} in {time.time() - t:.3f} s"
big = os.path.join(work, "big.json")
with open(big, "wb") as f:
    f.write(b'{"a":"' + b" " * 60_000_000 + b'"}')
print("RSS before:", rss("VmRSS"), "kB")
answers = []
def post():
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} in %{time_total} s", "-X", "POST",
                        "--data-binary", "@" + big, f"http://127.0.0.1:{port}/v1/processes/x/marks"],
                       capture_output=True, text=True)
    answers.append(r.stdout)
posts = [threading.Thread(target=post) for _ in range(4)]
for p in posts: p.start()
print("health during the bodies:", health())
for p in posts: p.join()
print("answers to 4 x 60 MB without a token:", answers)
print("RSS peak:", rss("VmHWM"), "kB")
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(2000)]
for s in socks: s.setblocking(False)
time.sleep(0.5)
refused = 0
for s in socks:
    try: refused += s.recv(200).startswith(b"HTTP/1.1 503")
    except BlockingIOError: pass
print(f"2,000 idle connections from 127.0.0.1: {refused} answered 503 at once")
print("health from 127.0.0.2 meanwhile:", health("127.0.0.2"))
print("server descriptors:", len(os.listdir(f"/proc/{pid}/fd")))
time.sleep(11)
closed = 0
for s in socks:
    try: closed += s.recv(200) == b""
    except BlockingIOError: pass
    except ConnectionResetError: closed += 1
print(f"after 11 s: {closed} of the {2000 - refused} held connections closed by the server;",
      "descriptors:", len(os.listdir(f"/proc/{pid}/fd")))
PY
