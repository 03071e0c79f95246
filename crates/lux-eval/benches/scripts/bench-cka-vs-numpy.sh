#!/usr/bin/env bash
# Linear CKA, lux vs numpy, side by side on the same machine (TARGETS.md workload:
# n = 4096, d = 576, 30 layers), in ms per pair and in achieved GFLOP/s against the f32 GEMM
# peak measured in the same run.
#
#   crates/lux-eval/benches/scripts/bench-cka-vs-numpy.sh [ROUNDS] [LAYERS]
#
# Workloads: LAYERS lb–en layer pairs; 3 × LAYERS pairs of lb against en, fr, de; an
# M × M cross-layer map (M = LUX_CKA_BENCH_MAP_LAYERS, default 10, at most LAYERS).
#
# Each round runs numpy (3 GEMMs per pair) and then lux (`benches/cka.rs` in its quick
# mode); each side then times plain matrix products (CKA's cross-product shape
# [576, 4096]·[4096, 576] and a square 2048³) through its own kernel: numpy's BLAS, burn's
# flex matmul (the `gemm` crate). The summary gives both medians, the median of the per-round
# ratios numpy / lux (> 1: lux is faster), the exact-arithmetic bound (the ratio if both
# multiplied at the same rate: numpy's flops / lux's, see `benches/cka.rs`), and each side's
# GFLOP/s as a share of the round's machine peak (the fastest product either side ran).
#
# Environment: PROFILE (cargo profile, default dev: opt-level 3, the build the README's
# commands share), LUX_NUMPY_VENV (default ~/.cache/lux/venvs/numpy, made on demand with
# numpy and threadpoolctl from PyPI), LUX_CKA_BENCH_REPEATS (runs per median, default 3).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines here set for old OpenBLAS builds
# and which slow a current numpy, are unset for the numpy command only; the BLAS kernel it ran
# is printed.
set -euo pipefail

ROUNDS="${1:-3}"
LAYERS="${2:-30}"
REPEATS="${LUX_CKA_BENCH_REPEATS:-3}"
MAP="${LUX_CKA_BENCH_MAP_LAYERS:-10}"
MAP=$(( MAP < LAYERS ? MAP : LAYERS ))
PROFILE="${PROFILE:-dev}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
VENV="${LUX_NUMPY_VENV:-$HOME/.cache/lux/venvs/numpy}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, threadpoolctl' 2>/dev/null; then
    echo "making the numpy virtualenv in $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy threadpoolctl
fi

cd "$ROOT"
echo "building the lux benchmark: cargo bench --workspace --bench cka --profile $PROFILE --no-run" >&2
BIN="$(cargo bench --workspace --bench cka --profile "$PROFILE" --no-run --message-format=json \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "cka" and m.get("executable"):
        print(m["executable"])' | tail -1)"
if [ -z "$BIN" ]; then
    echo "the cka bench did not build" >&2
    exit 1
fi

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
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
med = statistics.median

def load(side, r):
    lines = [json.loads(l) for l in open(f"{out}/{side}-{r}.jsonl")]
    return ({j["workload"]: j for j in lines if "workload" in j},
            {j["gemm"]: j for j in lines if "gemm" in j})

runs = [(load("numpy", r), load("lux", r)) for r in range(1, rounds + 1)]
# A round's machine peak: the fastest full product either side ran in it (the syrk Gram's
# flops are half a product's and do not count).
peaks = [max(g["gflops"] for side in (n_g, l_g) for name, g in side.items() if not name.startswith("gram"))
         for (_, n_g), (_, l_g) in runs]
blas = next(iter(runs[0][0][0].values())).get("blas")
print(f"numpy BLAS: {', '.join(blas) if blas else 'unknown'}")
print()
print("f32 GEMM in the same rounds, GFLOP/s (median; per round)")
names = list(runs[0][0][1])
for name in names + [n for n in runs[0][1][1] if n not in names]:
    cells = []
    for side, label in ((0, "numpy"), (1, "lux/burn")):
        vals = [run[side][1][name]["gflops"] for run in runs if name in run[side][1]]
        cells.append(f"{label} {med(vals):6.1f} ({' '.join(f'{v:.0f}' for v in vals)})" if vals else f"{label}      -")
    print(f"  {name:<22} {cells[0]:<30} {cells[1]}")
print(f"  machine peak per round (fastest full product): {' '.join(f'{p:.1f}' for p in peaks)}")
print()
print(f"{'workload':<30} {'numpy ms/pair':>13} {'lux ms/pair':>11} {'numpy/lux':>9} {'bound':>6}"
      f" {'numpy GFLOP/s':>13} {'lux GFLOP/s':>11} {'lux % of peak':>13}  numpy/lux per round")
for w in runs[0][0][0]:
    np_w = [n[0][w] for n, _ in runs]
    lux_w = [l[0][w] for _, l in runs]
    ratios = [a["ms_per_pair"] / b["ms_per_pair"] for a, b in zip(np_w, lux_w)]
    bound = np_w[0]["gflop"] / lux_w[0]["gflop"]
    np_share = med([a["gflops"] / p for a, p in zip(np_w, peaks)])
    lux_share = med([b["gflops"] / p for b, p in zip(lux_w, peaks)])
    print(f"{w:<30} {med(a['ms_per_pair'] for a in np_w):>13.1f} {med(b['ms_per_pair'] for b in lux_w):>11.1f}"
          f" {med(ratios):>8.2f}x {bound:>5.2f}x"
          f" {med(a['gflops'] for a in np_w):>7.1f} ({100 * np_share:2.0f}%)"
          f" {med(b['gflops'] for b in lux_w):>11.1f} {100 * lux_share:>12.0f}%  {' '.join(f'{x:.2f}' for x in ratios)}")
PY
