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
    /// Talking to a language model failed.
    #[error("LLM request failed: {0}")]
    Llm(String),
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
}
