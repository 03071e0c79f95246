//! [`LayerwiseCka`]: CKA per layer between languages (or models), each Gram computed once.

use std::fmt::Write as _;

use burn::tensor::Tensor;
use lux_core::{Error, Result};
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
        let mut prepared = Vec::with_capacity(layers.len());
        for (l, x) in layers.into_iter().enumerate() {
            let label = format!("{name} layer {l}");
            if let Some((first, n)) = &rows
                && x.dims()[0] != *n
            {
                return Err(Error::Numeric(format!(
                    "{label} has {} rows but `{first}` has {n}: every set must describe the \
                     same sentences",
                    x.dims()[0]
                )));
            }
            prepared.push(CenteredFeatures::new(x, label)?);
        }
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
    pub fn per_layer(&self, a: &str, b: &str) -> Result<Vec<f64>> {
        let (la, lb) = self.aligned(a, b)?;
        la.iter().zip(lb).map(|(x, y)| x.linear_cka(y)).collect()
    }

    /// Unbiased linear CKA of layer `l` of `a` with layer `l` of `b`, for every `l`
    /// (needs `n ≥ 4`).
    pub fn per_layer_unbiased(&self, a: &str, b: &str) -> Result<Vec<f64>> {
        let (la, lb) = self.aligned(a, b)?;
        la.iter().zip(lb).map(|(x, y)| x.unbiased_cka(y)).collect()
    }

    /// Linear CKA of every layer `i` of `a` with every layer `j` of `b`: `map[i][j]`.
    pub fn cross_layer(&self, a: &str, b: &str) -> Result<Vec<Vec<f64>>> {
        let (la, lb) = (self.layers(a)?, self.layers(b)?);
        la.iter()
            .map(|x| lb.iter().map(|y| x.linear_cka(y)).collect())
            .collect()
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
