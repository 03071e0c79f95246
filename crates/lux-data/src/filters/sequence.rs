use lux_core::{Error, Example, Filter, FilterContext, Result, Verdict};
use serde::{Deserialize, Serialize};

/// Filters applied in order as one filter: the first that drops an example decides, with
/// its own reason, and later ones do not see the example (as in the pipeline itself).
/// `prepare` prepares every member, so stateful members are reset too.
///
/// Useful to name a group of filters in statistics (`name`), or to reuse one group in
/// several recipes.
///
/// ```toml
/// [[filters]]
/// type = "sequence"
/// name = "cleanup"
///
/// [[filters.filters]]
/// type = "markup"
///
/// [[filters.filters]]
/// type = "length"
/// min_output_chars = 2
/// ```
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// Name in `dropped.jsonl` and the statistics (`sequence` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The filters, applied in order.
    #[serde(default)]
    pub filters: Vec<Box<dyn Filter>>,
}

impl Sequence {
    /// A sequence of `filters`.
    pub fn new(filters: Vec<Box<dyn Filter>>) -> Sequence {
        Sequence {
            name: None,
            filters,
        }
    }
}

#[typetag::serde(name = "sequence")]
impl Filter for Sequence {
    fn prepare(&mut self, ctx: &FilterContext) -> Result<()> {
        for (i, f) in self.filters.iter_mut().enumerate() {
            f.prepare(ctx)
                .map_err(|e| Error::other(format!("sequence filter {i} ({})", f.name()), e))?;
        }
        Ok(())
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        for f in &mut self.filters {
            let verdict = f.check(example)?;
            if !verdict.is_keep() {
                return Ok(verdict);
            }
        }
        Ok(Verdict::Keep)
    }

    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "sequence".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;
    use crate::filters::{ExactDedup, Length, Markup};

    fn cleanup() -> Sequence {
        Sequence::new(vec![
            Box::new(Markup::default()),
            Box::new(Length {
                min_output_chars: 3,
                ..Default::default()
            }),
            Box::new(ExactDedup::default()),
        ])
    }

    #[test]
    fn first_drop_wins_and_later_filters_do_not_see_it() {
        let mut f = cleanup();
        let r = run(
            &mut f,
            &[
                ex("Say hi.", "[[Moien]]"),
                ex("Say hi.", "Mo"),
                ex("Say hi.", "Moien"),
                ex("Say hi.", "Moien"),
                // Dropped by markup above, so dedup never saw it: kept now.
                ex("Say hi.", "Moien Moien"),
            ],
        );
        assert_eq!(r[0].as_deref(), Some("markup: \"[[\" in output"));
        assert_eq!(r[1].as_deref(), Some("output too short: 2 < 3 chars"));
        assert_eq!(r[2], None);
        assert!(r[3].as_deref().unwrap().starts_with("duplicate example"));
        assert_eq!(r[4], None);
    }

    #[test]
    fn prepare_reaches_every_member() {
        let mut f = cleanup();
        let e = ex("Say hi.", "Moien");
        assert_eq!(run(&mut f, std::slice::from_ref(&e)), [None]);
        assert_eq!(
            run(&mut f, std::slice::from_ref(&e)),
            [None],
            "dedup state reset by prepare"
        );
        let mut bad = Sequence::new(vec![Box::new(Length {
            min_output_chars: 9,
            max_output_chars: Some(1),
            ..Default::default()
        })]);
        let err = bad.prepare(&ctx()).unwrap_err().to_string();
        assert!(
            err.contains("sequence filter 0 (length)") && err.contains("max_output_chars"),
            "{err}"
        );
    }

    #[test]
    fn empty_sequence_keeps_everything() {
        assert_eq!(run(&mut Sequence::default(), &[ex("a", "b")]), [None]);
    }

    #[test]
    fn deserialises_nested_filters_through_the_trait() {
        let mut f = from_toml(
            "type = \"sequence\"\nname = \"cleanup\"\n\
             [[filters]]\ntype = \"length\"\nmin_output_chars = 3\n\
             [[filters]]\ntype = \"sequence\"\n[[filters.filters]]\ntype = \"exact_dedup\"\n",
        );
        assert_eq!(f.name(), "cleanup");
        let r = run(
            f.as_mut(),
            &[ex("a", "b"), ex("a", "Moien"), ex("a", "Moien")],
        );
        assert_eq!(r[0].as_deref(), Some("output too short: 1 < 3 chars"));
        assert_eq!(r[1], None);
        assert!(r[2].is_some());
        let back = serde_json::to_value(&*f).unwrap();
        assert_eq!(back["filters"][1]["filters"][0]["type"], "exact_dedup");
        assert!(toml::from_str::<Box<dyn Filter>>("type = \"sequence\"\nsteps = []").is_err());
    }
}
