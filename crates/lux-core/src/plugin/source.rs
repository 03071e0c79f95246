//! [`SeedSource`]: where raw material comes from.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use crate::{Lang, Result, Seed};

/// A stream of seed items. Sources parse lazily: a 5 GB dump is never held in memory.
pub type SeedStream = Box<dyn Iterator<Item = Result<Seed>> + Send>;

/// What a source needs to know about the run that opens it.
#[derive(Debug, Clone, Default)]
pub struct SourceContext {
    /// Directory that relative paths in the recipe are resolved against (the recipe's own).
    pub base_dir: PathBuf,
    /// The run's native language, for sources whose settings leave theirs out (a dictionary
    /// file's headword language): a recipe for Faroese need not repeat `lang = "fo"`.
    pub native: Option<Lang>,
    /// The languages the run keeps, for catalogue sources whose settings list none (`lux
    /// corpus`: the native, instruction and neighbour languages).
    pub langs: Vec<Lang>,
}

impl SourceContext {
    /// A context resolving paths against `base_dir`.
    pub fn new(base_dir: impl Into<PathBuf>) -> SourceContext {
        SourceContext {
            base_dir: base_dir.into(),
            native: None,
            langs: Vec::new(),
        }
    }

    /// The same context with the languages the run keeps.
    pub fn with_langs(mut self, langs: Vec<Lang>) -> SourceContext {
        self.langs = langs;
        self
    }

    /// The same context with the run's native language.
    pub fn with_native(mut self, native: Lang) -> SourceContext {
        self.native = Some(native);
        self
    }

    /// `path` if absolute, else `base_dir/path`.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let p = path.as_ref();
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Yields [`Seed`]s: native documents, aligned translation groups or dictionary entries.
///
/// Contract:
/// - `open` may be called more than once and must yield the same items in the same order
///   (the pipeline relies on this to resume);
/// - item ids are unique within the source;
/// - a malformed record is an `Err` naming the file and line (or key), after which the
///   stream may end; the pipeline stops on it rather than silently skipping data.
#[typetag::serde(tag = "type")]
pub trait SeedSource: Send + Sync + Debug {
    /// Opens the stream.
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream>;

    /// A name for logs and provenance; defaults to the plugin's type name.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
