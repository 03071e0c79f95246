#!/usr/bin/env python3
"""The numpy side of `benches/cka.rs`: linear CKA with 3 GEMMs per pair (YᵀX, XᵀX, YᵀY),
n = 4096, d = 576, float32, as in TARGETS.md: 30 lb–en layer pairs, 90 pairs of lb against
en, fr and de, and a 10 × 10 cross-layer map.

Prints one JSON line per workload: {"workload", "pairs", "seconds" (median over --repeats),
"ms_per_pair", "blas"}. Run by `benches/scripts/bench-cka-vs-numpy.sh`.
"""
import argparse
import json
import time

import numpy as np

ROWS, COLS = 4096, 576


def linear_cka(x, y):
    xc = x - x.mean(axis=0, keepdims=True)
    yc = y - y.mean(axis=0, keepdims=True)
    cross = np.linalg.norm(yc.T @ xc) ** 2
    return cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=30)
    p.add_argument("--map-layers", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{i['internal_api']} {i.get('architecture')} {i['num_threads']} threads" for i in threadpool_info()]
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
        run()  # warm-up
        seconds = timed(run, args.repeats)
        n_pairs = len(pairs)
        print(json.dumps({"workload": name, "pairs": n_pairs, "seconds": seconds,
                          "ms_per_pair": 1e3 * seconds / n_pairs, "blas": blas}), flush=True)


if __name__ == "__main__":
    main()
