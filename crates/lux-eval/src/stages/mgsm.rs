//! [`MgsmEval`]: `type = "mgsm"` — MGSM-style exact match and the gold answer's loss per
//! language, for every system of the run, including those that read through an aligner.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Error, Evaluation, Lang, Result};
use lux_train::sft::{mean_token_loss, tokenize_chat};
use lux_train::stages::{System, all_systems, answer, load_aligned_system, load_system, systems};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::mgsm::{
    AnswerExtractorConfig, DEFAULT_ANSWER_TEMPLATE, LANGUAGES, MgsmProblem, MgsmReport, MgsmScorer,
    bundled, render_answer,
};
use crate::report::mgsm_report;

/// Exact match of the final number on lux-eval's bundled MGSM-style set (templated word
/// problems in en, lb, de, fr), and the mean token loss of the gold answer written as
/// `answer_template` — a graded view of what exact match, near 0 for a small model, hides —
/// per language and system.
///
/// A system that reads text gets the question with `text_instruction` appended; one that
/// reads through an encoder and aligner (LinguaLIFT after stage 1, after stage 2, and the
/// ablations) gets the question alone, as its stage 2 trained it.
///
/// ```toml
/// [[eval]]
/// type = "mgsm"
/// problems_per_language = 13        # one per template; 0: all 52
/// languages = ["en", "lb", "de", "fr"]
/// max_new_tokens = 24
/// ```
///
/// Writes `mgsm.{md,json}` and charts (`lux_eval::report::mgsm_report`), `answers.jsonl`
/// (each problem with every system's response and extraction), and the accuracies and losses
/// in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MgsmEval {
    /// Languages to evaluate, among en, lb, de, fr. Default all four.
    #[serde(default = "default_languages")]
    pub languages: Vec<Lang>,
    /// Problems per language, one per template first (13 templates), then a second of each…;
    /// 0: all 52. Default 13.
    #[serde(default = "default_problems")]
    pub problems_per_language: usize,
    /// Tokens a system may write. Default 24.
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Appended (after a line break) to the question for systems that read text.
    #[serde(default = "default_text_instruction")]
    pub text_instruction: String,
    /// The gold answer as the loss scores it (`{answer}`: the number); the `word_problem`
    /// generator's `answer_template`. Default `The answer is {answer}.`.
    #[serde(default = "default_answer_template")]
    pub answer_template: String,
    /// Questions per forward pass. Default 8.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Only systems that read text (skip aligned ones). Default false.
    #[serde(default)]
    pub text_only: bool,
}

fn default_languages() -> Vec<Lang> {
    LANGUAGES.iter().filter_map(|l| Lang::new(l).ok()).collect()
}
fn default_problems() -> usize {
    13
}
fn default_max_new_tokens() -> usize {
    24
}
fn default_text_instruction() -> String {
    "Give the final answer as: The answer is <number>.".into()
}
fn default_answer_template() -> String {
    DEFAULT_ANSWER_TEMPLATE.into()
}
fn default_batch() -> usize {
    8
}

#[typetag::serde(name = "mgsm")]
#[async_trait]
impl Evaluation for MgsmEval {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.run(ctx))
    }

    fn prepare(&mut self, _ctx: &StageContext) -> Result<()> {
        if self.max_new_tokens == 0 || self.batch_size == 0 {
            return Err(Error::invalid(
                "mgsm",
                "max_new_tokens and batch_size must be at least 1",
            ));
        }
        render_answer(&self.answer_template, "1")?;
        if self.languages.is_empty() {
            return Err(Error::invalid(
                "mgsm.languages",
                "name at least one language",
            ));
        }
        if let Some(l) = self
            .languages
            .iter()
            .find(|l| !LANGUAGES.contains(&l.code()))
        {
            return Err(Error::invalid(
                "mgsm.languages",
                format!(
                    "the bundled set has no `{}` (it has: {})",
                    l.code(),
                    LANGUAGES.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// One system's results.
struct Scored {
    system: System,
    responses: Vec<String>,
    report: MgsmReport,
    answer_loss: BTreeMap<String, f64>,
}

impl MgsmEval {
    /// The problems of each language, `problems_per_language` of them, one per template
    /// first.
    fn problems(&self) -> Result<Vec<MgsmProblem>> {
        let mut out = Vec::new();
        for lang in &self.languages {
            let mut of_lang: Vec<(usize, usize, MgsmProblem)> = Vec::new();
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            for (i, p) in bundled()?
                .into_iter()
                .filter(|p| &p.lang == lang)
                .enumerate()
            {
                let k = seen.entry(p.template.clone()).or_default();
                of_lang.push((*k, i, p));
                *k += 1;
            }
            of_lang.sort_by_key(|(k, i, _)| (*k, *i));
            if self.problems_per_language > 0 {
                of_lang.truncate(self.problems_per_language);
            }
            out.extend(of_lang.into_iter().map(|(_, _, p)| p));
        }
        Ok(out)
    }

    fn gold(&self, p: &MgsmProblem) -> Result<String> {
        render_answer(&self.answer_template, &p.answer.to_string())
    }

    fn score(
        &self,
        ctx: &StageContext,
        system: System,
        problems: &[MgsmProblem],
    ) -> Result<Scored> {
        let mut by_lang: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, p) in problems.iter().enumerate() {
            by_lang
                .entry(p.lang.code().to_string())
                .or_default()
                .push(i);
        }
        let mut answer_loss = BTreeMap::new();
        let responses = if system.reads_text() {
            let (model, base) = load_system(ctx, &system)?;
            let tokenizer = &base.tokenizer;
            let prompts: Vec<String> = problems
                .iter()
                .map(|p| format!("{}\n{}", p.question, self.text_instruction))
                .collect();
            let pad = tokenizer.pad_id().unwrap_or(0);
            for (lang, idx) in &by_lang {
                let samples = idx
                    .iter()
                    .map(|&i| tokenize_chat(tokenizer, &prompts[i], &self.gold(&problems[i])?))
                    .collect::<Result<Vec<_>>>()?;
                answer_loss.insert(
                    lang.clone(),
                    mean_token_loss(&model, &samples, self.batch_size, pad)?,
                );
            }
            answer(
                &model,
                tokenizer,
                &prompts,
                self.max_new_tokens,
                self.batch_size,
            )?
        } else {
            let (model, base) = load_aligned_system(ctx, &system)?;
            let tokenizer = &base.tokenizer;
            let questions: Vec<String> = problems.iter().map(|p| p.question.clone()).collect();
            for (lang, idx) in &by_lang {
                let pairs = idx
                    .iter()
                    .map(|&i| Ok((questions[i].clone(), self.gold(&problems[i])?)))
                    .collect::<Result<Vec<_>>>()?;
                answer_loss.insert(
                    lang.clone(),
                    model.loss(tokenizer, &pairs, self.batch_size)?,
                );
            }
            model.answer(tokenizer, &questions, self.max_new_tokens, self.batch_size)?
        };
        let scorer = MgsmScorer::new(AnswerExtractorConfig::default().init()?);
        let report = scorer.score(problems.iter().zip(responses.iter().map(String::as_str)));
        Ok(Scored {
            system,
            responses,
            report,
            answer_loss,
        })
    }

    fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let problems = self.problems()?;
        let list = if self.text_only {
            systems(ctx)
        } else {
            all_systems(ctx)?
        };
        let mut scored = Vec::with_capacity(list.len());
        for system in list {
            let started = std::time::Instant::now();
            let s = self.score(ctx, system, &problems)?;
            tracing::info!(
                system = %s.system.name,
                correct = s.report.overall.correct,
                seconds = started.elapsed().as_secs_f64(),
                "mgsm"
            );
            scored.push(s);
        }
        let files = mgsm_report(
            &scored
                .iter()
                .map(|s| (s.system.name.as_str(), &s.report))
                .collect::<Vec<_>>(),
        )?
        .write(&ctx.dir, "mgsm")?;
        let answers: Vec<Value> = problems
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut row = json!({
                    "id": p.id, "lang": p.lang.code(), "question": p.question,
                    "gold": p.answer.to_string(),
                });
                for s in &scored {
                    row[&s.system.name] = json!({
                        "response": s.responses[i],
                        "extraction": s.report.items[i].extraction,
                    });
                }
                row
            })
            .collect();
        lux_core::fs::write_jsonl_atomic(ctx.dir.join("answers.jsonl"), &answers)?;

        let langs: Vec<&str> = self.languages.iter().map(Lang::code).collect();
        let mut md = format!(
            "MGSM-style exact match on {} problems per language of the bundled set, and the \
             mean token loss (nats) of the gold answer (`{}`). Systems reading through an \
             encoder get the question alone; the others get it with \"{}\".\n\n| system | reads |",
            problems.len() / self.languages.len().max(1),
            self.answer_template,
            self.text_instruction
        );
        for l in &langs {
            let _ = write!(md, " {l} acc |");
        }
        for l in &langs {
            let _ = write!(md, " {l} loss |");
        }
        md.push_str("\n|---|---|");
        md.push_str(&"---:|".repeat(2 * langs.len()));
        md.push('\n');
        let mut rows = Vec::new();
        for s in &scored {
            let reads = if s.system.reads_text() {
                "text"
            } else {
                "encoder"
            };
            let _ = write!(md, "| {} | {reads} |", s.system.name);
            let mut accuracy = serde_json::Map::new();
            for l in &langs {
                match s.report.language(l) {
                    Some(a) => {
                        let _ = write!(md, " {}/{} |", a.correct, a.total);
                        accuracy.insert(
                            l.to_string(),
                            json!({"correct": a.correct, "total": a.total, "accuracy": a.accuracy}),
                        );
                    }
                    None => md.push_str(" – |"),
                }
            }
            for l in &langs {
                let _ = write!(
                    md,
                    " {} |",
                    s.answer_loss
                        .get(*l)
                        .map_or("–".into(), |v| format!("{v:.3}"))
                );
            }
            md.push('\n');
            rows.push(json!({
                "system": s.system.name,
                "reads": reads,
                "accuracy": accuracy,
                "overall_accuracy": s.report.overall.accuracy,
                "gold_answer_loss": s.answer_loss,
            }));
        }
        let _ = writeln!(
            md,
            "\nTables and charts: [{}]({}) · answers: `{}`",
            ctx.link(&files.markdown),
            ctx.link(&files.markdown),
            ctx.link(ctx.dir.join("answers.jsonl"))
        );
        let summary = json!({
            "problems_per_language": problems.len() / self.languages.len().max(1),
            "languages": langs,
            "systems": rows,
        });
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(toml_text: &str) -> MgsmEval {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn one_problem_per_template_first_then_the_next() {
        let e = eval("problems_per_language = 13\nlanguages = [\"lb\"]");
        let p = e.problems().unwrap();
        assert_eq!(p.len(), 13);
        let mut templates: Vec<&str> = p.iter().map(|p| p.template.as_str()).collect();
        templates.sort_unstable();
        templates.dedup();
        assert_eq!(templates.len(), 13);
        assert!(p.iter().all(|p| p.lang.code() == "lb"));
        let p = eval("problems_per_language = 15").problems().unwrap();
        assert_eq!(p.len(), 60);
        assert_eq!(
            eval("problems_per_language = 0").problems().unwrap().len(),
            208
        );
    }

    #[test]
    fn settings_are_checked() {
        let ctx = StageContext::standalone("mgsm", ".");
        let mut e = eval("languages = [\"pt\"]");
        assert!(e.prepare(&ctx).unwrap_err().to_string().contains("pt"));
        let mut e = eval("answer_template = \"It is.\"");
        assert!(
            e.prepare(&ctx)
                .unwrap_err()
                .to_string()
                .contains("{answer}")
        );
        let mut e = eval("max_new_tokens = 0");
        assert!(e.prepare(&ctx).is_err());
        assert!(eval("").prepare(&ctx).is_ok());
        let gold = eval("").gold(&bundled().unwrap()[0]).unwrap();
        assert!(gold.starts_with("The answer is "), "{gold}");
    }
}
