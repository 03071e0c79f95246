//! [`generate`]: batched autoregressive decoding with a KV cache.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use burn::tensor::{Int, Tensor, TensorData};
use lux_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::json_schema::JsonSchema;
use super::prompt_cache::PromptCache;
use super::sampler::{Sampler, SamplingConfig, log_softmax, top_n};
use super::stop::StopStrings;
use super::token_mask::{TokenMask, TokenVocabulary};
use crate::model::{KvCache, Llama};
use crate::tokenizer::Tokenizer;

/// Why a sequence ended (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// A stop token or stop string was generated.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

impl FinishReason {
    /// `"stop"` or `"length"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// A generated token's log-probability and the most likely alternatives at its position.
///
/// Log-probabilities are those of the model's own distribution, `log_softmax(logits)`, before
/// temperature, top-k or top-p (what OpenAI and vLLM return by default), so they do not
/// depend on the sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprobs {
    /// The chosen token.
    pub token: u32,
    /// Its natural-log probability.
    pub logprob: f32,
    /// The `n` most likely tokens at this position with their log-probabilities, best first
    /// (`n` = [`SamplingConfig::logprobs`]).
    pub top: Vec<(u32, f32)>,
}

/// One generated continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generated {
    /// The generated token ids, without the stop token. When a stop string ended the sequence,
    /// the tokens up to the one that completed the returned text (that token may carry the
    /// start of the stop string).
    pub tokens: Vec<u32>,
    /// The decoded text, special tokens skipped, cut before the first stop string. Empty from
    /// [`generate_ids`].
    pub text: String,
    /// Why the sequence ended.
    pub finish_reason: FinishReason,
    /// One entry per element of [`tokens`](Self::tokens) when
    /// [`SamplingConfig::logprobs`] is set; empty otherwise.
    pub logprobs: Vec<TokenLogprobs>,
    /// Length of the prompt, in tokens.
    pub prompt_tokens: usize,
    /// Tokens the model generated for this sequence, the stop token included.
    pub completion_tokens: usize,
}

/// Continues each prompt with the model, decoding text with `tokenizer`.
///
/// All prompts run as one batch: they are left-padded to the longest, the prompt is processed
/// in one pass, then one token per sequence per step with a KV cache. A sequence ends on the
/// tokenizer's end-of-sequence token, a token of [`SamplingConfig::stop_token_ids`], a stop
/// string, or after `max_new_tokens`; finished sequences idle until the whole batch is done.
/// Sequence `i` samples from its own seeded stream, so a sequence's output does not depend on
/// its batch (up to floating-point differences in the padded forward pass).
///
/// Errors: an invalid config, an empty prompt, or a token id outside the vocabulary (naming
/// `prompts[i]`).
///
/// ```no_run
/// use burn::tensor::Device;
/// use lux_train::generate::{SamplingConfig, generate};
/// use lux_train::model::Llama;
///
/// # fn main() -> lux_core::Result<()> {
/// let (model, tok) = Llama::from_gguf("SmolLM2-135M-Instruct.Q4_1.gguf", &Device::flex())?;
/// let prompt = tok.encode("The capital of France is", true)?;
/// let out = generate(&model, &tok, &[prompt], &SamplingConfig::greedy(8))?;
/// println!("{}", out[0].text);
/// # Ok(())
/// # }
/// ```
pub fn generate(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
) -> Result<Vec<Generated>> {
    run(
        model,
        Some(tokenizer),
        tokenizer.eos_id(),
        tokenizer.pad_id(),
        prompts,
        config,
        None,
        None,
    )
}

/// [`generate`] without a tokenizer: token ids only (`text` stays empty), `eos` as the
/// end-of-sequence token. Stop strings need a tokenizer and are rejected.
pub fn generate_ids(
    model: &Llama,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    eos: Option<u32>,
) -> Result<Vec<Generated>> {
    timed(model, prompts, config, eos, None)
}

/// Where the wall time of a generation went: the prompt pass, then one step per token.
///
/// What speed comparisons need to separate: prefill processes every prompt position at once
/// (compute-bound, many rows per weight read), while a decoding step reads every weight for
/// one new position per sequence (memory-bound at batch 1). llama.cpp's server reports the
/// same split (`timings.prompt_ms`, `timings.predicted_ms`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationTimings {
    /// From the call to the first token of every sequence being chosen: the prompt pass
    /// (`prefill`), reading its logits and sampling (the time to first token).
    pub prefill: Duration,
    /// The rest: each decoding step's forward pass, reading its logits and sampling.
    pub decode: Duration,
    /// Forward passes after the prompt pass; each gives every sequence still running one
    /// token, so with no early stop the decode phase made `batch × decode_steps` tokens.
    pub decode_steps: usize,
}

/// [`generate_ids`] that also reports how long the prompt pass and the decoding steps took.
pub fn generate_ids_timed(
    model: &Llama,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    eos: Option<u32>,
) -> Result<(Vec<Generated>, GenerationTimings)> {
    let mut timings = GenerationTimings::default();
    let generated = timed(model, prompts, config, eos, Some(&mut timings))?;
    Ok((generated, timings))
}

fn timed(
    model: &Llama,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    eos: Option<u32>,
    timings: Option<&mut GenerationTimings>,
) -> Result<Vec<Generated>> {
    if !config.stop.is_empty() {
        return Err(Error::invalid(
            "stop",
            "stop strings are matched on decoded text and need a tokenizer (use `generate`)",
        ));
    }
    run(model, None, eos, None, prompts, config, None, timings)
}

/// [`generate`] with every answer constrained to a JSON document of `schema`: at each step,
/// the tokens that cannot continue such a document are masked out before sampling (greedy or
/// not), end-of-sequence tokens are allowed only once the document is complete, and a
/// sequence stops as soon as nothing can be appended to its document. `vocabulary` must be
/// `tokenizer`'s ([`TokenVocabulary::from_tokenizer`], built once and reused).
///
/// A sequence cut by `max_new_tokens` (finish reason `length`) or a stop string holds an
/// unfinished document; every other one parses and follows the schema.
pub fn generate_json(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    schema: &JsonSchema,
    vocabulary: &TokenVocabulary,
) -> Result<Vec<Generated>> {
    check_vocabulary(model, vocabulary)?;
    let (eos, pad) = (tokenizer.eos_id(), tokenizer.pad_id());
    let constraint = Constraint { schema, vocabulary };
    run(
        model,
        Some(tokenizer),
        eos,
        pad,
        prompts,
        config,
        Some(&constraint),
        None,
    )
}

/// A JSON schema to enforce while decoding, and the vocabulary's bytes to enforce it with.
struct Constraint<'a> {
    schema: &'a JsonSchema,
    vocabulary: &'a TokenVocabulary,
}

/// The state of one sequence of the batch.
struct Sequence<'a> {
    sampler: Sampler,
    /// The JSON constraint, when decoding is constrained.
    mask: Option<TokenMask<'a>>,
    tokens: Vec<u32>,
    logprobs: Vec<TokenLogprobs>,
    text: String,
    /// Text length at the previous stop-string check.
    checked: usize,
    /// Where a stop string cut the text.
    cut: Option<usize>,
    completion: usize,
    done: Option<FinishReason>,
}

#[allow(clippy::too_many_arguments)]
fn run(
    model: &Llama,
    tokenizer: Option<&Tokenizer>,
    eos: Option<u32>,
    pad: Option<u32>,
    prompts: &[Vec<u32>],
    config: &SamplingConfig,
    constraint: Option<&Constraint<'_>>,
    timings: Option<&mut GenerationTimings>,
) -> Result<Vec<Generated>> {
    config.validate()?;
    check_prompts(model, prompts)?;
    let vocab = model.config().vocab_size;
    let pad_token = pad.filter(|&p| (p as usize) < vocab).unwrap_or(0);
    let prompt_lens: Vec<usize> = prompts.iter().map(Vec::len).collect();
    decode_constrained(
        model,
        tokenizer,
        eos,
        pad,
        &prompt_lens,
        config,
        constraint,
        timings,
        |cache: &mut KvCache| {
            let batch = prompts.len();
            let device = model.model.device();
            let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(batch * longest);
            let mut mask = Vec::with_capacity(batch * longest);
            for p in prompts {
                let padding = longest - p.len();
                ids.extend(std::iter::repeat_n(i64::from(pad_token), padding));
                mask.extend(std::iter::repeat_n(0i64, padding));
                ids.extend(p.iter().map(|&t| i64::from(t)));
                mask.extend(std::iter::repeat_n(1i64, p.len()));
            }
            let padded = prompts.iter().any(|p| p.len() < longest);
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch, longest]), &device);
            let mask = padded.then(|| {
                Tensor::<2, Int>::from_data(TensorData::new(mask, [batch, longest]), &device)
            });
            Ok(model.forward_step_last(ids, mask, cache))
        },
    )
}

/// Every prompt is non-empty and holds only ids below the vocabulary size.
fn check_prompts<P: AsRef<[u32]>>(model: &Llama, prompts: &[P]) -> Result<()> {
    let vocab = model.config().vocab_size;
    for (i, p) in prompts.iter().map(AsRef::as_ref).enumerate() {
        if p.is_empty() {
            return Err(Error::invalid(
                format!("prompts[{i}]"),
                "the prompt is empty",
            ));
        }
        if let Some(t) = p.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::invalid(
                format!("prompts[{i}]"),
                format!("token id {t} is not below the vocabulary size {vocab}"),
            ));
        }
    }
    Ok(())
}

/// `n` continuations of one prompt (a chat request's `n` choices): the prompt runs once, at
/// batch 1 and in [`PromptCache::CHUNK`]-token chunks through `prompt_cache` (whose cached
/// chunks it reuses and to which it adds its own), and its keys and values then serve all `n`
/// sequences, choice `i` sampling from its own seeded stream as in [`generate`].
///
/// With a `schema` (and `tokenizer`'s `vocabulary`), decoding is constrained as in
/// [`generate_json`]. Answers depend on the prompt and the settings only, never on what the
/// cache held: see [`PromptCache`].
#[allow(clippy::too_many_arguments)]
pub fn generate_choices(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    n: usize,
    config: &SamplingConfig,
    json: Option<(&JsonSchema, &TokenVocabulary)>,
    prompt_cache: &mut PromptCache,
) -> Result<Vec<Generated>> {
    config.validate()?;
    check_prompts(model, &[prompt])?;
    let constraint = match json {
        Some((schema, vocabulary)) => {
            check_vocabulary(model, vocabulary)?;
            Some(Constraint { schema, vocabulary })
        }
        None => None,
    };
    decode_constrained(
        model,
        Some(tokenizer),
        tokenizer.eos_id(),
        tokenizer.pad_id(),
        &vec![prompt.len(); n],
        config,
        constraint.as_ref(),
        None,
        |cache: &mut KvCache| {
            let (prompt_kv, logits) = prompt_cache.prefill(model, prompt)?;
            if n == 1 {
                *cache = prompt_kv;
                return Ok(logits);
            }
            *cache = prompt_kv.repeat_batch(n);
            Ok(logits.repeat_dim(0, n))
        },
    )
}

/// `vocabulary` has one entry per token of `model`.
fn check_vocabulary(model: &Llama, vocabulary: &TokenVocabulary) -> Result<()> {
    let vocab = model.config().vocab_size;
    if vocabulary.len() != vocab {
        return Err(Error::invalid(
            "vocabulary",
            format!(
                "has {} tokens, the model {vocab}: build it with TokenVocabulary::from_tokenizer(tokenizer, {vocab})",
                vocabulary.len()
            ),
        ));
    }
    Ok(())
}

/// The decoding loop shared by every way of starting it: `prefill` runs the prompts (token
/// ids, or vectors such as LinguaLIFT's projected encoder states) into the cache and returns
/// the last position's logits `[batch, vocab]`; `prompt_lens` are the prompts' lengths (what
/// [`Generated::prompt_tokens`] reports).
pub(crate) fn decode(
    model: &Llama,
    tokenizer: Option<&Tokenizer>,
    eos: Option<u32>,
    pad: Option<u32>,
    prompt_lens: &[usize],
    config: &SamplingConfig,
    prefill: impl FnOnce(&mut KvCache) -> Result<Tensor<2>>,
) -> Result<Vec<Generated>> {
    decode_constrained(
        model,
        tokenizer,
        eos,
        pad,
        prompt_lens,
        config,
        None,
        None,
        prefill,
    )
}

/// [`decode`], optionally under a JSON constraint.
#[allow(clippy::too_many_arguments)]
fn decode_constrained(
    model: &Llama,
    tokenizer: Option<&Tokenizer>,
    eos: Option<u32>,
    pad: Option<u32>,
    prompt_lens: &[usize],
    config: &SamplingConfig,
    constraint: Option<&Constraint<'_>>,
    timings: Option<&mut GenerationTimings>,
    prefill: impl FnOnce(&mut KvCache) -> Result<Tensor<2>>,
) -> Result<Vec<Generated>> {
    config.validate()?;
    let start = Instant::now();
    let mut first_token_at = None;
    let mut decode_steps = 0;
    let vocab = model.config().vocab_size;
    let batch = prompt_lens.len();
    let mut stop_ids: HashSet<u32> = config.stop_token_ids.iter().copied().collect();
    stop_ids.extend(eos);
    let stops = StopStrings::new(&config.stop);
    let mut seqs: Vec<Sequence> = (0..batch)
        .map(|i| Sequence {
            sampler: Sampler::new(config, i),
            mask: constraint
                .map(|c| TokenMask::new(c.schema, c.vocabulary, stop_ids.iter().copied())),
            tokens: Vec::new(),
            logprobs: Vec::new(),
            text: String::new(),
            checked: 0,
            cut: None,
            completion: 0,
            done: (config.max_new_tokens == 0).then_some(FinishReason::Length),
        })
        .collect();

    if batch > 0 && config.max_new_tokens > 0 {
        let device = model.model.device();
        let pad = pad.filter(|&p| (p as usize) < vocab).unwrap_or(0);
        let mut cache = model.new_cache();
        let mut logits = prefill(&mut cache)?;
        loop {
            let rows = logits
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| Error::Numeric(format!("reading logits: {e:?}")))?;
            let mut next = Vec::with_capacity(batch);
            for (seq, row) in seqs.iter_mut().zip(rows.chunks_exact(vocab)) {
                if seq.done.is_none() {
                    step(seq, row, config, &stop_ids, &stops, tokenizer)?;
                }
                next.push(i64::from(seq.tokens.last().copied().unwrap_or(pad)));
            }
            first_token_at.get_or_insert_with(Instant::now);
            if seqs.iter().all(|s| s.done.is_some()) {
                break;
            }
            let ids = Tensor::<2, Int>::from_data(TensorData::new(next, [batch, 1]), &device);
            logits = model.forward_step_last(ids, None, &mut cache);
            decode_steps += 1;
        }
    }
    if let Some(timings) = timings {
        let first = first_token_at.unwrap_or(start);
        *timings = GenerationTimings {
            prefill: first - start,
            decode: first.elapsed(),
            decode_steps,
        };
    }

    seqs.into_iter()
        .zip(prompt_lens)
        .map(|(seq, &len)| finish(seq, len, tokenizer))
        .collect()
}

/// Chooses the next token of one sequence and checks whether it ends the sequence.
fn step(
    seq: &mut Sequence<'_>,
    row: &[f32],
    config: &SamplingConfig,
    stop_ids: &HashSet<u32>,
    stops: &StopStrings,
    tokenizer: Option<&Tokenizer>,
) -> Result<()> {
    let token = match &mut seq.mask {
        Some(mask) => {
            let mut masked = row.to_vec();
            mask.apply(&mut masked)?;
            seq.sampler.sample(&masked)
        }
        None => seq.sampler.sample(row),
    };
    seq.completion += 1;
    if stop_ids.contains(&token) {
        seq.done = Some(FinishReason::Stop);
        return Ok(());
    }
    seq.tokens.push(token);
    if let Some(mask) = &mut seq.mask {
        mask.accept(token)?;
    }
    if let Some(n) = config.logprobs {
        let logp = log_softmax(row);
        seq.logprobs.push(TokenLogprobs {
            token,
            logprob: logp[token as usize],
            top: top_n(&logp, n),
        });
    }
    if let (Some(tok), false) = (tokenizer, stops.is_empty()) {
        seq.text = tok.decode(&seq.tokens, true)?;
        if let Some(cut) = stops.find(&seq.text, seq.checked) {
            seq.cut = Some(cut);
            seq.done = Some(FinishReason::Stop);
            return Ok(());
        }
        seq.checked = seq.text.len();
    }
    if seq.mask.as_ref().is_some_and(TokenMask::is_finished) {
        seq.done = Some(FinishReason::Stop);
        return Ok(());
    }
    if seq.completion >= config.max_new_tokens {
        seq.done = Some(FinishReason::Length);
    }
    Ok(())
}

fn finish(
    mut seq: Sequence<'_>,
    prompt_tokens: usize,
    tokenizer: Option<&Tokenizer>,
) -> Result<Generated> {
    let text = match (tokenizer, seq.cut) {
        (Some(tok), Some(cut)) => {
            // Keep the shortest token prefix whose text covers what is returned.
            let mut keep = seq.tokens.len();
            for m in 0..seq.tokens.len() {
                if tok.decode(&seq.tokens[..m], true)?.len() >= cut {
                    keep = m;
                    break;
                }
            }
            seq.tokens.truncate(keep);
            seq.logprobs.truncate(keep.min(seq.logprobs.len()));
            seq.text.truncate(cut);
            seq.text
        }
        (Some(tok), None) => tok.decode(&seq.tokens, true)?,
        (None, _) => String::new(),
    };
    Ok(Generated {
        tokens: seq.tokens,
        text,
        finish_reason: seq.done.unwrap_or(FinishReason::Length),
        logprobs: seq.logprobs,
        prompt_tokens,
        completion_tokens: seq.completion,
    })
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;
    use crate::model::LlamaConfig;

    #[test]
    fn timed_generation_is_the_untimed_one_and_counts_its_decoding_steps() {
        let device = Device::flex();
        let model = LlamaConfig::from_json_str(
            r#"{"hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 11}"#,
        )
        .unwrap()
        .init(&device)
        .unwrap();
        let prompts = vec![vec![1, 2, 3], vec![4, 5]];
        let config = SamplingConfig::greedy(6);
        let (timed, timings) = generate_ids_timed(&model, &prompts, &config, None).unwrap();
        assert_eq!(
            timed,
            generate_ids(&model, &prompts, &config, None).unwrap()
        );
        // No stop token: every sequence gets 6 tokens, the first from the prompt pass and one
        // per decoding step after it.
        assert!(timed.iter().all(|g| g.tokens.len() == 6));
        assert_eq!(timings.decode_steps, 5);
        assert!(timings.prefill > Duration::ZERO && timings.decode > Duration::ZERO);

        let (none, timings) =
            generate_ids_timed(&model, &prompts, &SamplingConfig::greedy(0), None).unwrap();
        assert!(none.iter().all(|g| g.tokens.is_empty()));
        assert_eq!(timings.decode_steps, 0);
    }
}
