#!/usr/bin/env bash
# Cluster fault test: three release `klaxon serve` nodes on one PostgreSQL schema (docs/cluster.md),
# a load of Alertmanager posts (`POST /api/v2/alerts`, one new alert per post, retried on 503 or
# no answer) spread over all three nodes, and every KILL_EVERY seconds the leader killed with
# SIGKILL and restarted at once. A webhook receiver counts the notifications (one group per
# alert). At the end it counts, from the database and the receiver:
#   alerts lost         answered 200 but not stored
#   notifications lost  stored alerts never notified
#   redeliveries        deliveries of an idempotency key already delivered (a receiver that
#                       honours the key sees them once)
#   duplicates          alerts notified under more than one idempotency key
# and exits non-zero if any alert or notification is lost or any duplicate found.
#
#   scripts/cluster-fault.sh                        # 180 s, a kill every 20 s, 4 senders
#   FAULT_SECONDS=60 FAULT_KILL_EVERY=10 FAULT_SENDERS=8 scripts/cluster-fault.sh
#
# Needs PostgreSQL at KLAXON_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
# and psql. Uses $CARGO_TARGET_DIR/release/klaxon (built here) unless KLAXON_BIN names another.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KLAXON_BIN:-}" ]; then
    cargo build --quiet --release -p klaxon
    KLAXON_BIN=${CARGO_TARGET_DIR:-target}/release/klaxon
fi
export KLAXON_BIN
export PG_URL=${KLAXON_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
export FAULT_SECONDS=${FAULT_SECONDS:-180}
export FAULT_KILL_EVERY=${FAULT_KILL_EVERY:-20}
export FAULT_SENDERS=${FAULT_SENDERS:-4}
exec python3 - <<'PY'
import http.server, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.request, urllib.error

BIN = os.path.abspath(os.environ["KLAXON_BIN"])
PG = os.environ["PG_URL"]
SECONDS = int(os.environ["FAULT_SECONDS"])
KILL_EVERY = int(os.environ["FAULT_KILL_EVERY"])
SENDERS = int(os.environ["FAULT_SENDERS"])
TOKEN = "cluster-fault-admin-token-0123456789"
SCHEMA = f"klaxon_fault_{os.getpid()}"


def psql(sql):
    return subprocess.run(["psql", PG, "-Atqc", sql], check=True, capture_output=True,
                          text=True).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# The webhook receiver: idempotency key -> deliveries, alert name -> keys.
lock = threading.Lock()
deliveries = {}
keys_of = {}


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        key = self.headers.get("idempotency-key", "")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        with lock:
            deliveries[key] = deliveries.get(key, 0) + 1
            if doc.get("status") == "firing":
                for a in doc.get("alerts", []):
                    keys_of.setdefault(a["labels"].get("alertname"), set()).add(key)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=sink.serve_forever, daemon=True).start()

work = tempfile.mkdtemp(prefix="klaxon-fault-")
psql(f"CREATE SCHEMA {SCHEMA}")
sep = "&" if "?" in PG else "?"
store_url = f"{PG}{sep}options=-c%20search_path%3D{SCHEMA}"
nodes = []
for name in ["a", "b", "c"]:
    port = free_port()
    cfg = os.path.join(work, f"{name}.toml")
    with open(cfg, "w") as f:
        f.write(f"""
[collector]
enabled = false
[route]
receiver = "ops"
group_by = ["alertname"]
group_wait = "0s"
[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "http://127.0.0.1:{sink.server_address[1]}/ops"
[cluster]
node = "{name}"
advertise = "http://127.0.0.1:{port}"
""")
    nodes.append({"name": name, "port": port, "cfg": cfg, "proc": None})


def start(n):
    log = open(os.path.join(work, f"{n['name']}.log"), "a")
    env = dict(os.environ, KLAXON_STORE__URL=store_url, NO_COLOR="1")
    n["proc"] = subprocess.Popen(
        [BIN, "serve", "--config", n["cfg"], "--listen", f"127.0.0.1:{n['port']}",
         "--data-dir", os.path.join(work, n["name"]), "--admin-token", TOKEN],
        stdout=log, stderr=log, env=env)


def health(n):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{n['port']}/monitoring/health",
                                    timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except Exception:
        return None, {}


def leader():
    for n in nodes:
        status, body = health(n)
        if status == 200 and body.get("cluster", {}).get("role") == "leader":
            return n
    return None


for n in nodes:
    start(n)
    time.sleep(1)
deadline = time.time() + 30
while leader() is None:
    if time.time() > deadline:
        sys.exit("no leader within 30 s")
    time.sleep(0.2)

accepted = []  # alert names answered 200
refused = [0]
stop = threading.Event()


def sender(i):
    seq = 0
    turn = i
    while not stop.is_set():
        name = f"fault-{i}-{seq}"
        seq += 1
        body = json.dumps([{"labels": {"alertname": name, "severity": "critical"}}]).encode()
        while True:
            n = nodes[turn % len(nodes)]
            turn += 1
            req = urllib.request.Request(
                f"http://127.0.0.1:{n['port']}/api/v2/alerts", data=body, method="POST",
                headers={"content-type": "application/json",
                         "authorization": f"Bearer {TOKEN}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    if r.status == 200:
                        with lock:
                            accepted.append(name)
                        break
            except Exception:
                pass
            with lock:
                refused[0] += 1
            time.sleep(0.2)


threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
for t in threads:
    t.start()
began = time.time()
failovers = []
kills = 0
while time.time() - began < SECONDS:
    time.sleep(KILL_EVERY)
    victim = leader()
    if victim is None:
        continue
    killed = time.time()
    victim["proc"].send_signal(signal.SIGKILL)
    victim["proc"].wait()
    kills += 1
    start(victim)
    while leader() is None and time.time() - killed < 60:
        time.sleep(0.05)
    failovers.append(time.time() - killed)
    print(f"killed leader {victim['name']} at {killed - began:.0f}s; "
          f"a new leader served after {failovers[-1]:.2f}s", flush=True)
stop.set()
for t in threads:
    t.join()
sent = len(accepted)

# Notifications settle: every stored alert notified, or 60 s.
deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        if all(a in keys_of for a in accepted):
            break
    time.sleep(0.5)
time.sleep(3)
stored = set(psql(f"SELECT labels->>'alertname' FROM {SCHEMA}.alerts").split())
with lock:
    lost = [a for a in accepted if a not in stored]
    unnotified = [a for a in stored if a not in keys_of]
    twice = {a: k for a, k in keys_of.items() if len(k) > 1}
    redelivered = sum(c - 1 for c in deliveries.values())
    total = sum(deliveries.values())
for n in nodes:
    n["proc"].send_signal(signal.SIGTERM)
for n in nodes:
    try:
        n["proc"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        n["proc"].kill()
psql(f"DROP SCHEMA {SCHEMA} CASCADE")
print(f"{SECONDS} s, {kills} leaders killed with SIGKILL, {SENDERS} senders over 3 nodes")
print(f"alerts answered 200: {sent} ({sent / SECONDS:.1f}/s); refused or unanswered attempts "
      f"(retried): {refused[0]}")
print(f"failover (kill -9 to a new leader serving): "
      f"max {max(failovers, default=0):.2f} s, mean "
      f"{sum(failovers) / max(len(failovers), 1):.2f} s")
print(f"alerts lost: {len(lost)}; notifications lost: {len(unnotified)}; "
      f"deliveries {total} under {len(deliveries)} keys, redeliveries (same key): "
      f"{redelivered}; alerts notified under several keys: {len(twice)}")
if lost or unnotified or twice:
    print(f"lost: {lost[:10]} unnotified: {unnotified[:10]} twice: {list(twice.items())[:5]}")
    print(f"logs in {work}")
    sys.exit(1)
shutil.rmtree(work, ignore_errors=True)
PY
