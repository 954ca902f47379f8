#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ (one per parser of outside input) and runs each briefly from
# its committed corpus, failing on any crash, panic, timeout or out-of-memory. Prints the build
# time and each target's executions. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`);
# runs on stable Rust through RUSTC_BOOTSTRAP, without a sanitizer by default (safe Rust).
#
#   scripts/fuzz-smoke.sh                  # every target, 10 s each
#   FUZZ_SECONDS=60 scripts/fuzz-smoke.sh matchers duration
#
# New inputs go to a scratch directory, not to fuzz/corpus; a crash leaves its input in
# fuzz/artifacts/<target>/ (reproduce with `cargo fuzz run -s none <target> <file>`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
# The fuzz crate has its own build directory (fuzz/target): its flags differ from the workspace's.
unset CARGO_TARGET_DIR
export RUSTC_BOOTSTRAP=1
SECONDS_EACH=${FUZZ_SECONDS:-10}
SANITIZER=${FUZZ_SANITIZER:-none}
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 1; }
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

start=$(date +%s)
cargo fuzz build -s "$SANITIZER" >"$SCRATCH/build.log" 2>&1 || { cat "$SCRATCH/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s (sanitizer: $SANITIZER)"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
failed=()
for t in "${targets[@]}"; do
    mkdir -p "$SCRATCH/$t" "corpus/$t"
    t0=$(date +%s)
    # -timeout: one input taking longer is a hang; -rss_limit_mb: memory is a bound too.
    if cargo fuzz run -s "$SANITIZER" "$t" "$SCRATCH/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$SCRATCH/$t.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$SCRATCH/$t.log")
        echo "$t: ok, ${runs:-?} executions in $(( $(date +%s) - t0 )) s"
    else
        echo "$t: FAILED" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$SCRATCH/$t.log" | head -20 >&2 || tail -30 "$SCRATCH/$t.log" >&2
        failed+=("$t")
    fi
done
echo "total: $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
