//! [`LuxellaEval`]: `type = "luxella"` — the LuxLlama card's LUXELLA benchmark as a recipe
//! stage: hand-written and LLM-written questions, every system answers, every judge scores.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Error, Evaluation, Judge, JudgeContext, LlmClient, Result, fs};
use lux_train::local_llm::{LocalLlm, LocalLlmConfig};
use lux_train::stages::{answer, load_system, systems};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::luxella::{
    BenchmarkItem, GenerationSummary, Luxella, LuxellaConfig, LuxellaReport, QuestionGenerator,
    QuestionGeneratorConfig, normalize_question, read_benchmark,
};
use crate::report::luxella_report;

/// The LUXELLA benchmark of the LuxLlama model card: questions per category × difficulty,
/// answered by every system of the run (the base model and the model after each training
/// stage), each answer scored 1–5 with a reason by every judge.
///
/// ```toml
/// [[eval]]
/// type = "luxella"
/// seed_questions = "../data/luxella_seed.jsonl"   # hand-written, with reference answers
/// max_questions = 16                               # spread over categories × difficulties
/// answer_max_tokens = 48
/// generate = { llm = { type = "local", model = "smollm2" }, questions_per_cell = 2 }
/// judges = [{ type = "llm_judge", llm = { type = "local", model = "smollm2" } }]
/// ```
///
/// The benchmark is the seed questions plus what the generator
/// ([`QuestionGenerator`]; its table is a [`QuestionGeneratorConfig`] whose `llm` defaults
/// to the local SmolLM2) writes in the schema, deduplicated on the normalised question. A
/// small model rarely writes that JSON: its failures are recorded in `generation.json`, and
/// the seed questions keep the benchmark from being empty. Answers are greedy, so a rerun
/// asks and answers the same.
///
/// Writes `questions.jsonl` (the benchmark asked), `luxella_generated.jsonl` (the
/// generator's file; an interrupted stage tops it up rather than starting over),
/// `generation.json`, `answers.jsonl`, and per judge `luxella.<judge>.{md,json}` with SVG
/// charts per category and per difficulty (`lux_eval::report::luxella_report`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LuxellaEval {
    /// The language tested, in prompts and the criterion. Default: the English name of the
    /// run's native language (`Luxembourgish`, `Faroese`), from the language-names table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Hand-written questions (JSONL of [`BenchmarkItem`]), relative to the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_questions: Option<PathBuf>,
    /// The question generator's settings; `llm` defaults to the local SmolLM2, `language`
    /// is the stage's. `questions_per_cell = 0` asks for none. Default: the generator's
    /// defaults (the card's 16 categories × 4 difficulties, 5 questions each).
    #[serde(
        default,
        deserialize_with = "generate_table",
        skip_serializing_if = "Option::is_none"
    )]
    pub generate: Option<QuestionGeneratorConfig>,
    /// At most this many questions, spread over categories and difficulties; 0 = all.
    /// Default 16.
    #[serde(default = "default_max_questions")]
    pub max_questions: usize,
    /// Completion limit of an answer, in tokens. Default 64.
    #[serde(default = "default_answer_max_tokens")]
    pub answer_max_tokens: usize,
    /// Questions answered per batch. Default 8.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// A file replacing the built-in criterion (`prompts/luxella.judge.txt`), relative to
    /// the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<PathBuf>,
    /// Answers judged at once per judge. Default 1 (a local judge serves one at a time).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The judges; each scores every answer 1–5 (the card's judge is `llm_judge`).
    pub judges: Vec<Box<dyn Judge>>,
}

fn default_max_questions() -> usize {
    16
}
fn default_answer_max_tokens() -> usize {
    64
}
fn default_batch_size() -> usize {
    8
}
fn default_concurrency() -> usize {
    1
}

/// The model that writes questions when the recipe names none: the card used a hosted
/// model, lux runs offline by default.
fn default_llm() -> Value {
    json!({ "type": "local", "model": "smollm2" })
}

/// The generator of a stage without a `generate` table: the defaults around the local model.
fn default_generate() -> Result<QuestionGeneratorConfig> {
    let llm: Box<dyn LlmClient> = Box::new(LocalLlm::new(LocalLlmConfig::named("smollm2"))?);
    Ok(QuestionGeneratorConfig::new(llm))
}

/// Reads the `generate` table, giving it the default `llm` when it names none.
fn generate_table<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<QuestionGeneratorConfig>, D::Error> {
    let mut table = Map::<String, Value>::deserialize(d)?;
    table.entry("llm").or_insert_with(default_llm);
    let wants = table.get("questions_per_cell").and_then(Value::as_u64);
    // `questions_per_cell = 0` (no generation) is the stage's to honour; the generator
    // itself refuses it, so it is read as 1 and remembered below.
    if wants == Some(0) {
        table.insert("questions_per_cell".into(), json!(1));
        table.insert("attempts".into(), json!(0));
    }
    serde_json::from_value(Value::Object(table))
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[typetag::serde(name = "luxella")]
#[async_trait]
impl Evaluation for LuxellaEval {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        // The judging stream borrows items across awaits in a way the compiler cannot prove
        // `Send` for every lifetime; the stage mostly generates on this thread anyway, so it
        // runs its future here rather than across the runtime's workers.
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(self.run(ctx)))
    }

    /// Checks the settings and prepares every judge (prompt files against the recipe's
    /// directory, the run's shared clients), so a bad judge stops the run before any model
    /// answers.
    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        if self.judges.is_empty() {
            return Err(Error::invalid("luxella.judges", "name at least one judge"));
        }
        if self.answer_max_tokens == 0 || self.batch_size == 0 || self.concurrency == 0 {
            return Err(Error::invalid(
                "luxella",
                "answer_max_tokens, batch_size and concurrency must be at least 1",
            ));
        }
        let judge_ctx = JudgeContext::from(ctx);
        for judge in &mut self.judges {
            judge.prepare(&judge_ctx)?;
        }
        Ok(())
    }
}

/// One system's answers, `answers[i]` to `questions[i]`.
struct SystemAnswers {
    system: String,
    answers: Vec<String>,
}

impl LuxellaEval {
    fn generates(&self) -> bool {
        self.generate.as_ref().is_none_or(|g| g.attempts > 0)
    }

    /// `language`, else the English name of the run's native language.
    fn language(&self, ctx: &StageContext) -> Result<String> {
        match &self.language {
            Some(l) => Ok(l.clone()),
            None => Ok(ctx.native()?.english_name().to_string()),
        }
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let started = Instant::now();
        let language = self.language(ctx)?;
        let mut items = match &self.seed_questions {
            Some(path) => read_benchmark(ctx.resolve(path))?,
            None => Vec::new(),
        };
        let seed_count = items.len();
        let seed_ids: HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
        let generation = if self.generates() {
            let mut config = match &self.generate {
                Some(g) => clone_via_serde(g, "generate")?,
                None => default_generate()?,
            };
            config.language = language.clone();
            if config.topics.is_empty() {
                config.topics = crate::luxella::default_topics(ctx.native()?);
            }
            config.prompt = config.prompt.map(|p| ctx.resolve(p));
            let generator = QuestionGenerator::new(config)?;
            let file = ctx.dir.join("luxella_generated.jsonl");
            let summary = generator.generate(&file).await?;
            let mut seen: HashSet<String> = items
                .iter()
                .map(|i| normalize_question(&i.question))
                .collect();
            if file.exists() {
                for item in read_benchmark(&file)? {
                    if seen.insert(normalize_question(&item.question)) {
                        items.push(item);
                    }
                }
            }
            summary
        } else {
            GenerationSummary::default()
        };
        fs::write_json_atomic(ctx.dir.join("generation.json"), &generation)?;
        let added = items.len() - seed_count;
        let generate_seconds = started.elapsed().as_secs_f64();
        let items = spread(items, self.max_questions);
        let asked_seed = items.iter().filter(|i| seed_ids.contains(&i.id)).count();
        if items.is_empty() {
            return Err(Error::plugin(
                &ctx.name,
                "no questions: name `seed_questions` or let the generator write some (its \
                 failures are in generation.json)",
            ));
        }
        fs::write_jsonl_atomic(ctx.dir.join("questions.jsonl"), &items)?;
        tracing::info!(
            questions = items.len(),
            seed = seed_count,
            generated = added,
            "LUXELLA benchmark"
        );

        let t = Instant::now();
        let prompts: Vec<String> = items.iter().map(|i| i.question.clone()).collect();
        let answered = systems(ctx)
            .into_iter()
            .map(|system| {
                let (model, base) = load_system(ctx, &system)?;
                let answers = answer(
                    &model,
                    &base.tokenizer,
                    &prompts,
                    self.answer_max_tokens,
                    self.batch_size,
                )?;
                Ok(SystemAnswers {
                    system: system.name,
                    answers,
                })
            })
            .collect::<Result<Vec<SystemAnswers>>>()?;
        let answer_seconds = t.elapsed().as_secs_f64();
        let rows: Vec<Value> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let by_system: BTreeMap<&str, &str> = answered
                    .iter()
                    .map(|s| (s.system.as_str(), s.answers[i].as_str()))
                    .collect();
                json!({
                    "id": item.id,
                    "category": item.category,
                    "difficulty": item.difficulty,
                    "question": item.question,
                    "reference_answer": item.reference_answer,
                    "answers": by_system,
                })
            })
            .collect();
        fs::write_jsonl_atomic(ctx.dir.join("answers.jsonl"), &rows)?;

        let judge_ctx = JudgeContext::from(ctx);
        let mut judged = Vec::new();
        let mut md = format!(
            "{} questions ({} hand-written from `{}`, {} written by the generator, which made \
             {} requests, {} rejected for the schema, {} cells short — [generation.json]({})), \
             answered greedily (at most {} tokens) by {} in {:.0} s.\n",
            items.len(),
            asked_seed,
            self.seed_questions
                .as_ref()
                .map_or("none".to_string(), |p| p.display().to_string()),
            items.len() - asked_seed,
            generation.requests,
            generation.invalid,
            generation.failures.len(),
            ctx.link(ctx.dir.join("generation.json")),
            self.answer_max_tokens,
            answered
                .iter()
                .map(|s| format!("`{}`", s.system))
                .collect::<Vec<_>>()
                .join(", "),
            answer_seconds,
        );
        for judge in &self.judges {
            let t = Instant::now();
            let mut judge = clone_via_serde(judge, "judges")?;
            judge.prepare(&judge_ctx)?;
            let id = judge.id();
            let mut config = LuxellaConfig::new(judge);
            config.language = language.clone();
            config.criterion = self.criterion.as_ref().map(|p| ctx.resolve(p));
            config.concurrency = self.concurrency;
            let luxella = Luxella::new(config)?;
            let mut results = Vec::new();
            for s in &answered {
                let answers: Vec<Option<String>> = s.answers.iter().cloned().map(Some).collect();
                results.push(luxella.judge_answers(&s.system, &items, &answers).await);
            }
            let report = LuxellaReport::new(results);
            let stem = format!("luxella.{}", file_stem(&id));
            let files = luxella_report(&report)?.write(&ctx.dir, &stem)?;
            let seconds = t.elapsed().as_secs_f64();
            let _ = write!(
                md,
                "\n**{id}** ({seconds:.0} s, [{stem}.md]({})):\n\n\
                 | system | score (1–5) | scored | failed |\n|---|---:|---:|---:|\n",
                ctx.link(&files.markdown)
            );
            let mut systems_json = Vec::new();
            for m in &report.models {
                let mean = m
                    .overall
                    .mean
                    .map_or("–".to_string(), |v| format!("{v:.2}"));
                let _ = writeln!(
                    md,
                    "| {} | {mean} | {} | {} |",
                    m.model, m.overall.n, m.overall.failed
                );
                systems_json.push(json!({
                    "system": m.model,
                    "mean": m.overall.mean,
                    "scored": m.overall.n,
                    "failed": m.overall.failed,
                    "by_category": m.by_category,
                    "by_difficulty": m.by_difficulty,
                }));
            }
            judged.push(json!({
                "judge": id,
                "seconds": seconds,
                "report": ctx.link(&files.json),
                "systems": systems_json,
            }));
        }
        let summary = json!({
            "questions": items.len(),
            "seed_questions": seed_count,
            "generated_added": added,
            "asked": { "hand_written": asked_seed, "generated": items.len() - asked_seed },
            "generation": {
                "requests": generation.requests,
                "generated": generation.generated,
                "invalid": generation.invalid,
                "duplicates": generation.duplicates,
                "cells_short": generation.failures.len(),
                "seconds": generate_seconds,
            },
            "answer_seconds": answer_seconds,
            "judges": judged,
        });
        fs::write_json_atomic(ctx.dir.join("luxella.json"), &summary)?;
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }
}

/// A copy of a plugin's settings through its serialised form (plugins are not `Clone`).
fn clone_via_serde<T: Serialize + DeserializeOwned>(value: &T, what: &str) -> Result<T> {
    let v = serde_json::to_value(value).map_err(|e| Error::other(what, e))?;
    serde_json::from_value(v).map_err(|e| Error::invalid(what, e.to_string()))
}

/// At most `cap` items (0 = all), spread over the cells: the k-th item of every category
/// comes before the (k+1)-th of any, and category c starts at its (c mod n)-th item, so the
/// first ones cover every category and, across categories, several difficulties.
fn spread(items: Vec<BenchmarkItem>, cap: usize) -> Vec<BenchmarkItem> {
    if cap == 0 || cap >= items.len() {
        return items;
    }
    let mut categories: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let keyed: Vec<(usize, usize, BenchmarkItem)> = items
        .into_iter()
        .map(|item| {
            let c = match categories.iter().position(|c| *c == item.category) {
                Some(c) => c,
                None => {
                    categories.push(item.category.clone());
                    categories.len() - 1
                }
            };
            let rank = counts.entry(item.category.clone()).or_default();
            let k = *rank;
            *rank += 1;
            (k, c, item)
        })
        .collect();
    let mut keyed = keyed;
    keyed.sort_by_key(|(k, c, item)| {
        let n = counts[&item.category].max(1);
        ((k + n - c % n) % n, *c)
    });
    keyed.into_iter().take(cap).map(|(_, _, i)| i).collect()
}

/// A judge id as a file-name stem (`g_eval:smollm2` → `g_eval-smollm2`).
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(category: &str, difficulty: &str, i: usize) -> BenchmarkItem {
        BenchmarkItem {
            id: format!("{category}-{difficulty}-{i}"),
            category: category.into(),
            difficulty: difficulty.into(),
            topic: "t".into(),
            question: format!("q {category} {difficulty} {i}"),
            reference_answer: "r".into(),
        }
    }

    #[test]
    fn spread_covers_every_category_and_several_difficulties_first() {
        let levels = ["beginner", "intermediate", "advanced", "native"];
        let mut items = Vec::new();
        for c in ["vocabulary", "grammar", "translation", "idioms"] {
            for (i, d) in levels.iter().enumerate() {
                items.push(item(c, d, i));
            }
        }
        let picked = spread(items.clone(), 4);
        let categories: HashSet<&str> = picked.iter().map(|i| i.category.as_str()).collect();
        let difficulties: HashSet<&str> = picked.iter().map(|i| i.difficulty.as_str()).collect();
        assert_eq!(categories.len(), 4, "{picked:?}");
        assert_eq!(difficulties.len(), 4, "{picked:?}");
        assert_eq!(spread(items.clone(), 0).len(), 16, "0 keeps all");
        assert_eq!(spread(items, 100).len(), 16);
    }

    #[test]
    fn the_generator_defaults_to_the_local_model_and_zero_questions_turns_it_off() {
        let stage: LuxellaEval = toml::from_str(
            r#"
seed_questions = "luxella_seed.jsonl"
generate = { questions_per_cell = 0 }
judges = [{ type = "llm_judge", llm = { type = "local", model = "smollm2" } }]
"#,
        )
        .unwrap();
        assert!(!stage.generates());
        let table = serde_json::to_value(&stage).unwrap();
        assert_eq!(table["generate"]["llm"]["type"], "local");
        assert_eq!(table["generate"]["llm"]["model"], "smollm2");
        let on: LuxellaEval = toml::from_str(
            "generate = { questions_per_cell = 2, categories = [\"vocabulary\"] }\n\
             judges = [{ type = \"llm_judge\", llm = { type = \"local\", model = \"smollm2\" } }]\n",
        )
        .unwrap();
        assert!(on.generates());
        assert_eq!(on.generate.as_ref().unwrap().categories, ["vocabulary"]);
        let default: LuxellaEval = toml::from_str("judges = []\n").unwrap();
        assert!(default.generate.is_none() && default.generates());
        assert_eq!(default_generate().unwrap().llm.model(), "local:smollm2");
        let e = toml::from_str::<LuxellaEval>("judges = []\nmax_question = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_question"), "{e}");
    }

    #[test]
    fn prepare_refuses_a_stage_without_judges() {
        let mut stage: LuxellaEval = toml::from_str("judges = []\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = stage
            .prepare(&StageContext::standalone("luxella", dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("judges"), "{e}");
    }

    #[test]
    fn judge_ids_become_plain_file_stems() {
        assert_eq!(file_stem("g_eval:smollm2/x"), "g_eval-smollm2-x");
    }
}
