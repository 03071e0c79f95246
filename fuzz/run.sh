#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints, per target, the
# seconds, the executions and the findings (crashes, hangs, out-of-memory inputs).
#
#   fuzz/run.sh SECONDS [-j N] [--no-build] [TARGET...]
#
# -j N runs N targets at a time (default 1); --no-build runs the binaries already built (in a
# checkout where the workspace's crates keep changing, every change is a rebuild of minutes).
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds with
# `--sanitizer none` (safe Rust: libFuzzer still catches panics, hangs and huge allocations;
# no ASan rebuild of burn) into its own target dir, $LUX_FUZZ_TARGET_DIR (default
# ~/.cache/lux/fuzz-target), so it never waits on or invalidates the workspace build.
# Fuzzers run under `nice -n 19` in libFuzzer's fork mode, which keeps fuzzing after a
# finding; each finding is saved under fuzz/artifacts/TARGET/ (crash-*, timeout-*, oom-*) and
# should become a regression test (docs/reliability.md).
# Logs: fuzz/build.log, fuzz/logs/TARGET.log; summary: fuzz/logs/summary.tsv.
set -euo pipefail

usage() { echo "usage: $0 SECONDS [-j N] [--no-build] [TARGET...]" >&2; exit 2; }
[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || usage
seconds=$1
shift
jobs=1
build=1
targets=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -j) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; jobs=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        -*) usage ;;
        *) targets+=("$1"); shift ;;
    esac
done

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir/.."
export CARGO_TARGET_DIR=${LUX_FUZZ_TARGET_DIR:-$HOME/.cache/lux/fuzz-target}
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Builds every target (one build: they share all their dependencies).
if [[ $build == 1 ]] && ! cargo +nightly fuzz build --sanitizer none >"$fuzz_dir/build.log" 2>&1; then
    tail -n 30 "$fuzz_dir/build.log" >&2
    exit 1
fi
# The fuzzers run copies of the binaries: libFuzzer's fork mode starts the binary again for
# every job, and a rebuild meanwhile (fixing a finding) must not pull it from under them.
bin_dir=$fuzz_dir/bin
mkdir -p "$bin_dir"
for t in "${targets[@]}"; do
    src=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t
    # A hard link when the target dir is on the same file system (no copy of 250 MB each).
    ln -f "$src" "$bin_dir/$t" 2>/dev/null || cp "$src" "$bin_dir/$t" 2>/dev/null || true
done

python3 "$fuzz_dir/seed_corpus.py" >/dev/null
mkdir -p "$fuzz_dir/logs"

run_one() {
    local t=$1
    mkdir -p "$fuzz_dir/corpus/$t" "$fuzz_dir/artifacts/$t"
    # -rss/-malloc_limit_mb: an input that makes the parser allocate 2 GiB is a finding (a
    # header claiming a 100 GB tensor must be an error, not an allocation). -timeout: one
    # input taking 10 s is a hang. -max_len: the seeds are cut to 64 KiB too.
    nice -n 19 "$bin_dir/$t" "$fuzz_dir/corpus/$t" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -max_len=65536 -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -artifact_prefix="$fuzz_dir/artifacts/$t/" >"$fuzz_dir/logs/$t.log" 2>&1 || true
}

running=0
for t in "${targets[@]}"; do
    if [[ ! -x $bin_dir/$t ]]; then
        echo "no fuzz target $t (cargo +nightly fuzz list)" >&2
        exit 2
    fi
    run_one "$t" &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

printf 'target\tseconds\texecs\tfindings\n' | tee "$fuzz_dir/logs/summary.tsv"
for t in "${targets[@]}"; do
    log=$fuzz_dir/logs/$t.log
    # Fork mode reports "#EXECS: cov: … time: SECONDS …" as it goes; the last one is the total.
    last=$(grep -E '^#[0-9]+: ' "$log" | tail -n 1 || true)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    time=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$last")
    findings=$(find "$fuzz_dir/artifacts/$t" -type f | wc -l)
    printf '%s\t%s\t%s\t%s\n' "$t" "${time:-?}" "${execs:-?}" "$findings" | tee -a "$fuzz_dir/logs/summary.tsv"
done
