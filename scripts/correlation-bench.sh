#!/usr/bin/env bash
# Correlation quality: generates alert streams with known incidents (5 seeds, ~5,000 alerts over
# 24 h each), runs `klaxon correlate` and the two baselines (10-minute time windows, same
# service) on them, scores each against the truth, and prints the means per variant:
#   default       full labels, topology document given
#   few-labels    only alertname, severity, service, cluster (host for node alerts)
#   no-topology   full labels, no topology document
#   alt-vocab     other service names, alert names and wording
#
# Usage: scripts/correlation-bench.sh [SEEDS...]       (default seeds: 1 2 3 4 5)
# Env:   KLAXON=path/to/klaxon to skip the release build; ALERTS (default 5000); HOURS (24).
set -euo pipefail
cd "$(dirname "$0")/.."
here=scripts/correlation
if [ $# -gt 0 ]; then seeds=("$@"); else seeds=(1 2 3 4 5); fi
alerts=${ALERTS:-5000}
hours=${HOURS:-24}
if [ -z "${KLAXON:-}" ]; then
  cargo build --release -p klaxon >&2
  KLAXON="${CARGO_TARGET_DIR:-target}/release/klaxon"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_variant() { # name, generator args..., then "--" and correlate args
  local variant=$1; shift
  local gen=() corr=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do gen+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  corr=("$@")
  for seed in "${seeds[@]}"; do
    local d="$work/$variant-$seed"
    python3 "$here/generate.py" --seed "$seed" --alerts "$alerts" --hours "$hours" --out "$d" "${gen[@]}" >/dev/null
    local topo=()
    [ "${corr[0]:-}" = "no-topology" ] || topo=(--topology "$d/topology.json")
    "$KLAXON" correlate "${topo[@]}" "$d/alerts.ndjson" >"$d/klaxon.json" 2>/dev/null
    python3 "$here/baseline.py" time "$d/alerts.ndjson" >"$d/time.json"
    python3 "$here/baseline.py" service "$d/alerts.ndjson" >"$d/service.json"
    for method in klaxon time service; do
      printf '%s %s %s ' "$variant" "$method" "$seed"
      python3 "$here/score.py" "$d/truth.json" "$d/$method.json"
    done
  done
}

{
  run_variant default
  run_variant few-labels --labels few
  run_variant no-topology -- no-topology
  run_variant alt-vocab --vocab alt
} >"$work/scores.txt"

python3 - "$work/scores.txt" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    variant, method, seed, doc = line.split(" ", 3)
    rows.setdefault((variant, method), []).append(json.loads(doc))
keys = ["pairwise_precision", "pairwise_recall", "pairwise_f1",
        "bcubed_precision", "bcubed_recall", "bcubed_f1", "reduction"]
print("| variant | method | pairwise P | pairwise R | pairwise F1 | B3 P | B3 R | B3 F1 | reduction | seeds |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (variant, method), rs in rows.items():
    mean = [sum(r[k] for r in rs) / len(rs) for k in keys]
    print("| %s | %s | %s | %d |" % (variant, method, " | ".join("%.3f" % m for m in mean), len(rs)))
PY
