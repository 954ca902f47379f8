#!/usr/bin/env bash
# Cluster fault test: three release `klaxon serve` nodes on one PostgreSQL schema (docs/cluster.md),
# a load of Alertmanager posts (`POST /api/v2/alerts`, one new alert per post, retried on 503 or
# no answer) spread over all three nodes, and every KILL_EVERY seconds the leader killed with
# SIGKILL and restarted at once. Besides, in the same run:
#   - signals through NATS JetStream (`[cluster] nats`, a stream of the run's own, deleted at
#     the end): batches of marks (`POST /v1/signals`) sent round-robin to all three nodes,
#     retried on 503 or no answer, each mark firing an event rule (`SIG`, ON_EVENT) whose alert
#     carries the mark's context, unique per signal;
#   - grouped alerts: Alertmanager alerts with a label `grp` shared by several, on a route
#     grouped by it with group_interval FAULT_GROUP_INTERVAL (5 s).
# A webhook receiver counts the notifications (one group per ungrouped alert and per signal).
# At the end it counts, from the database and the receiver:
#   alerts lost         answered 200 but not stored
#   notifications lost  stored alerts never notified
#   signal alerts lost  signals answered 200 whose alert was never notified
#   redeliveries        deliveries of an idempotency key already delivered (a receiver that
#                       honours the key sees them once)
#   duplicates          alerts (or signals' alerts) notified under more than one idempotency key
#   group_interval violations
#                       two notifications of one group under different idempotency keys that
#                       arrived closer than group_interval less FAULT_GI_TOLERANCE (0.5 s)
# and exits non-zero if any alert, notification or signal alert is lost, any duplicate found or
# group_interval violated. Batches retried after getting no answer may have been applied twice
# (at least once); they are counted apart.
#
#   scripts/cluster-fault.sh                        # 180 s, a kill every 20 s
#   FAULT_SECONDS=60 FAULT_KILL_EVERY=10 FAULT_SENDERS=8 scripts/cluster-fault.sh
#   FAULT_SECONDS=60 FAULT_KILL_EVERY=0 scripts/cluster-fault.sh   # no kill: the baseline
#
# Senders: FAULT_SENDERS (4) of ungrouped alerts, FAULT_GROUPED_SENDERS (1) of grouped ones,
# FAULT_SIGNAL_SENDERS (2) of signal batches of FAULT_BATCH (20) marks, each sender pausing
# FAULT_SIGNAL_PAUSE (0.5 s) after each accepted batch (every mark is a new alert: unpaused,
# the senders outrun the leader's alert commits and starve the other load).
# Needs PostgreSQL at KLAXON_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
# and psql, and NATS with JetStream at KLAXON_TEST_NATS_URL (default nats://127.0.0.1:4222).
# Uses $CARGO_TARGET_DIR/release/klaxon (built here) unless KLAXON_BIN names another.
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
export FAULT_GROUPED_SENDERS=${FAULT_GROUPED_SENDERS:-1}
export FAULT_SIGNAL_SENDERS=${FAULT_SIGNAL_SENDERS:-2}
export FAULT_BATCH=${FAULT_BATCH:-20}
export FAULT_SIGNAL_PAUSE=${FAULT_SIGNAL_PAUSE:-0.5}
export FAULT_GROUP_INTERVAL=${FAULT_GROUP_INTERVAL:-5}
export FAULT_GI_TOLERANCE=${FAULT_GI_TOLERANCE:-0.5}
export NATS_URL=${KLAXON_TEST_NATS_URL:-nats://127.0.0.1:4222}
exec python3 - <<'PY'
import atexit, http.server, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.request, urllib.error

BIN = os.path.abspath(os.environ["KLAXON_BIN"])
PG = os.environ["PG_URL"]
SECONDS = int(os.environ["FAULT_SECONDS"])
KILL_EVERY = int(os.environ["FAULT_KILL_EVERY"])
SENDERS = int(os.environ["FAULT_SENDERS"])
GROUPED_SENDERS = int(os.environ["FAULT_GROUPED_SENDERS"])
SIGNAL_SENDERS = int(os.environ["FAULT_SIGNAL_SENDERS"])
BATCH = int(os.environ["FAULT_BATCH"])
SIGNAL_PAUSE = float(os.environ["FAULT_SIGNAL_PAUSE"])
GI = float(os.environ["FAULT_GROUP_INTERVAL"])
GI_TOLERANCE = float(os.environ["FAULT_GI_TOLERANCE"])
NATS = os.environ["NATS_URL"]
STREAM = f"KLAXON_FAULT_{os.getpid()}"
SUBJECT = f"klaxon.fault.{os.getpid()}"
TOKEN = "cluster-fault-admin-token-0123456789"
SCHEMA = f"klaxon_fault_{os.getpid()}"


def psql(sql):
    return subprocess.run(["psql", PG, "-Atqc", sql], check=True, capture_output=True,
                          text=True).stdout


def nats_request(subject, payload=b""):
    """One request on the NATS protocol (enough for JetStream's API): the reply's payload."""
    host, port = NATS.split("//", 1)[-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        f = s.makefile("rb")
        f.readline()  # INFO
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.fault 1\r\n'
                  + f"PUB {subject} _INBOX.fault {len(payload)}\r\n".encode() + payload
                  + b"\r\n")
        while True:
            line = f.readline()
            if not line:
                raise OSError(f"NATS at {NATS} closed the connection")
            if line.startswith(b"-ERR"):
                raise OSError(f"NATS at {NATS}: {line.decode().strip()}")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            if line.startswith(b"MSG"):
                n = int(line.split()[-1])
                return f.read(n + 2)[:-2]


try:
    info = json.loads(nats_request("$JS.API.INFO"))
except (OSError, ValueError) as e:
    sys.exit(f"NATS with JetStream at {NATS} does not answer: {e}")
if "error" in info:
    sys.exit(f"NATS at {NATS} has no JetStream: {info['error']}")


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
group_arrivals = {}  # group -> [(arrival, idempotency key)]


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        key = self.headers.get("idempotency-key", "")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        now = time.time()
        with lock:
            deliveries[key] = deliveries.get(key, 0) + 1
            group = (doc.get("groupLabels") or {}).get("grp")
            if group is not None:
                group_arrivals.setdefault(group, []).append((now, key))
            if doc.get("status") == "firing":
                for a in doc.get("alerts", []):
                    labels = a["labels"]
                    name = labels.get("context") or labels.get("alertname")
                    keys_of.setdefault(name, set()).add(key)
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
[[route.routes]]
matchers = ['alertname="SIG"']
group_by = ["context"]
[[route.routes]]
matchers = ['grp=~".+"']
group_by = ["grp"]
group_interval = "{GI:g}s"
[cluster]
node = "{name}"
advertise = "http://127.0.0.1:{port}"
nats = "{NATS}"
nats_stream = "{STREAM}"
nats_subject = "{SUBJECT}"
""")
    nodes.append({"name": name, "port": port, "cfg": cfg, "proc": None})


def cleanup():
    """On any exit: the nodes stopped, the schema dropped, the stream deleted."""
    for n in nodes:
        if n["proc"] is not None and n["proc"].poll() is None:
            n["proc"].kill()
            n["proc"].wait()
    try:
        psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        nats_request(f"$JS.API.STREAM.DELETE.{STREAM}")
    except Exception as e:
        print(f"cleaning up: {e}", file=sys.stderr)


atexit.register(cleanup)


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

def call(n, path, body, timeout=10):
    """POSTs JSON to node n: the status, or None without an answer."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{n['port']}{path}", data=body, method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except Exception:
        return None


# The event rule: an alert for every mark FIRE, carrying the mark's context.
RULES = json.dumps({"header": {"rule_set": "fault"}, "rules": [
    {"id": "SIG", "trigger_type": "MARK_EVENT", "action": "FIRE",
     "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "none", "severity": "high"}}]})
req = urllib.request.Request(
    f"http://127.0.0.1:{nodes[1]['port']}/v1/rulesets?group=fault", data=RULES.encode(),
    method="POST", headers={"content-type": "application/json",
                            "authorization": f"Bearer {TOKEN}"})
with urllib.request.urlopen(req, timeout=10) as r:
    version = json.loads(r.read())["version"]
status = call(nodes[2], f"/v1/rulesets/fault/{version}/activate?group=fault", b"")
if status != 200:
    sys.exit(f"activating the rule set answered {status}")

accepted = []  # alert names answered 200
grouped = []  # grouped alert names answered 200
refused = [0]
signals = []  # signal contexts answered 200
sig = {"batches": 0, "503": 0, "other": 0, "unanswered": 0, "maybe_twice": 0, "longest": 0.0}
stop = threading.Event()


def sender(i, group_of=None):
    seq = 0
    turn = i
    while not stop.is_set():
        labels = {"alertname": f"fault-{i}-{seq}", "severity": "critical"}
        if group_of is not None:
            labels["alertname"] = f"grouped-{i}-{seq}"
            labels["grp"] = group_of(seq)
        seq += 1
        body = json.dumps([{"labels": labels}]).encode()
        while not stop.is_set():
            n = nodes[turn % len(nodes)]
            turn += 1
            if call(n, "/api/v2/alerts", body) == 200:
                with lock:
                    (accepted if group_of is None else grouped).append(labels["alertname"])
                break
            with lock:
                refused[0] += 1
            time.sleep(0.2)


def signal_sender(i):
    seq = 0
    turn = i
    while not stop.is_set():
        contexts = [f"sig-{i}-{seq}-{j}" for j in range(BATCH)]
        seq += 1
        body = json.dumps([{"kind": "mark", "process": f"sender-{i}", "action": "FIRE",
                            "context": c} for c in contexts]).encode()
        first = time.time()
        unanswered = False
        while not stop.is_set():
            n = nodes[turn % len(nodes)]
            turn += 1
            status = call(n, "/v1/signals", body)
            if status == 200:
                with lock:
                    signals.extend(contexts)
                    sig["batches"] += 1
                    sig["maybe_twice"] += unanswered
                    sig["longest"] = max(sig["longest"], time.time() - first)
                time.sleep(SIGNAL_PAUSE)
                break
            with lock:
                if status is None:
                    sig["unanswered"] += 1
                    unanswered = True
                elif status == 503:
                    sig["503"] += 1
                else:
                    sig["other"] += 1
            time.sleep(0.2)


threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
threads += [threading.Thread(target=sender, args=(100 + i, lambda seq: f"g{seq % 8}"))
            for i in range(GROUPED_SENDERS)]
threads += [threading.Thread(target=signal_sender, args=(i,)) for i in range(SIGNAL_SENDERS)]
for t in threads:
    t.start()
began = time.time()
failovers = []
kills = 0
kill_times = []
while time.time() - began < SECONDS:
    if KILL_EVERY <= 0:
        time.sleep(SECONDS)
        break
    time.sleep(KILL_EVERY)
    victim = leader()
    if victim is None:
        continue
    killed = time.time()
    victim["proc"].send_signal(signal.SIGKILL)
    victim["proc"].wait()
    kills += 1
    kill_times.append(killed - began)
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
        if all(a in keys_of for a in accepted + grouped + signals):
            break
    time.sleep(0.5)
time.sleep(3)
stored = set(psql(f"SELECT labels->>'alertname' FROM {SCHEMA}.alerts").split())
stored.discard("SIG")
with lock:
    lost = [a for a in accepted + grouped if a not in stored]
    unnotified = [a for a in stored if a not in keys_of]
    signals_lost = [c for c in signals if c not in keys_of]
    single = set(accepted) | set(signals)
    twice = {a: k for a, k in keys_of.items() if len(k) > 1 and a in single}
    redelivered = sum(c - 1 for c in deliveries.values())
    total = sum(deliveries.values())
    keys = len(deliveries)
    # group_interval: the first arrival of each idempotency key of a group, in order.
    violations = []
    gaps = []
    for group, arrivals in group_arrivals.items():
        first = {}
        for at, key in arrivals:
            first.setdefault(key, at)
        times = sorted(first.values())
        for a, b in zip(times, times[1:]):
            gaps.append(b - a)
            if b - a < GI - GI_TOLERANCE:
                violations.append((group, round(b - a, 3), round(b - began, 1)))
    group_notifications = sum(len({k for _, k in a}) for a in group_arrivals.values())
stream_info = json.loads(nats_request(f"$JS.API.STREAM.INFO.{STREAM}"))
deleted = json.loads(nats_request(f"$JS.API.STREAM.DELETE.{STREAM}"))
for n in nodes:
    n["proc"].send_signal(signal.SIGTERM)
for n in nodes:
    try:
        n["proc"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        n["proc"].kill()
psql(f"DROP SCHEMA {SCHEMA} CASCADE")
print(f"{SECONDS} s, {kills} leaders killed with SIGKILL, {SENDERS} + {GROUPED_SENDERS} "
      f"(grouped) alert senders and {SIGNAL_SENDERS} signal senders over 3 nodes")
print(f"alerts answered 200: {sent} ({sent / SECONDS:.1f}/s); refused or unanswered attempts "
      f"(retried): {refused[0]}")
print(f"failover (kill -9 to a new leader serving): "
      f"max {max(failovers, default=0):.2f} s, mean "
      f"{sum(failovers) / max(len(failovers), 1):.2f} s")
print(f"alerts lost: {len(lost)}; notifications lost: {len(unnotified)}; "
      f"deliveries {total} under {keys} keys, redeliveries (same key): "
      f"{redelivered}; alerts notified under several keys: {len(twice)}")
print(f"grouped alerts answered 200: {len(grouped)} in {len(group_arrivals)} groups, "
      f"{group_notifications} notifications; group_interval {GI:g} s: violations (closer than "
      f"{GI - GI_TOLERANCE:g} s under different keys): {len(violations)}; shortest gap "
      f"{min(gaps, default=0):.2f} s")
print(f"signals answered 200: {len(signals)} in {sig['batches']} batches of {BATCH} "
      f"({len(signals) / SECONDS:.1f}/s); attempts answered 503: {sig['503']}, other errors: "
      f"{sig['other']}, unanswered: {sig['unanswered']}; batches retried after no answer "
      f"(may be applied twice): {sig['maybe_twice']}; longest a batch took to be accepted: "
      f"{sig['longest']:.2f} s")
print(f"signal alerts lost: {len(signals_lost)}; the stream held "
      f"{stream_info.get('state', {}).get('messages', '?')} batches; stream deleted: "
      f"{deleted.get('success', deleted)}")
if lost or unnotified or twice or signals_lost or violations:
    print(f"lost: {lost[:10]} unnotified: {unnotified[:10]} twice: {list(twice.items())[:5]} "
          f"signals lost: {signals_lost[:10]}")
    print(f"violations (group, gap s, at s): {violations[:40]}; kills at (s): "
          f"{[round(k, 1) for k in kill_times]}")
    print(f"logs in {work}")
    sys.exit(1)
shutil.rmtree(work, ignore_errors=True)
PY
