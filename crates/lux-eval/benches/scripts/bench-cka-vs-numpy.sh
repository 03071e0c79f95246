#!/usr/bin/env bash
# Linear CKA, lux vs numpy, side by side on the same machine (TARGETS.md workload:
# n = 4096, d = 576, 30 layers).
#
#   crates/lux-eval/benches/scripts/bench-cka-vs-numpy.sh [ROUNDS] [LAYERS]
#
# Workloads: LAYERS lb–en layer pairs; 3 × LAYERS pairs of lb against en, fr, de; an
# M × M cross-layer map (M = LUX_CKA_BENCH_MAP_LAYERS, default 10, at most LAYERS).
#
# Each round runs numpy (3 GEMMs per pair) and then lux (`benches/cka.rs` in its quick
# mode); the summary gives both medians and the median of the per-round ratios
# numpy / lux (> 1: lux is faster). The numpy virtualenv is made on demand outside the
# repository (LUX_NUMPY_VENV, default /tmp/lux-numpy-venv). OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE, which some machines here set for old OpenBLAS builds and which slow a
# current numpy, are unset for the numpy command only; the BLAS kernel it ran is printed.
set -euo pipefail

ROUNDS="${1:-3}"
LAYERS="${2:-30}"
REPEATS="${LUX_CKA_BENCH_REPEATS:-3}"
MAP="${LUX_CKA_BENCH_MAP_LAYERS:-10}"
MAP=$(( MAP < LAYERS ? MAP : LAYERS ))
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
VENV="${LUX_NUMPY_VENV:-/tmp/lux-numpy-venv}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, threadpoolctl' 2>/dev/null; then
    echo "making the numpy virtualenv in $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy threadpoolctl
fi

cd "$ROOT"
echo "building the lux benchmark (release)" >&2
cargo bench -p lux-eval --bench cka --no-run 2>&1 | tail -1 >&2
BIN="$(cargo bench -p lux-eval --bench cka --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cka" and m.get("executable"):
        print(m["executable"])' | tail -1)"

OUT="$(mktemp -d)"
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS: numpy" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$VENV/bin/python" \
        "$HERE/../cka_numpy.py" --layers "$LAYERS" --map-layers "$MAP" --repeats "$REPEATS" > "$OUT/numpy-$r.jsonl"
    echo "round $r/$ROUNDS: lux" >&2
    LUX_CKA_BENCH_QUICK="$REPEATS" LUX_CKA_BENCH_LAYERS="$LAYERS" LUX_CKA_BENCH_MAP_LAYERS="$MAP" "$BIN" > "$OUT/lux-$r.jsonl"
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(side, r):
    return {j["workload"]: j for j in map(json.loads, open(f"{out}/{side}-{r}.jsonl"))}
runs = [(load("numpy", r), load("lux", r)) for r in range(1, rounds + 1)]
blas = next(iter(runs[0][0].values())).get("blas")
print(f"numpy BLAS: {', '.join(blas) if blas else 'unknown'}")
print(f"{'workload':<32} {'numpy ms/pair':>14} {'lux ms/pair':>12} {'numpy/lux':>10}  per round")
for w in runs[0][0]:
    np_ms = [n[w]["ms_per_pair"] for n, _ in runs]
    lux_ms = [l[w]["ms_per_pair"] for _, l in runs]
    ratios = [a / b for a, b in zip(np_ms, lux_ms)]
    print(f"{w:<32} {statistics.median(np_ms):>14.1f} {statistics.median(lux_ms):>12.1f} "
          f"{statistics.median(ratios):>9.2f}x  {' '.join(f'{x:.2f}' for x in ratios)}")
PY
rm -rf "$OUT"
