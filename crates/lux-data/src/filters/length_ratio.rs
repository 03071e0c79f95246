use std::collections::BTreeMap;

use lux_core::{Error, Example, Filter, FilterContext, Result, TaskKind, Verdict};
use serde::{Deserialize, Serialize};

use crate::text::word_count;

/// How lengths are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Characters (Unicode scalar values) of the trimmed text.
    #[default]
    Chars,
    /// [`words`](crate::text::words).
    Words,
}

impl LengthUnit {
    fn measure(self, text: &str) -> usize {
        match self {
            LengthUnit::Chars => text.trim().chars().count(),
            LengthUnit::Words => word_count(text),
        }
    }

    fn name(self) -> &'static str {
        match self {
            LengthUnit::Chars => "chars",
            LengthUnit::Words => "words",
        }
    }
}

/// Bounds of the output/source length ratio; an absent bound is no bound.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioBounds {
    /// Lowest ratio kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest ratio kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl RatioBounds {
    fn validate(&self, key: &str) -> Result<()> {
        for (name, v) in [("min", self.min), ("max", self.max)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::invalid(
                    format!("{key}{name}"),
                    format!("must be a number >= 0, got {v}"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && max < min
        {
            return Err(Error::invalid(
                format!("{key}max"),
                format!("{max} is below min = {min}"),
            ));
        }
        Ok(())
    }
}

/// Drops examples whose output is implausibly long or short for what it answers: the ratio
/// `len(output) / len(source)`, where the source is the input when the example has a
/// non-empty one (the sentence to translate, the article to title) and the instruction
/// otherwise.
///
/// `min`/`max` apply to every task; an entry in `tasks` replaces them for that task (an
/// entry with neither bound turns the check off for it). Sources shorter than
/// `min_source_len` are not judged: ratios of tiny texts are noise.
///
/// ```toml
/// [[filters]]
/// type = "length_ratio"
/// min = 0.3
/// max = 3.0
///
/// [filters.tasks.article_to_title]   # a title is much shorter than its article
/// max = 0.5
///
/// [filters.tasks.open_generation]    # no check
/// ```
///
/// Drop reasons: `length ratio too low: output/input = 0.12 < 0.30 (chars)`, and
/// `length ratio too high: …`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthRatio {
    /// Lowest output/source ratio kept, for tasks not in `tasks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest output/source ratio kept, for tasks not in `tasks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Bounds per task, replacing `min` and `max` for that task.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<TaskKind, RatioBounds>,
    /// How lengths are counted: `chars` or `words`.
    #[serde(default)]
    pub unit: LengthUnit,
    /// Sources shorter than this (in `unit`) are not judged.
    #[serde(default = "default_min_source_len")]
    pub min_source_len: usize,
}

fn default_min_source_len() -> usize {
    1
}

impl Default for LengthRatio {
    fn default() -> Self {
        LengthRatio {
            min: None,
            max: None,
            tasks: BTreeMap::new(),
            unit: LengthUnit::Chars,
            min_source_len: default_min_source_len(),
        }
    }
}

impl LengthRatio {
    fn validate(&self) -> Result<()> {
        if self.min.is_none() && self.max.is_none() && self.tasks.is_empty() {
            return Err(Error::invalid(
                "length_ratio",
                "no bounds: set `min`, `max` or per-task bounds in `tasks`",
            ));
        }
        RatioBounds {
            min: self.min,
            max: self.max,
        }
        .validate("length_ratio.")?;
        for (task, b) in &self.tasks {
            b.validate(&format!("length_ratio.tasks.{task}."))?;
        }
        Ok(())
    }
}

#[typetag::serde(name = "length_ratio")]
impl Filter for LengthRatio {
    fn prepare(&mut self, _ctx: &FilterContext) -> Result<()> {
        self.validate()
    }

    fn check(&mut self, example: &Example) -> Result<Verdict> {
        let bounds = self
            .tasks
            .get(&example.task)
            .copied()
            .unwrap_or(RatioBounds {
                min: self.min,
                max: self.max,
            });
        if bounds.min.is_none() && bounds.max.is_none() {
            return Ok(Verdict::Keep);
        }
        let (what, source) = match example.input.as_deref().filter(|i| !i.trim().is_empty()) {
            Some(input) => ("input", input),
            None => ("instruction", example.instruction.as_str()),
        };
        let source_len = self.unit.measure(source);
        if source_len == 0 || source_len < self.min_source_len {
            return Ok(Verdict::Keep);
        }
        let ratio = self.unit.measure(&example.output) as f64 / source_len as f64;
        let unit = self.unit.name();
        if let Some(min) = bounds.min.filter(|&m| ratio < m) {
            return Ok(Verdict::drop(format!(
                "length ratio too low: output/{what} = {ratio:.2} < {min:.2} ({unit})"
            )));
        }
        if let Some(max) = bounds.max.filter(|&m| ratio > m) {
            return Ok(Verdict::drop(format!(
                "length ratio too high: output/{what} = {ratio:.2} > {max:.2} ({unit})"
            )));
        }
        Ok(Verdict::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::testing::*;

    #[test]
    fn ratio_against_input_or_instruction() {
        let mut f = LengthRatio {
            min: Some(0.5),
            max: Some(2.0),
            ..Default::default()
        };
        let r = run(
            &mut f,
            &[
                // 20-char input, 10-char output: 0.5, kept.
                example("Translate.", Some("abcdefghij abcdefghi"), "abcde fghi"),
                example("Translate.", Some("abcdefghij abcdefghi"), "abcd"),
                example("Translate.", Some("ab"), "abcde"),
                // No input: against the instruction (10 chars).
                ex("Translate.", &"x".repeat(25)),
                ex("Translate.", "Moien Welt"),
            ],
        );
        assert_eq!(r[0], None);
        assert_eq!(
            r[1].as_deref(),
            Some("length ratio too low: output/input = 0.20 < 0.50 (chars)")
        );
        assert_eq!(
            r[2].as_deref(),
            Some("length ratio too high: output/input = 2.50 > 2.00 (chars)")
        );
        assert_eq!(
            r[3].as_deref(),
            Some("length ratio too high: output/instruction = 2.50 > 2.00 (chars)")
        );
        assert_eq!(r[4], None);
    }

    #[test]
    fn per_task_bounds_replace_the_global_ones() {
        let mut tasks = BTreeMap::new();
        tasks.insert(
            TaskKind::ARTICLE_TO_TITLE,
            RatioBounds {
                min: None,
                max: Some(0.5),
            },
        );
        tasks.insert(TaskKind::OPEN_GENERATION, RatioBounds::default());
        let mut f = LengthRatio {
            min: Some(0.5),
            max: Some(2.0),
            tasks,
            unit: LengthUnit::Words,
            ..Default::default()
        };
        let article = "Lëtzebuerg ass e Land an Europa mat vill Bësch a Flëss.";
        let mut title = example("Give a title.", Some(article), "Lëtzebuerg");
        title.task = TaskKind::ARTICLE_TO_TITLE;
        let mut long_title = title.clone();
        long_title.output = "Lëtzebuerg ass e Land an Europa mat vill".into();
        let mut open = ex("Write.", &"wuert ".repeat(100));
        open.task = TaskKind::OPEN_GENERATION;
        let other = ex("Write.", &"wuert ".repeat(100));
        let r = run(&mut f, &[title, long_title, open, other]);
        assert_eq!(r[0], None, "global min does not apply to the task");
        assert_eq!(
            r[1].as_deref(),
            Some("length ratio too high: output/input = 0.73 > 0.50 (words)")
        );
        assert_eq!(r[2], None, "check off for open_generation");
        assert!(
            r[3].as_deref()
                .unwrap()
                .starts_with("length ratio too high")
        );
    }

    #[test]
    fn short_sources_are_not_judged() {
        let mut f = LengthRatio {
            max: Some(2.0),
            min_source_len: 5,
            ..Default::default()
        };
        let r = run(
            &mut f,
            &[example("Translate.", Some("Haus"), "Haus an der Stad")],
        );
        assert_eq!(r[0], None);
    }

    #[test]
    fn bad_bounds_are_errors() {
        let mut f = LengthRatio::default();
        assert!(
            f.prepare(&ctx())
                .unwrap_err()
                .to_string()
                .contains("no bounds")
        );
        let mut f = LengthRatio {
            min: Some(2.0),
            max: Some(1.0),
            ..Default::default()
        };
        assert!(
            f.prepare(&ctx())
                .unwrap_err()
                .to_string()
                .contains("length_ratio.max")
        );
        let mut f = LengthRatio {
            min: Some(-1.0),
            ..Default::default()
        };
        assert!(f.prepare(&ctx()).is_err());
    }

    #[test]
    fn deserialises_through_the_trait() {
        let mut f = from_toml(
            "type = \"length_ratio\"\nmin = 0.5\nunit = \"words\"\n\
             [tasks.article_to_title]\nmax = 0.5\n",
        );
        assert_eq!(f.name(), "length_ratio");
        let r = run(f.as_mut(), &[ex("one two three four", "one")]);
        assert_eq!(
            r[0].as_deref(),
            Some("length ratio too low: output/instruction = 0.25 < 0.50 (words)")
        );
        assert!(
            toml::from_str::<Box<dyn Filter>>("type = \"length_ratio\"\nunit = \"bytes\"").is_err()
        );
    }
}
