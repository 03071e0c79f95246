#!/usr/bin/env python3
"""The numpy side of `benches/cka.rs`: linear CKA with 3 GEMMs per pair (YᵀX, XᵀX, YᵀY),
n = 4096, d = 576, float32, as in TARGETS.md: 30 lb–en layer pairs, 90 pairs of lb against
en, fr and de, and a 10 × 10 cross-layer map.

Prints one JSON line per workload: {"workload", "pairs", "seconds" (median over --repeats),
"ms_per_pair", "gflop", "gflops", "blas"}, then one line per plain product, the GEMM peak of
this run: {"gemm", "seconds", "gflops"} for the cross product's shape [576, 4096]·[4096, 576]
and a square 2048³ product, and {"gemm": "gram_576x4096x576", ...} for `x.T @ x` on one
buffer, which numpy hands to BLAS's symmetric rank-k update (syrk): its time against the
cross product's shows that only one triangle, n·d·(d + 1) flops, is computed.

Flops are counted as the products are computed (see the module docs of `benches/cka.rs`):
per pair the cross product (2·n·d²) and two syrk Grams (n·d·(d + 1) each); GFLOP/s is that
count over the wall time of the whole computation, centring included. Run by
`benches/scripts/bench-cka-vs-numpy.sh`.
"""
import argparse
import json
import time

import numpy as np

ROWS, COLS = 4096, 576
CROSS_FLOPS = 2 * ROWS * COLS * COLS
SYRK_FLOPS = ROWS * COLS * (COLS + 1)


def linear_cka(x, y):
    xc = x - x.mean(axis=0, keepdims=True)
    yc = y - y.mean(axis=0, keepdims=True)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    return cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def timed(fn, repeats):
    """Median wall time of `repeats` runs of `fn`, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def gemm_peak(rng, repeats):
    """The f32 GEMM rate of this numpy in this process: CKA's cross product, its Gram (syrk),
    and a square 2048³ product."""
    x, y = (rng.standard_normal((ROWS, COLS), dtype=np.float32) for _ in range(2))
    a, b = (rng.standard_normal((2048, 2048), dtype=np.float32) for _ in range(2))
    products = [
        (f"cross_{COLS}x{ROWS}x{COLS}", CROSS_FLOPS, lambda: y.T @ x),
        (f"gram_{COLS}x{ROWS}x{COLS}", SYRK_FLOPS, lambda: x.T @ x),
        ("square_2048", 2 * 2048 ** 3, lambda: a @ b),
    ]
    for name, flops, run in products:
        seconds = timed(run, repeats)
        print(json.dumps({"gemm": name, "seconds": seconds, "gflops": flops / seconds / 1e9}),
              flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=30)
    p.add_argument("--map-layers", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')} {i['num_threads']} threads"
                for i in threadpool_info()]
    except ImportError:
        blas = ["unknown (pip install threadpoolctl to see the BLAS kernel)"]

    rng = np.random.default_rng(0)
    langs = {name: [rng.standard_normal((ROWS, COLS), dtype=np.float32) for _ in range(args.layers)]
             for name in ("lb", "en", "fr", "de")}

    L, M = args.layers, args.map_layers
    diagonal = lambda pairs: [(langs[a][l], langs[b][l]) for a, b in pairs for l in range(L)]
    workloads = [
        (f"{L}_layer_pairs", diagonal([("lb", "en")])),
        (f"{3 * L}_pairs_lb_vs_en_fr_de", diagonal([("lb", "en"), ("lb", "fr"), ("lb", "de")])),
        (f"{M * M}_pairs_cross_layer_map",
         [(langs["lb"][i], langs["en"][j]) for i in range(M) for j in range(M)]),
    ]
    for name, pairs in workloads:
        def run():
            return [linear_cka(x, y) for x, y in pairs]
        seconds = timed(run, args.repeats)
        n_pairs = len(pairs)
        flops = n_pairs * (CROSS_FLOPS + 2 * SYRK_FLOPS)
        print(json.dumps({"workload": name, "pairs": n_pairs, "seconds": seconds,
                          "ms_per_pair": 1e3 * seconds / n_pairs, "gflop": flops / 1e9,
                          "gflops": flops / seconds / 1e9, "blas": blas}), flush=True)
    gemm_peak(rng, args.repeats)


if __name__ == "__main__":
    main()
