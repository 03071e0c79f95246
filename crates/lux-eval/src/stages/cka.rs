//! [`CkaEval`]: `type = "cka"` — how alike the model represents the same sentence in two
//! languages, layer by layer, before and after each training stage.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;
use lux_core::stage::{StageContext, StageOutput};
use lux_core::{Error, Evaluation, Lang, Parallel, Result, rng};
use lux_train::hidden_states::{Pooling, hidden_states};
use lux_train::stages::{load_system, systems};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cka::{LayerwiseCka, LayerwiseCkaReport};
use crate::report::cka_report;

/// Linear CKA per layer between the pooled hidden states of aligned sentences in two
/// languages (LuxInstruct's EN-LB, FR-LB, DE-LB comparison), for the base model and after
/// each training stage.
///
/// ```toml
/// [[eval]]
/// type = "cka"
/// parallel = "../data/parallel.jsonl"   # aligned groups, one JSON object per line
/// sentences = 256
/// # pairs = [["en", "lb"], ["fr", "lb"]]  # default: each instruction language vs the native
/// ```
///
/// Writes `cka.md`/`.json` (base alone) or `cka.<system>.{md,json}` with one SVG per pair
/// (base vs that system), and the mean over layers per pair and system in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CkaEval {
    /// Aligned sentence groups (`{"id", "texts": {"lb": …, "en": …}}` per line), relative to
    /// the recipe.
    pub parallel: PathBuf,
    /// Language pairs `[a, b]`. Default: each of the run's instruction languages against its
    /// native language.
    #[serde(default)]
    pub pairs: Vec<(Lang, Lang)>,
    /// Number of aligned groups (chosen by the run's seed). Default 256.
    #[serde(default = "default_sentences")]
    pub sentences: usize,
    /// Only groups whose texts all have at least this many words. Default 4.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// How token states become one vector. Default `mean`.
    #[serde(default = "default_pooling")]
    pub pooling: Pooling,
    /// Texts per forward pass. Default 16.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Texts are cut to this many tokens. Default 64.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
}

fn default_sentences() -> usize {
    256
}
fn default_min_words() -> usize {
    4
}
fn default_pooling() -> Pooling {
    Pooling::Mean
}
fn default_batch() -> usize {
    16
}
fn default_max_tokens() -> usize {
    64
}

#[typetag::serde(name = "cka")]
#[async_trait]
impl Evaluation for CkaEval {
    async fn evaluate(&self, ctx: &StageContext) -> Result<StageOutput> {
        tokio::task::block_in_place(|| self.run(ctx))
    }

    fn prepare(&mut self, ctx: &StageContext) -> Result<()> {
        if self.sentences < 2 {
            return Err(Error::invalid(
                "cka.sentences",
                "CKA needs at least 2 sentences",
            ));
        }
        if self.batch_size == 0 || self.max_tokens == 0 {
            return Err(Error::invalid(
                "cka",
                "batch_size and max_tokens must be at least 1",
            ));
        }
        self.pairs(ctx).map(|_| ())
    }
}

impl CkaEval {
    fn pairs(&self, ctx: &StageContext) -> Result<Vec<(Lang, Lang)>> {
        if !self.pairs.is_empty() {
            return Ok(self.pairs.clone());
        }
        let native = ctx.native()?;
        if ctx.instruction_langs.is_empty() {
            return Err(Error::invalid(
                "cka.pairs",
                "name the language pairs (pairs = [[\"en\", \"lb\"]]): the run has no \
                 instruction languages to default to",
            ));
        }
        Ok(ctx
            .instruction_langs
            .iter()
            .map(|l| (l.clone(), native.clone()))
            .collect())
    }

    fn run(&self, ctx: &StageContext) -> Result<StageOutput> {
        let pairs = self.pairs(ctx)?;
        let langs: BTreeSet<Lang> = pairs
            .iter()
            .flat_map(|(a, b)| [a.clone(), b.clone()])
            .collect();
        let path = ctx.resolve(&self.parallel);
        let mut groups: Vec<Parallel> = lux_core::fs::read_jsonl::<Parallel>(&path)?
            .into_iter()
            .filter(|g| {
                langs.iter().all(|l| {
                    g.get(l).is_some_and(|t| {
                        t.split_whitespace().count() >= self.min_words && !t.contains('{')
                    })
                })
            })
            .collect();
        groups.sort_by_cached_key(|g| (rng::hash(ctx.seed, &g.id), g.id.clone()));
        groups.truncate(self.sentences);
        if groups.len() < 2 {
            return Err(Error::plugin(
                &ctx.name,
                format!(
                    "{} has {} groups with texts of at least {} words in {}: CKA needs 2 or more",
                    path.display(),
                    groups.len(),
                    self.min_words,
                    langs.iter().map(Lang::code).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let pair_refs: Vec<(&str, &str)> =
            pairs.iter().map(|(a, b)| (a.code(), b.code())).collect();
        let mut reports: Vec<(String, LayerwiseCkaReport)> = Vec::new();
        let systems = systems(ctx);
        let bar = ctx.progress_bar((systems.len() * langs.len()) as u64, "hidden states");
        for system in systems {
            let (model, base) = load_system(ctx, &system)?;
            let tokenizer = &base.tokenizer;
            let mut set = LayerwiseCka::new();
            for lang in &langs {
                let texts: Vec<&str> = groups.iter().filter_map(|g| g.get(lang)).collect();
                let states = hidden_states(
                    &model,
                    tokenizer,
                    &texts,
                    self.pooling,
                    self.batch_size,
                    self.max_tokens,
                )?;
                set.add(lang.code(), states)?;
                bar.inc(1);
            }
            reports.push((system.name.clone(), set.report(&pair_refs)?));
        }
        bar.finish_and_clear();

        let mean = |r: &LayerwiseCkaReport, a: &str, b: &str| {
            let v: Vec<f64> = r
                .rows
                .iter()
                .filter(|row| row.a == a && row.b == b)
                .map(|row| row.cka)
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let mut md = format!(
            "Linear CKA per layer between {}-pooled hidden states of {} aligned groups of `{}`; \
             mean over layers:\n\n| system |",
            match self.pooling {
                Pooling::Mean => "mean",
                Pooling::LastToken => "last-token",
            },
            groups.len(),
            self.parallel.display()
        );
        for (a, b) in &pair_refs {
            let _ = write!(md, " {a}–{b} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---:|".repeat(pair_refs.len()));
        md.push('\n');
        let mut summary_rows = Vec::new();
        for (name, report) in &reports {
            let _ = write!(md, "| {name} |");
            let mut means = serde_json::Map::new();
            for (a, b) in &pair_refs {
                let m = mean(report, a, b);
                let _ = write!(md, " {m:.4} |");
                means.insert(format!("{a}-{b}"), json!(m));
            }
            md.push('\n');
            summary_rows.push(json!({ "system": name, "mean_cka": means }));
        }
        md.push('\n');
        let (base_name, base) = &reports[0];
        if reports.len() == 1 {
            let files = cka_report(base, None)?.write(&ctx.dir, "cka")?;
            let _ = writeln!(
                md,
                "Per layer: [{}]({})",
                base_name,
                ctx.link(&files.markdown)
            );
        }
        for (name, report) in &reports[1..] {
            let files = cka_report(base, Some(report))?.write(&ctx.dir, &format!("cka.{name}"))?;
            let _ = writeln!(
                md,
                "Per layer, base vs {name}: [{}]({})",
                ctx.link(&files.markdown),
                ctx.link(&files.markdown)
            );
        }
        let summary = json!({
            "groups": groups.len(),
            "pairs": pair_refs.iter().map(|(a, b)| format!("{a}-{b}")).collect::<Vec<_>>(),
            "systems": summary_rows,
        });
        lux_core::fs::write_json_atomic(
            ctx.dir.join("layers.json"),
            &reports
                .iter()
                .map(|(n, r)| json!({ "system": n, "report": r }))
                .collect::<Vec<_>>(),
        )?;
        Ok(StageOutput {
            summary,
            markdown: md,
            ..StageOutput::default()
        })
    }
}
