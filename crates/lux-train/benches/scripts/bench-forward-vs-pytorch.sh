#!/usr/bin/env bash
# Runs the forward/generation workloads of crates/lux-train/benches/forward.rs in lux and in
# PyTorch (transformers), one after the other on the same machine, and prints lux/PyTorch.
#
#   bash crates/lux-train/benches/scripts/bench-forward-vs-pytorch.sh
#
# Environment: PYTHON (default /tmp/torch-venv/bin/python, needs torch and transformers),
# THREADS (default 2: PyTorch's intra-op threads and lux's rayon pool), REPS (default 3),
# PROFILE (cargo profile, default release; `dev` reuses the test build, whose dependencies
# are also optimised), LUX_BENCH_ONLY=forward|generate to run one family (lux side).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
PYTHON=${PYTHON:-/tmp/torch-venv/bin/python}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
PROFILE=${PROFILE:-release}

if ! "$PYTHON" -c 'import torch, transformers' 2>/dev/null; then
    echo "PyTorch/transformers not importable with $PYTHON; set PYTHON" >&2
    exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "lux: cargo bench -p lux-train --bench forward --profile $PROFILE (plain mode)" >&2
LUX_BENCH_PLAIN=1 LUX_BENCH_REPS="$REPS" RAYON_NUM_THREADS="$THREADS" \
    cargo bench -q -p lux-train --bench forward --profile "$PROFILE" | tee "$out"
echo "torch: same workloads" >&2
"$PYTHON" "$(dirname "$0")/bench-forward-vs-pytorch.py" --lux "$out" --threads "$THREADS" --reps "$REPS"
