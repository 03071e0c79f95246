//! The data stage end to end through the `lux` CLI: real-format seed files written by the
//! test → generators → filters → dataset, plus the bundled LuxInstruct recipe.

mod faults;
mod llm_endpoint;
mod shards;
mod support;

use std::collections::BTreeSet;

use lux::core::Example;
use support::*;

fn read_dataset(dir: &std::path::Path) -> Vec<Example> {
    std::fs::read_to_string(dir.join("dataset.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn wiki_news_and_dictionary_sources_make_six_tasks_in_three_languages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pages: Vec<(&str, String)> = vec![
        (
            "Lëtzebuerg",
            format!(
                "'''Lëtzebuerg''' ass e [[Land]].{{{{Infobox Land|Numm=Lëtzebuerg}}}}<ref>Quell</ref> {}\n\n== Geschicht ==\nD'Geschicht ass laang.\n[[Kategorie:Land]]",
                article("Lëtzebuerg", "D'Land")
            ),
        ),
        ("Mosel", article("Mosel", "D'Musel")),
        ("Éislek", article("Éislek", "Den Éislek")),
    ];
    write_wiki_dump_bz2(&d.join("lbwiki.xml.bz2"), &pages);
    let news: String = (0..6)
        .map(|i| {
            serde_json::json!({
                "url": format!("https://news.example/{i}"),
                "headline": format!("Nei Bauprojeten zu Gemeng {i}"),
                "body": article(&format!("Gemeng {i}"), "De Gemengerot"),
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(d.join("news.jsonl"), news).unwrap();
    let dict: String = [
        r#"{"headword":"Haus","pos":"noun","translations":{"en":["house"],"fr":["maison"],"de":["Haus"]},"examples":["D'Haus ass grouss.","Mir wunnen an engem klengen Haus."],"synonyms":["Gebai"]}"#,
        r#"{"headword":"séier","pos":"adj","translations":{"en":["fast"],"fr":["rapide"],"de":["schnell"]},"examples":["Den Zuch fiert séier."],"synonyms":["flott","gëschwënn"]}"#,
        r#"{"headword":"Stad","pos":"noun","translations":{"en":["city"],"fr":["ville"],"de":["Stadt"]},"examples":["D'Stad ass voller Leit."]}"#,
    ]
    .join("\n");
    std::fs::write(d.join("dict.jsonl"), dict).unwrap();
    let recipe = r#"
name = "mini"
[data]
seed = 3
native = "lb"
instruction_langs = ["en", "fr", "de"]

[[data.sources]]
type = "mediawiki_dump"
path = "lbwiki.xml.bz2"

[[data.sources]]
type = "jsonl"
path = "news.jsonl"
lang = "lb"
id_field = "url"
title_field = "headline"
text_field = "body"
source = "news"

[[data.sources]]
type = "dictionary"
path = "dict.jsonl"

[[data.generators]]
type = "open_generation"
sources = ["wikipedia"]
min_chars = 100
[[data.generators]]
type = "article_to_title"
min_chars = 100
[[data.generators]]
type = "title_to_article"
sources = ["news"]
min_chars = 100
[[data.generators]]
type = "word_translation"
[[data.generators]]
type = "usage_in_context"
per_entry = 2
[[data.generators]]
type = "paraphrase"
"#;
    std::fs::write(d.join("recipe.toml"), recipe).unwrap();
    let (ok, stdout, stderr) = lux(&["data", "recipe.toml", "--out", "out", "--quiet"], d);
    assert!(ok, "lux data failed:\n{stderr}");
    assert!(stdout.contains("kept"), "{stdout}");
    let examples = read_dataset(&d.join("out"));
    let tasks: BTreeSet<String> = examples.iter().map(|e| e.task.to_string()).collect();
    assert_eq!(
        tasks.into_iter().collect::<Vec<_>>(),
        [
            "article_to_title",
            "open_generation",
            "paraphrase",
            "title_to_article",
            "usage_in_context",
            "word_translation"
        ]
    );
    let langs: BTreeSet<String> = examples
        .iter()
        .map(|e| e.instruction_lang.to_string())
        .collect();
    assert_eq!(langs.into_iter().collect::<Vec<_>>(), ["de", "en", "fr"]);
    assert!(examples.iter().all(|e| e.output_lang.code() == "lb"));
    // Wiki markup never reaches the dataset; the redirect and the talk page were skipped.
    assert!(
        examples
            .iter()
            .all(|e| !e.output.contains("{{") && !e.output.contains("<ref"))
    );
    assert!(
        examples
            .iter()
            .all(|e| e.seed_id != "900" && e.seed_id != "902")
    );
    // Every example is traceable to its source and license.
    assert!(
        examples
            .iter()
            .filter(|e| e.source == "wikipedia")
            .all(|e| e.license == "CC-BY-SA-4.0")
    );

    // A second run resumes everything and rewrites the same dataset.
    let before = std::fs::read_to_string(d.join("out/dataset.jsonl")).unwrap();
    let (ok, stdout, stderr) = lux(&["data", "recipe.toml", "--out", "out", "--quiet"], d);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "({} resumed)",
            examples
                .iter()
                .map(|e| &e.seed_id)
                .collect::<BTreeSet<_>>()
                .len()
        )),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out/dataset.jsonl")).unwrap(),
        before
    );
}

#[test]
fn malformed_seed_file_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("news.jsonl"),
        "{\"id\":\"a\",\"title\":\"T\",\"text\":\"ok\"}\n{\"id\":\"b\",\"title\":\"T\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("recipe.toml"),
        "name = \"bad\"\n[data]\nnative = \"lb\"\ninstruction_langs = [\"en\"]\n[[data.sources]]\ntype = \"jsonl\"\npath = \"news.jsonl\"\nlang = \"lb\"\n[[data.generators]]\ntype = \"article_to_title\"\n",
    )
    .unwrap();
    let (ok, _, stderr) = lux(&["data", "recipe.toml", "--out", "out", "--quiet"], d);
    assert!(!ok);
    assert!(
        stderr.contains("news.jsonl") && stderr.contains("line 2") && stderr.contains("text"),
        "{stderr}"
    );

    std::fs::write(
        d.join("typo.toml"),
        "name = \"t\"\n[data]\nnative = \"lb\"\ninstruction_lang = [\"en\"]\n",
    )
    .unwrap();
    let (ok, _, stderr) = lux(&["data", "typo.toml", "--quiet"], d);
    assert!(!ok);
    assert!(
        stderr.contains("typo.toml") && stderr.contains("instruction_lang"),
        "{stderr}"
    );
}

#[tokio::test]
async fn bundled_luxinstruct_recipe_runs_offline_on_the_embedded_corpus() {
    let recipe = lux::Recipe::load(repo_root().join("recipes/luxinstruct.toml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = recipe
        .run_data(out.path(), &Default::default())
        .await
        .unwrap();
    let s = &summary.stats;
    let tasks_with_data: Vec<&String> = s
        .per_task
        .iter()
        .filter(|(_, c)| c.kept > 0)
        .map(|(t, _)| t)
        .collect();
    assert!(tasks_with_data.len() >= 3, "{tasks_with_data:?}");
    for lang in ["en", "fr", "de"] {
        assert!(
            s.per_instruction_lang
                .get(lang)
                .is_some_and(|c| c.kept > 100),
            "{lang}: {:?}",
            s.per_instruction_lang
        );
    }
    assert!(s.kept > 1000, "{}", s.kept);
    // Every drop is accounted for in dropped.jsonl, and every kept line parses.
    let dropped = std::fs::read_to_string(out.path().join("dropped.jsonl")).unwrap();
    assert_eq!(dropped.lines().count(), s.dropped);
    let examples = read_dataset(out.path());
    assert_eq!(examples.len(), s.kept);
    assert!(
        examples
            .iter()
            .all(|e| e.output_lang.code() == "lb" && !e.license.is_empty())
    );
}
