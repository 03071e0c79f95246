//! [`Llama`]: a Llama-family causal language model (HF `LlamaForCausalLM`).

use std::path::Path;

use burn::module::Module;
use burn::tensor::module::linear;
use burn::tensor::{Device, Int, Tensor};
use lux_core::Result;

use super::cache::KvCache;
use super::config::LlamaConfig;
use super::fused;
use super::llama_model::LlamaModel;
use super::position_ids::PositionIds;
use super::projection::Projection;
use super::weights::{SafetensorsWeights, WeightSource, load_projection};
use crate::align::Aligner;

/// A Llama-family decoder with its output head.
///
/// Build one with [`LlamaConfig::init`] (random weights) and [`load_weights`](Self::load_weights),
/// or with [`from_pretrained`](Self::from_pretrained). Module paths are the Hugging Face
/// parameter names (`model.layers.3.self_attn.q_proj.weight`, `lm_head.weight`), and every
/// linear layer is a [`Projection`] reachable by its HF name through
/// [`projections_mut`](Self::projections_mut): that is where adapters attach.
///
/// Forward passes:
/// - [`forward`](Self::forward): logits at every position;
/// - [`forward_hidden_states`](Self::forward_hidden_states): every layer's hidden state in one pass;
/// - [`forward_selected`](Self::forward_selected): logits only at chosen positions;
/// - [`forward_step`](Self::forward_step) / [`forward_step_last`](Self::forward_step_last):
///   incremental decoding with a [`KvCache`].
///
/// Which attention kernel runs depends on the device (see the `attention` module): the fused
/// one on a plain `Device::flex()`, the decomposed, differentiable one elsewhere.
#[derive(Module, Debug)]
pub struct Llama {
    /// The decoder stack (HF `model`).
    pub model: LlamaModel,
    /// The output projection `d_model → vocab_size`, or `None` when tied to the embedding.
    pub lm_head: Option<Projection>,
    /// LinguaLIFT's alignment layer, when one is attached ([`AlignerAdapter`]): an input
    /// adapter through which the model reads a multilingual encoder's states in place of (or
    /// ahead of) a text's own token embeddings ([`crate::align`]).
    ///
    /// [`AlignerAdapter`]: crate::align::AlignerAdapter
    pub aligner: Option<Aligner>,
    /// The config the model was built from.
    #[module(skip)]
    config: LlamaConfig,
}

impl Llama {
    pub(crate) fn new(model: LlamaModel, lm_head: Option<Projection>, config: LlamaConfig) -> Self {
        Self {
            model,
            lm_head,
            aligner: None,
            config,
        }
    }

    /// Reads `config.json` and the safetensors weights (`model.safetensors` or the shards of
    /// `model.safetensors.index.json`) of a Hugging Face model directory onto `device`.
    pub fn from_pretrained(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = LlamaConfig::from_file(dir.join("config.json"))?;
        let mut model = config.init(device)?;
        model.load_weights(SafetensorsWeights::open_dir(dir)?)?;
        Ok(model)
    }

    /// The config the model was built from.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// Replaces every parameter with the tensor of the same HF name from `weights`.
    ///
    /// Reads `model.embed_tokens.weight`, per layer `model.layers.{i}.self_attn.{q,k,v,o}_proj`
    /// and `mlp.{gate,up,down}_proj` (`.weight`, HF layout `[out, in]`, transposed here; `.bias`
    /// when the config has biases), `input_layernorm.weight`, `post_attention_layernorm.weight`,
    /// then `model.norm.weight` and, unless embeddings are tied, `lm_head.weight`. A missing
    /// tensor or a wrong shape is an error naming the tensor and both shapes; tensors the model
    /// does not use are ignored. On error the model is left partly loaded.
    pub fn load_weights(&mut self, mut weights: impl WeightSource) -> Result<()> {
        let source: &mut dyn WeightSource = &mut weights;
        self.model.load_weights(source)?;
        if let Some(head) = &mut self.lm_head {
            load_projection(head, "lm_head", source)?;
        }
        Ok(())
    }

    /// Logits at every position.
    ///
    /// `attention_mask` follows HF: `1` for real tokens, `0` for padding (never attended to;
    /// the logits at padded positions are unspecified). Positions are `0..seq` regardless of
    /// padding, as in HF's `forward`.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `[batch, seq, vocab_size]`
    ///
    /// # Panics
    ///
    /// As burn's layers do, on tensors of the wrong shape, and on a token id that is not below
    /// `vocab_size` (ids come from a tokenizer, not from a user's file).
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        self.logits(self.model.forward(input_ids, attention_mask))
    }

    /// Every hidden state, in one pass and without the output head (the input of CKA).
    ///
    /// Follows HF's `output_hidden_states`: element 0 is the embedding output, element `i`
    /// (`1 ≤ i < L`) the output of layer `i - 1`, and element `L` the final hidden state, i.e.
    /// the output of the last layer after the final norm: `L + 1` tensors for `L` layers.
    /// [`logits`](Self::logits) of the last element gives [`forward`](Self::forward)'s result.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `num_hidden_layers + 1` tensors of `[batch, seq, d_model]`
    pub fn forward_hidden_states(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Vec<Tensor<3>> {
        let mut states = Vec::with_capacity(self.model.layers.len() + 1);
        self.model
            .run(input_ids, attention_mask, None, Some(&mut states));
        states
    }

    /// Logits only at selected positions: the output head (often the largest matmul) runs on
    /// `n` rows instead of `batch·seq`. Use it for completion-only losses.
    ///
    /// `positions` are flat indices `b·seq + t` into the batch.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - positions: `[n]`
    /// - output: `[n, vocab_size]`
    pub fn forward_selected(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        positions: Tensor<1, Int>,
    ) -> Tensor<2> {
        let hidden = self.model.forward(input_ids, attention_mask);
        let [b, s, d] = hidden.dims();
        self.logits(hidden.reshape([b * s, d]).select(0, positions))
    }

    /// [`forward_selected`](Self::forward_selected) on a packed batch: several examples per
    /// row, delimited by `position_ids` (each example counting from 0), each attending only
    /// within itself ([`LlamaModel::forward_packed`]); the logits at an example's positions
    /// are those it gets alone. `positions` are flat indices `b·seq + t`, as there.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`, as `position_ids`
    /// - attention_mask: `[batch, seq]`
    /// - positions: `[n]`
    /// - output: `[n, vocab_size]`
    pub fn forward_selected_packed(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        position_ids: &PositionIds,
        positions: Tensor<1, Int>,
    ) -> Tensor<2> {
        let hidden = self
            .model
            .forward_packed(input_ids, attention_mask, position_ids);
        let [b, s, d] = hidden.dims();
        self.logits(hidden.reshape([b * s, d]).select(0, positions))
    }

    /// The input embeddings of `input_ids` (the rows of `embed_tokens`): what
    /// [`forward_selected_embeds`](Self::forward_selected_embeds) takes, so that a caller can
    /// splice other vectors (LinguaLIFT's projected encoder states) between token embeddings.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - output: `[batch, seq, d_model]`
    pub fn embed(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        self.model.embed(input_ids)
    }

    /// [`forward_selected`](Self::forward_selected) from input embeddings instead of token
    /// ids.
    ///
    /// # Shapes
    ///
    /// - embeds: `[batch, seq, d_model]`
    /// - attention_mask: `[batch, seq]`
    /// - positions: `[n]`
    /// - output: `[n, vocab_size]`
    pub fn forward_selected_embeds(
        &self,
        embeds: Tensor<3>,
        attention_mask: Option<Tensor<2, Int>>,
        positions: Tensor<1, Int>,
    ) -> Tensor<2> {
        let hidden = self.model.run_embeds(embeds, attention_mask, None, None);
        let [b, s, d] = hidden.dims();
        self.logits(hidden.reshape([b * s, d]).select(0, positions))
    }

    /// [`forward_step_last`](Self::forward_step_last) from input embeddings: prefills (or
    /// extends) `cache` with positions given as vectors, e.g. a prompt whose middle is
    /// projected encoder states; generation then goes on with token ids.
    ///
    /// # Shapes
    ///
    /// - embeds: `[batch, seq, d_model]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `[batch, vocab_size]`
    pub fn forward_step_last_embeds(
        &self,
        embeds: Tensor<3>,
        attention_mask: Option<Tensor<2, Int>>,
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let hidden = self
            .model
            .run_embeds(embeds, attention_mask, Some(cache), None);
        let [b, s, d] = hidden.dims();
        self.logits(hidden.narrow(1, s - 1, 1).reshape([b, d]))
    }

    /// Applies the output head (`lm_head`, or the transposed embedding when tied) to final
    /// hidden states.
    ///
    /// # Shapes
    ///
    /// - hidden: `[..., d_model]`
    /// - output: `[..., vocab_size]`
    pub fn logits<const D: usize>(&self, hidden: Tensor<D>) -> Tensor<D> {
        match &self.lm_head {
            Some(head) => head.forward(hidden),
            None => {
                let head = self.model.embed_tokens.weight.val().transpose();
                if fused::applies(&hidden) {
                    fused::linear(hidden, &head, None)
                } else {
                    linear(hidden, head, None)
                }
            }
        }
    }

    /// An empty cache for [`forward_step`](Self::forward_step).
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.model.layers.len())
    }

    /// Runs `input_ids` as the next positions after those in `cache` (from position
    /// `cache.len()`), extends the cache, and returns the logits of the new positions.
    ///
    /// `attention_mask` covers the new tokens only (`0` = padding, e.g. a left-padded prompt);
    /// the cache remembers it for later steps. Feeding a sequence in pieces gives the same
    /// logits as one [`forward`](Self::forward).
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `[batch, seq, vocab_size]`
    pub fn forward_step(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        cache: &mut KvCache,
    ) -> Tensor<3> {
        self.logits(self.model.run(input_ids, attention_mask, Some(cache), None))
    }

    /// Like [`forward_step`](Self::forward_step), but returns only the last position's logits
    /// (what sampling needs), skipping the output head elsewhere.
    ///
    /// # Shapes
    ///
    /// - input_ids: `[batch, seq]`
    /// - attention_mask: `[batch, seq]`
    /// - output: `[batch, vocab_size]`
    pub fn forward_step_last(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        cache: &mut KvCache,
    ) -> Tensor<2> {
        let hidden = self.model.run(input_ids, attention_mask, Some(cache), None);
        let [b, s, d] = hidden.dims();
        self.logits(hidden.narrow(1, s - 1, 1).reshape([b, d]))
    }

    /// Every linear layer with its HF name (`model.layers.0.self_attn.q_proj`,
    /// `model.layers.0.mlp.gate_proj`…, `lm_head` when untied), in model order.
    pub fn projections(&self) -> Vec<(String, &Projection)> {
        let mut out = Vec::with_capacity(self.model.layers.len() * 7 + 1);
        for (i, layer) in self.model.layers.iter().enumerate() {
            let a = &layer.self_attn;
            let m = &layer.mlp;
            let named = [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ];
            out.extend(
                named
                    .into_iter()
                    .map(|(n, p)| (format!("model.layers.{i}.{n}"), p)),
            );
        }
        if let Some(head) = &self.lm_head {
            out.push(("lm_head".to_owned(), head));
        }
        out
    }

    /// Every linear layer with its HF name, mutably: the seam for adapters, which match names
    /// (by list or pattern, as PEFT's `target_modules`) and call [`Projection::set_low_rank`].
    pub fn projections_mut(&mut self) -> Vec<(String, &mut Projection)> {
        let mut out = Vec::with_capacity(self.model.layers.len() * 7 + 1);
        for (i, layer) in self.model.layers.iter_mut().enumerate() {
            let a = &mut layer.self_attn;
            let m = &mut layer.mlp;
            let named = [
                ("self_attn.q_proj", &mut a.q_proj),
                ("self_attn.k_proj", &mut a.k_proj),
                ("self_attn.v_proj", &mut a.v_proj),
                ("self_attn.o_proj", &mut a.o_proj),
                ("mlp.gate_proj", &mut m.gate_proj),
                ("mlp.up_proj", &mut m.up_proj),
                ("mlp.down_proj", &mut m.down_proj),
            ];
            out.extend(
                named
                    .into_iter()
                    .map(|(n, p)| (format!("model.layers.{i}.{n}"), p)),
            );
        }
        if let Some(head) = &mut self.lm_head {
            out.push(("lm_head".to_owned(), head));
        }
        out
    }

    /// The linear layer with HF name `name` (`model.layers.3.self_attn.q_proj`), if any.
    pub fn projection_mut(&mut self, name: &str) -> Option<&mut Projection> {
        self.projections_mut()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::TensorData;

    use crate::model::weights::WeightTensor;

    fn tiny(tied: bool) -> LlamaConfig {
        LlamaConfig::from_json_str(&format!(
            r#"{{"hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 11,
            "tie_word_embeddings": {tied}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn module_paths_are_hf_names() {
        #[derive(Default)]
        struct Paths {
            stack: Vec<String>,
            found: Vec<String>,
        }
        impl ModuleVisitor for Paths {
            fn enter_module(&mut self, name: &str, _container: &str) {
                self.stack.push(name.to_owned());
            }
            fn exit_module(&mut self, _name: &str, _container: &str) {
                self.stack.pop();
            }
            fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
                self.found.push(self.stack.join("."));
            }
        }
        let model = tiny(false).init(&Device::flex()).unwrap();
        let mut paths = Paths::default();
        model.visit(&mut paths);
        let paths = (paths.found,);
        for name in [
            "model.embed_tokens.weight",
            "model.layers.1.self_attn.q_proj.weight",
            "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.input_layernorm.weight",
            "model.layers.1.post_attention_layernorm.weight",
            "model.norm.weight",
            "lm_head.weight",
        ] {
            assert!(
                paths.0.iter().any(|p| p == name),
                "{name} not in {:?}",
                paths.0
            );
        }
        assert_eq!(paths.0.len(), 1 + 2 * 9 + 1 + 1);
    }

    #[test]
    fn projections_are_named_and_reachable() {
        let mut model = tiny(true).init(&Device::flex()).unwrap();
        let names: Vec<String> = model.projections().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 14);
        assert_eq!(names[0], "model.layers.0.self_attn.q_proj");
        assert_eq!(names[13], "model.layers.1.mlp.down_proj");
        let k = model
            .projection_mut("model.layers.1.self_attn.k_proj")
            .unwrap();
        assert_eq!((k.d_input(), k.d_output()), (16, 8));
        assert!(model.projection_mut("lm_head").is_none());
    }

    fn weights_for(model: &Llama) -> HashMap<String, WeightTensor> {
        let c = model.config();
        let (d, f, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
        let kv = c.num_key_value_heads * c.head_dim;
        let mut map = HashMap::new();
        let mut put = |name: String, shape: Vec<usize>| {
            let n: usize = shape.iter().product();
            map.insert(name, (shape, (0..n).map(|i| i as f32 * 1e-3).collect()));
        };
        put("model.embed_tokens.weight".into(), vec![v, d]);
        put("model.norm.weight".into(), vec![d]);
        put("lm_head.weight".into(), vec![v, d]);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            for (n, shape) in [
                ("self_attn.q_proj", vec![d, d]),
                ("self_attn.k_proj", vec![kv, d]),
                ("self_attn.v_proj", vec![kv, d]),
                ("self_attn.o_proj", vec![d, d]),
                ("mlp.gate_proj", vec![f, d]),
                ("mlp.up_proj", vec![f, d]),
                ("mlp.down_proj", vec![d, f]),
            ] {
                put(format!("{p}.{n}.weight"), shape);
            }
            put(format!("{p}.input_layernorm.weight"), vec![d]);
            put(format!("{p}.post_attention_layernorm.weight"), vec![d]);
        }
        map
    }

    #[test]
    fn load_weights_transposes_linear_weights() {
        let mut model = tiny(false).init(&Device::flex()).unwrap();
        let weights = weights_for(&model);
        let (shape, data) = weights["model.layers.0.self_attn.k_proj.weight"].clone();
        model.load_weights(weights).unwrap();
        let k = model.model.layers[0].self_attn.k_proj.weight.val();
        assert_eq!(k.dims(), [shape[1], shape[0]]);
        let got = k.into_data().try_into_vec::<f32>().unwrap();
        // burn [in, out][i][o] == HF [out, in][o][i]
        assert_eq!(got[3 * shape[0] + 5], data[5 * shape[1] + 3]);
    }

    #[test]
    fn load_errors_name_tensor_and_shapes() {
        let mut model = tiny(false).init(&Device::flex()).unwrap();
        let mut weights = weights_for(&model);
        weights.insert(
            "model.layers.1.mlp.up_proj.weight".into(),
            (vec![16, 24], vec![0.0; 384]),
        );
        let e = model.load_weights(&mut weights).unwrap_err().to_string();
        assert!(
            e.contains("model.layers.1.mlp.up_proj.weight")
                && e.contains("[16, 24]")
                && e.contains("[24, 16]"),
            "{e}"
        );

        let mut model = tiny(false).init(&Device::flex()).unwrap();
        let mut weights = weights_for(&model);
        weights.remove("lm_head.weight");
        let e = model.load_weights(&mut weights).unwrap_err().to_string();
        assert!(
            e.contains("lm_head.weight") && e.contains("missing") && e.contains("[11, 16]"),
            "{e}"
        );

        // A bias the config does not have is reported rather than silently dropped.
        let mut model = tiny(false).init(&Device::flex()).unwrap();
        let mut weights = weights_for(&model);
        weights.insert(
            "model.layers.0.self_attn.q_proj.bias".into(),
            (vec![16], vec![0.0; 16]),
        );
        let e = model.load_weights(&mut weights).unwrap_err().to_string();
        assert!(
            e.contains("q_proj.bias") && e.contains("attention_bias"),
            "{e}"
        );
    }

    #[test]
    fn low_rank_pair_trains_while_base_stays_frozen() {
        use crate::model::LowRank;
        let device = Device::flex().autodiff();
        device.seed(5);
        let mut model = tiny(false).init(&device).unwrap().no_grad();
        let pair = LowRank::new(
            Param::from_data(TensorData::new(vec![0.01f32; 16 * 2], [16, 2]), &device),
            Param::from_data(TensorData::new(vec![0.0f32; 2 * 16], [2, 16]), &device),
            2.0,
        );
        let q = model
            .projection_mut("model.layers.1.self_attn.q_proj")
            .unwrap();
        q.set_low_rank(Some(pair));
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4], [1, 4]), &device);
        let grads = model.forward(ids, None).sum().backward();
        let q = &model.model.layers[1].self_attn.q_proj;
        let pair = q.low_rank.as_ref().unwrap();
        assert!(pair.b.val().grad(&grads).is_some());
        assert!(q.weight.val().grad(&grads).is_none());
        assert!(model.model.embed_tokens.weight.val().grad(&grads).is_none());
    }

    #[test]
    fn selected_and_step_logits_agree_with_forward() {
        let device = Device::flex();
        device.seed(3);
        let mut model = tiny(true).init(&device).unwrap();
        // Give the norms non-trivial scales so a wrong order would show.
        model.model.norm.weight =
            Param::from_data(TensorData::new(vec![1.5f32; 16], [16]), &device);
        let ids = Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i64, 4, 2, 9, 3, 0, 7, 5], [2, 4]),
            &device,
        );
        let full = model.forward(ids.clone(), None);
        assert_eq!(full.dims(), [2, 4, 11]);

        let positions = Tensor::<1, Int>::from_data(TensorData::new(vec![6i64, 1], [2]), &device);
        let selected = model.forward_selected(ids.clone(), None, positions);
        let expect = Tensor::cat(
            vec![
                full.clone()
                    .narrow(0, 1, 1)
                    .narrow(1, 2, 1)
                    .reshape([1, 11]),
                full.clone()
                    .narrow(0, 0, 1)
                    .narrow(1, 1, 1)
                    .reshape([1, 11]),
            ],
            0,
        );
        selected
            .into_data()
            .assert_approx_eq::<f32>(&expect.into_data(), burn::tensor::Tolerance::absolute(1e-5));

        let mut cache = model.new_cache();
        let first = model.forward_step(ids.clone().narrow(1, 0, 3), None, &mut cache);
        let last = model.forward_step_last(ids.clone().narrow(1, 3, 1), None, &mut cache);
        assert_eq!(cache.len(), 4);
        let stepped = Tensor::cat(vec![first, last.reshape([2, 1, 11])], 1);
        stepped
            .into_data()
            .assert_approx_eq::<f32>(&full.into_data(), burn::tensor::Tolerance::absolute(1e-5));

        let states = model.forward_hidden_states(ids, None);
        assert_eq!(states.len(), 3);
    }
}
