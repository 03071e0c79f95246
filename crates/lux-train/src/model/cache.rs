//! [`KvCache`]: keys and values of earlier positions, for incremental decoding.

use burn::tensor::{Bool, Device, Tensor};

/// The cached keys and values of one layer, after rotary embedding.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    /// `[batch, n_kv_heads, cached, head_dim]`.
    key: Option<Tensor<4>>,
    /// `[batch, n_kv_heads, cached, head_dim]`.
    value: Option<Tensor<4>>,
}

impl LayerKv {
    /// Appends this step's keys and values and returns all of them.
    ///
    /// # Shapes
    ///
    /// - key, value: `[batch, n_kv_heads, seq, head_dim]`
    /// - output: `[batch, n_kv_heads, cached + seq, head_dim]` each
    pub fn append(&mut self, key: Tensor<4>, value: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let key = match self.key.take() {
            Some(old) => Tensor::cat(vec![old, key], 2),
            None => key,
        };
        let value = match self.value.take() {
            Some(old) => Tensor::cat(vec![old, value], 2),
            None => value,
        };
        self.key = Some(key.clone());
        self.value = Some(value.clone());
        (key, value)
    }
}

/// Keys, values and key-padding mask of the positions a model has already seen, so that
/// `Llama::forward_step` only computes the new ones.
///
/// Positions are implicit: the next token's position is [`len`](Self::len). Create one per
/// generation with `Llama::new_cache`; clone it to branch (tensors are shared, not copied).
/// Appending concatenates, so a step costs time proportional to the cached length.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(crate) layers: Vec<LayerKv>,
    /// `[batch, len]`, `true` = padding; `None` while no padding was given.
    padding: Option<Tensor<2, Bool>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `num_layers` decoder layers.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![LayerKv::default(); num_layers],
            padding: None,
            len: 0,
        }
    }

    /// Number of cached positions (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        *self = Self::new(self.layers.len());
    }

    /// Extends the key-padding mask with `new` (`[batch, seq]`, `true` = padding; `None` =
    /// no padding) and returns the mask over all `len + seq` keys, or `None` if nothing is
    /// padded. Called once per step, before the layers run.
    pub(crate) fn extend_padding(
        &mut self,
        new: Option<Tensor<2, Bool>>,
        batch: usize,
        seq: usize,
        device: &Device,
    ) -> Option<Tensor<2, Bool>> {
        let none = |n: usize| Tensor::<2, Bool>::full([batch, n], false, device);
        let mask = match (self.padding.take(), new) {
            (None, None) => None,
            (Some(old), None) => Some(Tensor::cat(vec![old, none(seq)], 1)),
            (None, Some(new)) if self.len == 0 => Some(new),
            (None, Some(new)) => Some(Tensor::cat(vec![none(self.len), new], 1)),
            (Some(old), Some(new)) => Some(Tensor::cat(vec![old, new], 1)),
        };
        self.padding = mask.clone();
        mask
    }

    /// This cache with its batch repeated `n` times (`[batch·n, …]`, tiled: rows `0, 1, 0, 1`
    /// for a batch of 2 and `n = 2`): one prompt's pass (batch 1) serving `n` sampled
    /// continuations.
    pub fn repeat_batch(&self, n: usize) -> KvCache {
        let repeat = |t: &Option<Tensor<4>>| t.as_ref().map(|t| t.clone().repeat_dim(0, n));
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|l| LayerKv {
                    key: repeat(&l.key),
                    value: repeat(&l.value),
                })
                .collect(),
            padding: self.padding.as_ref().map(|p| p.clone().repeat_dim(0, n)),
            len: self.len,
        }
    }

    /// Bytes the cached keys and values hold (`f32`).
    pub fn bytes(&self) -> usize {
        let size = |t: &Option<Tensor<4>>| t.as_ref().map_or(0, |t| t.shape().num_elements() * 4);
        self.layers
            .iter()
            .map(|l| size(&l.key) + size(&l.value))
            .sum()
    }

    /// Records that `seq` positions were added.
    pub(crate) fn advance(&mut self, seq: usize) {
        self.len += seq;
    }
}
