#!/usr/bin/env bash
# Runs the LoRA train-step workloads of crates/lux-train/benches/train_step.rs in lux and in
# PyTorch + PEFT on the same machine, alternating lux and PyTorch ROUNDS times (the machines
# are noisy: compare within one run), each workload in its own process so that peak RSS is
# per workload, and prints lux/PEFT per round and from the median of each side.
#
#   bash crates/lux-train/benches/scripts/bench-train-vs-peft.sh
#
# Environment:
#   VENV      virtual environment with torch, transformers, peft (default
#             ~/.cache/lux/venvs/torch, shared with the other comparison scripts; created and
#             filled from PyPI when they are not importable)
#   THREADS   PyTorch's intra-op threads and lux's rayon pool (default 2)
#   REPS      timed optimizer steps per process after one warm-up (default: 3, and 1 for
#             luxllama_r256_all7, whose step is 8 micro-batches at rank 256: ≈ 4.2 TFLOP,
#             minutes on two cores)
#   ROUNDS    lux/PyTorch alternations (default 1)
#   PROFILE   cargo profile (default dev: opt-level 3 without debug assertions, the build the
#             README's commands share)
#   WORKLOADS default all three: "lora_qkvo_8x128 lora_qkvo_8x128_completion64 luxllama_r256_all7"
#   LUX_BIN   a train_step bench binary to run instead of building one (a copy of an earlier
#             build's target/debug/deps/train_step-*, to compare two builds against the same
#             PyTorch runs)
set -euo pipefail
cd "$(dirname "$0")/../../../.."
VENV=${VENV:-$HOME/.cache/lux/venvs/torch}
THREADS=${THREADS:-2}
REPS=${REPS:-}
ROUNDS=${ROUNDS:-1}
PROFILE=${PROFILE:-dev}
WORKLOADS=${WORKLOADS:-"lora_qkvo_8x128 lora_qkvo_8x128_completion64 luxllama_r256_all7"}
script="$(dirname "$0")/bench-train-vs-peft.py"
python="$VENV/bin/python"

if ! "$python" -c 'import torch, transformers, peft' 2>/dev/null; then
    echo "installing torch transformers peft into $VENV" >&2
    python3 -m venv "$VENV"
    # The CPU-only torch wheel is a fifth of the default one's download; PyPI's when the
    # PyTorch index is unreachable.
    if curl -sfI --max-time 20 https://download.pytorch.org/whl/cpu/torch/ >/dev/null; then
        "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
    fi
    "$VENV/bin/pip" install -q torch transformers peft
fi
if [ -n "${LUX_BIN:-}" ]; then
    bench=("$LUX_BIN")
else
    # Never `-p lux-train`: that resolves burn's features differently and rebuilds it.
    bench=(cargo bench -q --workspace --bench train_step --profile "$PROFILE")
    echo "building: ${bench[*]} --no-run" >&2
    "${bench[@]}" --no-run
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for round in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        case $w in
            lora_qkvo_8x128) only=full ;;
            lora_qkvo_8x128_completion64) only=completion ;;
            luxllama_r256_all7) only=luxllama ;;
            *) echo "unknown workload $w" >&2; exit 1 ;;
        esac
        echo "round $round, $w: $(uptime)" >&2
        # An empty LUX_BENCH_REPS, like --reps 0, leaves each workload its default.
        LUX_BENCH_PLAIN=1 LUX_BENCH_ONLY=$only LUX_BENCH_REPS="$REPS" \
            RAYON_NUM_THREADS="$THREADS" "${bench[@]}" | tee -a "$dir/lux.$round"
        "$python" "$script" --workload "$w" --threads "$THREADS" --reps "${REPS:-0}" \
            | tee -a "$dir/torch.$round"
    done
done
# Per round the ratios, then per workload the median over rounds of each side.
for round in $(seq "$ROUNDS"); do
    echo "round $round:"
    "$python" "$script" --compare "$dir/lux.$round" "$dir/torch.$round"
done
"$python" - "$dir" "$ROUNDS" <<'PY'
import json, sys
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
echo "median of $ROUNDS round(s):"
"$python" "$script" --compare "$dir/lux.median" "$dir/torch.median"
