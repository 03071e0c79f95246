//! [`LocalLlm`]: the `local` LLM client, a model run in this process with [`generate`](crate::generate::generate).
//!
//! Generator and judge plugins talk to language models through [`LlmClient`]; with this
//! client they run offline, e.g. on SmolLM2-135M-Instruct fetched by
//! `scripts/fetch-models.sh`:
//!
//! ```toml
//! llm = { type = "local", model = "smollm2", max_tokens = 256 }
//! # or a GGUF file / a Hugging Face model directory:
//! llm = { type = "local", path = "models/SmolLM2-135M-Instruct.Q4_1.gguf" }
//! # a request's json_schema is enforced by constrained decoding; to ignore it:
//! llm = { type = "local", model = "smollm2", constrained = false }
//! # keep a GGUF file's weights quantised in memory (≈ 0.33× of the f32 model):
//! llm = { type = "local", model = "smollm2", quantized = true }
//! # the keys and values of prompt beginnings kept for later requests (default 256 MB):
//! llm = { type = "local", model = "smollm2", prompt_cache_mb = 1024 }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use burn::tensor::Device;
use lux_core::{
    ChatChoice, ChatRequest, ChatResponse, Error, LlmClient, Result, TokenLogprob, TopLogprob,
    Usage,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::base_model::{
    LoadedModel, is_known_model, known_model_names, known_model_path, shared_model_with,
};
use crate::generate::{JsonSchema, PromptCache, SamplingConfig, TokenVocabulary, generate_choices};
use crate::model::GgufLoadOptions;

/// Settings of a [`LocalLlm`], as written in a recipe: exactly one of `path` and `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalLlmConfig {
    /// A GGUF file (weights and tokenizer), or a Hugging Face model directory
    /// (`config.json`, `model.safetensors`, `tokenizer.json`, and `tokenizer_config.json` for
    /// the chat template). Relative: to the recipe's directory when the client is prepared by a
    /// recipe's plugin ([`LlmClient::resolve_paths`]), else to the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// A model fetched into the models cache by `scripts/fetch-models.sh`: `smollm2`
    /// (SmolLM2-135M-Instruct; `$LUX_MODELS`, `$LUX_CACHE/models` or `~/.cache/lux/models`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Completion limit for requests that set no `max_tokens`. Default 256.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Temperature for requests that set none; without either, 1 (OpenAI's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus mass for requests that set none; without either, 1 (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Seed for requests that set none; without either, 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// CPU threads for the model (a dedicated pool); default: the global pool (all cores).
    /// Operational, so not serialised into the recipe fingerprint.
    #[serde(default, skip_serializing)]
    pub threads: Option<usize>,
    /// Enforce a request's `json_schema` by constrained decoding. Default true; false
    /// ignores the schema, as a server without structured outputs does (to measure what
    /// the constraint changes, or for a schema outside the enforced subset).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub constrained: bool,
    /// Keep a GGUF file's linear weights in their quantised blocks and multiply with them
    /// directly, as `[model] quantized = true` does for a run's base model
    /// (`GgufLoadOptions::keep_quantized`): SmolLM2 Q4_1 then holds ≈ 180 MB of weights
    /// instead of 538 MB, and decodes with 8-bit activations and integer dot products, as
    /// llama.cpp does (top-1 agreement with the `f32` model 77/80 tokens, the misses at
    /// near-ties). Default false: the `f32` model, which a run whose base model is the same
    /// file shares instead of loading a second copy. An error naming `llm.quantized` for a
    /// Hugging Face directory (its weights are not quantised). Serialised when set, as the
    /// rounding makes it part of what produced the answers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub quantized: bool,
    /// With `quantized`, the tied output head multiplies with the embedding's quantised
    /// blocks instead of its `f32` table (`GgufLoadOptions::quantized_tied_head`): SmolLM2 Q4_1
    /// then generates ≈ 1.5× as fast at batch 1 (0.72× llama.cpp's server instead of 0.48×),
    /// and the embedding lookup reads the same blocks, so no 113 MB `f32` table is built
    /// (0.18× of the `f32` model's weight memory instead of 0.33×). The head's products then
    /// take 8-bit activations when decoding, as the layers' do. Same key and meaning as
    /// `[model] quantized_tied_head`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub quantized_tied_head: bool,
    /// MB of prompt prefixes' keys and values kept between requests ([`PromptCache`]):
    /// requests that begin alike (a judge's form, the same example under several judges or
    /// criteria) run their common whole 64-token chunks once. Answers are the same with any
    /// budget, 0 included (prompts always run in the same chunks); only speed changes, so
    /// the setting is not serialised. Default 256.
    #[serde(default = "default_prompt_cache_mb", skip_serializing)]
    pub prompt_cache_mb: usize,
}

fn default_prompt_cache_mb() -> usize {
    256
}

fn default_max_tokens() -> u32 {
    256
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl LocalLlmConfig {
    /// Settings for the model at `path` (GGUF file or HF directory), with the defaults.
    pub fn from_path(path: impl Into<PathBuf>) -> LocalLlmConfig {
        LocalLlmConfig {
            path: Some(path.into()),
            model: None,
            max_tokens: default_max_tokens(),
            temperature: None,
            top_p: None,
            seed: None,
            threads: None,
            constrained: true,
            quantized: false,
            quantized_tied_head: false,
            prompt_cache_mb: default_prompt_cache_mb(),
        }
    }

    /// Settings for a cached model by name (see [`KNOWN_MODELS`](crate::base_model::KNOWN_MODELS)), with the defaults.
    pub fn named(model: impl Into<String>) -> LocalLlmConfig {
        LocalLlmConfig {
            path: None,
            model: Some(model.into()),
            ..LocalLlmConfig::from_path("")
        }
    }

    /// Checks that exactly one of `path` and `model` is set, the model is known and the
    /// numbers are in range; errors name the key.
    pub fn validate(&self) -> Result<()> {
        match (&self.path, &self.model) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "llm.path",
                    "set either `path` or `model`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    "llm.model",
                    "set `path` (a GGUF file or HF model directory) or `model` (e.g. \"smollm2\")",
                ));
            }
            (None, Some(m)) if !is_known_model(m) => {
                return Err(Error::invalid(
                    "llm.model",
                    format!("unknown local model `{m}` (known: {})", known_model_names()),
                ));
            }
            _ => {}
        }
        if self.threads == Some(0) {
            return Err(Error::invalid("llm.threads", "must be at least 1"));
        }
        if self.quantized_tied_head && !self.quantized {
            return Err(Error::invalid(
                "llm.quantized_tied_head",
                "needs `quantized = true` (the head's blocks are the quantised file's)",
            ));
        }
        let defaults = SamplingConfig {
            temperature: self.temperature.unwrap_or(1.0),
            top_p: self.top_p.unwrap_or(1.0),
            ..SamplingConfig::default()
        };
        defaults
            .validate()
            .map_err(|e| Error::invalid("llm", e.to_string()))
    }

    /// The file or directory the model is loaded from.
    pub fn resolve_path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.path {
            return Ok(path.clone());
        }
        known_model_path(self.model.as_deref().unwrap_or_default(), "llm.model")
    }

    /// How a GGUF file is loaded: [`quantized`](Self::quantized) keeps its weights in blocks,
    /// [`quantized_tied_head`](Self::quantized_tied_head) puts the tied head on the
    /// embedding's blocks, as `[model]`'s keys of the same names do, so a run's base model and
    /// a local judge on the same file with the same settings share one copy.
    pub fn load_options(&self) -> GgufLoadOptions {
        GgufLoadOptions {
            keep_quantized: self.quantized,
            quantized_tied_head: self.quantized && self.quantized_tied_head,
        }
    }
}

/// A language model loaded in this process, answering chat requests with [`generate`](crate::generate::generate).
///
/// - The model loads on the first request, once, and stays loaded; requests are served one at
///   a time (one model), each on a blocking thread so the async runtime keeps running.
/// - The prompt runs once whatever `n` ([`generate_choices`]), in fixed 64-token chunks
///   whose keys and values a [`PromptCache`] keeps for later requests that begin alike
///   (`prompt_cache_mb`); answers do not depend on what it held.
/// - The conversation is rendered with the model's chat template (with the generation
///   prompt); the tokenizer's end-of-sequence token and the template's turn-end token stop it.
/// - Honoured: `temperature` (0 = greedy), `top_p`, `max_tokens`, `seed`, `stop`, `n` (that
///   many samples, one batch; choice `i` draws from its own seeded stream), `top_logprobs`
///   (each token's log-probability under the model, before sampling settings, plus that
///   many alternatives), and `usage` / `finish_reason` as OpenAI reports them.
/// - `json_schema` is **enforced** by constrained decoding ([`generate_json`](crate::generate::generate_json)): at each step
///   the tokens that cannot continue a document of the schema are masked out, so an answer
///   that ends by itself (finish reason `stop`) parses and follows the schema; one cut by
///   `max_tokens` is unfinished JSON. `{"type": "object"}` (OpenAI's `json_object`) allows
///   any object. The subset enforced is [`JsonSchema`]'s (objects, strings, integer ranges,
///   numbers, booleans, enums, arrays); a schema outside it is an error naming the keyword,
///   never silently ignored (`constrained = false` ignores schemas instead). Callers still
///   validate answers (lux's judges and generators do), as the meaning of a field is not the
///   model's to guarantee. See `docs/constrained-decoding.md`.
pub struct LocalLlm {
    config: LocalLlmConfig,
    state: Arc<Mutex<Option<Loaded>>>,
    usage: Arc<LocalUsage>,
}

/// What a [`LocalLlm`] has answered, for the run report (the endpoints' table, where an
/// OpenAI-compatible client reports the same counts).
#[derive(Debug, Default)]
struct LocalUsage {
    model: String,
    calls: AtomicU64,
    failed: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    /// Prompt tokens whose keys and values came from the prompt cache.
    cached_prompt_tokens: AtomicU64,
}

impl LocalUsage {
    fn record(&self, answer: &Result<ChatResponse>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match answer {
            Ok(r) => {
                self.prompt_tokens
                    .fetch_add(r.usage.prompt_tokens, Ordering::Relaxed);
                self.completion_tokens
                    .fetch_add(r.usage.completion_tokens, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The usage of every local client alive in this process.
static USAGE: Mutex<Vec<Weak<LocalUsage>>> = Mutex::new(Vec::new());

/// Usage of every [`LocalLlm`] alive in this process that has answered a request, in the
/// order they were made, in the shape of the OpenAI-compatible clients' reports (`base_url`
/// `local`, no cache, no retries, no cost): what `lux run` writes in its report's LLM usage.
pub fn local_usage_reports() -> Vec<serde_json::Value> {
    let mut all = USAGE.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.iter()
        .filter_map(Weak::upgrade)
        .filter(|u| u.calls.load(Ordering::Relaxed) > 0)
        .map(|u| {
            serde_json::json!({
                "base_url": "local",
                "model": u.model,
                "calls": u.calls.load(Ordering::Relaxed),
                "failed": u.failed.load(Ordering::Relaxed),
                "cache_hits": 0,
                "retries": 0,
                "prompt_tokens": u.prompt_tokens.load(Ordering::Relaxed),
                "cached_prompt_tokens": u.cached_prompt_tokens.load(Ordering::Relaxed),
                "completion_tokens": u.completion_tokens.load(Ordering::Relaxed),
                "cost_usd": 0.0,
            })
        })
        .collect()
}

/// A loaded model and what requests need besides it.
struct Loaded {
    /// Shared with every other holder of the same file on the CPU (the run's base model).
    shared: Arc<LoadedModel>,
    stop_ids: Vec<u32>,
    pool: Option<rayon::ThreadPool>,
    /// The vocabulary's token bytes for constrained decoding, built on the first request
    /// with a schema and kept (≈ 50 ms for SmolLM2's 49 152 tokens).
    vocabulary: Option<TokenVocabulary>,
    /// Keys and values of prompt prefixes seen before (`prompt_cache_mb`).
    prompt_cache: PromptCache,
}

impl fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loaded = self.state.lock().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("LocalLlm")
            .field("config", &self.config)
            .field("loaded", &loaded)
            .finish()
    }
}

impl LocalLlm {
    /// A client with these settings (validated; the model loads on the first request).
    pub fn new(config: LocalLlmConfig) -> Result<LocalLlm> {
        config.validate()?;
        let usage = Arc::new(LocalUsage {
            model: config
                .model
                .clone()
                .or_else(|| config.path.as_ref().map(|p| p.display().to_string()))
                .unwrap_or_default(),
            ..LocalUsage::default()
        });
        USAGE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&usage));
        Ok(LocalLlm {
            config,
            state: Arc::new(Mutex::new(None)),
            usage,
        })
    }

    /// The settings.
    pub fn config(&self) -> &LocalLlmConfig {
        &self.config
    }

    /// Loads the model now instead of on the first request (to fail early).
    pub async fn load(&self) -> Result<()> {
        let state = Arc::clone(&self.state);
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some(Loaded::load(&config)?);
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::llm("local model loading thread failed", e))?
    }

    /// Answers `request` on the calling thread (blocking); [`LlmClient::chat`] runs this on a
    /// blocking thread.
    pub fn chat_blocking(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let answer = respond(
            &self.state,
            &self.config,
            request,
            &self.model(),
            &self.usage,
        );
        self.usage.record(&answer);
        answer
    }
}

impl Loaded {
    fn load(config: &LocalLlmConfig) -> Result<Loaded> {
        let path = config.resolve_path()?;
        let pool = config
            .threads
            .map(|n| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::invalid("llm.threads", e.to_string()))
            })
            .transpose()?;
        if config.quantized && path.is_dir() {
            return Err(Error::invalid(
                "llm.quantized",
                format!(
                    "{} is a Hugging Face directory; quantized weights come from a GGUF file",
                    path.display()
                ),
            ));
        }
        let load = || shared_model_with(&path, &Device::flex(), config.load_options());
        let shared = match &pool {
            Some(pool) => pool.install(load)?,
            None => load()?,
        };
        let stop_ids = shared.tokenizer.turn_end_ids();
        tracing::info!(path = %path.display(), quantized = config.quantized, "local model loaded");
        Ok(Loaded {
            shared,
            stop_ids,
            pool,
            vocabulary: None,
            prompt_cache: PromptCache::new(config.prompt_cache_mb.saturating_mul(1 << 20)),
        })
    }
}

fn respond(
    state: &Mutex<Option<Loaded>>,
    config: &LocalLlmConfig,
    request: &ChatRequest,
    model_name: &str,
    usage: &LocalUsage,
) -> Result<ChatResponse> {
    let n = request.n.unwrap_or(1);
    if n == 0 {
        return Err(Error::invalid("n", "at least one choice must be asked for"));
    }
    let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(Loaded::load(config)?);
    }
    let Some(loaded) = guard.as_mut() else {
        return Err(Error::llm("local model", "not loaded"));
    };
    let schema = match &request.json_schema {
        Some(schema) if config.constrained => Some(JsonSchema::compile(schema)?),
        _ => None,
    };
    if schema.is_some() && loaded.vocabulary.is_none() {
        let vocab = loaded.shared.model.config().vocab_size;
        loaded.vocabulary = Some(TokenVocabulary::from_tokenizer(
            &loaded.shared.tokenizer,
            vocab,
        )?);
    }
    let Loaded {
        shared,
        stop_ids,
        pool,
        vocabulary,
        prompt_cache,
    } = loaded;
    let tok = &shared.tokenizer;
    let text = tok.apply_chat_template(&request.messages, true)?;
    let prompt = tok.encode(&text, false)?;
    let sampling = SamplingConfig {
        temperature: request.temperature.or(config.temperature).unwrap_or(1.0),
        top_k: 0,
        top_p: request.top_p.or(config.top_p).unwrap_or(1.0),
        seed: request.seed.or(config.seed).unwrap_or(0),
        max_new_tokens: request.max_tokens.unwrap_or(config.max_tokens) as usize,
        stop: request.stop.clone(),
        stop_token_ids: stop_ids.clone(),
        logprobs: request.top_logprobs.map(usize::from),
    };
    let model = &shared.model;
    let json = schema.as_ref().zip(vocabulary.as_ref());
    let reused_before = prompt_cache.stats().reused_tokens;
    let mut run = || {
        generate_choices(
            model,
            tok,
            &prompt,
            n as usize,
            &sampling,
            json,
            prompt_cache,
        )
    };
    let generated = match pool {
        Some(pool) => pool.install(run)?,
        None => run()?,
    };
    usage.cached_prompt_tokens.fetch_add(
        prompt_cache.stats().reused_tokens - reused_before,
        Ordering::Relaxed,
    );
    let token_text = |id: u32| tok.decode(&[id], false);
    let mut choices = Vec::with_capacity(generated.len());
    let mut completion_tokens = 0u64;
    for g in generated {
        completion_tokens += g.completion_tokens as u64;
        let logprobs = match request.top_logprobs {
            None => None,
            Some(_) => Some(
                g.logprobs
                    .iter()
                    .map(|lp| {
                        Ok(TokenLogprob {
                            token: token_text(lp.token)?,
                            logprob: lp.logprob,
                            top: lp
                                .top
                                .iter()
                                .map(|&(id, logprob)| {
                                    Ok(TopLogprob {
                                        token: token_text(id)?,
                                        logprob,
                                    })
                                })
                                .collect::<Result<_>>()?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        choices.push(ChatChoice {
            content: g.text,
            finish_reason: Some(g.finish_reason.as_str().to_owned()),
            logprobs,
        });
    }
    Ok(ChatResponse {
        choices,
        usage: Usage {
            prompt_tokens: prompt.len() as u64,
            completion_tokens,
        },
        model: model_name.to_owned(),
    })
}

impl Serialize for LocalLlm {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LocalLlm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        LocalLlm::new(LocalLlmConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "local")]
#[async_trait]
impl LlmClient for LocalLlm {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let state = Arc::clone(&self.state);
        let config = self.config.clone();
        let request = request.clone();
        let name = self.model();
        let usage = Arc::clone(&self.usage);
        tokio::task::spawn_blocking(move || {
            let answer = respond(&state, &config, &request, &name, &usage);
            usage.record(&answer);
            answer
        })
        .await
        .map_err(|e| Error::llm("local generation thread failed", e))?
    }

    /// A relative `path` is the recipe's: it becomes `base_dir/path`.
    fn resolve_paths(&mut self, base_dir: &std::path::Path) -> Result<()> {
        if let Some(path) = &self.config.path
            && path.is_relative()
        {
            self.config.path = Some(base_dir.join(path));
        }
        Ok(())
    }

    /// `local:<model>` or `local:<file or directory name>`.
    fn model(&self) -> String {
        let name = match (&self.config.model, &self.config.path) {
            (Some(m), _) => m.clone(),
            (None, Some(p)) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            (None, None) => "unknown".into(),
        };
        format!("local:{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_key() {
        let e = LocalLlm::new(LocalLlmConfig::named("gpt-9")).unwrap_err();
        assert!(e.to_string().contains("llm.model") && e.to_string().contains("gpt-9"));
        let mut both = LocalLlmConfig::named("smollm2");
        both.path = Some("x.gguf".into());
        assert!(
            LocalLlm::new(both)
                .unwrap_err()
                .to_string()
                .contains("llm.path")
        );
        let mut hot = LocalLlmConfig::named("smollm2");
        hot.top_p = Some(1.5);
        assert!(
            LocalLlm::new(hot)
                .unwrap_err()
                .to_string()
                .contains("top_p")
        );
    }

    #[test]
    fn recipe_table_round_trips_and_rejects_unknown_keys() {
        let client: Box<dyn LlmClient> =
            serde_json::from_str(r#"{"type": "local", "model": "smollm2", "threads": 2}"#).unwrap();
        assert_eq!(client.model(), "local:smollm2");
        let json = serde_json::to_string(&client).unwrap();
        assert_eq!(
            json,
            r#"{"type":"local","model":"smollm2","max_tokens":256}"#
        );
        let bad = serde_json::from_str::<Box<dyn LlmClient>>(
            r#"{"type": "local", "model": "smollm2", "temprature": 0.5}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("temprature"));
        // The prompt cache's budget changes speed, not answers: read, never written.
        let config: LocalLlmConfig =
            serde_json::from_str(r#"{"model": "smollm2", "prompt_cache_mb": 0}"#).unwrap();
        assert_eq!(config.prompt_cache_mb, 0);
        assert_eq!(LocalLlmConfig::named("smollm2").prompt_cache_mb, 256);
        assert!(
            !serde_json::to_string(&config)
                .unwrap()
                .contains("prompt_cache")
        );
    }

    #[test]
    fn quantized_is_parsed_serialised_when_set_and_sets_the_load_options() {
        let config: LocalLlmConfig =
            serde_json::from_str(r#"{"model": "smollm2", "quantized": true}"#).unwrap();
        assert!(config.quantized);
        assert_eq!(
            config.load_options(),
            GgufLoadOptions {
                keep_quantized: true,
                quantized_tied_head: false,
            }
        );
        let client: Box<dyn LlmClient> =
            serde_json::from_str(r#"{"type": "local", "model": "smollm2", "quantized": true}"#)
                .unwrap();
        assert_eq!(
            serde_json::to_string(&client).unwrap(),
            r#"{"type":"local","model":"smollm2","max_tokens":256,"quantized":true}"#
        );
        let plain: LocalLlmConfig = serde_json::from_str(r#"{"model": "smollm2"}"#).unwrap();
        assert!(!plain.quantized);
        assert!(!plain.load_options().keep_quantized);
        let bad = serde_json::from_str::<LocalLlmConfig>(r#"{"model": "smollm2", "quantized": 1}"#);
        assert!(bad.unwrap_err().to_string().contains("bool"));

        let head: LocalLlmConfig = serde_json::from_str(
            r#"{"model": "smollm2", "quantized": true, "quantized_tied_head": true}"#,
        )
        .unwrap();
        head.validate().unwrap();
        assert_eq!(
            head.load_options(),
            GgufLoadOptions {
                keep_quantized: true,
                quantized_tied_head: true,
            }
        );
        let alone: LocalLlmConfig =
            serde_json::from_str(r#"{"model": "smollm2", "quantized_tied_head": true}"#).unwrap();
        let e = alone.validate().unwrap_err().to_string();
        assert!(e.contains("llm.quantized_tied_head"), "{e}");
    }

    #[test]
    fn quantized_reaches_the_loader() {
        // A directory cannot be kept quantised: the loader's error names the recipe key.
        let dir = tempfile::tempdir().unwrap();
        let mut config = LocalLlmConfig::from_path(dir.path());
        config.quantized = true;
        let e = LocalLlm::new(config)
            .unwrap()
            .chat_blocking(&ChatRequest::new(vec![lux_core::ChatMessage::user("hi")]))
            .unwrap_err();
        assert!(e.to_string().contains("llm.quantized"), "{e}");

        // On the real file, the projections hold blocks and the answer is the f32 model's.
        let Some(path) = crate::gguf::find_smollm2() else {
            eprintln!("skipped the SmolLM2 half: no SmolLM2 GGUF (scripts/fetch-models.sh)");
            return;
        };
        let request = ChatRequest {
            temperature: Some(0.0),
            max_tokens: Some(8),
            ..ChatRequest::new(vec![lux_core::ChatMessage::user(
                "What is the capital of France?",
            )])
        };
        let mut answers = Vec::new();
        for (quantized, tied_head) in [(true, false), (false, false), (true, true)] {
            let mut config = LocalLlmConfig::from_path(&path);
            config.quantized = quantized;
            config.quantized_tied_head = tied_head;
            let client = LocalLlm::new(config).unwrap();
            answers.push(
                client.chat_blocking(&request).unwrap().choices[0]
                    .content
                    .clone(),
            );
            let state = client.state.lock().unwrap();
            let model = &state.as_ref().unwrap().shared.model;
            assert_eq!(
                model.model.layers[0].self_attn.q_proj.quantized.is_some(),
                quantized
            );
            // SmolLM2's head is tied: a separate head exists only when put on the blocks.
            let head_on_blocks = model
                .lm_head
                .as_ref()
                .is_some_and(|h| h.quantized.is_some());
            assert_eq!(head_on_blocks, tied_head);
        }
        // Eight greedy tokens: with the head on the f32 table the 8-bit decoding answers as the
        // f32 model does. With the head on the blocks the final hidden state is rounded to 8
        // bits too (SmolLM2's has a few channels far larger than the rest), and here that
        // flips the first token: it answers "L'Étoile, la Mar", as llama.cpp's server does on
        // this file with the same arithmetic (checked by hand with scripts/llama-server.sh),
        // where the f32 model says "The capital of France is Paris."
        assert_eq!(answers[0], answers[1]);
        assert!(!answers[2].trim().is_empty());
    }

    #[test]
    fn a_relative_path_is_resolved_against_the_recipe_dir() {
        let mut client = LocalLlm::new(LocalLlmConfig::from_path("models/m.gguf")).unwrap();
        client
            .resolve_paths(std::path::Path::new("/recipes"))
            .unwrap();
        assert_eq!(
            client.config().path.as_deref(),
            Some(std::path::Path::new("/recipes/models/m.gguf"))
        );
        let mut absolute = LocalLlm::new(LocalLlmConfig::from_path("/m.gguf")).unwrap();
        absolute
            .resolve_paths(std::path::Path::new("/recipes"))
            .unwrap();
        assert_eq!(
            absolute.config().path.as_deref(),
            Some(std::path::Path::new("/m.gguf"))
        );
        let mut named = LocalLlm::new(LocalLlmConfig::named("smollm2")).unwrap();
        named
            .resolve_paths(std::path::Path::new("/recipes"))
            .unwrap();
        assert_eq!(named.config().path, None);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let client = LocalLlm::new(LocalLlmConfig::from_path("/nonexistent/m.gguf")).unwrap();
        let e = client
            .chat_blocking(&ChatRequest::new(vec![lux_core::ChatMessage::user("hi")]))
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/m.gguf"), "{e}");
    }
}
