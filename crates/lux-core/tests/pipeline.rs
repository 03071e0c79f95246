//! The pipeline runner end to end with in-test plugins: ordering, drops, determinism, resume.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use lux_core::pipeline::{Pipeline, PipelineConfig, RunOptions};
use lux_core::{
    Document, Error, Example, Filter, GenerateContext, Generation, InstructionGenerator, Lang,
    Provenance, Rejection, Result, Seed, SeedSource, SeedStream, SourceContext, TaskKind, Verdict,
    rng,
};
use serde::{Deserialize, Serialize};

/// When non-zero, the source fails when it reaches this item (simulates an interruption).
static FAIL_AT: AtomicUsize = AtomicUsize::new(0);
/// Counts generate calls, to check that resumed seeds are not generated again.
static CALLS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Serialize, Deserialize)]
struct Numbers {
    n: usize,
}

#[typetag::serde(name = "test_numbers")]
impl SeedSource for Numbers {
    fn open(&self, _: &SourceContext) -> Result<SeedStream> {
        let fail_at = FAIL_AT.load(Ordering::SeqCst);
        Ok(Box::new((0..self.n).map(move |i| {
            if fail_at != 0 && i == fail_at {
                return Err(Error::at_line(
                    "numbers.txt",
                    i + 1,
                    "simulated interruption",
                ));
            }
            Ok(Seed::Document(Document {
                id: format!("doc{i}"),
                lang: Lang::LB,
                title: Some(format!("Titel {i}")),
                text: format!("Text {}", i % 7),
                provenance: Provenance::new("numbers", "CC0-1.0"),
                metadata: Default::default(),
            }))
        })))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Echo;

#[typetag::serde(name = "test_echo")]
#[async_trait]
impl InstructionGenerator for Echo {
    async fn generate(&self, seed: &Seed, ctx: &GenerateContext) -> Result<Generation> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let Seed::Document(d) = seed else {
            return Ok(Generation::default());
        };
        // Vary completion order so ordering is really tested.
        let delay = rng::pick(ctx.seed, &d.id, 5) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        if d.id.ends_with('3') {
            return Err(Error::plugin("test_echo", "seeds ending in 3 fail"));
        }
        let lang =
            ctx.instruction_langs[rng::pick(ctx.seed, &d.id, ctx.instruction_langs.len())].clone();
        Ok(Generation {
            examples: vec![Example {
                id: rng::id(&d.id),
                task: TaskKind::TITLE_TO_ARTICLE,
                instruction: format!("Write {}", d.title.clone().unwrap_or_default()),
                instruction_lang: lang,
                input: None,
                output: d.text.clone(),
                output_lang: ctx.native.clone(),
                source: d.provenance.source.clone(),
                license: d.provenance.license.clone(),
                seed_id: d.id.clone(),
                generator: "test_echo".into(),
                template: String::new(),
            }],
            rejected: if d.id.ends_with('5') {
                vec![Rejection {
                    generator: "test_echo".into(),
                    reason: "span not found: x".into(),
                }]
            } else {
                vec![]
            },
        })
    }
}

/// Drops outputs seen before (stateful: must reset in `prepare`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Dedup {
    #[serde(skip)]
    seen: std::collections::HashSet<String>,
}

#[typetag::serde(name = "test_dedup")]
impl Filter for Dedup {
    fn prepare(&mut self, _: &lux_core::FilterContext) -> Result<()> {
        self.seen.clear();
        Ok(())
    }
    fn check(&mut self, ex: &Example) -> Result<Verdict> {
        Ok(if self.seen.insert(ex.output.clone()) {
            Verdict::Keep
        } else {
            Verdict::drop(format!("duplicate output: {}", ex.output))
        })
    }
}

const RECIPE: &str = r#"
seed = 7
native = "lb"
instruction_langs = ["en", "fr", "de"]
concurrency = 4

[[sources]]
type = "test_numbers"
n = 40

[[generators]]
type = "test_echo"

[[filters]]
type = "test_dedup"
"#;

async fn run(dir: &std::path::Path) -> Result<lux_core::pipeline::RunSummary> {
    let config = PipelineConfig::from_toml(RECIPE, "recipe.toml".as_ref())?;
    Pipeline::new(config)?
        .run(dir, &RunOptions::default())
        .await
}

fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

// One test function: the statics above are shared, so the scenarios run in sequence.
#[tokio::test]
async fn ordered_deterministic_and_resumable() {
    // Uninterrupted run.
    let a = tempfile::tempdir().unwrap();
    let s = run(a.path()).await.unwrap();
    assert_eq!(s.stats.seeds_done, 40);
    assert_eq!(s.stats.seeds_failed, 4, "doc3, doc13, doc23, doc33");
    assert_eq!(s.stats.generated, 36);
    // Outputs repeat every 7 docs: 7 distinct outputs kept, the rest dropped with a reason.
    assert_eq!(s.stats.kept, 7);
    assert_eq!(s.stats.dropped, 29);
    assert_eq!(s.stats.drops["test_dedup"]["duplicate output"], 29);
    assert_eq!(
        s.stats.rejected,
        4 + 4,
        "4 failures + 4 rejections (doc5, 15, 25, 35)"
    );
    let dataset = read(a.path(), "dataset.jsonl");
    let ids: Vec<String> = dataset
        .lines()
        .map(|l| serde_json::from_str::<Example>(l).unwrap().seed_id)
        .collect();
    assert_eq!(
        ids,
        ["doc0", "doc1", "doc2", "doc4", "doc5", "doc6", "doc10"],
        "stream order (doc3 failed, so doc10 is the first Text 3)"
    );
    assert_eq!(read(a.path(), "dropped.jsonl").lines().count(), 29);
    assert!(read(a.path(), "stats.md").contains("| test_dedup | duplicate output | 29 |"));

    // Same recipe, fresh directory: byte-identical dataset.
    let b = tempfile::tempdir().unwrap();
    run(b.path()).await.unwrap();
    assert_eq!(read(b.path(), "dataset.jsonl"), dataset);

    // Interrupted at item 25, then resumed: same dataset, and no seed generated twice.
    let c = tempfile::tempdir().unwrap();
    FAIL_AT.store(25, Ordering::SeqCst);
    let err = run(c.path()).await.unwrap_err().to_string();
    assert!(err.contains("numbers.txt:line 26"), "{err}");
    FAIL_AT.store(0, Ordering::SeqCst);
    let journaled = read(c.path(), "journal.jsonl").lines().count();
    assert_eq!(
        journaled, 25,
        "every seed before the interruption was journaled"
    );
    CALLS.store(0, Ordering::SeqCst);
    let s = run(c.path()).await.unwrap();
    assert_eq!(s.seeds_resumed, 25);
    assert_eq!(s.seeds_generated_now, 15);
    assert_eq!(CALLS.load(Ordering::SeqCst), 15);
    assert_eq!(read(c.path(), "dataset.jsonl"), dataset);

    // A changed recipe refuses to reuse the journal.
    let changed = RECIPE.replace("seed = 7", "seed = 8");
    let config = PipelineConfig::from_toml(&changed, "recipe.toml".as_ref()).unwrap();
    let err = Pipeline::new(config)
        .unwrap()
        .run(c.path(), &RunOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("different recipe"), "{err}");
}

#[test]
fn recipe_errors_name_the_line_and_key() {
    let bad = RECIPE.replace("n = 40", "n = \"forty\"");
    let err = PipelineConfig::from_toml(&bad, "r.toml".as_ref())
        .unwrap_err()
        .to_string();
    // typetag buffers a plugin table, so the error points at the table's first line.
    assert!(
        err.starts_with("r.toml:line 7") && err.contains("forty"),
        "{err}"
    );
    let unknown = RECIPE.replace("type = \"test_echo\"", "type = \"no_such_generator\"");
    let err = PipelineConfig::from_toml(&unknown, "r.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_generator"), "{err}");
    let zero = RECIPE.replace("concurrency = 4", "concurrency = 0");
    let err =
        Pipeline::new(PipelineConfig::from_toml(&zero, "r.toml".as_ref()).unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "invalid concurrency: must be at least 1");
}
