//! [`JudgePanelEval`]: `type = "judge_panel"` — LuxInstruct's G-Eval with a panel of judges:
//! every system answers held-out instructions, every judge scores every answer on each
//! criterion, the panel aggregates, and the judges' agreement says how far to trust it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Criteria, Error, Evaluation, Judge, JudgeContext, JudgeRequest, Result};
use lux_train::stages::systems;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use super::answers::{held_out, system_answers};
use crate::judge::{Aggregation, Panel, PanelConfig, PanelRun};
use crate::report::{cell, fmt_opt, panel_report, slug};

/// Settings of a [`JudgePanelEval`], as written in a recipe:
///
/// ```toml
/// [[eval]]
/// type = "judge_panel"
/// max_examples = 32                      # of `data`, the first ones
/// criteria = [{ name = "correctness", description = "Does the answer do what was asked?", scale = { min = 1, max = 5 } }]
/// aggregation = { method = "mean" }      # or median, trimmed_mean, weighted_majority
/// [[eval.judges]]
/// type = "g_eval"
/// id = "g_eval-a"
/// llm = { type = "openai", base_url = "http://judge-a:8000/v1", model = "qwen2.5-7b" }
/// [[eval.judges]]
/// type = "llm_judge"
/// id = "llm_judge-b"
/// llm = { type = "openai", base_url = "http://judge-b:8000/v1", model = "llama-3.1-8b" }
/// ```
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgePanelConfig {
    /// The dataset artifact whose examples are answered. Default `mix/validation`.
    #[serde(default = "default_data")]
    pub data: String,
    /// At most this many examples (the dataset's first ones). Default 32.
    #[serde(default = "default_max_examples")]
    pub max_examples: usize,
    /// Answer length limit, in tokens. Default 64.
    #[serde(default = "default_max_new_tokens")]
    pub max_new_tokens: usize,
    /// Prompts answered at once. Default 8.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// What the judges score; each criterion is a separate panel run with its own agreement.
    pub criteria: Vec<Criteria>,
    /// Show the judges the example's reference output. Default true.
    #[serde(default = "yes")]
    pub reference: bool,
    /// The judges (at least one; their ids must differ: give each an `id`).
    pub judges: Vec<Box<dyn Judge>>,
    /// How the judges' scores of one answer become one. Default mean.
    #[serde(default = "default_aggregation")]
    pub aggregation: Aggregation,
    /// One weight per judge, for `mean` and `weighted_majority`. Default all 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// Answers judged at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_data() -> String {
    "mix/validation".into()
}
fn default_max_examples() -> usize {
    32
}
fn default_max_new_tokens() -> usize {
    64
}
fn default_batch_size() -> usize {
    8
}
fn yes() -> bool {
    true
}
fn default_aggregation() -> Aggregation {
    Aggregation::Mean
}
fn default_concurrency() -> usize {
    4
}

/// G-Eval with a panel of judges over the run's systems (the base model and the model after
/// each training stage), as LuxInstruct judged with three LLMs.
///
/// Every system answers the first `max_examples` examples of `data` (greedy, the user turn
/// as SFT trains it); for each criterion, every judge scores every answer, the panel
/// aggregates per answer ([`Panel`]) and Krippendorff's alpha and pairwise Spearman measure
/// how much the judges agree, over all systems' answers together. A judge that cannot be
/// read (no score in its answer, a score off the scale) is recorded as a failure of that
/// judge on that answer, never turned into a score.
///
/// Writes `answers.jsonl` (one row per system and example: the item numbers of the panel
/// runs), per criterion `panel.<criterion>.{md,json}` with one SVG per judge
/// ([`panel_report`]) and `judgements.<criterion>.jsonl` (every judge's outcome per item),
/// and `judge_panel.json` (the summary).
#[derive(Debug)]
pub struct JudgePanelEval {
    /// The settings; the judges live in `panel`.
    config: JudgePanelConfig,
    panel: Panel,
}

impl JudgePanelEval {
    /// An evaluation of these settings; errors name the setting at fault: no criteria, a
    /// scale that is not `min < max`, two criteria or two judges of one name, a zero count,
    /// and whatever [`Panel::new`] refuses.
    pub fn new(mut config: JudgePanelConfig) -> Result<JudgePanelEval> {
        for (key, v) in [
            ("max_examples", config.max_examples),
            ("max_new_tokens", config.max_new_tokens),
            ("batch_size", config.batch_size),
        ] {
            if v == 0 {
                return Err(Error::invalid(
                    format!("judge_panel.{key}"),
                    "must be at least 1",
                ));
            }
        }
        if config.criteria.is_empty() {
            return Err(Error::invalid(
                "judge_panel.criteria",
                "name at least one criterion: { name, description, scale = { min, max } }",
            ));
        }
        let mut names = BTreeSet::new();
        for c in &config.criteria {
            let s = c.scale;
            if !(s.min.is_finite() && s.max.is_finite() && s.min < s.max) {
                return Err(Error::invalid(
                    format!("judge_panel.criteria.{}.scale", c.name),
                    format!("min {} must be below max {}", s.min, s.max),
                ));
            }
            if c.name.trim().is_empty() || !names.insert(slug(&c.name)) {
                return Err(Error::invalid(
                    "judge_panel.criteria",
                    format!(
                        "criterion names must be non-empty and differ (as file names): `{}`",
                        c.name
                    ),
                ));
            }
        }
        let ids: Vec<String> = config.judges.iter().map(|j| j.id()).collect();
        let mut seen = BTreeSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(Error::invalid(
                "judge_panel.judges",
                format!(
                    "two judges are called `{dup}` (judges: {}): give each an `id = \"...\"`",
                    ids.join(", ")
                ),
            ));
        }
        let panel = Panel::new(PanelConfig {
            judges: std::mem::take(&mut config.judges),
            aggregation: config.aggregation.clone(),
            weights: config.weights.clone(),
            concurrency: config.concurrency,
        })?;
        Ok(JudgePanelEval { config, panel })
    }

    /// The settings (its `judges` are the panel's: see [`panel`](Self::panel)).
    pub fn config(&self) -> &JudgePanelConfig {
        &self.config
    }

    /// The panel of judges.
    pub fn panel(&self) -> &Panel {
        &self.panel
    }
}

/// The recipe table of a [`JudgePanelEval`]: its settings with the panel's judges.
#[derive(Serialize)]
struct Table<'a> {
    data: &'a str,
    max_examples: usize,
    max_new_tokens: usize,
    batch_size: usize,
    criteria: &'a [Criteria],
    reference: bool,
    judges: &'a [Box<dyn Judge>],
    aggregation: &'a Aggregation,
    #[serde(skip_serializing_if = "Option::is_none")]
    weights: &'a Option<Vec<f64>>,
    concurrency: usize,
}

impl Serialize for JudgePanelEval {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let c = &self.config;
        Table {
            data: &c.data,
            max_examples: c.max_examples,
            max_new_tokens: c.max_new_tokens,
            batch_size: c.batch_size,
            criteria: &c.criteria,
            reference: c.reference,
            judges: &self.panel.config().judges,
            aggregation: &c.aggregation,
            weights: &c.weights,
            concurrency: c.concurrency,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for JudgePanelEval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        JudgePanelEval::new(JudgePanelConfig::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[typetag::serde(name = "judge_panel")]
#[async_trait]
impl Evaluation for JudgePanelEval {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        self.run(ctx).await
    }

    /// Prepares the judges: prompt files against the recipe's directory, one client per
    /// distinct `llm` table across the whole run.
    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        self.panel.prepare(&JudgeContext::from(ctx))
    }
}

/// One row of `answers.jsonl`: the panel runs' item `item` is this answer.
#[derive(Serialize)]
struct AnswerRow<'a> {
    item: usize,
    system: &'a str,
    example: &'a str,
    task: &'a str,
    instruction_lang: &'a str,
    output_lang: &'a str,
    prompt: &'a str,
    reference: &'a str,
    answer: &'a str,
}

impl JudgePanelEval {
    async fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let c = &self.config;
        let (examples, prompts) = held_out(ctx, &c.data, c.max_examples)?;
        let systems = systems(ctx);
        let mut answers = Vec::with_capacity(systems.len());
        for system in &systems {
            let a = tokio::task::block_in_place(|| {
                system_answers(ctx, system, &prompts, c.max_new_tokens, c.batch_size)
            })?;
            answers.push(a);
        }
        let n = examples.len();
        let mut rows = Vec::with_capacity(n * systems.len());
        for (s, system) in systems.iter().enumerate() {
            for (i, e) in examples.iter().enumerate() {
                rows.push(AnswerRow {
                    item: s * n + i,
                    system: &system.name,
                    example: &e.id,
                    task: e.task.as_str(),
                    instruction_lang: e.instruction_lang.code(),
                    output_lang: e.output_lang.code(),
                    prompt: &prompts[i],
                    reference: &e.output,
                    answer: &answers[s][i],
                });
            }
        }
        lux_core::fs::write_jsonl_atomic(ctx.dir.join("answers.jsonl"), &rows)?;

        let judges = self.panel.judge_ids();
        let mut md = format!(
            "{n} held-out examples of `{}` answered by {} system(s) (greedy, at most {} tokens: \
             [answers.jsonl]({})), scored by {} judge(s) ({}), aggregated by `{}`.\n",
            c.data,
            systems.len(),
            c.max_new_tokens,
            ctx.link(ctx.dir.join("answers.jsonl")),
            judges.len(),
            judges.join(", "),
            aggregation_name(&c.aggregation),
        );
        let mut per_criterion = Vec::new();
        for criteria in &c.criteria {
            let requests: Vec<JudgeRequest> = rows
                .iter()
                .map(|r| JudgeRequest {
                    instruction: r.prompt.to_string(),
                    response: r.answer.to_string(),
                    reference: c.reference.then(|| r.reference.to_string()),
                    criteria: criteria.clone(),
                })
                .collect();
            let started = std::time::Instant::now();
            let run = self.panel.run(&requests).await;
            tracing::info!(
                stage = %ctx.name,
                criterion = %criteria.name,
                items = requests.len(),
                seconds = started.elapsed().as_secs_f64(),
                "panel judged"
            );
            let stem = format!("panel.{}", slug(&criteria.name));
            let files = panel_report(&run)?.write(&ctx.dir, &stem)?;
            let judgements = ctx
                .dir
                .join(format!("judgements.{}.jsonl", slug(&criteria.name)));
            let lines: Vec<Value> = run
                .items
                .iter()
                .map(|it| {
                    let r = &rows[it.index];
                    json!({
                        "item": it.index,
                        "system": r.system,
                        "example": r.example,
                        "score": it.score,
                        "outcomes": it.outcomes,
                    })
                })
                .collect();
            lux_core::fs::write_jsonl_atomic(&judgements, &lines)?;
            let summary = criterion_summary(criteria, &run, &systems_of(&rows), n);
            write_criterion(&mut md, criteria, &summary, &run, ctx.link(&files.markdown));
            per_criterion.push(json!({
                "criterion": criteria.name,
                "scale": criteria.scale,
                "report": ctx.link(&files.markdown),
                "judgements": ctx.link(&judgements),
                "agreement": run.agreement,
                "failures": judges.iter().zip(run.failures()).map(|(j, f)| json!({"judge": j, "failed": f})).collect::<Vec<_>>(),
                "systems": summary,
            }));
        }
        let summary = json!({
            "data": c.data,
            "examples": n,
            "systems": systems.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "judges": judges,
            "aggregation": c.aggregation,
            "criteria": per_criterion,
        });
        lux_core::fs::write_json_atomic(ctx.dir.join("judge_panel.json"), &summary)?;
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }
}

/// The system names in item order, one per item.
fn systems_of<'a>(rows: &'a [AnswerRow<'a>]) -> Vec<&'a str> {
    rows.iter().map(|r| r.system).collect()
}

/// Per system (in order of first appearance): the panel's mean, how many answers got a
/// panel score and how many none, and each judge's mean and failures.
fn criterion_summary(
    criteria: &Criteria,
    run: &PanelRun,
    item_systems: &[&str],
    per_system: usize,
) -> Vec<Value> {
    let mut order: Vec<&str> = Vec::new();
    for s in item_systems {
        if !order.contains(s) {
            order.push(s);
        }
    }
    let scores = run.scores();
    order
        .iter()
        .map(|system| {
            let items: Vec<usize> = (0..run.items.len())
                .filter(|&i| item_systems.get(i) == Some(system))
                .collect();
            let panel: Vec<f64> = items.iter().filter_map(|&i| run.items[i].score).collect();
            let judges: Vec<Value> = run
                .judges
                .iter()
                .enumerate()
                .map(|(j, id)| {
                    let got: Vec<f64> = items.iter().filter_map(|&i| scores[j][i]).collect();
                    json!({
                        "judge": id,
                        "mean": mean(&got),
                        "scored": got.len(),
                        "failed": items.len() - got.len(),
                    })
                })
                .collect();
            json!({
                "system": system,
                "criterion": criteria.name,
                "panel_mean": mean(&panel),
                "scored": panel.len(),
                "unscored": items.len() - panel.len(),
                "answers": per_system,
                "judges": judges,
            })
        })
        .collect()
}

/// The Markdown of one criterion: scores per system and judge, then the agreement.
fn write_criterion(
    md: &mut String,
    criteria: &Criteria,
    systems: &[Value],
    run: &PanelRun,
    report: String,
) {
    let _ = write!(
        md,
        "\n**{}** ({}–{}): {} — full report: [{}]({report})\n\n| system | panel mean | unscored |",
        cell(&criteria.name),
        crate::text::number(criteria.scale.min),
        crate::text::number(criteria.scale.max),
        cell(&criteria.description),
        report.rsplit('/').next().unwrap_or(&report),
    );
    for j in &run.judges {
        let _ = write!(md, " {} (failed) |", cell(j));
    }
    let _ = write!(
        md,
        "\n|---|---:|---:|{}\n",
        "---:|".repeat(run.judges.len())
    );
    for s in systems {
        let _ = write!(
            md,
            "| {} | {} | {} |",
            cell(s["system"].as_str().unwrap_or_default()),
            fmt_opt(s["panel_mean"].as_f64(), 3),
            s["unscored"]
        );
        for j in s["judges"].as_array().into_iter().flatten() {
            let _ = write!(
                md,
                " {} ({}) |",
                fmt_opt(j["mean"].as_f64(), 3),
                j["failed"]
            );
        }
        md.push('\n');
    }
    let ag = &run.agreement;
    let _ = writeln!(
        md,
        "\nAgreement over {} answers rated by at least two judges: Krippendorff's α {} \
         (interval), {} (ordinal); mean pairwise Spearman ρ {}.",
        ag.pairable_items,
        fmt_opt(ag.alpha_interval, 3),
        fmt_opt(ag.alpha_ordinal, 3),
        fmt_opt(ag.mean_spearman, 3),
    );
}

fn aggregation_name(a: &Aggregation) -> &'static str {
    match a {
        Aggregation::Mean => "mean",
        Aggregation::Median => "median",
        Aggregation::TrimmedMean { .. } => "trimmed_mean",
        Aggregation::WeightedMajority => "weighted_majority",
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lux_core::{JudgeRequest, Judgement, ScoreMethod};

    /// A judge scoring by a fixed rule, failing on answers containing "?".
    #[derive(Debug, Serialize, Deserialize)]
    struct Rule {
        name: String,
        bias: f64,
    }

    #[typetag::serde(name = "judge_panel_test_rule")]
    #[async_trait]
    impl Judge for Rule {
        async fn judge(&self, r: &JudgeRequest) -> Result<Judgement> {
            if r.response.contains('?') {
                return Err(Error::plugin(&self.name, "no score in \"?\""));
            }
            Ok(Judgement {
                judge: self.name.clone(),
                score: (r.response.len() as f64 + self.bias)
                    .clamp(r.criteria.scale.min, r.criteria.scale.max),
                scale: r.criteria.scale,
                reason: None,
                method: ScoreMethod::Parsed,
            })
        }
        fn id(&self) -> String {
            self.name.clone()
        }
    }

    const TABLE: &str = r#"
criteria = [{ name = "fluency", description = "Fluent?", scale = { min = 1, max = 5 } }]
judges = [
  { type = "judge_panel_test_rule", name = "a", bias = 0.0 },
  { type = "judge_panel_test_rule", name = "b", bias = 1.0 },
]
"#;

    #[test]
    fn table_round_trips_with_defaults_and_the_judges() {
        let e: JudgePanelEval = toml::from_str(TABLE).unwrap();
        assert_eq!(e.panel().judge_ids(), ["a", "b"]);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["data"], "mix/validation");
        assert_eq!(v["max_examples"], 32);
        assert_eq!(v["judges"][1]["name"], "b");
        assert_eq!(v["judges"][1]["type"], "judge_panel_test_rule");
        assert_eq!(v["aggregation"]["method"], "mean");
        let again: JudgePanelEval = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), v);
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let e = toml::from_str::<JudgePanelEval>(&TABLE.replace("name = \"b\"", "name = \"a\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("two judges are called `a`"), "{e}");
        let e = toml::from_str::<JudgePanelEval>(&TABLE.replace("max = 5", "max = 1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("criteria.fluency.scale") && e.contains("below"),
            "{e}"
        );
        let e = toml::from_str::<JudgePanelEval>(&format!("max_examples = 0\n{TABLE}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("judge_panel.max_examples"), "{e}");
        let e = toml::from_str::<JudgePanelEval>("criteria = []\njudges = []")
            .unwrap_err()
            .to_string();
        assert!(e.contains("judge_panel.criteria"), "{e}");
        let e = toml::from_str::<JudgePanelEval>(&format!("{TABLE}\ncolour = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[tokio::test]
    async fn summary_counts_failures_per_system_and_judge() {
        let e: JudgePanelEval = toml::from_str(TABLE).unwrap();
        let criteria = e.config().criteria[0].clone();
        // Two systems × two answers; system `sft`'s second answer cannot be scored.
        let answers = ["ab", "abc", "a", "what?"];
        let requests: Vec<JudgeRequest> = answers
            .iter()
            .map(|a| JudgeRequest {
                instruction: "Say something.".into(),
                response: a.to_string(),
                reference: None,
                criteria: criteria.clone(),
            })
            .collect();
        let run = e.panel().run(&requests).await;
        let summary = criterion_summary(&criteria, &run, &["base", "base", "sft", "sft"], 2);
        assert_eq!(summary.len(), 2);
        // base: a scores 2 and 3, b 3 and 4 → panel means 2.5 and 3.5 → 3.0.
        assert_eq!(summary[0]["panel_mean"], 3.0);
        assert_eq!(summary[0]["unscored"], 0);
        // sft: only "a" is scored: a 1, b 2 → 1.5; "what?" failed for both judges.
        assert_eq!(summary[1]["panel_mean"], 1.5);
        assert_eq!(summary[1]["unscored"], 1);
        assert_eq!(summary[1]["judges"][0]["failed"], 1);
        assert_eq!(summary[1]["judges"][1]["mean"], 2.0);
        let mut md = String::new();
        write_criterion(
            &mut md,
            &criteria,
            &summary,
            &run,
            "eval/p/panel.fluency.md".into(),
        );
        assert!(
            md.contains("| sft | 1.500 | 1 | 1.000 (1) | 2.000 (1) |"),
            "{md}"
        );
        assert!(md.contains("Krippendorff's α"), "{md}");
    }
}
