//! CKA estimators: values against an independent numpy reference, the invariances that define
//! CKA, the minibatch estimator, the layer-wise helper, metric plumbing and input errors.

use burn::tensor::{Device, Tensor, TensorData};
use lux_core::rng::SplitMix64;
use lux_core::{MatrixRef, Metric, MetricInput};
use lux_eval::cka::{
    CenteredFeatures, HsicEstimator, LayerwiseCka, LinearCka, MinibatchCkaConfig, MinibatchHsic,
    RbfCka, RbfCkaConfig, UnbiasedCka,
};
use serde::Deserialize;

fn device() -> Device {
    Device::flex()
}

/// `rows × cols` standard normal values (Box–Muller), row-major.
fn gaussian(rng: &mut SplitMix64, rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|_| {
            let u = rng.unit().max(1e-12);
            let v = rng.unit();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}

fn tensor(data: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    let v: Vec<f32> = data.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), &device())
}

fn random(seed: u64, rows: usize, cols: usize) -> Tensor<2> {
    tensor(
        &gaussian(&mut SplitMix64::new(seed), rows, cols),
        rows,
        cols,
    )
}

/// A random `d × d` orthogonal matrix (Gram–Schmidt on Gaussian columns, in f64).
fn orthogonal(seed: u64, d: usize) -> Tensor<2> {
    let a = gaussian(&mut SplitMix64::new(seed), d, d);
    let mut q: Vec<Vec<f64>> = Vec::new();
    for j in 0..d {
        let mut v: Vec<f64> = (0..d).map(|i| a[i * d + j]).collect();
        for u in &q {
            let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(x, u)| *x -= dot * u);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        q.push(v.into_iter().map(|x| x / norm).collect());
    }
    let flat: Vec<f64> = (0..d)
        .flat_map(|i| q.iter().map(move |col| col[i]))
        .collect();
    tensor(&flat, d, d)
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (|Δ| = {:e})",
        (got - want).abs()
    );
}

// ---------------------------------------------------------------------------------------------
// Against numpy

#[derive(Deserialize)]
struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    x: Matrix,
    y: Matrix,
    linear: f64,
    rbf_median_1: f64,
    rbf_median_0_5: f64,
    rbf_sigma_3: f64,
    unbiased: f64,
    minibatch_size: Option<usize>,
    minibatch_unbiased: Option<f64>,
    minibatch_biased: Option<f64>,
}

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

/// Largest tolerated |lux − numpy|: lux computes in f32, numpy in f64.
const NUMPY_TOL: f64 = 1e-6;

#[test]
fn matches_numpy_reference() {
    let text = include_str!("fixtures/cka_reference.json");
    let reference: Reference = serde_json::from_str(text).unwrap();
    assert_eq!(reference.cases.len(), 5);
    let dev = device();
    let mut worst: Vec<(f64, String)> = Vec::new();
    for c in &reference.cases {
        let x = MatrixRef::new(c.x.rows, c.x.cols, &c.x.data).unwrap();
        let y = MatrixRef::new(c.y.rows, c.y.cols, &c.y.data).unwrap();
        let rbf = |config: RbfCkaConfig| config.init().unwrap().cka_matrices(x, y, &dev).unwrap();
        let mut checks = vec![
            (
                "linear",
                LinearCka::new().cka_matrices(x, y, &dev).unwrap(),
                c.linear,
            ),
            (
                "unbiased",
                UnbiasedCka::new().cka_matrices(x, y, &dev).unwrap(),
                c.unbiased,
            ),
            ("rbf median×1", rbf(RbfCkaConfig::default()), c.rbf_median_1),
            (
                "rbf median×0.5",
                rbf(RbfCkaConfig {
                    median_factor: Some(0.5),
                    sigma: None,
                }),
                c.rbf_median_0_5,
            ),
            (
                "rbf σ=3",
                rbf(RbfCkaConfig {
                    median_factor: None,
                    sigma: Some(3.0),
                }),
                c.rbf_sigma_3,
            ),
        ];
        if let Some(size) = c.minibatch_size {
            for (estimator, want) in [
                (HsicEstimator::Unbiased, c.minibatch_unbiased.unwrap()),
                (HsicEstimator::Biased, c.minibatch_biased.unwrap()),
            ] {
                let mb = MinibatchCkaConfig {
                    batch_size: size,
                    estimator,
                }
                .init()
                .unwrap();
                let name = if estimator == HsicEstimator::Biased {
                    "minibatch biased"
                } else {
                    "minibatch unbiased"
                };
                checks.push((name, mb.cka_matrices(x, y, &dev).unwrap(), want));
            }
        }
        for (what, got, want) in checks {
            let label = format!("{} / {what}", c.name);
            assert_close(got, want, NUMPY_TOL, &label);
            worst.push(((got - want).abs(), label));
        }
    }
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("max |lux − numpy| = {:e} ({})", worst[0].0, worst[0].1);
}

// ---------------------------------------------------------------------------------------------
// Invariances

#[test]
fn identical_inputs_give_one() {
    let x = random(1, 200, 24);
    assert_close(
        LinearCka::new().cka(x.clone(), x.clone()).unwrap(),
        1.0,
        1e-6,
        "linear",
    );
    assert_close(
        UnbiasedCka::new().cka(x.clone(), x.clone()).unwrap(),
        1.0,
        1e-6,
        "unbiased",
    );
    assert_close(
        RbfCka::default().cka(x.clone(), x.clone()).unwrap(),
        1.0,
        1e-6,
        "rbf",
    );
    let mb = MinibatchCkaConfig {
        batch_size: 64,
        ..Default::default()
    }
    .init()
    .unwrap();
    assert_close(mb.cka(x.clone(), x).unwrap(), 1.0, 1e-6, "minibatch");
}

type Estimator = Box<dyn Fn(Tensor<2>, Tensor<2>) -> f64>;

/// The three single-pair estimators that must share CKA's invariances.
fn estimators() -> Vec<(&'static str, Estimator)> {
    vec![
        (
            "linear",
            Box::new(|a, b| LinearCka::new().cka(a, b).unwrap()),
        ),
        (
            "unbiased",
            Box::new(|a, b| UnbiasedCka::new().cka(a, b).unwrap()),
        ),
        ("rbf", Box::new(|a, b| RbfCka::default().cka(a, b).unwrap())),
    ]
}

#[test]
fn invariant_to_orthogonal_transforms_and_isotropic_scaling() {
    let x = random(2, 300, 32);
    let y = x
        .clone()
        .matmul(random(4, 32, 32))
        .add(random(3, 300, 32).mul_scalar(2.0));
    let transformed = y
        .clone()
        .matmul(orthogonal(5, 32))
        .mul_scalar(7.5)
        .add_scalar(-3.0);
    for (name, cka) in estimators() {
        let base = cka(x.clone(), y.clone());
        assert!(base > 0.05 && base < 0.99, "{name}: {base}");
        assert_close(cka(x.clone(), transformed.clone()), base, 1e-5, name);
        // …on either side.
        let x_rotated = x.clone().matmul(orthogonal(6, 32)).mul_scalar(0.01);
        assert_close(cka(x_rotated, y.clone()), base, 1e-5, name);
    }
}

#[test]
fn not_invariant_to_a_general_invertible_map() {
    let x = random(7, 300, 16);
    let y = x.clone().add(random(8, 300, 16));
    // Upper-triangular with a strong anisotropic scaling: invertible, far from orthogonal.
    let mut a = vec![0.0; 16 * 16];
    for i in 0..16 {
        a[i * 16 + i] = if i < 4 { 10.0 } else { 0.2 };
        for j in i + 1..16 {
            a[i * 16 + j] = 0.5;
        }
    }
    let mapped = y.clone().matmul(tensor(&a, 16, 16));
    for (name, cka) in estimators() {
        let base = cka(x.clone(), y.clone());
        let changed = cka(x.clone(), mapped.clone());
        assert!((base - changed).abs() > 0.02, "{name}: {base} vs {changed}");
    }
}

#[test]
fn unbiased_is_near_zero_for_independent_gaussians() {
    let x = random(9, 500, 64);
    let y = random(10, 500, 64);
    let unbiased = UnbiasedCka::new().cka(x.clone(), y.clone()).unwrap();
    let biased = LinearCka::new().cka(x, y).unwrap();
    assert!(
        unbiased.abs() < 0.02,
        "unbiased CKA of independent inputs: {unbiased}"
    );
    // The biased estimator is pulled up by d/n: that is what the unbiased one corrects.
    assert!(biased > 0.1, "biased: {biased}");
}

// ---------------------------------------------------------------------------------------------
// Minibatch

#[test]
fn minibatch_is_a_ratio_of_sums_not_a_mean_of_ratios() {
    // Batch 0: y = x at a large scale (per-batch CKA 1). Batch 1: unrelated, small scale.
    let x0 = random(11, 50, 8).mul_scalar(10.0);
    let y0 = x0.clone();
    let x1 = random(12, 50, 8).mul_scalar(0.1);
    let y1 = random(13, 50, 8).mul_scalar(0.1);
    let per_batch = [
        LinearCka::new().cka(x0.clone(), y0.clone()).unwrap(),
        LinearCka::new().cka(x1.clone(), y1.clone()).unwrap(),
    ];
    let mean_of_ratios = (per_batch[0] + per_batch[1]) / 2.0;
    let mut acc = MinibatchHsic::new(HsicEstimator::Biased);
    acc.update(x0, y0).unwrap();
    acc.update(x1, y1).unwrap();
    let ratio_of_sums = acc.cka().unwrap();
    assert_eq!(acc.batches(), 2);
    assert_eq!(acc.rows(), 100);
    assert!(
        ratio_of_sums > 0.99,
        "dominated by the high-variance batch: {ratio_of_sums}"
    );
    assert!(mean_of_ratios < 0.8, "{mean_of_ratios}");
    assert!((ratio_of_sums - mean_of_ratios).abs() > 0.2);
}

#[test]
fn one_minibatch_is_the_full_batch_estimate() {
    let x = random(14, 120, 20);
    let y = x
        .clone()
        .matmul(random(15, 20, 12))
        .add(random(16, 120, 12));
    let biased = MinibatchCkaConfig {
        batch_size: 120,
        estimator: HsicEstimator::Biased,
    }
    .init()
    .unwrap();
    assert_close(
        biased.cka(x.clone(), y.clone()).unwrap(),
        LinearCka::new().cka(x.clone(), y.clone()).unwrap(),
        1e-6,
        "biased minibatch vs linear CKA",
    );
    let unbiased = MinibatchCkaConfig {
        batch_size: 500,
        estimator: HsicEstimator::Unbiased,
    }
    .init()
    .unwrap();
    assert_close(
        unbiased.cka(x.clone(), y.clone()).unwrap(),
        UnbiasedCka::new().cka(x, y).unwrap(),
        1e-6,
        "unbiased minibatch vs unbiased CKA",
    );
}

#[test]
fn minibatch_merges_a_too_small_last_batch_and_checks_sizes() {
    let x = random(17, 42, 6);
    let y = random(18, 42, 6);
    // 42 = 4 × 10 + 2: the last 2 rows join the fourth batch instead of failing.
    let mb = MinibatchCkaConfig {
        batch_size: 10,
        estimator: HsicEstimator::Unbiased,
    }
    .init()
    .unwrap();
    assert!(mb.cka(x.clone(), y.clone()).is_ok());
    let e = MinibatchCkaConfig {
        batch_size: 3,
        estimator: HsicEstimator::Unbiased,
    }
    .init()
    .unwrap_err();
    assert!(
        e.to_string().contains("invalid minibatch_cka.batch_size"),
        "{e}"
    );
    let mut acc = MinibatchHsic::new(HsicEstimator::Unbiased);
    assert!(acc.cka().unwrap_err().to_string().contains("no batch"));
    let e = acc.update(random(19, 3, 6), random(20, 3, 6)).unwrap_err();
    assert!(e.to_string().contains("batch 0 has 3 rows"), "{e}");
    let e = acc.update(random(19, 8, 6), random(20, 9, 6)).unwrap_err();
    assert!(
        e.to_string()
            .contains("x (batch 0) has 8 rows but y (batch 0) has 9"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Layer-wise helper

#[test]
fn layerwise_reuses_prepared_layers_and_agrees_with_pairwise() {
    let layers =
        |seed: u64| -> Vec<Tensor<2>> { (0..4).map(|l| random(seed * 100 + l, 80, 10)).collect() };
    let lb = layers(1);
    let en: Vec<Tensor<2>> = lb
        .iter()
        .enumerate()
        .map(|(l, x)| {
            x.clone()
                .add(random(500 + l as u64, 80, 10).mul_scalar(l as f64 * 0.5))
        })
        .collect();
    let fr = layers(2);
    let mut set = LayerwiseCka::new();
    set.add("lb", lb.clone()).unwrap();
    set.add("en", en.clone()).unwrap();
    set.add("fr", fr).unwrap();
    assert_eq!(set.names().collect::<Vec<_>>(), ["lb", "en", "fr"]);

    let lb_en = set.per_layer("lb", "en").unwrap();
    for (l, v) in lb_en.iter().enumerate() {
        let direct = LinearCka::new().cka(lb[l].clone(), en[l].clone()).unwrap();
        assert_close(*v, direct, 1e-6, &format!("layer {l}"));
    }
    assert_close(lb_en[0], 1.0, 1e-6, "layer 0 is identical");
    assert!(
        lb_en.windows(2).all(|w| w[0] > w[1]),
        "more noise per layer: {lb_en:?}"
    );
    assert_eq!(LayerwiseCka::pair(lb.clone(), en.clone()).unwrap(), lb_en);

    let map = set.cross_layer("lb", "en").unwrap();
    assert_eq!(map.len(), 4);
    for l in 0..4 {
        assert_close(
            map[l][l],
            lb_en[l],
            1e-12,
            "diagonal of the cross-layer map",
        );
    }
    let unbiased = set.per_layer_unbiased("lb", "fr").unwrap();
    assert!(unbiased.iter().all(|v| v.abs() < 0.2), "{unbiased:?}");

    let report = set.report(&[("lb", "en"), ("lb", "fr")]).unwrap();
    assert_eq!(report.rows.len(), 8);
    let md = report.to_markdown();
    assert!(
        md.starts_with("| layer | lb–en | lb–fr |\n|---:|---:|---:|\n| 0 | 1.0000 |"),
        "{md}"
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"estimator\":\"linear_cka\""));
}

#[test]
fn layerwise_errors_name_the_set_and_layer() {
    let mut set = LayerwiseCka::new();
    set.add("lb", vec![random(1, 20, 4), random(2, 20, 4)])
        .unwrap();
    let e = set.add("lb", vec![random(3, 20, 4)]).unwrap_err();
    assert!(e.to_string().contains("`lb` was already added"), "{e}");
    let e = set
        .add("en", vec![random(3, 20, 4), random(4, 21, 4)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "en layer 1 has 21 rows but `lb` has 20: every set must describe the same sentences"
    );
    let constant = Tensor::<2>::ones([20, 4], &device());
    let e = set.add("de", vec![random(5, 20, 4), constant]).unwrap_err();
    assert!(e.to_string().starts_with("de layer 1 is constant"), "{e}");
    set.add("fr", vec![random(6, 20, 4)]).unwrap();
    let e = set.per_layer("lb", "fr").unwrap_err();
    assert!(
        e.to_string().contains("`lb` has 2 layers but `fr` has 1"),
        "{e}"
    );
    let e = set.per_layer("lb", "xx").unwrap_err();
    assert!(
        e.to_string().contains("no set named `xx` (added: lb, fr)"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn errors_instead_of_nan() {
    let dev = device();
    let x = random(21, 10, 3);
    let e = LinearCka::new()
        .cka(x.clone(), random(22, 11, 3))
        .unwrap_err();
    assert!(e.to_string().contains("x has 10 rows but y has 11"), "{e}");

    let empty = MatrixRef::new(0, 3, &[]).unwrap();
    let e = LinearCka::new()
        .cka_matrices(empty, empty, &dev)
        .unwrap_err();
    assert!(e.to_string().contains("0×3 matrix has no values"), "{e}");

    let e = UnbiasedCka::new()
        .cka(random(23, 3, 2), random(24, 3, 2))
        .unwrap_err();
    assert!(e.to_string().contains("needs at least 4"), "{e}");

    let constant = Tensor::<2>::full([10, 3], 2.5f32, &dev);
    for (name, r) in [
        ("linear", LinearCka::new().cka(x.clone(), constant.clone())),
        (
            "unbiased",
            UnbiasedCka::new().cka(x.clone(), constant.clone()),
        ),
        ("rbf", RbfCka::default().cka(x.clone(), constant.clone())),
    ] {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("y is constant"), "{name}: {e}");
    }

    let mut data = vec![0.5f32; 30];
    data[7] = f32::NAN;
    let bad = Tensor::<2>::from_data(TensorData::new(data, [10, 3]), &dev);
    let e = LinearCka::new().cka(bad, x.clone()).unwrap_err();
    assert!(
        e.to_string()
            .contains("x contains NaN or infinite values (first: NaN at row 2, column 1)"),
        "{e}"
    );

    // More than half of the pairs identical: the median distance is 0.
    let mut rows = vec![0.0f32; 30];
    rows[0] = 1.0;
    let mostly_same = Tensor::<2>::from_data(TensorData::new(rows, [10, 3]), &dev);
    let e = RbfCka::default().cka(mostly_same, x).unwrap_err();
    assert!(
        e.to_string().contains("median distance between rows is 0"),
        "{e}"
    );
}

#[test]
fn f16_inputs_are_widened() {
    let x = random(25, 50, 6);
    let y = x.clone().add(random(26, 50, 6));
    let want = LinearCka::new().cka(x.clone(), y.clone()).unwrap();
    let got = LinearCka::new()
        .cka(
            x.cast(burn::tensor::FloatDType::F16),
            y.cast(burn::tensor::FloatDType::F16),
        )
        .unwrap();
    assert_close(got, want, 1e-2, "f16 input");
}

// ---------------------------------------------------------------------------------------------
// As metrics

#[test]
fn metrics_are_named_in_recipes() {
    let x = random(27, 40, 5);
    let y = x.clone().add(random(28, 40, 5));
    let xd: Vec<f32> = x.clone().try_into_vec_as::<f32>().unwrap();
    let yd: Vec<f32> = y.clone().try_into_vec_as::<f32>().unwrap();
    let input = MetricInput::Representations {
        x: MatrixRef::new(40, 5, &xd).unwrap(),
        y: MatrixRef::new(40, 5, &yd).unwrap(),
    };
    let recipe = r#"
        [[metrics]]
        type = "linear_cka"
        [[metrics]]
        type = "rbf_cka"
        median_factor = 0.5
        [[metrics]]
        type = "unbiased_cka"
        [[metrics]]
        type = "minibatch_cka"
        batch_size = 20
    "#;
    #[derive(Deserialize)]
    struct Recipe {
        metrics: Vec<Box<dyn Metric>>,
    }
    let recipe: Recipe = toml::from_str(recipe).unwrap();
    let names: Vec<String> = recipe.metrics.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        ["linear_cka", "rbf_cka", "unbiased_cka", "minibatch_cka"]
    );
    let values: Vec<f64> = recipe
        .metrics
        .iter()
        .map(|m| m.compute(&input).unwrap())
        .collect();
    assert_close(
        values[0],
        LinearCka::new().cka(x.clone(), y.clone()).unwrap(),
        1e-9,
        "metric",
    );
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "{values:?}");

    // Round trip keeps the settings.
    let json = serde_json::to_string(&recipe.metrics[1]).unwrap();
    assert_eq!(json, r#"{"type":"rbf_cka","median_factor":0.5}"#);

    let preds = [String::from("a")];
    let wrong = MetricInput::Predictions {
        predictions: &preds,
        references: &preds,
    };
    let e = recipe.metrics[0].compute(&wrong).unwrap_err();
    assert!(e.to_string().contains("needs representations"), "{e}");
}

#[test]
fn prepared_features_expose_their_statistics() {
    let x = random(29, 30, 4);
    let f = CenteredFeatures::new(x.clone(), "lb layer 0").unwrap();
    assert_eq!((f.rows(), f.cols(), f.label()), (30, 4, "lb layer 0"));
    let mean: Vec<f32> = f
        .centered()
        .clone()
        .mean_dim(0)
        .try_into_vec_as::<f32>()
        .unwrap();
    assert!(mean.iter().all(|m| m.abs() < 1e-6));
    let g = f
        .centered()
        .clone()
        .transpose()
        .matmul(f.centered().clone());
    let norm = g.square().sum().sqrt().into_scalar::<f64>();
    assert_close(f.gram_norm(), norm, 1e-4 * norm, "gram norm");
    assert_close(f.linear_cka(&f).unwrap(), 1.0, 1e-6, "self");
}
