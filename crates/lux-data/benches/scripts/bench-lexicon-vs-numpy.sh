#!/usr/bin/env bash
# Procrustes + CSLS (n = 20,000 words, d = 300): numpy (OpenBLAS, 2 threads) vs lux, on the
# same data, in one run; prints both timings, both P@1 and the ratio.
#
# Usage: crates/lux-data/benches/scripts/bench-lexicon-vs-numpy.sh [DIR] [N] [D]
#   DIR (default: a temporary directory) receives the data and numpy's results.
#   VENV (default ~/.cache/lux/venvs/numpy): a virtual environment with numpy, created from
#     PyPI when missing.
#   PROFILE (default dev, the build the README's commands share; it runs at release speed).
#   RAYON_NUM_THREADS=2 is set for lux too, so both sides use two threads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$(mktemp -d)}"
n="${2:-20000}"
d="${3:-300}"
venv="${VENV:-$HOME/.cache/lux/venvs/numpy}"
profile="${PROFILE:-dev}"
if ! "$venv/bin/python" -c 'import numpy' 2>/dev/null; then
    echo "installing numpy into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy
fi
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$venv/bin/python" "$here/bench-lexicon-vs-numpy.py" "$dir" "$n" "$d"
cd "$here/../../../.."
# --workspace, not -p lux-data: the workspace's feature set, so the build is the one
# `cargo test --workspace` made (-p would rebuild burn with other features).
LUX_LEXICON_BENCH_DATA="$dir" RAYON_NUM_THREADS=2 cargo bench --workspace --bench lexicon --profile "$profile"
