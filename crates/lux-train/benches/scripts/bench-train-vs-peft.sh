#!/usr/bin/env bash
# Runs the LoRA train-step workloads of crates/lux-train/benches/train_step.rs in lux and in
# PyTorch + PEFT on the same machine, alternating lux and PyTorch ROUNDS times (the machines
# are noisy: compare within one run), each workload in its own process so that peak RSS is
# per workload, and prints lux/PEFT from the median of each side.
#
#   bash crates/lux-train/benches/scripts/bench-train-vs-peft.sh
#
# Environment: PYTHON (default /tmp/torch-venv/bin/python, needs torch, transformers, peft),
# THREADS (default 2: PyTorch's intra-op threads and lux's rayon pool), REPS (timed steps per
# process after one warm-up, default 3), ROUNDS (default 1), PROFILE (cargo profile, default
# release), WORKLOADS (default both: "lora_qkvo_8x128 lora_qkvo_8x128_completion64").
set -euo pipefail
cd "$(dirname "$0")/../../../.."
PYTHON=${PYTHON:-/tmp/torch-venv/bin/python}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
ROUNDS=${ROUNDS:-1}
PROFILE=${PROFILE:-release}
WORKLOADS=${WORKLOADS:-"lora_qkvo_8x128 lora_qkvo_8x128_completion64"}
script="$(dirname "$0")/bench-train-vs-peft.py"

if ! "$PYTHON" -c 'import torch, transformers, peft' 2>/dev/null; then
    echo "torch/transformers/peft not importable with $PYTHON; set PYTHON" >&2
    exit 1
fi
echo "building: cargo bench -p lux-train --bench train_step --profile $PROFILE --no-run" >&2
cargo bench -q -p lux-train --bench train_step --profile "$PROFILE" --no-run
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for round in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        case $w in
            lora_qkvo_8x128) only=full ;;
            lora_qkvo_8x128_completion64) only=completion ;;
            *) echo "unknown workload $w" >&2; exit 1 ;;
        esac
        LUX_BENCH_PLAIN=1 LUX_BENCH_ONLY=$only LUX_BENCH_REPS="$REPS" RAYON_NUM_THREADS="$THREADS" \
            cargo bench -q -p lux-train --bench train_step --profile "$PROFILE" | tee -a "$dir/lux.$round"
        "$PYTHON" "$script" --workload "$w" --threads "$THREADS" --reps "$REPS" | tee -a "$dir/torch.$round"
    done
done
# Per workload, the median over rounds of each side.
"$PYTHON" - "$dir" "$ROUNDS" <<'PY'
import json, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
for side in ("lux", "torch"):
    rows = {}
    for r in range(1, rounds + 1):
        for line in open(f"{d}/{side}.{r}"):
            if line.startswith("{") and '"workload"' in line:
                row = json.loads(line)
                rows.setdefault(row["workload"], []).append(row)
    with open(f"{d}/{side}.median", "w") as f:
        for name, rs in rows.items():
            rs.sort(key=lambda row: row["tokens_per_s"])
            f.write(json.dumps(rs[len(rs) // 2]) + "\n")
PY
"$PYTHON" "$script" --compare "$dir/lux.median" "$dir/torch.median"
