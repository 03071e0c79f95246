//! [`ChrfEval`]: `type = "chrf"` — how close each system's answers to held-out examples come
//! to the reference outputs, in chrF (and chrF++), per system and per task and language pair.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Evaluation, Example, Metric, MetricContext, MetricInput, Result};
use lux_train::stages::systems;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::answers::{held_out, system_answers};
use crate::chrf::{Chrf, ChrfConfig};
use crate::report::{cell, fmt_opt};

/// Corpus chrF of every system's answers against the reference outputs — LuxInstruct's
/// automatic metric for its translation-like tasks — overall and per group of task and
/// language pair (`sentence_translation en→lb`), with chrF++ when `chrf_plus_plus` is set and
/// any other [`Metric`] plugins computed on the same predictions.
///
/// ```toml
/// [[eval]]
/// type = "chrf"
/// max_examples = 64
/// chrf_plus_plus = true
/// metrics = [{ type = "chrf", lowercase = true }]
/// ```
///
/// The answers are the same greedy answers [`super::JudgePanelEval`] judges (generated once
/// per run when the settings agree). Writes `answers.jsonl` (each answer with its reference
/// and sentence chrF) and `chrf.json` (the summary). A metric that cannot score the
/// predictions (a representation metric, too few items in a group) is recorded with its
/// error in place of a value.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChrfEval {
    /// The dataset artifact whose examples are answered. Default `mix/validation`.
    #[serde(default = "default_data")]
    pub data: String,
    /// At most this many examples (the dataset's first ones). Default 64.
    #[serde(default = "default_max_examples")]
    pub max_examples: usize,
    /// Answer length limit, in tokens. Default 64.
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Prompts answered at once. Default 8.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Also report chrF++ (word unigrams and bigrams added). Default false.
    #[serde(default)]
    pub chrf_plus_plus: bool,
    /// More metrics on the same predictions and references (`Metric` plugins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Box<dyn Metric>>,
}

fn default_data() -> String {
    "mix/validation".into()
}
fn default_max_examples() -> usize {
    64
}
fn default_max_new_tokens() -> usize {
    64
}
fn default_batch_size() -> usize {
    8
}

#[typetag::serde(name = "chrf")]
#[async_trait]
impl Evaluation for ChrfEval {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.run(ctx))
    }

    /// Checks the counts and prepares the metrics (files against the recipe's directory,
    /// shared models).
    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        for (key, v) in [
            ("max_examples", self.max_examples),
            ("max_new_tokens", self.max_new_tokens),
            ("batch_size", self.batch_size),
        ] {
            if v == 0 {
                return Err(lux_core::Error::invalid(
                    format!("chrf.{key}"),
                    "must be at least 1",
                ));
            }
        }
        let mctx = MetricContext::from(ctx);
        for m in &mut self.metrics {
            m.prepare(&mctx)?;
        }
        Ok(())
    }
}

/// The scores of one set of predictions: chrF, chrF++ when asked, and each metric (a value,
/// or the error that kept it from one).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Scores {
    n: usize,
    chrf: f64,
    #[serde(rename = "chrf++", skip_serializing_if = "Option::is_none")]
    chrf_pp: Option<f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metrics: BTreeMap<String, Value>,
}

impl ChrfEval {
    fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let (examples, prompts) = held_out(ctx, &self.data, self.max_examples)?;
        let chrf = ChrfConfig::chrf().init()?;
        let chrf_pp = ChrfConfig::chrf_plus_plus().init()?;
        let names = metric_names(&self.metrics);
        let groups = groups(&examples);
        let mut rows = Vec::new();
        let mut per_system = Vec::new();
        for system in systems(ctx) {
            let answers =
                system_answers(ctx, &system, &prompts, self.max_new_tokens, self.batch_size)?;
            for (e, a) in examples.iter().zip(answers.iter()) {
                rows.push(json!({
                    "system": system.name,
                    "example": e.id,
                    "group": group_of(e),
                    "reference": e.output,
                    "answer": a,
                    "chrf": chrf.sentence_score(a, &[e.output.as_str()]),
                }));
            }
            let all: Vec<usize> = (0..examples.len()).collect();
            let overall = self.scores(&chrf, &chrf_pp, &names, &examples, &answers, &all)?;
            let mut by_group = BTreeMap::new();
            for (g, items) in &groups {
                by_group.insert(
                    g.clone(),
                    self.scores(&chrf, &chrf_pp, &names, &examples, &answers, items)?,
                );
            }
            per_system.push((system.name, overall, by_group));
        }
        lux_core::fs::write_jsonl_atomic(ctx.dir.join("answers.jsonl"), &rows)?;

        let mut md = format!(
            "Corpus chrF{} of the answers to {} held-out examples of `{}` (greedy, at most {} \
             tokens) against the reference outputs, 0–100: [answers.jsonl]({}).\n\n",
            if self.chrf_plus_plus {
                " and chrF++"
            } else {
                ""
            },
            examples.len(),
            self.data,
            self.max_new_tokens,
            ctx.link(ctx.dir.join("answers.jsonl")),
        );
        let mut head = "| system | chrF |".to_string();
        if self.chrf_plus_plus {
            head.push_str(" chrF++ |");
        }
        for n in &names {
            let _ = write!(head, " {} |", cell(n));
        }
        let cols = 1 + usize::from(self.chrf_plus_plus) + names.len();
        let _ = writeln!(md, "{head}\n|---|{}", "---:|".repeat(cols));
        for (system, overall, _) in &per_system {
            let _ = writeln!(md, "| {} |{}", cell(system), self.cells(overall, &names));
        }
        let _ = write!(md, "\nPer task and language pair (chrF):\n\n| group | n |");
        for (system, _, _) in &per_system {
            let _ = write!(md, " {} |", cell(system));
        }
        let _ = writeln!(md, "\n|---|---:|{}", "---:|".repeat(per_system.len()));
        for (g, items) in &groups {
            let _ = write!(md, "| {} | {} |", cell(g), items.len());
            for (_, _, by_group) in &per_system {
                let _ = write!(md, " {:.2} |", by_group[g].chrf);
            }
            md.push('\n');
        }
        let summary = json!({
            "data": self.data,
            "examples": examples.len(),
            "metrics": names,
            "systems": per_system.iter().map(|(system, overall, by_group)| json!({
                "system": system,
                "overall": overall,
                "groups": by_group,
            })).collect::<Vec<_>>(),
        });
        lux_core::fs::write_json_atomic(ctx.dir.join("chrf.json"), &summary)?;
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }

    /// The scores of the answers `items` (indices into `examples` and `answers`).
    fn scores(
        &self,
        chrf: &Chrf,
        chrf_pp: &Chrf,
        names: &[String],
        examples: &[Example],
        answers: &[String],
        items: &[usize],
    ) -> Result<Scores> {
        let predictions: Vec<String> = items.iter().map(|&i| answers[i].clone()).collect();
        let references: Vec<String> = items.iter().map(|&i| examples[i].output.clone()).collect();
        let mut metrics = BTreeMap::new();
        let input = MetricInput::Predictions {
            predictions: &predictions,
            references: &references,
        };
        for (name, m) in names.iter().zip(&self.metrics) {
            let v = match m.compute(&input) {
                Ok(v) => json!(v),
                Err(e) => json!({ "error": e.to_string() }),
            };
            metrics.insert(name.clone(), v);
        }
        Ok(Scores {
            n: items.len(),
            chrf: chrf.corpus_score(&predictions, &references)?,
            chrf_pp: if self.chrf_plus_plus {
                Some(chrf_pp.corpus_score(&predictions, &references)?)
            } else {
                None
            },
            metrics,
        })
    }

    /// One Markdown row's value cells.
    fn cells(&self, s: &Scores, names: &[String]) -> String {
        let mut out = format!(" {:.2} |", s.chrf);
        if let Some(pp) = s.chrf_pp {
            let _ = write!(out, " {pp:.2} |");
        }
        for n in names {
            let v = s.metrics.get(n).and_then(Value::as_f64);
            let _ = write!(
                out,
                " {} |",
                if v.is_some() {
                    fmt_opt(v, 4)
                } else {
                    "error (see chrf.json)".into()
                }
            );
        }
        out
    }
}

/// The metrics' names in reports; a name used twice gets `#2`, `#3`… so none hides another.
fn metric_names(metrics: &[Box<dyn Metric>]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    metrics
        .iter()
        .map(|m| {
            let name = m.name();
            let k = seen.entry(name.clone()).or_default();
            *k += 1;
            if *k == 1 { name } else { format!("{name}#{k}") }
        })
        .collect()
}

/// `task instruction_lang→output_lang` of an example.
fn group_of(e: &Example) -> String {
    format!(
        "{} {}→{}",
        e.task.as_str(),
        e.instruction_lang.code(),
        e.output_lang.code()
    )
}

/// The examples' indices per group, groups in name order.
fn groups(examples: &[Example]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        out.entry(group_of(e)).or_default().push(i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::{Lang, TaskKind};

    fn example(task: &str, from: &str, output: &str) -> Example {
        Example {
            id: format!("{task}-{from}-{output}"),
            task: TaskKind::new(task).unwrap(),
            instruction: "Translate.".into(),
            instruction_lang: Lang::new(from).unwrap(),
            input: None,
            output: output.into(),
            output_lang: Lang::new("lb").unwrap(),
            source: "test".into(),
            license: "CC0".into(),
            seed_id: "s".into(),
            generator: "g".into(),
            template: String::new(),
        }
    }

    #[test]
    fn scores_per_group_match_corpus_chrf_and_metrics_record_errors() {
        let eval: ChrfEval = toml::from_str(
            "chrf_plus_plus = true\nmetrics = [{ type = \"chrf\", lowercase = true }, { type = \"chrf\" }, { type = \"linear_cka\" }]",
        )
        .unwrap();
        let names = metric_names(&eval.metrics);
        assert_eq!(names, ["chrf", "chrf#2", "linear_cka"]);
        let examples = vec![
            example("sentence_translation", "en", "D'Kanner spillen."),
            example("sentence_translation", "fr", "Moien!"),
            example("sentence_translation", "en", "Äddi."),
        ];
        let answers: Vec<String> = ["d'Kanner spillen.", "Moien", "Äddi."]
            .map(String::from)
            .to_vec();
        let g = groups(&examples);
        assert_eq!(g["sentence_translation en→lb"], [0, 2]);
        let chrf = ChrfConfig::chrf().init().unwrap();
        let pp = ChrfConfig::chrf_plus_plus().init().unwrap();
        let s = eval
            .scores(
                &chrf,
                &pp,
                &names,
                &examples,
                &answers,
                &g["sentence_translation en→lb"],
            )
            .unwrap();
        let expected = chrf
            .corpus_score(
                &["d'Kanner spillen.", "Äddi."],
                &["D'Kanner spillen.", "Äddi."],
            )
            .unwrap();
        assert_eq!(s.n, 2);
        assert!((s.chrf - expected).abs() < 1e-12);
        assert!(s.chrf < 100.0 && s.chrf_pp.unwrap() < 100.0);
        // The lower-casing chrF metric sees identical texts; the plain one does not.
        assert!((s.metrics["chrf"].as_f64().unwrap() - 100.0).abs() < 1e-9);
        assert!((s.metrics["chrf#2"].as_f64().unwrap() - s.chrf).abs() < 1e-12);
        // A representation metric cannot score predictions: its error is recorded.
        assert!(
            s.metrics["linear_cka"]["error"].as_str().is_some(),
            "{:?}",
            s.metrics
        );
        let row = eval.cells(&s, &names);
        assert!(row.contains("100.0000") && row.contains("error"), "{row}");
    }

    #[test]
    fn unknown_keys_and_metrics_are_named() {
        let e = toml::from_str::<ChrfEval>("max_exmples = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_exmples"), "{e}");
        let e = toml::from_str::<ChrfEval>("metrics = [{ type = \"chrff\" }]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("chrff") && e.contains("`chrf`"), "{e}");
    }
}
