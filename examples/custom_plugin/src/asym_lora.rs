//! [`AsymLora`]: `type = "asym_lora"` — LoRA whose down projection is a frozen random
//! orthonormal basis; only the up projection trains.

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use lux::core::rng::{SplitMix64, hash};
use lux::core::{Error, Result};
use lux::train::Adapter;
use lux::train::lora::{LoraConfig, TargetModules, apply_lora, load_peft, merge_lora, save_peft};
use lux::train::model::Llama;
use serde::{Deserialize, Serialize};

/// Settings of [`AsymLora`], as a recipe writes them: LoRA's, without PEFT's extras.
///
/// ```toml
/// [[train]]
/// type = "sft"
/// learning_rate = 3e-4
/// adapter = { type = "asym_lora", r = 16, lora_alpha = 32.0, target_modules = ["q_proj", "v_proj"] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsymLoraConfig {
    /// Rank of the update; at most the input width of every targeted layer.
    pub r: usize,
    /// Scale numerator: the update is multiplied by `lora_alpha / r`, as in LoRA.
    pub lora_alpha: f64,
    /// Dropout on the adapter's input while training. Default 0.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Which linear layers are adapted: module-name suffixes, a regex, or `"all-linear"`.
    pub target_modules: TargetModules,
    /// The base model, recorded in `adapter_config.json` (filled in by the stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_name_or_path: Option<String>,
}

/// Asymmetric LoRA (Zhu et al. 2024, "Asymmetry in Low-Rank Adapters of Foundation Models",
/// ICML): the update `s·(x·A)·B` with `A` a random matrix with orthonormal columns, frozen at
/// its initial value, and `B` starting at zero and trained alone.
///
/// Why: the paper shows the two factors are not symmetric — `B` learns the task, while a
/// random orthogonal `A` does as well as a trained one and tightens the generalisation bound,
/// which then depends on the rank only through `B`. Freezing `A` halves the trainable
/// parameters and AdamW's state. Compared with LoRA-FA (frozen Kaiming-uniform `A`), the
/// orthonormal `A` keeps the input's norm on its `r` directions, so `lora_alpha` means the
/// same at every width.
///
/// `A` is Haar-distributed: the Q of a QR decomposition (modified Gram–Schmidt, twice) of a
/// standard Gaussian `[in, r]` matrix, drawn per module from the seed and the module's name,
/// as lux's LoRA draws its `A`. Saved in PEFT's format — PEFT reads it as plain LoRA, which
/// computes the same function — and loaded back with `A` frozen again, so a resumed run
/// trains what an uninterrupted one does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AsymLoraConfig", into = "AsymLoraConfig")]
pub struct AsymLora {
    config: AsymLoraConfig,
}

impl AsymLora {
    /// The LoRA settings the pairs are saved and scaled with.
    pub fn lora(&self) -> LoraConfig {
        let c = &self.config;
        let mut lora = LoraConfig::new(c.r, c.lora_alpha, c.target_modules.clone());
        lora.lora_dropout = c.lora_dropout;
        lora.base_model_name_or_path = c.base_model_name_or_path.clone();
        lora
    }
}

impl TryFrom<AsymLoraConfig> for AsymLora {
    type Error = Error;

    /// Checks LoRA's ranges when the recipe is read; errors name `asym_lora.<key>`.
    fn try_from(config: AsymLoraConfig) -> Result<AsymLora> {
        let adapter = AsymLora { config };
        adapter.lora().validate().map_err(|e| match e {
            Error::Invalid { key, message } => Error::invalid(format!("asym_lora.{key}"), message),
            e => e,
        })?;
        Ok(adapter)
    }
}

impl From<AsymLora> for AsymLoraConfig {
    fn from(adapter: AsymLora) -> AsymLoraConfig {
        adapter.config
    }
}

/// Orthonormalises `columns` in place by modified Gram–Schmidt, run twice ("twice is
/// enough": Giraud et al. 2005) so the result is orthonormal to rounding even when the
/// columns are nearly dependent. Each column's first pass keeps the sign of its own direction,
/// so the implied `R` has a positive diagonal (the QR that makes `Q` Haar-distributed when the
/// input is Gaussian). Returns `None` when a column is (numerically) in the span of the ones
/// before it.
pub fn gram_schmidt(columns: &mut [Vec<f64>]) -> Option<()> {
    for j in 0..columns.len() {
        let (done, rest) = columns.split_at_mut(j);
        let v = &mut rest[0];
        let original: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for _ in 0..2 {
            for q in done.iter() {
                let dot: f64 = q.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(q).for_each(|(x, qi)| *x -= dot * qi);
            }
        }
        let norm: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= 1e-10 * original {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= norm);
    }
    Some(())
}

/// A Haar-random `rows × cols` matrix with orthonormal columns (`cols ≤ rows`), row-major,
/// drawn from `seed`.
pub fn random_orthonormal(rows: usize, cols: usize, seed: u64) -> Option<Vec<f32>> {
    let mut rng = SplitMix64::new(seed);
    // Box–Muller: two uniforms in (0, 1] → one standard normal (the second is not needed).
    let mut normal = || {
        let u1 = 1.0 - rng.unit();
        let u2 = rng.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut columns: Vec<Vec<f64>> = (0..cols)
        .map(|_| (0..rows).map(|_| normal()).collect())
        .collect();
    gram_schmidt(&mut columns)?;
    Some(
        (0..rows)
            .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
            .collect(),
    )
}

/// Freezes the `A` of every low-rank pair of `model`.
fn freeze_a(model: &mut Llama) {
    for (_, projection) in model.projections_mut() {
        if let Some(pair) = projection.low_rank.as_mut() {
            pair.a = pair.a.clone().set_require_grad(false);
        }
    }
}

#[typetag::serde(name = "asym_lora")]
impl Adapter for AsymLora {
    fn attach(&self, model: Llama, seed: u64) -> Result<(Llama, Vec<String>)> {
        // LoRA's placement, freezing of the base and B = 0; then A is replaced.
        let (mut model, names) = apply_lora(model, &self.lora(), seed)?;
        let r = self.config.r;
        for (name, projection) in model.projections_mut() {
            let d_in = projection.d_input();
            let Some(pair) = projection.low_rank.as_mut() else {
                continue;
            };
            if r > d_in {
                return Err(Error::invalid(
                    "asym_lora.r",
                    format!(
                        "{r} is more than the {d_in} input features of {name}: \
                         an A with orthonormal columns needs r ≤ {d_in}"
                    ),
                ));
            }
            let a = random_orthonormal(d_in, r, hash(seed, &format!("asym_lora_A/{name}")))
                .ok_or_else(|| {
                    Error::Numeric(format!("{name}: random Gaussian columns were dependent"))
                })?;
            let device = pair.a.val().device();
            let a = Tensor::<2>::from_data(TensorData::new(a, [d_in, r]), &device);
            pair.a = Param::from_tensor(a).set_require_grad(false);
        }
        Ok((model, names))
    }

    fn save(&self, model: &Llama, dir: &Path) -> Result<()> {
        save_peft(model, &self.lora(), dir)
    }

    fn load(&self, model: Llama, dir: &Path) -> Result<Llama> {
        let (mut model, saved) = load_peft(model, dir)?;
        if saved.r != self.config.r {
            return Err(Error::parse(
                dir.join("adapter_config.json"),
                Some("key \"r\"".to_string()),
                format!(
                    "r is {} in the adapter and {} in the recipe's asym_lora",
                    saved.r, self.config.r
                ),
            ));
        }
        freeze_a(&mut model);
        Ok(model)
    }

    fn merge(&self, model: &mut Llama) -> Result<bool> {
        Ok(!merge_lora(model).pairs.is_empty())
    }

    fn set_base_model(&mut self, name: &str) {
        if self.config.base_model_name_or_path.is_none() {
            self.config.base_model_name_or_path = Some(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn gram_schmidt_by_hand() {
        // (3, 4)/5 = (0.6, 0.8); (1, 2) − 2.2·(0.6, 0.8) = (−0.32, 0.24), norm 0.4.
        let mut c = vec![vec![3.0, 4.0], vec![1.0, 2.0]];
        gram_schmidt(&mut c).unwrap();
        let expect = [[0.6, 0.8], [-0.8, 0.6]];
        for (got, want) in c.iter().zip(expect) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-12, "{c:?}");
            }
        }
        // A column in the span of the earlier ones has no direction of its own.
        assert!(gram_schmidt(&mut [vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }

    #[test]
    fn random_orthonormal_columns_are_orthonormal_and_seeded() {
        let (rows, cols) = (32, 6);
        let a = random_orthonormal(rows, cols, 9).unwrap();
        for i in 0..cols {
            for j in 0..cols {
                let dot: f64 = (0..rows)
                    .map(|k| a[k * cols + i] as f64 * a[k * cols + j] as f64)
                    .sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-6, "({i}, {j}): {dot}");
            }
        }
        assert_eq!(a, random_orthonormal(rows, cols, 9).unwrap());
        assert_ne!(a, random_orthonormal(rows, cols, 10).unwrap());
    }

    fn adapter(table: &str) -> Box<dyn Adapter> {
        toml::from_str(&format!("type = \"asym_lora\"\n{table}")).unwrap()
    }

    #[test]
    fn attach_freezes_an_orthonormal_a_and_a_round_trip_keeps_it_frozen() {
        let dir = tempfile::tempdir().unwrap();
        let model_dir = dir.path().join("tiny");
        lux::train::testing::write_tiny_llama(&model_dir, 3).unwrap();
        // On an autodiff device, so "trains" is visible as `is_require_grad`.
        let device = Device::flex().autodiff();
        let base = || Llama::from_pretrained(&model_dir, &device).unwrap();
        let asym = adapter("r = 4\nlora_alpha = 8.0\ntarget_modules = [\"q_proj\", \"v_proj\"]");
        let (model, names) = asym.attach(base(), 1).unwrap();
        assert_eq!(names.len(), 4, "{names:?}");
        let pairs: Vec<_> = model
            .projections()
            .into_iter()
            .filter_map(|(n, p)| p.low_rank.as_ref().map(|pair| (n, pair)))
            .collect();
        assert_eq!(pairs.len(), 4);
        for (name, pair) in &pairs {
            assert!(!pair.a.val().is_require_grad(), "{name}: A must be frozen");
            assert!(pair.b.val().is_require_grad(), "{name}: B must train");
            assert_eq!(pair.scale, 2.0);
            let a: Vec<f32> = pair.a.val().into_data().try_to_vec().unwrap();
            let gram =
                |i: usize, j: usize| -> f32 { (0..32).map(|k| a[k * 4 + i] * a[k * 4 + j]).sum() };
            assert!(
                (gram(0, 0) - 1.0).abs() < 1e-5 && gram(0, 1).abs() < 1e-5,
                "{name}"
            );
            let b: Vec<f32> = pair.b.val().into_data().try_to_vec().unwrap();
            assert!(b.iter().all(|x| *x == 0.0), "{name}: B starts at zero");
        }
        asym.save(&model, dir.path()).unwrap();
        let loaded = asym.load(base(), dir.path()).unwrap();
        for ((name, p), (_, q)) in model.projections().into_iter().zip(loaded.projections()) {
            let (Some(p), Some(q)) = (&p.low_rank, &q.low_rank) else {
                assert!(p.low_rank.is_none() && q.low_rank.is_none(), "{name}");
                continue;
            };
            assert!(
                !q.a.val().is_require_grad(),
                "{name}: A frozen again after load"
            );
            let v = |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
            assert_eq!(v(p.a.val()), v(q.a.val()), "{name}");
        }
        // The rank of the saved file must be the recipe's.
        let e = adapter("r = 2\nlora_alpha = 8.0\ntarget_modules = [\"q_proj\"]")
            .load(base(), dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adapter_config.json") && e.contains("r is 4"),
            "{e}"
        );
        // r above a layer's input width (32) is refused, naming the layer.
        let e = adapter("r = 33\nlora_alpha = 8.0\ntarget_modules = [\"q_proj\"]")
            .attach(base(), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("asym_lora.r") && e.contains("q_proj"), "{e}");
    }

    #[test]
    fn settings_are_checked_when_read() {
        let e = toml::from_str::<Box<dyn Adapter>>(
            "type = \"asym_lora\"\nr = 0\nlora_alpha = 8.0\ntarget_modules = [\"q_proj\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("asym_lora.r"), "{e}");
        let e = toml::from_str::<Box<dyn Adapter>>(
            "type = \"asym_lora\"\nr = 2\nlora_alpa = 8.0\ntarget_modules = [\"q_proj\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("lora_alpa"), "{e}");
    }
}
