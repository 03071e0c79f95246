//! Linear CKA on the TARGETS.md workload: n = 4096 sentences, d = 576 (SmolLM2-135M's hidden
//! size), 30 layers, from raw hidden states to CKA values.
//!
//! - `30_layer_pairs`: `lb` layer l vs `en` layer l, l = 0..30 (no Gram can be shared: each
//!   appears in one pair).
//! - `90_pairs_lb_vs_en_fr_de`: `lb` against three languages at every layer; `lb`'s Grams are
//!   computed once and shared by its three pairs.
//! - `100_pairs_cross_layer_map`: every layer of `lb` against every layer of `en`, 10 × 10
//!   layers (`LUX_CKA_BENCH_MAP_LAYERS`); each Gram is shared by 10 pairs.
//!
//! `benches/cka_numpy.py` runs the same workloads in numpy (3 GEMMs per pair);
//! `benches/scripts/bench-cka-vs-numpy.sh` runs both, round after round, and prints the
//! ratio. `LUX_CKA_BENCH_LAYERS` changes the layer count; `LUX_CKA_BENCH_QUICK=R` skips
//! criterion and prints one JSON line per workload (median of `R` runs; wall time as in
//! `cka_numpy.py`, for that script, and CPU time), then one line per plain matrix product
//! (the GEMM peak of the same run, below); `LUX_CKA_BENCH_PHASES=R` times the steps of one
//! pair instead.
//!
//! # Arithmetic, achieved GFLOP/s and the exact-arithmetic bound
//!
//! Almost all of CKA's arithmetic is in three matrix products per pair: the cross product
//! `YcᵀXc` and the two Grams `XcᵀXc`, `YcᵀYc` (centring, the checks and the norms are
//! `O(n·d)` passes). Counted as the products are actually computed, with `C = 2·n·d²` flops
//! for a full `[d, n]·[n, d]` product:
//!
//! - lux: one cross product per pair (`C`), and one Gram per (set, layer) however many pairs
//!   share it, computed in column bands of which the mirrored half is skipped: band
//!   `[s, e)` costs `2·n·(e − s)·(d − s)`, `13/24·C` in all at d = 576 ([`gram_flops`]).
//! - numpy: `x.T @ x` on one buffer goes to BLAS's symmetric rank-k update, which computes
//!   one triangle, `n·d·(d + 1)` flops (≈ `C/2`; `cka_numpy.py` times it against a cross
//!   product of the same shape to show it); per pair `C + 2·n·d·(d + 1)`, nothing shared.
//!
//! Achieved GFLOP/s is that count over the measured wall time of the whole computation
//! (checks and centring included, so it is a lower bound on the products' own rate). The
//! ratio numpy-flops / lux-flops is the *exact-arithmetic bound*: how much faster than numpy
//! lux would be if both multiplied at the same rate — at n = 4096, d = 576, 0.96× for 30
//! pairs with nothing shared (lux's banded Gram does 13/24 of a product, BLAS's syrk 1/2),
//! 1.16× for 90 pairs and 1.81× for the 10 × 10 map. A measured ratio above the bound means
//! lux's products run faster than numpy's; below it, slower.
//!
//! The GEMM peak is measured in the same process, right after the workloads, with burn's
//! `matmul` on the flex backend (the `gemm` crate, the kernel CKA uses): the cross-product
//! shape `[576, 4096]·[4096, 576]` (`Xᵀ` as a transposed view, as in the library) and a
//! square 2048³ product; `cka_numpy.py` measures the same two through numpy. Machines here
//! are shared and noisy, so only a peak from the same run is a fair denominator.

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};
use lux_eval::cka::{CenteredFeatures, LayerwiseCka};

const ROWS: usize = 4096;
const COLS: usize = 576;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn hidden_states(layers: usize, device: &Device) -> Vec<Tensor<2>> {
    (0..layers)
        .map(|_| Tensor::random([ROWS, COLS], Distribution::Normal(0.0, 1.0), device))
        .collect()
}

/// Flops of lux's banded Gram `XcᵀXc` of `[rows, cols]` features: the column bands of
/// `lux_eval::cka::CenteredFeatures` (about 48 columns, edges on multiples of 16), band
/// `[s, e)` multiplied with columns `s..cols` only. At 576 columns: 12 bands, 13/24 of a full
/// product. Mirrors `features::gram_bands` (private to the crate): change both together.
fn gram_flops(rows: usize, cols: usize) -> f64 {
    const BAND_COLS: usize = 48;
    const ALIGN: usize = 16;
    let bands = ((cols + BAND_COLS / 2) / BAND_COLS).max(1);
    let units = cols.div_ceil(ALIGN);
    let mut edges: Vec<usize> = (0..=bands)
        .map(|i| (i * units / bands * ALIGN).min(cols))
        .collect();
    edges.dedup();
    edges
        .windows(2)
        .map(|w| 2.0 * rows as f64 * (w[1] - w[0]) as f64 * (cols - w[0]) as f64)
        .sum()
}

/// Flops of one full `[cols, rows]·[rows, cols]` product: the cross product `YcᵀXc`.
fn cross_flops(rows: usize, cols: usize) -> f64 {
    2.0 * rows as f64 * (cols * cols) as f64
}

/// One workload: its name, its number of CKA values, the flops of the matrix products lux
/// computes for it (`grams` banded Grams and one cross product per pair), and the computation.
struct Workload {
    name: String,
    pairs: usize,
    flops: f64,
    run: Box<dyn Fn() -> Vec<Vec<f64>>>,
}

impl Workload {
    fn new(name: String, pairs: usize, grams: usize, run: Box<dyn Fn() -> Vec<Vec<f64>>>) -> Self {
        let flops = grams as f64 * gram_flops(ROWS, COLS) + pairs as f64 * cross_flops(ROWS, COLS);
        Workload {
            name,
            pairs,
            flops,
            run,
        }
    }
}

fn workloads() -> Vec<Workload> {
    let device = Device::flex();
    let layers = env_usize("LUX_CKA_BENCH_LAYERS", 30);
    let map_layers = env_usize("LUX_CKA_BENCH_MAP_LAYERS", 10).min(layers);
    let sets: Vec<Vec<Tensor<2>>> = (0..4).map(|_| hidden_states(layers, &device)).collect();
    let (lb, en) = (sets[0].clone(), sets[1].clone());
    let (lb_map, en_map): (Vec<Tensor<2>>, Vec<Tensor<2>>) = (
        lb.iter().take(map_layers).cloned().collect(),
        en.iter().take(map_layers).cloned().collect(),
    );
    vec![
        // Each pair's two Grams are its own.
        Workload::new(
            format!("{layers}_layer_pairs"),
            layers,
            2 * layers,
            Box::new(move || vec![LayerwiseCka::pair(lb.clone(), en.clone()).unwrap()]),
        ),
        // Four sets of `layers` Grams, `lb`'s shared by three pairs.
        Workload::new(
            format!("{}_pairs_lb_vs_en_fr_de", 3 * layers),
            3 * layers,
            4 * layers,
            Box::new(move || {
                let mut set = LayerwiseCka::new();
                for (name, reps) in ["lb", "en", "fr", "de"].iter().zip(&sets) {
                    set.add(*name, reps.clone()).unwrap();
                }
                ["en", "fr", "de"]
                    .iter()
                    .map(|o| set.per_layer("lb", o).unwrap())
                    .collect()
            }),
        ),
        // Two sets of `map_layers` Grams, each shared by `map_layers` pairs.
        Workload::new(
            format!("{}_pairs_cross_layer_map", map_layers * map_layers),
            map_layers * map_layers,
            2 * map_layers,
            Box::new(move || {
                let mut set = LayerwiseCka::new();
                set.add("lb", lb_map.clone()).unwrap();
                set.add("en", en_map.clone()).unwrap();
                set.cross_layer("lb", "en").unwrap()
            }),
        ),
    ]
}

fn criterion_benches() {
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("linear_cka");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    for w in workloads() {
        group.throughput(Throughput::Elements(w.pairs as u64));
        group.bench_function(&w.name, |b| b.iter(|| black_box((w.run)())));
    }
    group.finish();
    c.final_summary();
}

/// Median wall and process CPU time (seconds) of `repeats` runs of `f`, after one warm-up.
fn median_times(repeats: usize, f: &dyn Fn()) -> (f64, f64) {
    f();
    let (mut times, mut cpu): (Vec<f64>, Vec<f64>) = (0..repeats.max(1))
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_ms());
            f();
            (t.elapsed().as_secs_f64(), (cpu_ms() - c) / 1e3)
        })
        .unzip();
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (times[times.len() / 2], cpu[cpu.len() / 2])
}

/// Median wall time of `repeats` runs of each workload, as JSON lines, with the median CPU
/// time of the process over the same runs (all threads: on a busy machine it tells the work
/// done apart from the time waited for a core) and the achieved GFLOP/s (module docs); then
/// the GEMM peak of this run, one line per product shape.
fn quick(repeats: usize) {
    for w in workloads() {
        let (seconds, cpu_seconds) = median_times(repeats, &|| {
            black_box((w.run)());
        });
        println!(
            "{{\"workload\": \"{}\", \"pairs\": {}, \"seconds\": {seconds}, \"ms_per_pair\": {}, \
             \"cpu_ms_per_pair\": {}, \"gflop\": {}, \"gflops\": {}}}",
            w.name,
            w.pairs,
            1e3 * seconds / w.pairs as f64,
            1e3 * cpu_seconds / w.pairs as f64,
            w.flops / 1e9,
            w.flops / seconds / 1e9
        );
    }
    for line in gemm_peak(repeats) {
        println!("{line}");
    }
}

/// The f32 GEMM rate of burn's flex `matmul` in this process, as JSON lines: the cross product
/// of CKA (`[576, 4096]·[4096, 576]`, the left side a transposed view as in the library) and a
/// square 2048³ product; each timed `repeats` times with the result read back, as CKA does.
fn gemm_peak(repeats: usize) -> Vec<String> {
    let device = Device::flex();
    let random =
        |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let (x, y) = (random([ROWS, COLS]), random([ROWS, COLS]));
    let (a, b) = (random([2048, 2048]), random([2048, 2048]));
    // (name, flops, one product with its result read back)
    type Product = (String, f64, Box<dyn Fn()>);
    let products: [Product; 2] = [
        (
            format!("cross_{COLS}x{ROWS}x{COLS}"),
            cross_flops(ROWS, COLS),
            Box::new(move || {
                black_box(y.clone().transpose().matmul(x.clone()).into_data());
            }),
        ),
        (
            "square_2048".to_string(),
            2.0 * 2048f64.powi(3),
            Box::new(move || {
                black_box(a.clone().matmul(b.clone()).into_data());
            }),
        ),
    ];
    products
        .into_iter()
        .map(|(name, flops, run)| {
            let (seconds, _) = median_times(repeats, &*run);
            format!(
                "{{\"gemm\": \"{name}\", \"seconds\": {seconds}, \"gflops\": {}}}",
                flops / seconds / 1e9
            )
        })
        .collect()
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// CPU time of the whole process (all threads), in ms.
fn cpu_ms() -> f64 {
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid timespec; 2 is CLOCK_PROCESS_CPUTIME_ID on Linux.
    unsafe { clock_gettime(2, &mut t) };
    t.sec as f64 * 1e3 + t.nsec as f64 * 1e-6
}

/// Median wall and CPU time of each step of one pair, `[4096, 576]` each, done with the same
/// tensor ops as the library: where a pair's time goes. Run with `RAYON_NUM_THREADS=1` on a
/// busy machine to compare steps by the work they do.
fn phases(repeats: usize) {
    let device = Device::flex();
    let x = Tensor::<2>::random([ROWS, COLS], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<2>::random([ROWS, COLS], Distribution::Normal(0.0, 1.0), &device);
    let time = |name: &str, f: &dyn Fn()| {
        f();
        let (mut t, mut c): (Vec<f64>, Vec<f64>) = (0..repeats.max(1))
            .map(|_| {
                let (s, c) = (Instant::now(), cpu_ms());
                f();
                (s.elapsed().as_secs_f64() * 1e3, cpu_ms() - c)
            })
            .unzip();
        t.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        println!(
            "{name:<40} {:>8.2} ms wall {:>8.2} ms cpu",
            t[t.len() / 2],
            c[c.len() / 2]
        );
    };
    let xc = x.clone().sub(x.clone().mean_dim(0));
    let yc = y.clone().sub(y.clone().mean_dim(0));
    time("NaN scan: is_finite().all()", &|| {
        black_box(x.clone().is_finite().all().into_scalar::<bool>());
    });
    time("column means", &|| {
        black_box(x.clone().mean_dim(0).into_data());
    });
    time("centring (means + sub)", &|| {
        let m = x.clone().mean_dim(0);
        black_box(x.clone().sub(m).into_data());
    });
    time("square().sum() of [n, d]", &|| {
        black_box(x.clone().square().sum().into_scalar::<f64>());
    });
    time("cross product YcᵀXc", &|| {
        black_box(yc.clone().transpose().matmul(xc.clone()).into_data());
    });
    for bands in [1usize, 4, 6, 12, 18, 24] {
        time(&format!("Gram XcᵀXc in {bands} bands"), &|| {
            for i in 0..bands {
                let (s, e) = (i * COLS / bands, (i + 1) * COLS / bands);
                let band = xc.clone().slice([0..ROWS, s..e]);
                let rest = xc.clone().slice([0..ROWS, s..COLS]);
                black_box(band.transpose().matmul(rest).into_data());
            }
        });
    }
    time("CenteredFeatures::new", &|| {
        black_box(CenteredFeatures::new(x.clone(), "x").unwrap());
    });
    let fx = CenteredFeatures::new(x.clone(), "x").unwrap();
    let fy = CenteredFeatures::new(y.clone(), "y").unwrap();
    time("CenteredFeatures::cross_sq", &|| {
        black_box(fx.cross_sq(&fy).unwrap());
    });
    time("LayerwiseCka::pair (1 layer)", &|| {
        black_box(LayerwiseCka::pair(vec![x.clone()], vec![y.clone()]).unwrap());
    });
}

fn main() {
    // Freed buffers stay in the process for the next pair (see `lux_train::allocator`), as in
    // the `lux` binary: 30 pairs went from 40.5 to 30.8 ms per pair with it.
    lux_train::keep_freed_memory();
    if let Some(repeats) = std::env::var("LUX_CKA_BENCH_PHASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return phases(repeats);
    }
    match std::env::var("LUX_CKA_BENCH_QUICK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(repeats) => quick(repeats),
        None => criterion_benches(),
    }
}
