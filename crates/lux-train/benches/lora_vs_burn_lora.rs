//! lux's LoRA projection against burn's built-in `Module::apply_lora`, forward + backward on
//! one `q_proj`-shaped layer of SmolLM2 (576 → 576, rank 16, α = 32) with a batch of
//! 8 × 128 rows.
//!
//! - **lux**: [`Projection`] with a [`LowRank`] pair computes `x·W + s·(x·A)·B`; the frozen
//!   `W` gets no gradient and every adapter-side product is rank-sized.
//! - **burn**: burn 0.22's `Module::apply_lora` reparameterises the weight parameter itself,
//!   so each forward rebuilds the full `W + s·A·B` (`[576, 576]`) and the backward computes
//!   the full weight-shaped gradient before reducing it to `A` and `B`.
//!
//! The input requires a gradient, as it does inside a model whose earlier layers are adapted.
//! Before timing, the bench checks that both give the same output and the same gradient for
//! `B` (for `A` too once `B` is non-zero after a step, not exercised here: `B` starts at zero
//! in both, so `A`'s gradient is zero).
//!
//! Reproduce:
//! - criterion: `cargo bench --workspace --bench lora_vs_burn_lora --profile dev`
//! - plain (one JSON line per implementation and the ratio of medians; the two alternate,
//!   `LUX_BENCH_REPS` times each, default 50):
//!   `LUX_BENCH_PLAIN=1 RAYON_NUM_THREADS=2 cargo bench --workspace --bench lora_vs_burn_lora --profile dev`

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::module::{Lora, Module, Param};
use burn::tensor::{Device, Distribution, Gradients, Tensor, TensorData, Tolerance};
use criterion::Criterion;
use lux_train::model::{LowRank, Projection, ProjectionConfig};

const ROWS: usize = 8 * 128;
const D: usize = 576;
const RANK: usize = 16;
const ALPHA: f64 = 32.0;

/// Both layers over the same frozen weight and the same `A` (burn's random init), `B` = 0.
fn layers(device: &Device) -> (Projection, Projection) {
    device.seed(3);
    let base = ProjectionConfig::new(D, D).init(device).no_grad();
    let burn_lora = base.clone().apply_lora(Lora::new(RANK, ALPHA));
    let adapter = burn_lora
        .weight
        .adapter()
        .expect("burn attached an adapter");
    let copy = |p: &Param<Tensor<2>>| Param::from_data(p.val().into_data(), device);
    let mut lux_lora = base;
    lux_lora.set_low_rank(Some(LowRank::new(
        copy(&adapter.a),
        copy(&adapter.b),
        adapter.scale,
    )));
    (lux_lora, burn_lora)
}

/// `Σ y ⊙ g` for a fixed upstream gradient `g`; returns the output and the gradients.
fn forward_backward(layer: &Projection, x: &Tensor<2>, g: &Tensor<2>) -> (Tensor<2>, Gradients) {
    let y = layer.forward(x.clone());
    let grads = (y.clone() * g.clone()).sum().backward();
    (y, grads)
}

fn b_grad(layer: &Projection, grads: &Gradients) -> TensorData {
    let b = match &layer.low_rank {
        Some(pair) => pair.b.val(),
        None => layer.weight.adapter().expect("adapter").b.val(),
    };
    b.grad(grads).expect("B has a gradient").into_data()
}

fn inputs(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let x = Tensor::random([ROWS, D], Distribution::Normal(0.0, 1.0), device).require_grad();
    let g = Tensor::random([ROWS, D], Distribution::Normal(0.0, 1.0), device);
    (x, g)
}

/// Same output, same gradient for `B`, and no gradient for the frozen weight in lux's layer.
fn check(lux: &Projection, burn: &Projection, x: &Tensor<2>, g: &Tensor<2>) {
    let (y_lux, grads_lux) = forward_backward(lux, x, g);
    let (y_burn, grads_burn) = forward_backward(burn, x, g);
    y_lux
        .into_data()
        .assert_approx_eq::<f32>(&y_burn.into_data(), Tolerance::absolute(1e-4));
    // Entries of B's gradient are sums of 1 024 products of size ~1 (typically ~100): an
    // absolute tolerance, since the two orders of summation differ on near-zero entries.
    b_grad(lux, &grads_lux)
        .assert_approx_eq::<f32>(&b_grad(burn, &grads_burn), Tolerance::rel_abs(1e-3, 1e-2));
    assert!(lux.weight.val().grad(&grads_lux).is_none());
}

fn main() {
    let device = Device::flex().autodiff();
    let (lux, burn) = layers(&device);
    let (x, g) = inputs(&device);
    check(&lux, &burn, &x, &g);

    if std::env::var_os("LUX_BENCH_PLAIN").is_some() {
        let reps: usize = std::env::var("LUX_BENCH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(50)
            .max(1);
        let layers = [("lux_low_rank", &lux), ("burn_apply_lora", &burn)];
        // Alternate the two every repetition so that a noisy neighbour slows both alike.
        let mut secs = [Vec::new(), Vec::new()];
        for rep in 0..=reps {
            for (i, (_, layer)) in layers.iter().enumerate() {
                let start = Instant::now();
                black_box(forward_backward(layer, &x, &g));
                if rep > 0 {
                    secs[i].push(start.elapsed().as_secs_f64());
                }
            }
        }
        let medians = secs.map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        });
        for ((name, _), s) in layers.iter().zip(medians) {
            println!(
                "{{\"impl\": \"{name}\", \"workload\": \"q_proj_576x576_r16_1024rows_fwd_bwd\", \
                 \"secs\": {s:.6}, \"threads\": {}}}",
                rayon::current_num_threads()
            );
        }
        println!("{{\"burn_over_lux\": {:.2}}}", medians[1] / medians[0]);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("lora_q_proj_fwd_bwd");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("lux_low_rank", |b| {
        b.iter(|| black_box(forward_backward(&lux, &x, &g)))
    });
    group.bench_function("burn_apply_lora", |b| {
        b.iter(|| black_box(forward_backward(&burn, &x, &g)))
    });
    group.finish();
    c.final_summary();
}
