//! The matrix products of one SmolLM2-135M decoding step on a quantised base (random blocks of
//! the file's types: `Q4_1` layers, the `Q8_0` tied head), per path:
//!
//! - `exact`: [`QuantizedWeight::matmul_transposed`], `f32` activations (what training and
//!   prefill use);
//! - `q8`: [`QuantizedWeight::matmul_transposed_q8`], 8-bit activations and integer dot
//!   products (what decoding uses);
//!
//! at 1 and 8 activation rows (decoding at batch 1 and 8) and at 16 to 64 (short prompts). It times the 30 layers × 7
//! projections and the head separately (`reps` rounds after a warm-up; median per step) and
//! prints one line per path and row count, with the weight bytes streamed per second and the
//! process's CPU time per step (what a loaded machine does not inflate, unlike the wall time),
//! so the kernels can be compared without the rest of the model (attention, norms, sampling).
//!
//! `cargo bench --workspace --bench quant_matmul --profile dev [-- REPS]`; set
//! `RAYON_NUM_THREADS=1` to see one core's speed (the head is split over threads otherwise).

use std::hint::black_box;
use std::time::Instant;

use half::f16;
use lux_train::gguf::GgmlType;
use lux_train::model::QuantizedWeight;

/// SmolLM2-135M's linear layers as `[d_out, d_in]`, per decoder layer.
const LAYER_SHAPES: [[usize; 2]; 7] = [
    [576, 576],  // q_proj
    [192, 576],  // k_proj
    [192, 576],  // v_proj
    [576, 576],  // o_proj
    [1536, 576], // gate_proj
    [1536, 576], // up_proj
    [576, 1536], // down_proj
];
const LAYERS: usize = 30;
const VOCAB: usize = 49_152;
/// Activation rows: decoding at batch 1 and 8, then prompt-sized products (prefill), where
/// the two paths cross over.
const ROWS: [usize; 5] = [1, 8, 16, 32, 64];

/// Random blocks with finite f16 scales (and minimums where the type has them).
fn random_weight(ty: GgmlType, [d_out, d_in]: [usize; 2], seed: &mut u64) -> QuantizedWeight {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 24) as u8
    };
    let blocks = d_out * d_in / ty.block_size();
    let mut bytes: Vec<u8> = (0..blocks * ty.type_size()).map(|_| next()).collect();
    for block in bytes.chunks_exact_mut(ty.type_size()) {
        block[..2].copy_from_slice(&f16::from_f32(0.01).to_le_bytes());
        if ty == GgmlType::Q4_1 {
            block[2..4].copy_from_slice(&f16::from_f32(-0.08).to_le_bytes());
        }
    }
    QuantizedWeight::new(ty, [d_out, d_in], bytes).expect("geometry")
}

/// CPU time this process's threads have run, in seconds (Linux: the nanosecond run times in
/// `/proc/self/task/*/schedstat`; `NaN` elsewhere). On a machine shared with other work, the
/// wall time of a step includes the time the scheduler gave to others; this does not.
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let mut nanos = 0u64;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        nanos += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    nanos as f64 / 1e9
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let mut seed = 0x5EED_1234_ABCD_0001u64;
    let layers: Vec<QuantizedWeight> = (0..LAYERS)
        .flat_map(|_| LAYER_SHAPES)
        .map(|shape| random_weight(GgmlType::Q4_1, shape, &mut seed))
        .collect();
    let head = random_weight(GgmlType::Q8_0, [VOCAB, 576], &mut seed);
    let layer_bytes: usize = layers.iter().map(|w| w.bytes().len()).sum();
    println!(
        "one SmolLM2 decoding step: {} Q4_1 layers ({:.1} MB), Q8_0 head ({:.1} MB); {} threads; \
         medians of {reps}",
        layers.len(),
        layer_bytes as f64 / 1e6,
        head.bytes().len() as f64 / 1e6,
        rayon::current_num_threads(),
    );
    for rows in ROWS {
        let inputs: Vec<Vec<f32>> = [576, 1536]
            .iter()
            .map(|&d| {
                (0..rows * d)
                    .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                    .collect()
            })
            .collect();
        let input = |w: &QuantizedWeight| &inputs[usize::from(w.shape()[1] != 576)];
        for (path, q8) in [("exact", false), ("q8", true)] {
            let run = |w: &QuantizedWeight| {
                if q8 {
                    black_box(w.matmul_transposed_q8(input(w)));
                } else {
                    black_box(w.matmul_transposed(input(w)));
                }
            };
            let (mut layer_times, mut head_times) = (Vec::new(), Vec::new());
            let mut cpu = 0.0;
            for rep in 0..=reps {
                let cpu_start = cpu_seconds();
                let start = Instant::now();
                layers.iter().for_each(run);
                let layers_done = start.elapsed().as_secs_f64();
                let start = Instant::now();
                run(&head);
                let head_done = start.elapsed().as_secs_f64();
                if rep > 0 {
                    cpu += cpu_seconds() - cpu_start;
                    layer_times.push(layers_done);
                    head_times.push(head_done);
                }
            }
            let (l, h) = (median(layer_times), median(head_times));
            println!(
                "{path:>5} rows {rows}: layers {:7.3} ms ({:5.1} GB/s), head {:7.3} ms ({:5.1} GB/s), \
                 step {:7.3} ms wall, {:7.3} ms CPU (mean)",
                l * 1e3,
                layer_bytes as f64 / l / 1e9,
                h * 1e3,
                head.bytes().len() as f64 / h / 1e9,
                (l + h) * 1e3,
                cpu / reps as f64 * 1e3
            );
        }
    }
}
