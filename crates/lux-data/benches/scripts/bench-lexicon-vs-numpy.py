#!/usr/bin/env python3
"""The Procrustes + CSLS step in numpy, as MUSE writes it, on the data lux's bench times.

Run by bench-lexicon-vs-numpy.sh (which sets OPENBLAS_NUM_THREADS); by hand:
  OPENBLAS_NUM_THREADS=2 /tmp/np-venv/bin/python bench-lexicon-vs-numpy.py DIR [N] [D]

Writes into DIR: src.f32, tgt.f32 (row-major little-endian float32, N x D, rows unit length),
seed.u32 (5000 pairs: src row, tgt row), truth.u32 (tgt row of each src row), and
numpy.json (median seconds of 3 runs, P@1, the top-1 of every source word).

The data: Gaussian source vectors; the target is the source rotated by a random orthogonal
matrix plus Gaussian noise of norm NOISE, rows permuted; both renormed.

The step (float32 throughout, as MUSE): W = U V^T from svd(Y^T X) over the seed pairs;
mapped = X W^T; r_src / r_tgt = mean of the 10 best cosines of each source / target word
(batches of 1024 queries, one matrix product and one np.partition per batch); then the CSLS
top-10 of every source word (batches of 1024: product, 2s - r_src - r_tgt, np.argpartition,
sort of the 10). P@1 = share of source words whose CSLS top-1 is their true translation.
"""

import json
import os
import sys
import time

import numpy as np

KNN, TOP, BS, SEED_PAIRS = 10, 10, 1024, 5000
NOISE = 5.0  # norm of the added noise, relative to the unit vectors


def nn_avg(query, base, knn):
    out = np.empty(len(query), dtype=np.float32)
    for i in range(0, len(query), BS):
        s = query[i : i + BS] @ base.T
        out[i : i + BS] = np.partition(s, -knn, axis=1)[:, -knn:].mean(axis=1)
    return out


def step(src, tgt, seed):
    m = tgt[seed[:, 1]].T @ src[seed[:, 0]]
    u, _, vt = np.linalg.svd(m)
    w = (u @ vt).astype(np.float32)
    mapped = src @ w.T
    r_src = nn_avg(mapped, tgt, KNN)
    r_tgt = nn_avg(tgt, mapped, KNN)
    top = np.empty((len(src), TOP), dtype=np.int64)
    for i in range(0, len(src), BS):
        s = 2 * (mapped[i : i + BS] @ tgt.T) - r_src[i : i + BS, None] - r_tgt[None, :]
        part = np.argpartition(-s, TOP, axis=1)[:, :TOP]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
        top[i : i + BS] = np.take_along_axis(part, order, axis=1)
    return w, top


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    d = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)
    src = rng.normal(size=(n, d)).astype(np.float32)
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    tgt_true = src @ q.T.astype(np.float32) + (NOISE / np.sqrt(d)) * rng.normal(size=(n, d)).astype(np.float32)
    perm = rng.permutation(n)
    tgt = np.empty_like(tgt_true)
    tgt[perm] = tgt_true
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    tgt = tgt.astype(np.float32)
    seed_rows = rng.choice(n, SEED_PAIRS, replace=False)
    seed = np.stack([seed_rows, perm[seed_rows]], axis=1).astype(np.uint32)
    src.astype("<f4").tofile(os.path.join(out, "src.f32"))
    tgt.astype("<f4").tofile(os.path.join(out, "tgt.f32"))
    seed.astype("<u4").tofile(os.path.join(out, "seed.u32"))
    perm.astype("<u4").tofile(os.path.join(out, "truth.u32"))

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        w, top = step(src, tgt, seed.astype(np.int64))
        times.append(time.perf_counter() - t0)
    p1 = float(np.mean(top[:, 0] == perm))
    res = {
        "n": n,
        "d": d,
        "seconds": sorted(times)[1],
        "all_seconds": times,
        "p_at_1": p1,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    with open(os.path.join(out, "numpy.json"), "w") as f:
        json.dump(res, f)
    top[:, 0].astype("<u4").tofile(os.path.join(out, "numpy_top1.u32"))
    print(f"numpy: {res['seconds']:.3f} s (median of 3: {', '.join(f'{t:.3f}' for t in times)}), P@1 {100 * p1:.2f}%")


if __name__ == "__main__":
    main()
