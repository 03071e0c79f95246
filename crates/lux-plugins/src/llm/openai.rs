//! [`OpenAiCompatible`]: the `openai` client plugin, a recipe table that builds the layered
//! client on its first request.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse, LlmClient};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    Accounting, ApiKey, Budget, Cache, CacheStats, Capabilities, ChatService, ConcurrencyLimit,
    FallbackCounts, FallbackStats, HttpTransport, InFlight, MaxTokensField, PriceTable,
    ResponseFormat, Retry, RetryPolicy, RetryStats, Timeout, UsageMeter, UsageTotals, WireOptions,
};
use super::{
    Balance, EndpointCapabilities, EndpointConfig, EndpointReport, HealthPolicy, Member, PoolState,
};
use crate::LlmError;

/// Settings of an [`OpenAiCompatible`] client, as written in a recipe.
///
/// ```toml
/// llm = { type = "openai", base_url = "https://api.openai.com/v1", model = "gpt-4.1-mini",
///         api_key_env = "OPENAI_API_KEY", temperature = 0.7, cache_dir = "cache/llm",
///         concurrency = 16, max_requests = 20000, timeout_secs = 120,
///         retry = { max_retries = 6 },
///         prices = { "gpt-4.1-mini" = { prompt_per_million = 0.4, completion_per_million = 1.6 } } }
/// ```
///
/// Local servers: vLLM `http://localhost:8000/v1`, Ollama `http://localhost:11434/v1`,
/// llama.cpp `http://localhost:8080/v1`, with no `api_key_env`.
///
/// Several servers of one model: `endpoints` instead of `base_url` (see [`EndpointConfig`]
/// and [`super::Balance`]); `concurrency` is then each server's default bound:
///
/// ```toml
/// llm = { type = "openai", model = "qwen2.5-7b-instruct", concurrency = 16,
///         endpoints = [{ base_url = "http://gpu-a:8000/v1", weight = 2, concurrency = 32 },
///                      { base_url = "http://gpu-b:8000/v1" }],
///         health = { failures_to_eject = 3, eject_secs = 5 } }
/// ```
///
/// The settings that shape what the model is asked (URL, model, sampling defaults, wire
/// options) are serialised. The operational ones (`concurrency`, `timeout_secs`,
/// `connect_timeout_secs`, `retry`, `max_requests`, `prices`, `cache_dir`) are read but not
/// serialised: they change how a run goes, not what it makes, so they stay out of the
/// pipeline's recipe fingerprint, and a run stopped by its budget resumes with a larger one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The API root, up to and including `/v1`; requests go to `{base_url}/chat/completions`.
    /// Empty when `endpoints` lists the servers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub base_url: String,
    /// The model name the server knows. With `endpoints`, it may be left out when every
    /// endpoint names the same model; answers are cached and priced under it.
    #[serde(default)]
    pub model: String,
    /// Several servers of the same model, instead of one `base_url`: each request goes to the
    /// least-loaded healthy one. Where requests go, not what is asked, so not serialised: a
    /// pool may gain or lose a server between a run and its resume.
    #[serde(default, skip_serializing)]
    pub endpoints: Vec<EndpointConfig>,
    /// When a server of `endpoints` is taken out of service and tried again.
    #[serde(default, skip_serializing)]
    pub health: HealthPolicy,
    /// The NAME of the environment variable holding the API key (`OPENAI_API_KEY`); none
    /// for local servers. The key itself never appears in a recipe, log, cache or output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Default temperature, for requests that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Default nucleus mass, for requests that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Default completion limit, for requests that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Default sampling seed, for requests that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// How a request's JSON schema is sent: `json_schema` (default), `json_object` or
    /// `none` for servers that support neither.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Ask for strict schema adherence (`strict: true`). Default true.
    #[serde(default = "yes")]
    pub strict_schema: bool,
    /// `max_tokens` (default) or `max_completion_tokens` (OpenAI reasoning models).
    #[serde(default)]
    pub max_tokens_field: MaxTokensField,
    /// Requests in flight at once (with `endpoints`: on each server that sets none).
    /// Default 8.
    #[serde(default = "default_concurrency", skip_serializing)]
    pub concurrency: usize,
    /// Deadline of one request (connect, generate, download), in seconds. Default 120.
    #[serde(default = "default_timeout", skip_serializing)]
    pub timeout_secs: f64,
    /// Deadline of opening a connection, in seconds. Default 10.
    #[serde(default = "default_connect_timeout", skip_serializing)]
    pub connect_timeout_secs: f64,
    /// When to send again after 429, 5xx, connection errors and timeouts.
    #[serde(default, skip_serializing)]
    pub retry: RetryPolicy,
    /// At most this many HTTP requests (retries included) in this process; then requests
    /// fail with a "request budget exhausted" error. None: no limit.
    #[serde(default, skip_serializing)]
    pub max_requests: Option<u64>,
    /// Prices per model, for the cost in usage reports.
    #[serde(default, skip_serializing)]
    pub prices: PriceTable,
    /// Directory of the response cache (relative paths: to the working directory). None:
    /// no cache.
    #[serde(default, skip_serializing)]
    pub cache_dir: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
fn default_concurrency() -> usize {
    8
}
fn default_timeout() -> f64 {
    120.0
}
fn default_connect_timeout() -> f64 {
    10.0
}

/// An `http(s)://` URL without credentials in it; the error names `key`.
fn check_url(key: &str, url: &str) -> Result<(), LlmError> {
    let bad = |message: String| LlmError::Config {
        key: key.into(),
        message,
    };
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(bad(format!("`{url}` must start with http:// or https://")));
    }
    if url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|h| h.contains('@'))
    {
        return Err(bad(
            "must not carry credentials; put the key in the variable named by api_key_env".into(),
        ));
    }
    Ok(())
}

impl OpenAiConfig {
    /// Settings for `model` at `base_url`, with the defaults above.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.into(),
            model: model.into(),
            endpoints: Vec::new(),
            health: HealthPolicy::default(),
            api_key_env: None,
            temperature: None,
            top_p: None,
            max_tokens: None,
            seed: None,
            response_format: ResponseFormat::default(),
            strict_schema: true,
            max_tokens_field: MaxTokensField::default(),
            concurrency: default_concurrency(),
            timeout_secs: default_timeout(),
            connect_timeout_secs: default_connect_timeout(),
            retry: RetryPolicy::default(),
            max_requests: None,
            prices: PriceTable::new(),
            cache_dir: None,
        }
    }

    /// Settings for `model` on several servers (`endpoints`), with the defaults above.
    pub fn pool(model: impl Into<String>, endpoints: Vec<EndpointConfig>) -> OpenAiConfig {
        OpenAiConfig {
            endpoints,
            ..OpenAiConfig::new("", model)
        }
    }

    /// With `endpoints` and no `model`: the model every endpoint names, if they agree.
    fn settle_model(&mut self) {
        if !self.model.trim().is_empty() {
            return;
        }
        let mut named = self.endpoints.iter().map(|e| e.model.as_deref());
        if let Some(Some(first)) = named.next()
            && named.all(|m| m == Some(first))
        {
            self.model = first.to_string();
        }
    }

    /// Checks ranges; errors name the key (`endpoints[1].weight`).
    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |key: &str, message: String| LlmError::Config {
            key: key.into(),
            message,
        };
        match (self.base_url.trim().is_empty(), self.endpoints.is_empty()) {
            (true, true) => {
                return Err(bad(
                    "base_url",
                    "is missing: give the server's API root (`http://localhost:8000/v1`), or \
                     `endpoints = [{ base_url = ... }, ...]` for several servers"
                        .into(),
                ));
            }
            (false, false) => {
                return Err(bad(
                    "endpoints",
                    format!(
                        "give either base_url or endpoints, not both (base_url = `{}`; list \
                         it in endpoints too if it is one of the servers)",
                        self.base_url
                    ),
                ));
            }
            (false, true) => check_url("base_url", &self.base_url)?,
            (true, false) => self.validate_endpoints()?,
        }
        if self.model.trim().is_empty() {
            return Err(bad(
                "model",
                if self.endpoints.is_empty() {
                    "must not be empty".into()
                } else {
                    "is missing: the endpoints do not all name one model, so name it at the \
                     top of the table (answers are cached and priced under it)"
                        .into()
                },
            ));
        }
        if let Some(var) = &self.api_key_env
            && (var.is_empty() || var.contains('=') || var.starts_with("sk-"))
        {
            return Err(bad(
                "api_key_env",
                "must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not a key"
                    .into(),
            ));
        }
        if self.concurrency == 0 {
            return Err(bad("concurrency", "must be at least 1".into()));
        }
        for (key, v) in [
            ("timeout_secs", self.timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    key,
                    format!("must be a positive number of seconds, not {v}"),
                ));
            }
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err(bad("temperature", format!("must be within 0..=2, not {t}")));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(bad("top_p", format!("must be within (0, 1], not {p}")));
        }
        if self.max_requests == Some(0) {
            return Err(bad(
                "max_requests",
                "must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        Ok(())
    }

    /// Each endpoint's URL, model, weight and concurrency; no server listed twice.
    fn validate_endpoints(&self) -> Result<(), LlmError> {
        let bad = |i: usize, field: &str, message: String| LlmError::Config {
            key: format!("endpoints[{i}].{field}"),
            message,
        };
        for (i, e) in self.endpoints.iter().enumerate() {
            check_url(&format!("endpoints[{i}].base_url"), &e.base_url)?;
            let same = |u: &str| u.trim().trim_end_matches('/').to_string();
            if let Some(j) = self.endpoints[..i]
                .iter()
                .position(|o| same(&o.base_url) == same(&e.base_url))
            {
                return Err(bad(
                    i,
                    "base_url",
                    format!(
                        "`{}` is already endpoints[{j}]; give it a larger weight or \
                         concurrency instead of listing it twice",
                        e.base_url
                    ),
                ));
            }
            if e.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
                return Err(bad(
                    i,
                    "model",
                    "must not be empty (leave it out for the table's model)".into(),
                ));
            }
            if !(e.weight.is_finite() && e.weight > 0.0) {
                return Err(bad(
                    i,
                    "weight",
                    format!("must be a positive number, not {}", e.weight),
                ));
            }
            if e.concurrency == Some(0) {
                return Err(bad(i, "concurrency", "must be at least 1".into()));
            }
        }
        self.health
            .validate()
            .map_err(|(key, message)| LlmError::Config { key, message })
    }

    fn wire(&self) -> WireOptions {
        WireOptions {
            response_format: self.response_format,
            strict_schema: self.strict_schema,
            max_tokens_field: self.max_tokens_field,
        }
    }

    /// What separates cache entries besides the request: server, model and wire options.
    ///
    /// A pool (`endpoints`) keys on the model and wire options alone, never on the server
    /// that answered: its servers serve one model, so an answer cached from one is as good as
    /// from another, and a rerun on a pool of other servers, or of one, repeats no call.
    fn cache_namespace(&self) -> String {
        if self.endpoints.is_empty() {
            serde_json::json!({
                "base_url": self.base_url.trim().trim_end_matches('/'),
                "model": self.model,
                "wire": self.wire(),
            })
            .to_string()
        } else {
            serde_json::json!({
                "model": self.model,
                "wire": self.wire(),
            })
            .to_string()
        }
    }

    /// The server, or the pool's servers, for reports: `http://a/v1, http://b/v1`.
    fn servers(&self) -> String {
        if self.endpoints.is_empty() {
            self.base_url.clone()
        } else {
            self.endpoints
                .iter()
                .map(|e| e.base_url.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// An OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama, llama.cpp server):
/// recipe `type = "openai"`, settings in [`OpenAiConfig`].
///
/// The layered client (see [`crate::llm`]) is built on the first request, so that a recipe
/// naming it can be parsed, checked and fingerprinted without network or key. Clones share
/// the built client: its connection pool, concurrency bound, budget, cache and accounting;
/// give a generator and a judge clones of one client to share them.
#[derive(Clone)]
pub struct OpenAiCompatible {
    config: OpenAiConfig,
    runtime: Arc<OnceLock<Arc<Runtime>>>,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("config", &self.config)
            .field("runtime", &self.runtime.get())
            .finish()
    }
}

impl OpenAiCompatible {
    /// A client with these settings, checked.
    pub fn new(mut config: OpenAiConfig) -> lux_core::Result<OpenAiCompatible> {
        config.settle_model();
        config.validate()?;
        Ok(OpenAiCompatible {
            config,
            runtime: Arc::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// Calls, tokens, cost, retries, cache hits so far (zeros before the first request).
    pub fn usage(&self) -> UsageReport {
        match self.runtime.get() {
            Some(rt) => rt.report(),
            None => UsageReport {
                base_url: self.config.servers(),
                model: self.config.model.clone(),
                max_requests: self.config.max_requests,
                ..UsageReport::default()
            },
        }
    }

    /// The file a cached answer to `request` lives in (after this client's defaults are
    /// applied), if the client has a cache.
    pub fn cache_path(&self, request: &ChatRequest) -> Option<PathBuf> {
        let dir = self.config.cache_dir.as_ref()?;
        let key = super::cache_key(&self.config.cache_namespace(), &self.with_defaults(request));
        Some(dir.join(&key[..2]).join(format!("{key}.json")))
    }

    /// The built client, building it on first use.
    fn runtime(&self) -> Result<&Arc<Runtime>, LlmError> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let built = Arc::new(Runtime::build(&self.config)?);
        if self.runtime.set(Arc::clone(&built)).is_ok() {
            register(&built);
        }
        self.runtime.get().ok_or_else(|| LlmError::Config {
            key: "llm".into(),
            message: "the client could not be initialised".into(),
        })
    }

    fn with_defaults(&self, request: &ChatRequest) -> ChatRequest {
        let c = &self.config;
        let mut r = request.clone();
        r.temperature = r.temperature.or(c.temperature);
        r.top_p = r.top_p.or(c.top_p);
        r.max_tokens = r.max_tokens.or(c.max_tokens);
        r.seed = r.seed.or(c.seed);
        r
    }
}

impl Serialize for OpenAiCompatible {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for OpenAiCompatible {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OpenAiCompatible::new(OpenAiConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "openai")]
#[async_trait]
impl LlmClient for OpenAiCompatible {
    async fn chat(&self, request: &ChatRequest) -> lux_core::Result<ChatResponse> {
        let rt = self.runtime()?;
        let request = self.with_defaults(request);
        Ok(rt.service.call(&request).await?)
    }

    fn model(&self) -> String {
        self.config.model.clone()
    }

    /// A relative `cache_dir` is the recipe's: it becomes `base_dir/cache_dir`, so a recipe's
    /// cache lives beside it whatever directory `lux` runs from. (Before the first request
    /// only: the cache opens then.)
    fn resolve_paths(&mut self, base_dir: &std::path::Path) -> lux_core::Result<()> {
        if self.runtime.get().is_none()
            && let Some(dir) = &self.config.cache_dir
            && dir.is_relative()
        {
            self.config.cache_dir = Some(base_dir.join(dir));
        }
        Ok(())
    }
}

/// The built client and live views of its layers' counters.
#[derive(Debug)]
struct Runtime {
    service: Box<dyn ChatService>,
    base_url: String,
    model: String,
    max_requests: Option<u64>,
    meter: Arc<UsageMeter>,
    cache: Option<Arc<CacheStats>>,
    sent: Arc<AtomicU64>,
    retry: Arc<RetryStats>,
    in_flight: Arc<InFlight>,
    fallbacks: Arc<FallbackStats>,
    pool: Option<Arc<PoolState>>,
}

/// The part of the stack under the retry layer, which sends each attempt: for one server
/// `Budget → ConcurrencyLimit → Timeout → HttpTransport`; for a pool `ConcurrencyLimit` (the
/// servers' bounds summed) `→ Balance →` per server `Budget → Timeout → HttpTransport`, the
/// servers' budgets counting in one counter.
struct Sending {
    service: Box<dyn ChatService>,
    capabilities: Arc<EndpointCapabilities>,
    sent: Arc<AtomicU64>,
    in_flight: Arc<InFlight>,
    pool: Option<Arc<PoolState>>,
}

impl Sending {
    fn one(c: &OpenAiConfig, key: Option<ApiKey>) -> Result<Sending, LlmError> {
        let http = HttpTransport::new(
            &c.base_url,
            &c.model,
            key,
            c.wire(),
            Duration::from_secs_f64(c.connect_timeout_secs),
        )?;
        let capabilities = http.capabilities();
        let timeout = Timeout::new(http, Duration::from_secs_f64(c.timeout_secs));
        let limit = ConcurrencyLimit::new(timeout, c.concurrency);
        let in_flight = limit.in_flight();
        let budget = Budget::new(limit, c.max_requests);
        let sent = budget.used();
        Ok(Sending {
            service: Box::new(budget),
            capabilities,
            sent,
            in_flight,
            pool: None,
        })
    }

    fn pool(c: &OpenAiConfig, key: Option<ApiKey>) -> Result<Sending, LlmError> {
        let sent = Arc::new(AtomicU64::new(0));
        // What one server was found to reject (a `response_format`) holds for all: one model.
        let mut capabilities: Option<Arc<EndpointCapabilities>> = None;
        let mut members = Vec::with_capacity(c.endpoints.len());
        for (i, e) in c.endpoints.iter().enumerate() {
            let model = e.model.as_deref().unwrap_or(&c.model);
            let http = HttpTransport::new(
                &e.base_url,
                model,
                key.clone(),
                c.wire(),
                Duration::from_secs_f64(c.connect_timeout_secs),
            )
            .map_err(|err| match err {
                LlmError::Config { key, message } => LlmError::Config {
                    key: format!("endpoints[{i}].{key}"),
                    message,
                },
                other => other,
            })?;
            let http = match &capabilities {
                Some(shared) => http.with_capabilities(Arc::clone(shared)),
                None => {
                    capabilities = Some(http.capabilities());
                    http
                }
            };
            let timeout = Timeout::new(http, Duration::from_secs_f64(c.timeout_secs));
            let budget = Budget::sharing(timeout, c.max_requests, Arc::clone(&sent));
            members.push(Member::new(
                e.base_url.trim(),
                model,
                e.weight,
                e.concurrency.unwrap_or(c.concurrency),
                budget,
            ));
        }
        let balance = Balance::new(members, c.health.clone());
        let pool = balance.state();
        let capacity = balance.capacity();
        let limit = ConcurrencyLimit::new(balance, capacity);
        let in_flight = limit.in_flight();
        Ok(Sending {
            service: Box::new(limit),
            capabilities: capabilities.ok_or_else(|| LlmError::Config {
                key: "endpoints".into(),
                message: "must list at least one server".into(),
            })?,
            sent,
            in_flight,
            pool: Some(pool),
        })
    }
}

impl Runtime {
    fn build(c: &OpenAiConfig) -> Result<Runtime, LlmError> {
        c.validate()?;
        let key = c.api_key_env.as_deref().map(ApiKey::from_env).transpose()?;
        let Sending {
            service: sending,
            capabilities,
            sent,
            in_flight,
            pool,
        } = if c.endpoints.is_empty() {
            Sending::one(c, key)?
        } else {
            Sending::pool(c, key)?
        };
        let retry = Retry::new(sending, c.retry.clone());
        let retry_stats = retry.stats();
        let adapt = Capabilities::new(retry, capabilities, &c.servers(), &c.model);
        let fallbacks = adapt.stats();
        let accounting = Accounting::new(adapt, &c.model, c.prices.clone());
        let meter = accounting.meter();
        let (service, cache): (Box<dyn ChatService>, _) = match &c.cache_dir {
            Some(dir) => {
                let cache = Cache::new(accounting, dir, c.cache_namespace());
                let stats = cache.stats();
                (Box::new(cache), Some(stats))
            }
            None => (Box::new(accounting), None),
        };
        Ok(Runtime {
            service,
            base_url: c.servers(),
            model: c.model.clone(),
            max_requests: c.max_requests,
            meter,
            cache,
            sent,
            retry: retry_stats,
            in_flight,
            fallbacks,
            pool,
        })
    }

    fn report(&self) -> UsageReport {
        UsageReport {
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            totals: self.meter.snapshot(),
            http_requests: self.sent.load(Ordering::Relaxed),
            max_requests: self.max_requests,
            retries: self.retry.retries(),
            cache_hits: self.cache.as_ref().map_or(0, |c| c.hits()),
            cache_write_errors: self.cache.as_ref().map_or(0, |c| c.write_errors()),
            in_flight: self.in_flight.current(),
            max_in_flight: self.in_flight.max(),
            fallbacks: self.fallbacks.snapshot(),
            endpoints: self.pool.as_ref().map(|p| p.report()).unwrap_or_default(),
        }
    }
}

/// What one client did: for progress bars (read it any time) and run reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The server.
    pub base_url: String,
    /// The model.
    pub model: String,
    /// Calls, tokens and cost (cache hits excluded).
    #[serde(flatten)]
    pub totals: UsageTotals,
    /// HTTP requests sent, retries included (what `max_requests` bounds).
    pub http_requests: u64,
    /// The request budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u64>,
    /// Requests sent again after a transient failure.
    pub retries: u64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Answers that could not be stored in the cache.
    pub cache_write_errors: u64,
    /// Requests in flight now.
    pub in_flight: usize,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
    /// Requests that needed a fallback because the server rejected or ignored a field, per
    /// kind (see [`Capabilities`]).
    #[serde(default, skip_serializing_if = "FallbackCounts::is_empty")]
    pub fallbacks: FallbackCounts,
    /// With several servers (`endpoints`): where the requests went, per server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointReport>,
}

impl fmt::Display for UsageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.totals;
        write!(
            f,
            "{}: {} calls ({} failed), {} prompt + {} completion tokens, ${:.4}",
            self.model, t.calls, t.failed, t.prompt_tokens, t.completion_tokens, t.cost_usd
        )?;
        if t.unpriced_calls > 0 {
            write!(f, " (+{} unpriced calls)", t.unpriced_calls)?;
        }
        write!(f, ", {} HTTP requests", self.http_requests)?;
        if let Some(max) = self.max_requests {
            write!(f, " of {max}")?;
        }
        write!(
            f,
            ", {} retries, {} cache hits",
            self.retries, self.cache_hits
        )?;
        if !self.fallbacks.is_empty() {
            write!(f, ", fallbacks: {}", self.fallbacks)?;
        }
        for e in &self.endpoints {
            let n = &e.counts;
            write!(
                f,
                "\n  {}: {} requests, {} failed, {} rate-limited, {} ejections, {} moved elsewhere ({})",
                e.base_url,
                n.requests,
                n.failures,
                n.rate_limited,
                n.ejections,
                n.moved_elsewhere,
                e.state
            )?;
        }
        Ok(())
    }
}

static REGISTRY: Mutex<Vec<Weak<Runtime>>> = Mutex::new(Vec::new());

fn register(rt: &Arc<Runtime>) {
    let mut clients = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    clients.retain(|w| w.strong_count() > 0);
    clients.push(Arc::downgrade(rt));
}

/// Usage of every [`OpenAiCompatible`] client alive in this process that has sent a
/// request, in the order they started: lets a CLI print costs after a run without reaching
/// into the plugins a recipe built.
pub fn usage_reports() -> Vec<UsageReport> {
    let clients = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    clients
        .iter()
        .filter_map(Weak::upgrade)
        .map(|rt| rt.report())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_relative_cache_dir_is_the_recipes() {
        let mut relative = OpenAiConfig::new("http://127.0.0.1:9/v1", "m");
        relative.cache_dir = Some("cache/llm".into());
        let mut client = OpenAiCompatible::new(relative).unwrap();
        client.resolve_paths(Path::new("/recipes")).unwrap();
        assert_eq!(
            client.config().cache_dir.as_deref(),
            Some(Path::new("/recipes/cache/llm"))
        );
        client.resolve_paths(Path::new("/elsewhere")).unwrap();
        assert_eq!(
            client.config().cache_dir.as_deref(),
            Some(Path::new("/recipes/cache/llm")),
            "an absolute directory stays"
        );
    }

    #[test]
    fn recipe_table_round_trip_keeps_operational_settings_out() {
        let toml = r#"
            type = "openai"
            base_url = "http://localhost:11434/v1"
            model = "qwen2.5:7b"
            temperature = 0.2
            concurrency = 4
            max_requests = 10
            response_format = "json_object"
            prices = { "qwen2.5:7b" = { prompt_per_million = 0.0, completion_per_million = 0.0 } }
        "#;
        let client: Box<dyn LlmClient> = toml::from_str(toml).unwrap();
        assert_eq!(client.model(), "qwen2.5:7b");
        let v = serde_json::to_value(&client).unwrap();
        assert_eq!(v["type"], "openai");
        assert_eq!(v["response_format"], "json_object");
        assert!(v.get("concurrency").is_none() && v.get("max_requests").is_none());
        let back: Box<dyn LlmClient> = serde_json::from_value(v).unwrap();
        assert_eq!(back.model(), "qwen2.5:7b");
    }

    #[test]
    fn bad_settings_fail_when_the_recipe_is_read() {
        let read = |extra: &str| {
            toml::from_str::<Box<dyn LlmClient>>(&format!(
                "type = \"openai\"\nbase_url = \"http://x/v1\"\nmodel = \"m\"\n{extra}"
            ))
            .unwrap_err()
            .to_string()
        };
        assert!(read("concurrency = 0").contains("concurrency"));
        assert!(read("temperature = 9.0").contains("temperature"));
        assert!(read("api_key_env = \"sk-abc\"").contains("NAME"));
        assert!(read("colour = 1").contains("colour"));
        let e = toml::from_str::<Box<dyn LlmClient>>(
            "type = \"openai\"\nbase_url = \"https://u:p@x/v1\"\nmodel = \"m\"",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("credentials"), "{e}");
    }

    #[tokio::test]
    async fn missing_key_variable_is_named() {
        let mut c = OpenAiConfig::new("http://127.0.0.1:9/v1", "m");
        c.api_key_env = Some("LUX_TEST_SURELY_UNSET_VARIABLE".into());
        let client = OpenAiCompatible::new(c).unwrap();
        let e = client
            .chat(&ChatRequest::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("LUX_TEST_SURELY_UNSET_VARIABLE"), "{e}");
    }
}
