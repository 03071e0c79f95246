//! [`ApiKey`]: a secret that cannot be printed.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::LlmError;

/// An API key read from the environment. Its `Debug` and `Display` print `***`, it does not
/// implement `Serialize`, and the only way out is the `Authorization` header value, marked
/// sensitive so that HTTP logging skips it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Reads the key from the environment variable `var` (its name comes from the recipe's
    /// `api_key_env`); an unset or empty variable is a [`LlmError::Config`] naming `var`.
    pub fn from_env(var: &str) -> Result<ApiKey, LlmError> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey(v.trim().to_string())),
            Ok(_) => Err(LlmError::Config {
                key: "api_key_env".into(),
                message: format!("environment variable {var} is empty"),
            }),
            Err(_) => Err(LlmError::Config {
                key: "api_key_env".into(),
                message: format!(
                    "environment variable {var} is not set (or not UTF-8); export the API key \
                     there, or remove api_key_env for servers that need none"
                ),
            }),
        }
    }

    /// A key given in code (tests, embedding applications).
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// `Bearer <key>`, marked sensitive.
    pub(crate) fn bearer(&self) -> Result<HeaderValue, LlmError> {
        let mut v =
            HeaderValue::from_str(&format!("Bearer {}", self.0)).map_err(|_| LlmError::Config {
                key: "api_key_env".into(),
                message: "the API key contains characters not allowed in an HTTP header".into(),
            })?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// Replaces every occurrence of the key in `text` (a server error body that echoes it).
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.len() >= 4 && text.contains(&self.0) {
            text.replace(&self.0, "[redacted]")
        } else {
            text.to_string()
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new("sk-very-secret");
        assert_eq!(format!("{k:?}"), "ApiKey(***)");
        assert_eq!(k.to_string(), "***");
        assert!(format!("{:?}", k.bearer().unwrap()).contains("Sensitive"));
        assert_eq!(k.redact("bad key sk-very-secret!"), "bad key [redacted]!");
    }
}
