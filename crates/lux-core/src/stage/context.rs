//! [`StageContext`]: where a stage writes, what earlier stages left, what the run shares.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Resources;
use crate::{Error, Lang, Result};

/// A file or directory a finished stage leaves for later ones: a dataset (`kind = "dataset"`,
/// JSONL of [`crate::Example`]), a PEFT adapter directory (`"adapter"`), an alignment layer
/// (`"aligner"`)…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// What the file is; stages look inputs up by kind.
    pub kind: String,
    /// Where it is.
    pub path: PathBuf,
}

impl Artifact {
    /// An artifact of `kind` at `path`.
    pub fn new(kind: impl Into<String>, path: impl Into<PathBuf>) -> Artifact {
        Artifact {
            kind: kind.into(),
            path: path.into(),
        }
    }
}

/// What a stage of a recipe runs in.
#[derive(Debug, Clone)]
pub struct StageContext {
    /// The stage's name in the run (`sft`, `cka`, or the `name` its table gives).
    pub name: String,
    /// The stage's own output directory (created before the stage runs).
    pub dir: PathBuf,
    /// The run directory, holding every stage's directory and the report.
    pub run_dir: PathBuf,
    /// The recipe's directory: relative paths in a stage's settings resolve against it.
    pub base_dir: PathBuf,
    /// The recipe's seed.
    pub seed: u64,
    /// The native (low-resource) language of the run, when the recipe names one.
    pub native: Option<Lang>,
    /// The languages instructions are written in.
    pub instruction_langs: Vec<Lang>,
    /// Whether the run was asked to be quick (`lux run --quick`): the recipe's `quick`
    /// tables are already applied; stages may also shorten what they log.
    pub quick: bool,
    /// Show progress bars.
    pub progress: bool,
    /// What earlier stages left, by `"<stage>/<artifact>"` (`mix/train`, `sft/adapter`), in
    /// the order the stages ran.
    pub inputs: Vec<(String, Artifact)>,
    /// Values shared across the run's stages (loaded models, LLM clients, the `[model]`
    /// table).
    pub resources: Resources,
}

impl StageContext {
    /// `path` if absolute, else resolved against the recipe's directory.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        self.base_dir.join(path)
    }

    /// `path` relative to the run directory, with `/` separators: what a stage writes in its
    /// Markdown so that the links of `report.md` work.
    pub fn link(&self, path: impl AsRef<Path>) -> String {
        let path = path.as_ref();
        let rel = path.strip_prefix(&self.run_dir).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The artifact named `key` (`mix/train`); the error lists the ones there are.
    pub fn input(&self, key: &str) -> Result<&Artifact> {
        self.inputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a)
            .ok_or_else(|| {
                let known: Vec<&str> = self.inputs.iter().map(|(k, _)| k.as_str()).collect();
                Error::plugin(
                    &self.name,
                    format!(
                        "no earlier stage left `{key}` (there are: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })
    }

    /// Every artifact of `kind`, with its key, in the order the stages ran.
    pub fn inputs_of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Artifact)> + 'a {
        self.inputs
            .iter()
            .filter(move |(_, a)| a.kind == kind)
            .map(|(k, a)| (k.as_str(), a))
    }

    /// A progress bar of `len` steps labelled with the stage's name and `what`, hidden when
    /// the run shows no progress: every long stage reports through one of these.
    pub fn progress_bar(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} {bar:30} {pos}/{len} {msg} [{elapsed}<{eta}]",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{} {what}", self.name));
        bar
    }

    /// The native language, or an error naming the stage that needs it.
    pub fn native(&self) -> Result<&Lang> {
        self.native.as_ref().ok_or_else(|| {
            Error::plugin(
                &self.name,
                "needs the run's native language: set `native` in [data] (or at the top of the \
                 recipe)",
            )
        })
    }

    /// A context for tests and for programs that run one stage by hand: writes into `dir`,
    /// resolves paths against `.`, seed 1729, no inputs.
    pub fn standalone(name: impl Into<String>, dir: impl Into<PathBuf>) -> StageContext {
        let dir = dir.into();
        StageContext {
            name: name.into(),
            run_dir: dir.clone(),
            dir,
            base_dir: PathBuf::from("."),
            seed: 1729,
            native: None,
            instruction_langs: Vec::new(),
            quick: false,
            progress: false,
            inputs: Vec::new(),
            resources: Resources::default(),
        }
    }
}
