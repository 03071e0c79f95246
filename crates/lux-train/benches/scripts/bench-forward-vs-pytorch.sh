#!/usr/bin/env bash
# Runs the forward/generation workloads of crates/lux-train/benches/forward.rs in lux and in
# PyTorch (transformers), alternating round by round on the same machine, and prints the
# medians and the lux/PyTorch ratio of every round.
#
#   bash crates/lux-train/benches/scripts/bench-forward-vs-pytorch.sh
#
# Environment:
#   VENV      virtual environment with torch and transformers (default
#             ~/.cache/lux/venvs/torch; created and filled from PyPI when they do not import)
#   PYTHON    its interpreter (default $VENV/bin/python)
#   THREADS   PyTorch's intra-op threads and lux's rayon pool (default 2)
#   ROUNDS    rounds, each lux then PyTorch (default 3)
#   REPS      timed runs per workload and round, after one warm-up; the median counts (default 3)
#   PROFILE   cargo profile of the lux build (default dev: opt-level 3 without debug
#             assertions, the build the README's commands share)
#   LUX_BENCH_ONLY=forward|generate  runs one family (lux side)
set -euo pipefail
cd "$(dirname "$0")/../../../.."
VENV=${VENV:-$HOME/.cache/lux/venvs/torch}
PYTHON=${PYTHON:-$VENV/bin/python}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
PROFILE=${PROFILE:-dev}
script="$(dirname "$0")/bench-forward-vs-pytorch.py"

if ! "$PYTHON" -c 'import torch, transformers' 2>/dev/null; then
    echo "installing torch and transformers into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q torch transformers
    PYTHON="$VENV/bin/python"
fi

echo "building: cargo bench --workspace --bench forward --profile $PROFILE --no-run" >&2
bin=$(cargo bench --workspace --bench forward --profile "$PROFILE" --no-run --message-format=json \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "forward" and m.get("executable"):
        print(m["executable"])' | tail -1)
if [ -z "$bin" ]; then
    echo "the forward bench did not build" >&2
    exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS: lux ($THREADS threads)" >&2
    LUX_BENCH_PLAIN=1 LUX_BENCH_REPS="$REPS" RAYON_NUM_THREADS="$THREADS" "$bin" | tee "$out/lux-$r.jsonl" >&2
    echo "round $r/$ROUNDS: torch ($THREADS threads)" >&2
    "$PYTHON" "$script" --threads "$THREADS" --reps "$REPS" | tee "$out/torch-$r.jsonl" >&2
done
"$PYTHON" "$script" --compare "$out" --rounds "$ROUNDS"
