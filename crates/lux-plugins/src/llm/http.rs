//! [`HttpTransport`]: one chat-completions request over HTTP, nothing more.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};
use reqwest::{StatusCode, Url, header};

use super::{ApiKey, ChatService, EndpointCapabilities, WireOptions, retry_after, wire};
use crate::LlmError;

/// A failed HTTP exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The server answered with an error status.
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// The endpoint.
        url: String,
        /// The server's error message (`error.message`), or the start of its body.
        message: String,
        /// The wait the server asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// No connection, or the connection broke before the whole answer arrived.
    #[error("connection to {url} failed: {message}")]
    Connection {
        /// The endpoint.
        url: String,
        /// What happened, with its causes.
        message: String,
    },
    /// The server answered 2xx with a body that is not a chat completion.
    #[error("unreadable answer from {url}: {message}")]
    Decode {
        /// The endpoint.
        url: String,
        /// What is wrong with the body.
        message: String,
    },
}

impl HttpError {
    /// 408, 409, 429, 5xx and connection failures may succeed when sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => {
                matches!(status, 408 | 409 | 429) || (500..=599).contains(status)
            }
            HttpError::Connection { .. } => true,
            HttpError::Decode { .. } => false,
        }
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Sends one request to `{base_url}/chat/completions` and reads the answer.
///
/// No retries, no timeout of its own beyond the connect timeout: those are layers.
pub struct HttpTransport {
    client: reqwest::Client,
    endpoint: Url,
    model: String,
    key: Option<ApiKey>,
    wire: WireOptions,
    /// What the endpoint was found to accept: its `response_format` replaces the configured
    /// one once the server rejected that (see [`super::Capabilities`]).
    capabilities: Arc<EndpointCapabilities>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "***"))
            .field("wire", &self.wire)
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

impl HttpTransport {
    /// A transport to `base_url` (`https://api.openai.com/v1`, `http://localhost:11434/v1`)
    /// for `model`. Loopback servers are reached directly, never through a proxy.
    pub fn new(
        base_url: &str,
        model: impl Into<String>,
        key: Option<ApiKey>,
        wire: WireOptions,
        connect_timeout: Duration,
    ) -> Result<HttpTransport, LlmError> {
        let invalid = |message: String| LlmError::Config {
            key: "base_url".into(),
            message,
        };
        let base = Url::parse(base_url.trim_end_matches('/'))
            .map_err(|e| invalid(format!("`{base_url}` is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "`{base_url}` must start with http:// or https://"
            )));
        }
        let endpoint = Url::parse(&format!(
            "{}/chat/completions",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| invalid(e.to_string()))?;
        // reqwest is built with `rustls-no-provider`: use ring unless the application
        // installed another provider first (then this is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("lux/", env!("CARGO_PKG_VERSION")));
        let host = base.host_str().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| invalid(format!("cannot build an HTTP client: {}", chain(&e))))?;
        // Fail now, not on the first request, if the key cannot be a header.
        if let Some(k) = &key {
            k.bearer()?;
        }
        Ok(HttpTransport {
            client,
            endpoint,
            model: model.into(),
            key,
            wire,
            capabilities: Arc::new(EndpointCapabilities::new(wire.response_format)),
        })
    }

    /// What the endpoint was found to accept, shared with the [`super::Capabilities`] layer
    /// that learns it.
    pub fn capabilities(&self) -> Arc<EndpointCapabilities> {
        Arc::clone(&self.capabilities)
    }

    /// This transport, writing requests by `capabilities` (shared with other transports to
    /// servers of one model, so that what one server was found to reject applies to all).
    pub fn with_capabilities(mut self, capabilities: Arc<EndpointCapabilities>) -> HttpTransport {
        self.capabilities = capabilities;
        self
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    fn redact(&self, text: String) -> String {
        match &self.key {
            Some(k) => k.redact(&text),
            None => text,
        }
    }

    fn connection_error(&self, what: &str, e: &reqwest::Error) -> LlmError {
        HttpError::Connection {
            url: self.endpoint.to_string(),
            message: self.redact(format!("{what}: {}", chain(e))),
        }
        .into()
    }
}

/// An error and its causes, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[async_trait]
impl ChatService for HttpTransport {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let options = WireOptions {
            response_format: self.capabilities.response_format(),
            ..self.wire
        };
        let body = wire::request_body(&self.model, request, &options);
        let mut req = self
            .client
            .post(self.endpoint.clone())
            .header(header::ACCEPT, "application/json")
            .json(&body);
        if let Some(k) = &self.key {
            req = req.header(header::AUTHORIZATION, k.bearer()?);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.connection_error("sending the request", &e))?;
        let status = resp.status();
        let retry_after = retry_after::from_headers(resp.headers(), SystemTime::now());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.connection_error("reading the response body", &e))?;
        if !status.is_success() {
            return Err(HttpError::Status {
                status: status.as_u16(),
                url: self.endpoint.to_string(),
                message: self.redact(describe(status, &bytes)),
                retry_after,
            }
            .into());
        }
        wire::parse_response(&bytes, &self.model).map_err(|message| {
            HttpError::Decode {
                url: self.endpoint.to_string(),
                message: self.redact(message),
            }
            .into()
        })
    }
}

fn describe(status: StatusCode, body: &[u8]) -> String {
    let msg = wire::error_message(body);
    match status.canonical_reason() {
        Some(reason) => format!("{reason}: {msg}"),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses() {
        let s = |status| HttpError::Status {
            status,
            url: String::new(),
            message: String::new(),
            retry_after: None,
        };
        for code in [408, 429, 500, 502, 503, 504, 529] {
            assert!(s(code).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 422] {
            assert!(!s(code).is_transient(), "{code}");
        }
    }

    #[test]
    fn rejects_bad_urls_and_hides_the_key() {
        let w = WireOptions::default();
        let d = Duration::from_secs(1);
        assert!(HttpTransport::new("ftp://x", "m", None, w, d).is_err());
        assert!(HttpTransport::new("not a url", "m", None, w, d).is_err());
        let t = HttpTransport::new(
            "http://127.0.0.1:9/v1/",
            "m",
            Some(ApiKey::new("sk-zzz")),
            w,
            d,
        )
        .unwrap();
        assert_eq!(t.endpoint(), "http://127.0.0.1:9/v1/chat/completions");
        assert!(!format!("{t:?}").contains("sk-zzz"));
    }
}
