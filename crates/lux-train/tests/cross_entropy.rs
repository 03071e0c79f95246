//! `cross_entropy_sum` (`logsumexp(z) − z[y]`) against the textbook formula:
//! - its value equals `Σ −log(exp(z[y]) / Σ exp(z))` computed in f64 on the host;
//! - its gradient equals the closed form `softmax(z) − onehot(y)` and the one autodiff derives
//!   for `log_softmax` + `gather` (what the trainer computed before), within 1e-5;
//! - without a graph (evaluation) it returns the same value;
//! - huge logits do not overflow (the row maximum is subtracted first).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lux_core::rng::SplitMix64;
use lux_train::sft::cross_entropy_sum;

const ROWS: usize = 7;
const VOCAB: usize = 53;

fn random_logits(seed: u64, scale: f32) -> (Vec<f32>, Vec<i64>) {
    let mut rng = SplitMix64::new(seed);
    let logits = (0..ROWS * VOCAB)
        .map(|_| (rng.unit() as f32 * 2.0 - 1.0) * scale)
        .collect();
    let labels = (0..ROWS)
        .map(|_| (rng.next_u64() % VOCAB as u64) as i64)
        .collect();
    (logits, labels)
}

/// `Σ −log softmax(z)[y]` in f64, and its gradient `softmax(z) − onehot(y)`.
fn naive(logits: &[f32], labels: &[i64]) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut grad = vec![0.0; logits.len()];
    for (r, &label) in labels.iter().enumerate() {
        let row = &logits[r * VOCAB..(r + 1) * VOCAB];
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        loss += sum.ln() + max - row[label as usize] as f64;
        for (v, &z) in row.iter().enumerate() {
            grad[r * VOCAB + v] = (z as f64 - max).exp() / sum;
        }
        grad[r * VOCAB + label as usize] -= 1.0;
    }
    (loss, grad)
}

fn tensors(logits: &[f32], labels: &[i64], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    (
        Tensor::from_data(TensorData::new(logits.to_vec(), [ROWS, VOCAB]), device),
        Tensor::from_data(TensorData::new(labels.to_vec(), [ROWS]), device),
    )
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn assert_close(what: &str, got: &[f32], want: impl Iterator<Item = f64>, tol: f64) {
    let mut n = 0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
        n += 1;
    }
    assert_eq!(n, got.len(), "{what}: length");
}

#[test]
fn value_and_gradient_match_the_formula_and_log_softmax() {
    let device = Device::flex().autodiff();
    for (seed, scale) in [(1, 1.0), (2, 8.0), (3, 30.0)] {
        let (logits, labels) = random_logits(seed, scale);
        let (want_loss, want_grad) = naive(&logits, &labels);

        let (z, y) = tensors(&logits, &labels, &device);
        let z = z.require_grad();
        // Scaled, as the trainer divides by the number of targets: the incoming gradient
        // must be carried through.
        let loss = cross_entropy_sum(z.clone(), y.clone()).div_scalar(3.0);
        let value = floats(loss.clone())[0] as f64 * 3.0;
        assert!(
            (value - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0),
            "scale {scale}: loss {value} vs {want_loss}"
        );
        let grads = loss.backward();
        let got = floats(z.grad(&grads).expect("gradient of the logits"));
        assert_close("grad", &got, want_grad.iter().map(|g| g / 3.0), 1e-5);

        // burn's own ops on the same input.
        let (z2, y2) = tensors(&logits, &labels, &device);
        let z2 = z2.require_grad();
        let reference = log_softmax(z2.clone(), 1)
            .gather(1, y2.reshape([ROWS, 1]))
            .sum()
            .neg()
            .div_scalar(3.0);
        let reference_value = floats(reference.clone())[0] as f64 * 3.0;
        assert!((value - reference_value).abs() <= 1e-5 * reference_value.abs().max(1.0));
        let reference_grad = floats(z2.grad(&reference.backward()).unwrap());
        assert_close(
            "grad vs log_softmax",
            &got,
            reference_grad.iter().map(|&g| g as f64),
            1e-5,
        );
    }
}

#[test]
fn without_a_graph_it_returns_the_same_value() {
    let (logits, labels) = random_logits(4, 5.0);
    let (want, _) = naive(&logits, &labels);
    for device in [Device::flex(), Device::flex().autodiff()] {
        let (z, y) = tensors(&logits, &labels, &device);
        let got = floats(cross_entropy_sum(z, y))[0] as f64;
        assert!((got - want).abs() <= 1e-5 * want, "{got} vs {want}");
    }
}

#[test]
fn huge_logits_stay_finite() {
    let (mut logits, labels) = random_logits(5, 1.0);
    for v in logits.iter_mut().step_by(3) {
        *v += 1.0e4;
    }
    let (want, _) = naive(&logits, &labels);
    let device = Device::flex().autodiff();
    let (z, y) = tensors(&logits, &labels, &device);
    let z = z.require_grad();
    let loss = cross_entropy_sum(z.clone(), y);
    let got = floats(loss.clone())[0] as f64;
    assert!(
        got.is_finite() && (got - want).abs() <= 1e-5 * want.max(1.0),
        "{got} vs {want}"
    );
    let grad = floats(z.grad(&loss.backward()).unwrap());
    assert!(grad.iter().all(|g| g.is_finite()));
}
