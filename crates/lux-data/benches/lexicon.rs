//! The Procrustes + CSLS step of lexicon induction: W from a 5,000-pair seed, then the CSLS
//! top-10 of every source word (n = 20,000, d = 300, like spaCy's French table).
//!
//! Two modes:
//! - `cargo bench --workspace --bench lexicon --profile dev`: criterion on random data made here (n = 4,000
//!   to keep the run short).
//! - `LUX_LEXICON_BENCH_DATA=DIR cargo bench --workspace --bench lexicon --profile dev`: times the step on
//!   the data `scripts/bench-lexicon-vs-numpy.py` wrote into DIR, compares with the numpy
//!   timing and P@1 it recorded, and prints the ratio. `scripts/bench-lexicon-vs-numpy.sh`
//!   runs both in one go.

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use lux_core::rng::SplitMix64;
use lux_data::lexicon::{Mapping, Retrieval, renorm_rows, retrieve};

/// The timed step; returns each source word's CSLS top-1.
fn step(src: &[f32], tgt: &[f32], d: usize, seed: &[(usize, usize)]) -> Vec<u32> {
    let n = src.len() / d;
    let mut x = Vec::with_capacity(seed.len() * d);
    let mut y = Vec::with_capacity(seed.len() * d);
    for &(s, t) in seed {
        x.extend_from_slice(&src[s * d..(s + 1) * d]);
        y.extend_from_slice(&tgt[t * d..(t + 1) * d]);
    }
    let t0 = Instant::now();
    let w = Mapping::procrustes_rows(&x, &y, d).expect("procrustes");
    let t1 = Instant::now();
    let mapped = w.apply_rows(src);
    let queries: Vec<usize> = (0..n).collect();
    let top = retrieve(
        &mapped,
        tgt,
        d,
        &queries,
        10,
        Retrieval::Csls { knn: 10 },
        None,
    );
    if std::env::var_os("LUX_LEXICON_BENCH_VERBOSE").is_some() {
        use burn::tensor::{Device, Tensor, TensorData};
        let dev = Device::flex();
        let b = Tensor::<2>::from_data(TensorData::new(tgt.to_vec(), [n, d]), &dev);
        let t2 = Instant::now();
        for s in (0..n).step_by(512) {
            let m = 512.min(n - s);
            let a = Tensor::<2>::from_data(
                TensorData::new(mapped[s * d..(s + m) * d].to_vec(), [m, d]),
                &dev,
            );
            let v = a
                .matmul(b.clone().transpose())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            std::hint::black_box(v);
        }
        eprintln!(
            "  one pass of products only: {:.3} s",
            t2.elapsed().as_secs_f64()
        );
        eprintln!(
            "  procrustes {:.3} s, mapping + CSLS {:.3} s",
            (t1 - t0).as_secs_f64(),
            t1.elapsed().as_secs_f64()
        );
    }
    (0..n).map(|q| top.targets(q)[0]).collect()
}

fn read_f32(path: &Path) -> Vec<f32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn read_u32(path: &Path) -> Vec<u32> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn compare(dir: &Path) {
    let np: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("numpy.json")).expect("numpy.json"))
            .expect("numpy.json is JSON");
    let d = np["d"].as_u64().expect("d") as usize;
    let src = read_f32(&dir.join("src.f32"));
    let tgt = read_f32(&dir.join("tgt.f32"));
    let seed: Vec<(usize, usize)> = read_u32(&dir.join("seed.u32"))
        .chunks_exact(2)
        .map(|p| (p[0] as usize, p[1] as usize))
        .collect();
    let truth = read_u32(&dir.join("truth.u32"));
    let np_top1 = read_u32(&dir.join("numpy_top1.u32"));
    let mut times = Vec::new();
    let mut top1 = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        top1 = step(&src, &tgt, d, &seed);
        times.push(t0.elapsed().as_secs_f64());
    }
    let all = times.clone();
    times.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let lux_s = times[1];
    let n = truth.len();
    let p1 = top1.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / n as f64;
    let agree = top1.iter().zip(&np_top1).filter(|(a, b)| a == b).count();
    let np_s = np["seconds"].as_f64().expect("seconds");
    let np_p1 = np["p_at_1"].as_f64().expect("p_at_1");
    println!(
        "Procrustes + CSLS, n = {n}, d = {d}, seed {} pairs, rayon threads {}",
        seed.len(),
        rayon::current_num_threads()
    );
    println!(
        "numpy (OpenBLAS threads {}): {np_s:.3} s  P@1 {:.2}%",
        np["threads"],
        100.0 * np_p1
    );
    println!(
        "lux:  {lux_s:.3} s (median of 3: {})  P@1 {:.2}%",
        all.iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * p1
    );
    println!(
        "lux is {:.2}x faster; top-1 identical for {agree}/{n} source words",
        np_s / lux_s
    );
}

fn random_case(n: usize, d: usize) -> (Vec<f32>, Vec<f32>, Vec<(usize, usize)>) {
    let mut r = SplitMix64::new(3);
    let mut src: Vec<f32> = (0..n * d).map(|_| r.unit() as f32 - 0.5).collect();
    renorm_rows(&mut src, d);
    let mut tgt: Vec<f32> = src
        .iter()
        .map(|v| v + 0.02 * (r.unit() as f32 - 0.5))
        .collect();
    renorm_rows(&mut tgt, d);
    let seed = (0..n.min(5000)).step_by(2).map(|i| (i, i)).collect();
    (src, tgt, seed)
}

fn bench(c: &mut Criterion) {
    let (n, d) = (4000, 300);
    let (src, tgt, seed) = random_case(n, d);
    let mut g = c.benchmark_group("lexicon");
    g.sample_size(10);
    g.bench_function("procrustes_csls_4000x300", |b| {
        b.iter(|| step(&src, &tgt, d, &seed))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(dir) = std::env::var_os("LUX_LEXICON_BENCH_DATA") {
        compare(Path::new(&dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
