//! Sharded data runs through the `lux` binary: three `--shard i/3` runs merged by
//! `lux dataset merge` write, byte for byte, what one unsharded run writes — including the
//! cross-shard work of a dedup filter — and a wrong set of shards is refused by name.

use std::path::{Path, PathBuf};

use crate::support::{article, lux};

/// The files of a data directory that an unsharded run writes deterministically.
const OUTPUTS: [&str; 7] = [
    "dataset.jsonl",
    "dropped.jsonl",
    "rejected.jsonl",
    "stats.json",
    "stats.md",
    "run.json",
    "journal.jsonl",
];

/// A recipe over 24 news articles (two of them the same text under different ids, next to
/// each other so they fall in different shards) and 12 dictionary entries, with an output
/// dedup filter that only sees the duplicate when it sees every shard.
pub(crate) fn write_recipe(d: &Path, seed: u64) -> PathBuf {
    let news: String = (0..24)
        .map(|i| {
            let body = if i == 1 {
                article("Gemeng 0", "De Gemengerot")
            } else {
                article(&format!("Gemeng {i}"), "De Gemengerot")
            };
            serde_json::json!({
                "url": format!("https://news.example/{i}"),
                "headline": format!("Nei Bauprojeten zu Gemeng {i}"),
                "body": body,
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(d.join("news.jsonl"), news).unwrap();
    let words = [
        ("Haus", "house", "maison", "Haus"),
        ("Stad", "city", "ville", "Stadt"),
        ("Bam", "tree", "arbre", "Baum"),
        ("Waasser", "water", "eau", "Wasser"),
        ("Brout", "bread", "pain", "Brot"),
        ("Schoul", "school", "école", "Schule"),
        ("Zuch", "train", "train", "Zug"),
        ("Bierg", "mountain", "montagne", "Berg"),
        ("Mier", "sea", "mer", "Meer"),
        ("Dag", "day", "jour", "Tag"),
        ("Nuecht", "night", "nuit", "Nacht"),
        ("Frënd", "friend", "ami", "Freund"),
    ];
    let dict: String = words
        .iter()
        .map(|(lb, en, fr, de)| {
            serde_json::json!({
                "headword": lb, "pos": "noun",
                "translations": {"en": [en], "fr": [fr], "de": [de]},
                "examples": [format!("Dat ass e schéine {lb}."), format!("Mir gesinn de {lb} all Dag.")],
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(d.join("dict.jsonl"), dict).unwrap();
    let recipe = format!(
        r#"
name = "sharded"
[data]
seed = {seed}
native = "lb"
instruction_langs = ["en", "fr", "de"]

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

[[data.filters]]
type = "exact_dedup"
scope = "output"
[[data.filters]]
type = "length"
min_output_chars = 2
"#
    );
    let path = d.join(format!("recipe-{seed}.toml"));
    std::fs::write(&path, recipe).unwrap();
    path
}

fn ok(args: &[&str], d: &Path) -> String {
    let (ok, stdout, stderr) = lux(args, d);
    assert!(ok, "lux {args:?} failed:\n{stderr}");
    stdout
}

fn refused(args: &[&str], d: &Path) -> String {
    let (ok, _, stderr) = lux(args, d);
    assert!(!ok, "lux {args:?} should have failed");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn journal_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .count()
}

#[test]
fn three_shards_merge_into_the_bytes_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_recipe(d, 3);
    ok(&["data", "recipe-3.toml", "--out", "whole", "--quiet"], d);

    for i in 0..3 {
        let out = ok(
            &[
                "data",
                "recipe-3.toml",
                "--shard",
                &format!("{i}/3"),
                "--quiet",
            ],
            d,
        );
        assert!(out.contains(&format!("shard {i}/3")), "{out}");
    }
    let shard_dirs: Vec<String> = (0..3)
        .map(|i| format!("out/sharded/shards/{i}-of-3/data"))
        .collect();
    let mut slice_sizes = Vec::new();
    for s in &shard_dirs {
        // A shard holds its slice of the journal, and no dataset of its own.
        assert!(!d.join(s).join("dataset.jsonl").exists(), "{s}");
        slice_sizes.push(journal_lines(&d.join(s)));
    }
    assert_eq!(
        slice_sizes.iter().sum::<usize>(),
        journal_lines(&d.join("whole"))
    );
    assert!(slice_sizes.iter().all(|&n| n >= 10), "{slice_sizes:?}");

    // Given in any order: the merge sorts by seed position.
    let merge = |dirs: &[&str], out: &str| {
        let mut args = vec!["dataset", "merge"];
        args.extend(dirs);
        args.extend(["-o", out, "--quiet"]);
        lux(&args, d)
    };
    let (merged_ok, stdout, stderr) =
        merge(&[&shard_dirs[2], &shard_dirs[0], &shard_dirs[1]], "merged");
    assert!(merged_ok, "{stderr}");
    assert!(stdout.contains("3 shards"), "{stdout}");
    for file in OUTPUTS {
        let whole = std::fs::read(d.join("whole").join(file)).unwrap();
        let merged = std::fs::read(d.join("merged").join(file)).unwrap();
        assert!(
            whole == merged,
            "{file} differs between the whole run and the merge"
        );
    }
    // The duplicate article (seeds 0 and 1, shards 0 and 1) was caught across shards.
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("merged/stats.json")).unwrap()).unwrap();
    assert!(
        stats["drops"]["exact_dedup"]["duplicate output"].as_u64() >= Some(1),
        "{stats}"
    );
    // The merged directory is a run directory: running the recipe there resumes all of it.
    let out = ok(&["data", "recipe-3.toml", "--out", "merged", "--quiet"], d);
    let seeds = stats["seeds_done"].as_u64().unwrap();
    assert!(out.contains(&format!("({seeds} resumed)")), "{out}");

    // A wrong set of shards is refused, naming what is wrong.
    let (_, _, e) = merge(&[&shard_dirs[0], &shard_dirs[1]], "bad");
    assert!(e.contains("missing shard 2/3"), "{e}");
    let (_, _, e) = merge(&[&shard_dirs[0], &shard_dirs[1], &shard_dirs[1]], "bad");
    assert!(e.contains("shard 1/3 given twice"), "{e}");
    let (_, _, e) = merge(&[&shard_dirs[0], "whole", &shard_dirs[2]], "bad");
    assert!(
        e.contains("whole") && e.contains("not the output of a run with --shard"),
        "{e}"
    );
    write_recipe(d, 4);
    ok(
        &[
            "data",
            "recipe-4.toml",
            "--shard",
            "1/3",
            "--out",
            "other",
            "--quiet",
        ],
        d,
    );
    let (_, _, e) = merge(&[&shard_dirs[0], "other", &shard_dirs[2]], "bad");
    assert!(e.contains("other") && e.contains("different recipe"), "{e}");
    ok(
        &[
            "data",
            "recipe-3.toml",
            "--shard",
            "1/4",
            "--out",
            "split4",
            "--quiet",
        ],
        d,
    );
    let (_, _, e) = merge(&[&shard_dirs[0], "split4", &shard_dirs[2]], "bad");
    assert!(e.contains("split4 is shard 1/4"), "{e}");
    assert!(!d.join("bad/dataset.jsonl").exists());

    // Bad shard arguments are refused before anything runs.
    let e = refused(&["data", "recipe-3.toml", "--shard", "3/3"], d);
    assert!(e.contains("0 to 2"), "{e}");
    let e = refused(&["data", "recipe-3.toml", "--shard", "1-3"], d);
    assert!(e.contains("INDEX/COUNT"), "{e}");
    // A shard's directory is not resumed as another shard or as a whole run.
    let e = refused(
        &["data", "recipe-3.toml", "--out", &shard_dirs[0], "--quiet"],
        d,
    );
    assert!(e.contains("shard 0/3"), "{e}");
}

#[test]
fn run_shards_merge_into_a_data_stage_that_lux_run_reuses() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_recipe(d, 3);
    ok(&["data", "recipe-3.toml", "--out", "whole", "--quiet"], d);

    let e = refused(
        &[
            "run",
            "recipe-3.toml",
            "--shard",
            "0/3",
            "--stage",
            "mix",
            "--quiet",
        ],
        d,
    );
    assert!(e.contains("runs the data stage only, not `mix`"), "{e}");
    for i in 0..3 {
        ok(
            &[
                "run",
                "recipe-3.toml",
                "--shard",
                &format!("{i}/3"),
                "--quiet",
            ],
            d,
        );
        let report =
            std::fs::read_to_string(d.join(format!("out/sharded/shards/{i}-of-3/report.md")))
                .unwrap();
        assert!(report.contains(&format!("Shard {i}/3")), "{report}");
    }
    // The run directories themselves are accepted (their data/ is the shard).
    ok(
        &[
            "dataset",
            "merge",
            "out/sharded/shards/0-of-3",
            "out/sharded/shards/1-of-3",
            "out/sharded/shards/2-of-3",
            "-o",
            "out/sharded/data",
            "--quiet",
        ],
        d,
    );
    for file in ["dataset.jsonl", "stats.json", "journal.jsonl"] {
        assert!(
            std::fs::read(d.join("whole").join(file)).unwrap()
                == std::fs::read(d.join("out/sharded/data").join(file)).unwrap(),
            "{file}"
        );
    }
    let out = ok(&["run", "recipe-3.toml", "--quiet"], d);
    assert!(
        out.lines()
            .any(|l| l.starts_with("data") && l.contains("reused")),
        "{out}"
    );
}
