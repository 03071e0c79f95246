//! [`LayerwiseCka`]: CKA per layer between languages (or models), each Gram computed once.

use std::fmt::Write as _;

use burn::tensor::Tensor;
use lux_core::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::CenteredFeatures;

/// Per-layer representations of the same sentences in several languages (or from several
/// models), prepared once for linear and unbiased CKA.
///
/// Adding a language centres each of its layers and computes its Gram statistics
/// ([`CenteredFeatures`]); every comparison after that costs one cross product per pair of
/// layers. With `lb`, `en`, `fr` and `de` added, the six language pairs per layer cost six
/// cross products and no Gram is computed twice; a layer × layer map ([`cross_layer`]) costs
/// `L²` cross products and `2L` Grams instead of `3L²` products.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use lux_eval::cka::LayerwiseCka;
///
/// let device = Device::flex();
/// let layers = |seed: f64| -> Vec<Tensor<2>> {
///     (0..3).map(|_| Tensor::random([64, 16], Distribution::Normal(seed, 1.0), &device)).collect()
/// };
/// let mut cka = LayerwiseCka::new();
/// cka.add("lb", layers(0.0)).unwrap();
/// cka.add("en", layers(1.0)).unwrap();
/// cka.add("fr", layers(2.0)).unwrap();
/// let lb_en = cka.per_layer("lb", "en").unwrap(); // one value per layer
/// let lb_fr = cka.per_layer("lb", "fr").unwrap(); // reuses lb's Grams
/// assert_eq!(lb_en.len(), 3);
/// assert!(lb_fr.iter().all(|v| (0.0..=1.0).contains(v)));
/// ```
///
/// [`cross_layer`]: LayerwiseCka::cross_layer
#[derive(Debug, Clone, Default)]
pub struct LayerwiseCka {
    sets: Vec<(String, Vec<CenteredFeatures>)>,
}

impl LayerwiseCka {
    /// An empty set.
    pub fn new() -> LayerwiseCka {
        LayerwiseCka::default()
    }

    /// Adds the per-layer representations `layers[l]` `[n, d]` of `name` (a language code, or
    /// `lb-base`, `lb-tuned`…).
    ///
    /// Errors when `name` is taken, `layers` is empty, the row count differs from the sets
    /// already added (all sets describe the same `n` sentences), or a layer fails the CKA
    /// input checks (the message names the set and layer).
    pub fn add(&mut self, name: impl Into<String>, layers: Vec<Tensor<2>>) -> Result<()> {
        let name = name.into();
        if self.sets.iter().any(|(n, _)| *n == name) {
            return Err(Error::invalid(
                "layerwise_cka",
                format!("`{name}` was already added"),
            ));
        }
        if layers.is_empty() {
            return Err(Error::Numeric(format!("`{name}` has no layers")));
        }
        let rows = self
            .sets
            .first()
            .map(|(first, f)| (first.clone(), f[0].rows()));
        if let Some((first, n)) = &rows
            && let Some((l, x)) = layers.iter().enumerate().find(|(_, x)| x.dims()[0] != *n)
        {
            return Err(Error::Numeric(format!(
                "{name} layer {l} has {} rows but `{first}` has {n}: every set must describe \
                 the same sentences",
                x.dims()[0]
            )));
        }
        // Layers in parallel, one per task: see `per_layer`.
        let prepared = layers
            .into_par_iter()
            .enumerate()
            .map(|(l, x)| CenteredFeatures::new(x, format!("{name} layer {l}")))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>>>()?; // the first failing layer, as a sequential loop
        tracing::debug!(set = %name, layers = prepared.len(), "prepared layer Grams");
        self.sets.push((name, prepared));
        Ok(())
    }

    /// The names added so far, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.sets.iter().map(|(n, _)| n.as_str())
    }

    /// The prepared layers of `name`.
    pub fn layers(&self, name: &str) -> Result<&[CenteredFeatures]> {
        self.sets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.as_slice())
            .ok_or_else(|| {
                let known: Vec<&str> = self.names().collect();
                Error::invalid(
                    "layerwise_cka",
                    format!("no set named `{name}` (added: {})", known.join(", ")),
                )
            })
    }

    fn aligned(&self, a: &str, b: &str) -> Result<(&[CenteredFeatures], &[CenteredFeatures])> {
        let (la, lb) = (self.layers(a)?, self.layers(b)?);
        if la.len() != lb.len() {
            return Err(Error::Numeric(format!(
                "`{a}` has {} layers but `{b}` has {}: per-layer CKA pairs layer l with layer l",
                la.len(),
                lb.len()
            )));
        }
        Ok((la, lb))
    }

    /// Linear CKA of layer `l` of `a` with layer `l` of `b`, for every `l`.
    ///
    /// Layers run in parallel (rayon), as in [`add`](Self::add): one pair per task keeps each
    /// core on its own products, where one product split across cores syncs after every
    /// block of the shared dimension, and a thin Gram band splits badly (measured on 2 busy
    /// cores: the split products spent 16–18% more CPU time than on one core, one pair per
    /// task 7–14% more).
    pub fn per_layer(&self, a: &str, b: &str) -> Result<Vec<f64>> {
        let (la, lb) = self.aligned(a, b)?;
        la.par_iter()
            .zip(lb)
            .map(|(x, y)| x.linear_cka(y))
            .collect()
    }

    /// Unbiased linear CKA of layer `l` of `a` with layer `l` of `b`, for every `l`
    /// (needs `n ≥ 4`).
    pub fn per_layer_unbiased(&self, a: &str, b: &str) -> Result<Vec<f64>> {
        let (la, lb) = self.aligned(a, b)?;
        la.par_iter()
            .zip(lb)
            .map(|(x, y)| x.unbiased_cka(y))
            .collect()
    }

    /// Linear CKA of every layer `i` of `a` with every layer `j` of `b`: `map[i][j]`.
    pub fn cross_layer(&self, a: &str, b: &str) -> Result<Vec<Vec<f64>>> {
        let (la, lb) = (self.layers(a)?, self.layers(b)?);
        let flat = (0..la.len() * lb.len())
            .into_par_iter()
            .map(|k| la[k / lb.len()].linear_cka(&lb[k % lb.len()]))
            .collect::<Result<Vec<f64>>>()?;
        Ok(flat.chunks(lb.len().max(1)).map(<[f64]>::to_vec).collect())
    }

    /// Per-layer linear CKA for each pair in `pairs`, as a report.
    pub fn report(&self, pairs: &[(&str, &str)]) -> Result<LayerwiseCkaReport> {
        let mut rows = Vec::new();
        for (a, b) in pairs {
            for (layer, cka) in self.per_layer(a, b)?.into_iter().enumerate() {
                rows.push(LayerwiseCkaRow {
                    a: a.to_string(),
                    b: b.to_string(),
                    layer,
                    cka,
                });
            }
        }
        Ok(LayerwiseCkaReport {
            estimator: "linear_cka".into(),
            rows,
        })
    }

    /// Per-layer linear CKA between two sets of layers, without keeping them: the shortcut
    /// for a single pair of languages.
    pub fn pair(a: Vec<Tensor<2>>, b: Vec<Tensor<2>>) -> Result<Vec<f64>> {
        let mut set = LayerwiseCka::new();
        set.add("a", a)?;
        set.add("b", b)?;
        set.per_layer("a", "b")
    }
}

/// One value of a [`LayerwiseCkaReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerwiseCkaRow {
    /// First set (language or model).
    pub a: String,
    /// Second set.
    pub b: String,
    /// Layer index (0 = first layer given).
    pub layer: usize,
    /// The CKA value.
    pub cka: f64,
}

/// Per-layer CKA of several pairs: serialisable, and printable as a Markdown table with one
/// row per layer and one column per pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerwiseCkaReport {
    /// The estimator's metric name (`linear_cka`).
    pub estimator: String,
    /// One row per (pair, layer).
    pub rows: Vec<LayerwiseCkaRow>,
}

impl LayerwiseCkaReport {
    /// The report as a Markdown table (values to 4 decimals).
    pub fn to_markdown(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for r in &self.rows {
            if !pairs.contains(&(r.a.as_str(), r.b.as_str())) {
                pairs.push((&r.a, &r.b));
            }
        }
        let layers = self.rows.iter().map(|r| r.layer + 1).max().unwrap_or(0);
        let mut out = String::from("| layer |");
        for (a, b) in &pairs {
            let _ = write!(out, " {a}–{b} |");
        }
        out.push_str("\n|---:|");
        out.push_str(&"---:|".repeat(pairs.len()));
        out.push('\n');
        for l in 0..layers {
            let _ = write!(out, "| {l} |");
            for (a, b) in &pairs {
                match self
                    .rows
                    .iter()
                    .find(|r| r.a == *a && r.b == *b && r.layer == l)
                {
                    Some(r) => {
                        let _ = write!(out, " {:.4} |", r.cka);
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution};

    fn layers(count: usize, mean: f64) -> Vec<Tensor<2>> {
        let device = Device::flex();
        (0..count)
            .map(|_| Tensor::random([40, 12], Distribution::Normal(mean, 1.0), &device))
            .collect()
    }

    #[test]
    fn parallel_layers_keep_their_order() {
        let (a, b) = (layers(5, 0.0), layers(4, 3.0));
        let mut set = LayerwiseCka::new();
        set.add("a", a.clone()).unwrap();
        set.add("b", b.clone()).unwrap();
        let map = set.cross_layer("a", "b").unwrap();
        assert_eq!((map.len(), map[0].len()), (5, 4));
        for (i, x) in a.iter().enumerate() {
            let fx = CenteredFeatures::new(x.clone(), "x").unwrap();
            for (j, y) in b.iter().enumerate() {
                let fy = CenteredFeatures::new(y.clone(), "y").unwrap();
                assert_eq!(map[i][j], fx.linear_cka(&fy).unwrap(), "({i}, {j})");
            }
        }
        let diagonal = set.per_layer("a", "a").unwrap();
        assert!(
            diagonal.iter().all(|v| (v - 1.0).abs() < 1e-6),
            "{diagonal:?}"
        );
    }

    #[test]
    fn the_first_failing_layer_is_named() {
        let device = Device::flex();
        let mut bad = layers(6, 0.0);
        bad[2] = bad[2].clone().mul_scalar(f32::NAN);
        bad[4] = Tensor::full([40, 12], 2.0f32, &device);
        let e = LayerwiseCka::new().add("lb", bad).unwrap_err().to_string();
        assert!(e.contains("lb layer 2 contains NaN"), "{e}");
    }
}
