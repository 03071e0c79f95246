#!/usr/bin/env bash
# Packed SFT against TRL (issue 17, item 1): the same LoRA (SmolLM2-135M-Instruct, r = 16,
# alpha 32, dropout 0, q/k/v/o) trained for one epoch on the same first EXAMPLES examples of
# the bundled LuxInstruct dataset, in lux (crates/lux-train/examples/sft_throughput.rs) and in
# TRL's SFTTrainer, each padded and packed, each in its own process (peak RSS per run), then
# examples/s, tokens/s, peak RSS and the loss curves side by side with lux/TRL-best ratios.
#
#   bash crates/lux-train/benches/scripts/bench-sft-vs-trl.sh
#
# Environment:
#   VENV      virtual environment for torch, transformers, peft, trl, gguf, datasets, outside
#             the repository (default ~/.cache/lux/venvs/torch; created and filled when
#             they do not import: from PyTorch's CPU index when it is reachable, else from
#             PyPI, whose Linux torch wheel pulls ~5 GB of CUDA libraries)
#   DATA      a mix/train.jsonl (default: out/luxinstruct/mix/train.jsonl, else the data and
#             mix stages of recipes/luxinstruct.toml are run into a temporary directory)
#   EXAMPLES  examples per run (default 64: 8 steps of 8 padded)
#   THREADS   PyTorch's intra-op threads and lux's rayon pool (default 2)
#   PROFILE   cargo profile of the lux build (default dev: opt-level 3 without debug
#             assertions, the build the README's commands share)
#   RUNS      which runs, in order (default "lux:padded lux:packed trl:padded trl:packed"); a
#             setting named more than once also gets its median (alternate the sides on a
#             busy machine: "lux:packed trl:packed lux:packed trl:packed")
set -euo pipefail
cd "$(dirname "$0")/../../../.."
VENV=${VENV:-$HOME/.cache/lux/venvs/torch}
EXAMPLES=${EXAMPLES:-64}
THREADS=${THREADS:-2}
PROFILE=${PROFILE:-dev}
RUNS=${RUNS:-"lux:padded lux:packed trl:padded trl:packed"}
script="$(dirname "$0")/bench-sft-vs-trl.py"
python="$VENV/bin/python"

if ! "$python" -c 'import torch, transformers, peft, trl, gguf, datasets' 2>/dev/null; then
    echo "installing torch transformers peft trl gguf datasets into $VENV" >&2
    python3 -m venv "$VENV"
    if curl -sfI --max-time 20 https://download.pytorch.org/whl/cpu/torch/ >/dev/null; then
        "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
    fi
    "$VENV/bin/pip" install -q torch transformers peft trl gguf datasets
fi

models=${LUX_MODELS:-${LUX_CACHE:-$HOME/.cache/lux}/models}
gguf=$( [ -f "$models" ] && echo "$models" || find -L "$models" -name 'SmolLM2*.gguf' | sort | head -1)
if [ -z "$gguf" ]; then
    echo "SmolLM2 GGUF not found under $models: run scripts/fetch-models.sh" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${DATA:-}" ]; then
    DATA=out/luxinstruct/mix/train.jsonl
    if [ ! -f "$DATA" ]; then
        echo "building the LuxInstruct mix (lux run recipes/luxinstruct.toml --stage mix)" >&2
        cargo run -q --profile "$PROFILE" -- run recipes/luxinstruct.toml --out "$work/luxinstruct" --stage mix -q
        DATA="$work/luxinstruct/mix/train.jsonl"
    fi
fi

echo "building: cargo build --workspace --example sft_throughput --profile $PROFILE" >&2
cargo build -q --workspace --example sft_throughput --profile "$PROFILE"
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
lux="${CARGO_TARGET_DIR:-target}/$dir/examples/sft_throughput"

for run in $RUNS; do
    packing=$([ "${run#*:}" = packed ] && echo --packing || true)
    echo "run $run ($EXAMPLES examples, $THREADS threads)" >&2
    case ${run%%:*} in
        lux) LUX_MODELS="$gguf" RAYON_NUM_THREADS="$THREADS" "$lux" --data "$DATA" \
                 --examples "$EXAMPLES" $packing | tee -a "$work/runs.jsonl" ;;
        trl) "$python" "$script" --run --data "$DATA" --examples "$EXAMPLES" --threads "$THREADS" \
                 --gguf-dir "$(dirname "$gguf")" --gguf-file "$(basename "$gguf")" \
                 --out "$work/trl" $packing 2>"$work/trl.log" | tee -a "$work/runs.jsonl" ;;
        *) echo "unknown run $run" >&2; exit 1 ;;
    esac
done
echo
"$python" "$script" --compare "$work/runs.jsonl"
