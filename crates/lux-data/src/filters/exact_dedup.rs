use std::collections::HashMap;

use lux_core::{Example, Filter, FilterContext, Result, Verdict, rng};
use serde::{Deserialize, Serialize};

use crate::text::dedup_key;

/// What two examples must share to be duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupScope {
    /// Instruction, input and output together.
    #[default]
    Example,
    /// The output alone.
    Output,
}

/// Drops an example that repeats an earlier kept one exactly, comparing
/// [`dedup_key`]s (case, spacing, punctuation and Unicode normalisation do not count) of the
/// instruction, input and output together (`scope = "example"`, the default) or of the
/// output alone (`scope = "output"`). The first occurrence in stream order is kept.
///
/// Keys are remembered as 128-bit hashes, so the filter's memory grows by a few dozen bytes
/// per kept example. `prepare` forgets everything seen.
///
/// Drop reasons: `duplicate example: same as 3f2a…` and `duplicate output: same as 3f2a…`
/// (the id of the kept example).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExactDedup {
    /// `example` (instruction + input + output) or `output`.
    #[serde(default)]
    pub scope: DedupScope,
    /// Key hash → id of the first example with that key.
    #[serde(skip)]
    seen: HashMap<u128, String>,
}

impl ExactDedup {
    /// A filter comparing `scope`.
    pub fn new(scope: DedupScope) -> ExactDedup {
        ExactDedup {
            scope,
            seen: HashMap::new(),
        }
    }

    fn key(&self, example: &Example) -> String {
        match self.scope {
            DedupScope::Output => dedup_key(&example.output),
            DedupScope::Example => format!(
                "{}\u{1f}{}\u{1f}{}",
                dedup_key(&example.instruction),
                example.input.as_deref().map(dedup_key).unwrap_or_default(),
                dedup_key(&example.output)
            ),
        }
    }
}

#[typetag::serde(name = "exact_dedup")]
impl Filter for ExactDedup {
    fn prepare(&mut self, _ctx: &FilterContext) -> Result<()> {
        self.seen.clear();
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        let key = self.key(example);
        let hash = (u128::from(rng::hash(0x6c75_785f_6465_6475, &key)) << 64)
            | u128::from(rng::hash(0x7870_7564_6564_5f78, &key));
        match self.seen.get(&hash) {
            Some(first) => {
                let what = match self.scope {
                    DedupScope::Example => "example",
                    DedupScope::Output => "output",
                };
                Ok(Verdict::drop(format!("duplicate {what}: same as {first}")))
            }
            None => {
                self.seen.insert(hash, example.id.clone());
                Ok(Verdict::Keep)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;

    #[test]
    fn keeps_the_first_of_equal_examples() {
        let a = ex("Translate: house", "Haus");
        let mut b = ex("translate  house!", "haus");
        b.id = "second".into();
        let c = ex("Translate: house", "Haus an der Stad");
        let d = example("Translate: house", Some("x"), "Haus");
        let mut f = ExactDedup::default();
        let r = run(&mut f, &[a.clone(), b, c, d]);
        assert_eq!(r[0], None);
        assert_eq!(
            r[1].as_deref(),
            Some(format!("duplicate example: same as {}", a.id).as_str())
        );
        assert_eq!(r[2], None);
        assert_eq!(r[3], None, "a different input makes a different example");
    }

    #[test]
    fn output_scope_compares_outputs_only() {
        let mut f = ExactDedup::new(DedupScope::Output);
        let r = run(
            &mut f,
            &[ex("Say hello.", "Moien!"), ex("Greet me.", "moien")],
        );
        assert_eq!(r[0], None);
        assert!(
            r[1].as_deref()
                .unwrap()
                .starts_with("duplicate output: same as ")
        );
    }

    #[test]
    fn prepare_resets_the_state() {
        let mut f = ExactDedup::default();
        let e = ex("Say hello.", "Moien!");
        assert_eq!(
            run(&mut f, &[e.clone(), e.clone()]),
            [None, Some(format!("duplicate example: same as {}", e.id))]
        );
        // A second pass gives the same verdicts, not "duplicate" for the first one.
        assert_eq!(
            run(&mut f, &[e.clone(), e.clone()]),
            [None, Some(format!("duplicate example: same as {}", e.id))]
        );
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml("type = \"exact_dedup\"\nscope = \"output\"");
        assert_eq!(f.name(), "exact_dedup");
        let r = run(f.as_mut(), &[ex("a", "Moien"), ex("b", "Moien")]);
        assert!(r[1].is_some());
        assert!(
            toml::from_str::<Box<dyn Filter>>("type = \"exact_dedup\"\nscope = \"all\"").is_err()
        );
    }
}
