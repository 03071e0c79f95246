//! [`InstructionGenerator`]: seeds in, examples out.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Example, Lang, Result, Seed};

/// The run-wide settings every generator reads.
#[derive(Debug, Clone)]
pub struct GenerateContext {
    /// The recipe's seed: every choice a generator makes derives from it (see [`crate::rng`]).
    pub seed: u64,
    /// The native (low-resource) language: the output side of cross-lingual examples.
    pub native: Lang,
    /// The languages instructions are written in.
    pub instruction_langs: Vec<Lang>,
    /// The recipe's own names of languages as written in other languages
    /// (`names[(fr, gsw)] = "suisse allemand"`), before the language-names table. Templates
    /// say "translate into {native}".
    pub language_names: BTreeMap<(Lang, Lang), String>,
    /// Directory that relative paths in a generator's settings (prompt files, models) are
    /// resolved against: the recipe's directory in a pipeline run, `.` by default.
    pub base_dir: PathBuf,
}

impl GenerateContext {
    /// A context with no names of its own: [`GenerateContext::language_name`] reads the
    /// language-names table ([`Lang::name_in`]).
    pub fn new(seed: u64, native: Lang, instruction_langs: Vec<Lang>) -> GenerateContext {
        GenerateContext {
            seed,
            native,
            instruction_langs,
            language_names: BTreeMap::new(),
            base_dir: PathBuf::from("."),
        }
    }

    /// The same context resolving relative paths against `base_dir`.
    pub fn with_base_dir(mut self, base_dir: impl Into<PathBuf>) -> GenerateContext {
        self.base_dir = base_dir.into();
        self
    }

    /// `path` if absolute, else `base_dir/path`.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The name of `of` written in `in_lang` ("Luxembourgish", "luxembourgeois",
    /// "Luxemburgisch"): the recipe's `language_names` first, then the language-names table,
    /// then the English name (see [`Lang::name_in`]).
    pub fn language_name(&self, in_lang: &Lang, of: &Lang) -> String {
        self.language_names
            .get(&(in_lang.clone(), of.clone()))
            .cloned()
            .unwrap_or_else(|| of.name_in(in_lang))
    }
}

/// A candidate example a generator refused, with why (the LLM quoted a span that is not in
/// the source, answered in the wrong language…). Written to the run's journal and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The generator.
    pub generator: String,
    /// The reason, specific enough to act on.
    pub reason: String,
}

/// What one generator made from one seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Accepted examples.
    pub examples: Vec<Example>,
    /// Candidates the generator itself rejected.
    pub rejected: Vec<Rejection>,
}

impl Generation {
    /// A generation of just these examples.
    pub fn of(examples: Vec<Example>) -> Generation {
        Generation {
            examples,
            rejected: Vec::new(),
        }
    }
}

/// Turns a [`Seed`] into zero or more [`Example`]s.
///
/// Contract:
/// - deterministic for a given `ctx.seed` and seed item (choices through [`crate::rng`]), so a
///   resumed run produces the same dataset;
/// - `Ok` with an empty generation when the seed does not suit this generator;
/// - `Err` only for failures of the generator itself (an LLM that cannot be reached after its
///   retries); the pipeline records it against the seed and moves on.
#[typetag::serde(tag = "type")]
#[async_trait]
pub trait InstructionGenerator: Send + Sync + Debug {
    /// Makes examples from one seed.
    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation>;

    /// Called once before the first seed of a run: read prompt files, load or train models.
    /// Failures here stop the run before any work is done (a missing file is found at once,
    /// not after an hour of paid requests).
    fn prepare(&mut self, ctx: &GenerateContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Cheap check whether this generator can use `seed` at all; seeds no generator accepts
    /// are skipped without being journaled.
    fn accepts(&self, seed: &Seed) -> bool {
        let _ = seed;
        true
    }

    /// A name for logs, provenance and the `generator` field of examples.
    fn name(&self) -> String {
        self.typetag_name().to_string()
    }
}
