use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in lux, with enough context to find the cause.
///
/// Each crate has its own error enum that converts into this one; the variants here carry the
/// file, line, key or document that a user needs to fix their input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file has malformed content at a known place.
    #[error("{}{}: {message}", path.display(), location.as_deref().map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where in the file: `line 12`, `12:5`, `key "foo.bar"`, `entry 3`, `byte 4096`…
        location: Option<String>,
        /// What is wrong.
        message: String,
        /// The parser's own error (serde_json's, safetensors'…), when one said what is wrong.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// A setting (recipe key, config field, argument) has a value that cannot work.
    #[error("invalid {key}: {message}")]
    Invalid {
        /// The key path (`filters[2].chars`, `lora.r`).
        key: String,
        /// Why the value is rejected.
        message: String,
    },
    /// A plugin failed on one item; the pipeline records this and goes on.
    #[error("{plugin}: {message}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// What happened.
        message: String,
    },
    /// Talking to a language model failed. The cause stays reachable through
    /// [`source`](std::error::Error::source): the client's own error (an HTTP status with its
    /// endpoint, a timeout, a spent budget), or the failure of the thread a local model ran on.
    #[error("{context}: {source}")]
    Llm {
        /// What was asked of the model (`LLM request failed`, `local generation thread failed`).
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A numeric computation cannot give a meaningful result for this input.
    #[error("{0}")]
    Numeric(String),
    /// An error from another crate, with its context already in the message.
    #[error("{context}: {source}")]
    Other {
        /// What lux was doing.
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A parse error at `location` (e.g. `line 3`) in `path`.
    pub fn parse(
        path: impl AsRef<Path>,
        location: impl Into<Option<String>>,
        message: impl Into<String>,
    ) -> Error {
        Error::Parse {
            path: path.as_ref().to_path_buf(),
            location: location.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A parse error at `location` in `path` that a parser reported: its message is the
    /// parser's, and the parser's error stays reachable through
    /// [`source`](std::error::Error::source) (instead of being flattened to a string).
    pub fn parse_source(
        path: impl AsRef<Path>,
        location: impl Into<Option<String>>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Parse {
            path: path.as_ref().to_path_buf(),
            location: location.into(),
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// A parse error on a 1-based line of `path`.
    pub fn at_line(path: impl AsRef<Path>, line: usize, message: impl Into<String>) -> Error {
        Error::parse(path, Some(format!("line {line}")), message)
    }

    /// An invalid setting.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A plugin failure.
    pub fn plugin(plugin: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Plugin {
            plugin: plugin.into(),
            message: message.into(),
        }
    }

    /// A language model failure: `context` says what was asked, `source` why it failed
    /// (a typed error, kept for [`source`](std::error::Error::source); a message only when
    /// there is no underlying error).
    pub fn llm(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        Error::Llm {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Wraps any error with what lux was doing.
    pub fn other(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        Error::Other {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Adds a path to I/O results: `fs::read(p).with_path(p)?`.
pub trait IoContext<T> {
    /// Turns an `io::Error` into [`Error::Io`] naming `path`.
    fn with_path(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_place() {
        let e = Error::at_line("a/b.po", 12, "unterminated string");
        assert_eq!(e.to_string(), "a/b.po:line 12: unterminated string");
        let e = Error::parse("x.json", None, "not an object");
        assert_eq!(e.to_string(), "x.json: not an object");
        let e = Error::invalid("filters[1].chars", "must be > 0");
        assert_eq!(e.to_string(), "invalid filters[1].chars: must be > 0");
    }

    /// The chain of causes below `e`, outermost first, as `source()` gives them.
    fn causes(e: &dyn std::error::Error) -> Vec<String> {
        std::iter::successors(e.source(), |c| c.source())
            .map(ToString::to_string)
            .collect()
    }

    /// A typed cause two levels down, as a client's error wraps its transport's.
    #[derive(Debug, thiserror::Error)]
    #[error("http://127.0.0.1:9/v1 answered 503")]
    struct Status {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn llm_errors_keep_their_causes() {
        let status = Status {
            source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"),
        };
        let e = Error::llm("LLM request failed", status);
        assert_eq!(
            e.to_string(),
            "LLM request failed: http://127.0.0.1:9/v1 answered 503"
        );
        assert_eq!(
            causes(&e),
            ["http://127.0.0.1:9/v1 answered 503", "connection reset"]
        );
        let cause = std::error::Error::source(&e).expect("a cause");
        let io = cause
            .source()
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .expect("the I/O error is reachable");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn parse_errors_keep_the_parsers_error() {
        let bad = serde_json::from_str::<serde_json::Value>("{\"a\": }").unwrap_err();
        let line = bad.line();
        let e = Error::parse_source("run/manifest.json", None, bad);
        assert!(
            e.to_string()
                .starts_with("run/manifest.json: expected value"),
            "{e}"
        );
        let json = std::error::Error::source(&e)
            .and_then(|c| c.downcast_ref::<serde_json::Error>())
            .expect("serde_json's error is reachable");
        assert_eq!(json.line(), line);
        assert!(std::error::Error::source(&Error::parse("x", None, "m")).is_none());
    }

    #[test]
    fn io_errors_keep_their_cause_under_other() {
        let missing = std::fs::read("/nonexistent/lux/recipe.toml").unwrap_err();
        let kind = missing.kind();
        let io = Error::io("/nonexistent/lux/recipe.toml", missing);
        let e = Error::other("reading the recipe", io);
        assert_eq!(causes(&e).len(), 2, "{:?}", causes(&e));
        let inner = std::error::Error::source(&e)
            .and_then(|c| c.downcast_ref::<Error>())
            .expect("the lux error is reachable");
        assert!(
            inner
                .to_string()
                .starts_with("/nonexistent/lux/recipe.toml: ")
        );
        let io = std::error::Error::source(inner)
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .expect("the I/O error is reachable");
        assert_eq!(io.kind(), kind);
    }
}
