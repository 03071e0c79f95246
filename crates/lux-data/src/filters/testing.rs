//! Helpers for the filter tests.

use std::path::PathBuf;

use lux_core::{Example, Filter, FilterContext, Lang, TaskKind, Verdict};

/// An English-instruction, Luxembourgish-output example.
pub(crate) fn example(instruction: &str, input: Option<&str>, output: &str) -> Example {
    Example {
        id: lux_core::rng::id(&format!("{instruction}\u{1f}{input:?}\u{1f}{output}")),
        task: TaskKind::SENTENCE_TRANSLATION,
        instruction: instruction.to_string(),
        instruction_lang: Lang::EN,
        input: input.map(str::to_string),
        output: output.to_string(),
        output_lang: Lang::LB,
        source: "test".to_string(),
        license: "CC0-1.0".to_string(),
        seed_id: "seed".to_string(),
        generator: "test".to_string(),
        template: String::new(),
    }
}

/// An example with only an instruction and an output.
pub(crate) fn ex(instruction: &str, output: &str) -> Example {
    example(instruction, None, output)
}

/// A context for a `lb` run with English, French and German instructions.
pub(crate) fn ctx() -> FilterContext {
    ctx_in(PathBuf::from("."))
}

/// [`ctx`] with another base directory.
pub(crate) fn ctx_in(base_dir: PathBuf) -> FilterContext {
    FilterContext {
        native: Lang::LB,
        instruction_langs: vec![Lang::EN, Lang::FR, Lang::DE],
        base_dir,
        seed: 1729,
    }
}

/// The drop reason, or `None` for a keep.
pub(crate) fn reason(v: &Verdict) -> Option<&str> {
    match v {
        Verdict::Keep => None,
        Verdict::Drop { reason } => Some(reason),
    }
}

/// Prepares `filter` and runs it over `examples`, returning the reasons (`None`: kept).
pub(crate) fn run(filter: &mut dyn Filter, examples: &[Example]) -> Vec<Option<String>> {
    filter.prepare(&ctx()).expect("prepare");
    examples
        .iter()
        .map(|e| reason(&filter.check(e).expect("check")).map(str::to_string))
        .collect()
}

/// Parses a filter table through the trait, as a recipe does.
pub(crate) fn from_toml(text: &str) -> Box<dyn Filter> {
    toml::from_str::<Box<dyn Filter>>(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}
