#!/usr/bin/env bash
# Alertmanager conformance: schemathesis (pinned below) generates requests from Alertmanager's
# own OpenAPI document (third_party/alertmanager/openapi-v0.25.0.json, the document of the
# Alertmanager Debian ships) and checks every answer against it, once against klaxon and once
# against the real Alertmanager (/usr/bin/prometheus-alertmanager) with the same seed, and
# prints both failure counts side by side, by check.
#
#   pip install schemathesis==4.32.5 && scripts/am-conformance.sh
#   SCHEMATHESIS_EXAMPLES=100 SCHEMATHESIS_SEED=7 scripts/am-conformance.sh
#
# Fails when klaxon answers a 5xx (ST101) or a body that breaks Alertmanager's schema (ST108);
# the other checks' failures are differences docs/alertmanager.md lists with their reasons
# ("Conformance"). Without Alertmanager installed, only klaxon runs.
# Uses $CARGO_TARGET_DIR/debug/klaxon (built here) unless KLAXON_BIN names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
PINNED=4.32.5
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-25}
SEED=${SCHEMATHESIS_SEED:-1}
TOKEN=am-conformance-admin-token-0123456789
DOC=$PWD/third_party/alertmanager/openapi-v0.25.0.json
ALERTMANAGER=${ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}

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

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
WORK=$(mktemp -d)
PIDS=()
stop() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap stop EXIT

wait_up() { # url, log
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    cat "$2" >&2
    return 1
}

# One run: name, base URL, extra schemathesis arguments. The output goes to $WORK/<name>.out.
run() {
    local name=$1 url=$2
    shift 2
    # From the temp dir: schemathesis keeps a cache in its working directory.
    (cd "$WORK" && schemathesis run "$DOC" --url "$url" "$@" \
        --checks all --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 \
        --request-timeout 10 --generation-database none --no-color) >"$WORK/$name.out" 2>&1 || true
}

KPORT=$(free_port)
"$KLAXON_BIN" serve --listen "127.0.0.1:$KPORT" --data-dir "$WORK/klaxon" --admin-token "$TOKEN" \
    >"$WORK/klaxon.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$KPORT/monitoring/health" "$WORK/klaxon.log"
run klaxon "http://127.0.0.1:$KPORT/api/v2" --header "Authorization: Bearer $TOKEN"

if [ -x "$ALERTMANAGER" ]; then
    APORT=$(free_port)
    printf 'route:\n  receiver: default\nreceivers:\n- name: default\n' >"$WORK/alertmanager.yml"
    "$ALERTMANAGER" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/alertmanager" \
        --web.listen-address="127.0.0.1:$APORT" --cluster.listen-address= \
        >"$WORK/alertmanager.log" 2>&1 &
    PIDS+=($!)
    wait_up "http://127.0.0.1:$APORT/-/ready" "$WORK/alertmanager.log"
    run alertmanager "http://127.0.0.1:$APORT/api/v2"
    am_version=$("$ALERTMANAGER" --version 2>&1 | awk 'NR==1 {print $3}')
else
    echo "skipped: $ALERTMANAGER not installed (apt-get install prometheus-alertmanager)"
    am_version=
fi

python3 - "$WORK" "$am_version" <<'PY'
import os, re, sys
work, am_version = sys.argv[1], sys.argv[2]
def parse(name):
    path = os.path.join(work, name + ".out")
    if not os.path.exists(path):
        return None
    text = open(path, encoding="utf-8", errors="replace").read()
    counts = {}
    if "Failures:" in text:
        block = text.split("Failures:", 1)[1]
        for m in re.finditer(r"(ST\d+) ([^:\n]+): (\d+)", block.split("\n\n", 1)[0]):
            counts[(m.group(1), m.group(2).strip())] = int(m.group(3))
    cases = re.search(r"(\d+) generated", text)
    return counts, (cases.group(1) if cases else "?"), text
k = parse("klaxon")
a = parse("alertmanager")
if k is None or not re.search(r"Tested: \d+", k[2]):
    print(k[2] if k else "no klaxon run")
    sys.exit(1)
keys = sorted(set(k[0]) | set(a[0] if a else {}))
am = f"Alertmanager {am_version}" if a else "Alertmanager (not run)"
print(f"{'check':<42} {'klaxon':>8} {am:>22}")
for key in keys:
    av = str(a[0].get(key, 0)) if a else "-"
    print(f"{key[0] + ' ' + key[1]:<42} {k[0].get(key, 0):>8} {av:>22}")
ak = sum(a[0].values()) if a else "-"
print(f"{'unique failures':<42} {sum(k[0].values()):>8} {ak:>22}")
print(f"{'test cases generated':<42} {k[1]:>8} {(a[1] if a else '-'):>22}")
# The failing requests, to compare by hand.
for name, r in (("klaxon", k), ("alertmanager", a)):
    if r is None:
        continue
    print(f"\n== {name}: failing requests")
    for line in r[2].splitlines():
        if re.match(r"^- ST\d+", line) or line.startswith("    curl ") or re.match(r"^\[\d{3}\]", line):
            print(line[:300])
hard = [key for key in k[0] if key[0] in ("ST101", "ST108")]
if hard:
    print(f"\nklaxon fails {', '.join(' '.join(h) for h in hard)}: a 5xx or a body against Alertmanager's schema", file=sys.stderr)
    sys.exit(1)
PY
