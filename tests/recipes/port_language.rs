//! `recipes/port_language.toml`: LuxInstruct for Faroese from the recipe file alone. Its data
//! stage runs on a sample of the embedded Faroese corpus, and the dataset is checked for what
//! a port must get right: Faroese answers (by the language identifier that knows Icelandic,
//! Danish and Norwegian), instructions that name Faroese in their own language, and answers
//! that are the catalogues' human translations.

use std::collections::{BTreeMap, HashMap};

use lux::core::{Example, Lang};
use lux::data::langid::{LangId, LangIdConfig};
use lux::{LoadOptions, Recipe, Run, RunSettings};

use crate::support::repo_root;

fn fo() -> Lang {
    Lang::new("fo").unwrap()
}

#[test]
fn the_port_language_recipe_is_luxinstruct_for_faroese_with_a_quick_table() {
    let path = repo_root().join("recipes/port_language.toml");
    let recipe = Recipe::load(&path).unwrap();
    assert_eq!(
        recipe.stage_names(),
        [
            "data",
            "mix",
            "sft",
            "heldout_loss",
            "cka",
            "judge_panel",
            "chrf"
        ]
    );
    let data = serde_json::to_value(recipe.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["native"], "fo");
    assert_eq!(
        data["instruction_langs"],
        serde_json::json!(["en", "fr", "de"])
    );
    let cka = serde_json::to_value(&recipe.eval[1]).unwrap();
    assert_eq!(cka["type"], "cka");
    assert!(
        cka["parallel"]
            .as_str()
            .unwrap()
            .ends_with("data/fo/parallel.jsonl")
    );
    let quick = Recipe::load_with(&path, &LoadOptions { quick: true }).unwrap();
    assert_eq!(quick.data.unwrap().max_seeds_per_source, Some(400));
    let sft = serde_json::to_value(&quick.train[0]).unwrap();
    assert_eq!(sft["max_steps"], 4);
}

#[test]
fn the_faroese_corpus_holds_the_neighbours_the_language_id_must_tell_apart() {
    let groups =
        lux::data::langid::read_parallel_jsonl(repo_root().join("data/fo/parallel.jsonl")).unwrap();
    let mut per_lang: BTreeMap<String, usize> = BTreeMap::new();
    for g in &groups {
        assert!(g.get(&fo()).is_some(), "{} has no Faroese", g.id);
        for l in g.texts.keys() {
            *per_lang.entry(l.code().to_string()).or_default() += 1;
        }
    }
    for l in lux::data::langid::neighbours(&fo())
        .iter()
        .chain(&[Lang::EN, Lang::FR, Lang::DE])
    {
        let n = per_lang.get(l.code()).copied().unwrap_or(0);
        assert!(n >= 1000, "only {n} groups with {l}: {per_lang:?}");
    }
    // Held-out groups (never seen in training, in any language): Faroese is told from
    // Icelandic, Danish and Norwegian on texts of at least 20 letters.
    let split = lux::data::langid::split_parallel(&groups, &[], 0.2, 1729);
    let model = LangId::train(split.train, LangIdConfig::default()).unwrap();
    let long: Vec<(Lang, String)> = split
        .held_out
        .into_iter()
        .filter(|(_, t)| t.chars().filter(|c| c.is_alphabetic()).count() >= 20)
        .collect();
    let report = model.evaluate(&long);
    let fo_score = &report.per_lang[&fo()];
    assert!(
        fo_score.accuracy >= 0.9,
        "Faroese held-out accuracy {:.3}\n{}",
        fo_score.accuracy,
        report.to_markdown()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_data_stage_makes_faroese_answers_to_instructions_that_name_faroese() {
    let dir = tempfile::tempdir().unwrap();
    // The sample `lux run --quick` reads: the first 400 seeds of each source.
    let recipe = Recipe::load_with(
        repo_root().join("recipes/port_language.toml"),
        &LoadOptions { quick: true },
    )
    .unwrap();
    let run_dir = dir.path().join("run");
    Run::new(
        recipe,
        RunSettings {
            out: Some(run_dir.clone()),
            stop_after: Some("data".into()),
            ..RunSettings::default()
        },
    )
    .unwrap()
    .execute()
    .await
    .unwrap();
    let examples: Vec<Example> =
        lux::core::fs::read_jsonl(run_dir.join("data/dataset.jsonl")).unwrap();
    assert!(examples.len() >= 100, "{} examples", examples.len());

    let mut tasks: BTreeMap<String, usize> = BTreeMap::new();
    for e in &examples {
        *tasks.entry(e.task.to_string()).or_default() += 1;
        assert_eq!(e.output_lang, fo(), "{}", e.id);
        assert!(
            [Lang::EN, Lang::FR, Lang::DE].contains(&e.instruction_lang),
            "{}: {}",
            e.id,
            e.instruction_lang
        );
        // The name comes from the language-names table, in the instruction's language.
        let name = fo().name_in(&e.instruction_lang);
        assert!(
            e.instruction.contains(&name),
            "{}: {:?} does not name {name}",
            e.id,
            e.instruction
        );
        let lb = Lang::LB.name_in(&e.instruction_lang);
        assert!(!e.instruction.contains(&lb), "{}", e.instruction);
    }
    // The sample's dictionary entries (the first 400, alphabetically) have few example
    // sentences: of the 1,537 mined entries only 58 do, as Faroese catalogues hold few sentences.
    for task in [
        "word_translation",
        "sentence_translation",
        "usage_in_context",
    ] {
        assert!(tasks.get(task).copied().unwrap_or(0) >= 10, "{tasks:?}");
    }

    // Every answer long enough to judge is Faroese by a language identifier that knows its
    // neighbours (is, da, nb, nn) as well as en, fr and de.
    let model = LangId::train_from_parallel_jsonl(
        repo_root().join("data/fo/parallel.jsonl"),
        &[],
        LangIdConfig::default(),
    )
    .unwrap();
    for l in ["is", "da", "nb", "nn", "en", "fr", "de"] {
        assert!(model.knows(&Lang::new(l).unwrap()), "{l}");
    }
    let judged: Vec<&Example> = examples
        .iter()
        .filter(|e| e.output.chars().filter(|c| c.is_alphabetic()).count() >= 20)
        .collect();
    assert!(judged.len() >= 30, "{} long answers", judged.len());
    for e in &judged {
        let (lang, p) = model.best(&e.output).unwrap();
        assert_eq!(lang, fo(), "{:?} identified as {lang} ({p:.2})", e.output);
    }

    // Sentence translations pair a catalogue's text with its human Faroese translation.
    let groups =
        lux::data::langid::read_parallel_jsonl(repo_root().join("data/fo/parallel.jsonl")).unwrap();
    let by_id: HashMap<&str, &lux::core::Parallel> =
        groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut checked = 0;
    for e in examples
        .iter()
        .filter(|e| e.task.to_string() == "sentence_translation")
    {
        let g = by_id[e.seed_id.as_str()];
        assert_eq!(Some(e.output.as_str()), g.get(&fo()), "{}", e.id);
        // The source text is the group's text in an instruction language, which the
        // template may name ("Translate the following German text into Faroese").
        let input = e.input.as_deref().unwrap();
        assert!(
            [Lang::EN, Lang::FR, Lang::DE]
                .iter()
                .any(|l| g.get(l) == Some(input)),
            "{}: {input:?} is not the group's en/fr/de text",
            e.id
        );
        checked += 1;
    }
    assert!(checked >= 10);
}
