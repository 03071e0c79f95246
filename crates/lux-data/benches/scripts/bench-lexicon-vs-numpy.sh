#!/usr/bin/env bash
# Procrustes + CSLS (n = 20,000 words, d = 300): numpy (OpenBLAS, 2 threads) vs lux, on the
# same data, in one run; prints both timings, both P@1 and the ratio.
#
# Usage: crates/lux-data/benches/scripts/bench-lexicon-vs-numpy.sh [DIR] [N] [D]
#   DIR (default: a temporary directory) receives the data and numpy's results.
#   PYTHON (default /tmp/np-venv/bin/python, else python3) must have numpy.
#   RAYON_NUM_THREADS=2 is set for lux too, so both sides use two threads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$(mktemp -d)}"
n="${2:-20000}"
d="${3:-300}"
py="${PYTHON:-/tmp/np-venv/bin/python}"
[[ -x "$py" ]] || py=python3
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$py" "$here/bench-lexicon-vs-numpy.py" "$dir" "$n" "$d"
cd "$here/../../../.."
LUX_LEXICON_BENCH_DATA="$dir" RAYON_NUM_THREADS=2 cargo bench -p lux-data --bench lexicon
