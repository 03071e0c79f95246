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
//! `cka_numpy.py`, for that script, and CPU time); `LUX_CKA_BENCH_PHASES=R` times the steps
//! of one pair instead.

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

/// One workload: its name, its number of CKA values, and the computation.
struct Workload {
    name: String,
    pairs: usize,
    run: Box<dyn Fn() -> Vec<Vec<f64>>>,
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
        Workload {
            name: format!("{layers}_layer_pairs"),
            pairs: layers,
            run: Box::new(move || vec![LayerwiseCka::pair(lb.clone(), en.clone()).unwrap()]),
        },
        Workload {
            name: format!("{}_pairs_lb_vs_en_fr_de", 3 * layers),
            pairs: 3 * layers,
            run: Box::new(move || {
                let mut set = LayerwiseCka::new();
                for (name, reps) in ["lb", "en", "fr", "de"].iter().zip(&sets) {
                    set.add(*name, reps.clone()).unwrap();
                }
                ["en", "fr", "de"]
                    .iter()
                    .map(|o| set.per_layer("lb", o).unwrap())
                    .collect()
            }),
        },
        Workload {
            name: format!("{}_pairs_cross_layer_map", map_layers * map_layers),
            pairs: map_layers * map_layers,
            run: Box::new(move || {
                let mut set = LayerwiseCka::new();
                set.add("lb", lb_map.clone()).unwrap();
                set.add("en", en_map.clone()).unwrap();
                set.cross_layer("lb", "en").unwrap()
            }),
        },
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

/// Median wall time of `repeats` runs of each workload, as JSON lines, with the median CPU
/// time of the process over the same runs (all threads: on a busy machine it tells the work
/// done apart from the time waited for a core).
fn quick(repeats: usize) {
    for w in workloads() {
        black_box((w.run)()); // warm-up
        let (mut times, mut cpu): (Vec<f64>, Vec<f64>) = (0..repeats.max(1))
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_ms());
                black_box((w.run)());
                (t.elapsed().as_secs_f64(), (cpu_ms() - c) / 1e3)
            })
            .unzip();
        times.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        let seconds = times[times.len() / 2];
        let cpu_seconds = cpu[cpu.len() / 2];
        println!(
            "{{\"workload\": \"{}\", \"pairs\": {}, \"seconds\": {seconds}, \"ms_per_pair\": {}, \
             \"cpu_ms_per_pair\": {}}}",
            w.name,
            w.pairs,
            1e3 * seconds / w.pairs as f64,
            1e3 * cpu_seconds / w.pairs as f64
        );
    }
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
