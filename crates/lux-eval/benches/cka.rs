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
//! criterion and prints one JSON line per workload (median of `R` runs), the format of
//! `cka_numpy.py`, for that script.

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};
use lux_eval::cka::LayerwiseCka;

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

/// Median wall time of `repeats` runs of each workload, as JSON lines.
fn quick(repeats: usize) {
    for w in workloads() {
        black_box((w.run)()); // warm-up
        let mut times: Vec<f64> = (0..repeats.max(1))
            .map(|_| {
                let t = Instant::now();
                black_box((w.run)());
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let seconds = times[times.len() / 2];
        println!(
            "{{\"workload\": \"{}\", \"pairs\": {}, \"seconds\": {seconds}, \"ms_per_pair\": {}}}",
            w.name,
            w.pairs,
            1e3 * seconds / w.pairs as f64
        );
    }
}

fn main() {
    match std::env::var("LUX_CKA_BENCH_QUICK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(repeats) => quick(repeats),
        None => criterion_benches(),
    }
}
