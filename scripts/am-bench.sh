#!/usr/bin/env bash
# Alerts/s through POST /api/v2/alerts: klaxon against a real Prometheus Alertmanager on this
# machine, in the same run, with the same load (batches of 100, 10,000 distinct alerts resent,
# keep-alive connections over loopback). Needs /usr/bin/prometheus-alertmanager
# (apt-get install prometheus-alertmanager). Prints both rates and their ratio.
#
#   scripts/am-bench.sh                      # 10 s each, 32 connections
#   AM_BENCH_SECONDS=30 AM_BENCH_CONNECTIONS=64 scripts/am-bench.sh
#   AM_BENCH_STORE=postgresql scripts/am-bench.sh   # klaxon on KLAXON_TEST_POSTGRES_URL
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p klaxon --bench alertmanager
