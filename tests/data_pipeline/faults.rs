//! Faults that must lose nothing (issue 18): an output directory that cannot be written is a
//! clear error and leaves nothing behind; a damaged journal line or LLM cache entry is
//! detected by its checksum, reported and computed again, never loaded; and `kill -9` at any
//! moment of a data run — the dataset write included — leaves no torn file, after which a
//! rerun finishes with exactly the dataset of an uninterrupted run.
//!
//! Not tested here: a full disk (ENOSPC). No small filesystem can be mounted in CI; the
//! atomic writer's failure path (the old file kept, the temporary one removed) is tested with
//! an injected ENOSPC in `lux_core::fs`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lux::Recipe;
use lux::core::pipeline::JournalContents;

use crate::read_dataset;
use crate::shards::write_recipe;
use crate::support::lux;

/// Names of temporary files (`.NAME.tmp-PID-N`) in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_unwritable_output_directory_is_a_clear_error_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_recipe(d, 3);
    // A path under a regular file cannot be created, whoever runs the test (root included).
    std::fs::write(d.join("blocker"), "a file").unwrap();
    for args in [
        ["data", "recipe-3.toml", "--out", "blocker/out", "--quiet"],
        ["run", "recipe-3.toml", "--out", "blocker/run", "--quiet"],
    ] {
        let (ok, _, stderr) = lux(&args, d);
        assert!(!ok, "{args:?}");
        assert!(
            stderr.contains(&format!("blocker/{}", args[3].rsplit('/').next().unwrap()))
                && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(d.join("blocker")).unwrap(),
        "a file"
    );

    // A read-only directory, where permissions bind this user (not root, which writes anyway).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = d.join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        if std::fs::write(ro.join("probe"), "x").is_ok() {
            eprintln!("running as root: the read-only directory case does not apply");
        } else {
            let (ok, _, stderr) = lux(&["data", "recipe-3.toml", "--out", "ro", "--quiet"], d);
            assert!(!ok);
            assert!(
                stderr.contains("ro/") && stderr.contains("ermission"),
                "{stderr}"
            );
            assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_damaged_journal_line_is_reported_and_its_seed_generated_again() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_recipe(d, 3);
    let (ok, _, stderr) = lux(&["data", "recipe-3.toml", "--out", "out", "--quiet"], d);
    assert!(ok, "{stderr}");
    let dataset = std::fs::read(d.join("out/dataset.jsonl")).unwrap();
    let journal = std::fs::read_to_string(d.join("out/journal.jsonl")).unwrap();
    let mut lines: Vec<String> = journal.lines().map(str::to_string).collect();
    let seeds = lines.len();
    // Line 5: a change that is still valid JSON (what bit rot or a careless edit does).
    assert!(lines[4].contains("Gemeng 4"), "{}", lines[4]);
    lines[4] = lines[4].replacen("Gemeng 4", "Gemeng 9", 1);
    // The last line: cut in the middle, as by a process killed mid-append.
    let last = lines.pop().unwrap();
    let mut damaged = lines.join("\n") + "\n";
    damaged.push_str(&last[..last.len() / 2]);
    std::fs::write(d.join("out/journal.jsonl"), damaged).unwrap();

    let (ok, stdout, stderr) = lux(&["data", "recipe-3.toml", "--out", "out", "--quiet"], d);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("journal.jsonl:line 5") && stderr.contains("checksum mismatch"),
        "{stderr}"
    );
    assert!(stderr.contains("partial last line"), "{stderr}");
    assert!(
        stdout.contains(&format!("({} resumed)", seeds - 2)),
        "{stdout}"
    );
    assert!(std::fs::read(d.join("out/dataset.jsonl")).unwrap() == dataset);
    // The journal was rewritten without the damage: every line sound, one per seed.
    let contents = JournalContents::read(&d.join("out/journal.jsonl")).unwrap();
    assert!(contents.damaged.is_empty() && contents.partial_tail == 0);
    assert_eq!(contents.entries.len(), seeds);
}

#[tokio::test]
async fn a_damaged_cache_entry_is_asked_again_not_loaded() {
    use crate::llm_endpoint::server::{MockServer, Reply, docs, good_answer};
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lines: String = docs(3)
        .iter()
        .map(|doc| {
            serde_json::json!({ "id": doc.id, "title": doc.title, "text": doc.text }).to_string()
                + "\n"
        })
        .collect();
    std::fs::write(d.join("docs.jsonl"), lines).unwrap();
    std::fs::write(
        d.join("recipe.toml"),
        r#"
name = "cached"
[data]
seed = 3
native = "lb"
instruction_langs = ["en", "fr", "de"]
[[data.sources]]
type = "jsonl"
path = "docs.jsonl"
lang = "lb"
source = "wikipedia"
[[data.generators]]
type = "open_generation"
[[llm_generators]]
type = "reverse_instruction"
replaces = ["open_generation"]
"#,
    )
    .unwrap();
    let server = MockServer::start(|req| Reply::chat(&good_answer(req)));
    let mut endpoint = toml::Table::new();
    endpoint.insert("type".into(), "openai".into());
    endpoint.insert("base_url".into(), server.url().into());
    endpoint.insert("model".into(), "test-model".into());
    let recipe = || {
        Recipe::load(d.join("recipe.toml"))
            .unwrap()
            .with_llm_endpoint(endpoint.clone())
    };
    let out = d.join("out");
    recipe().run_data(&out, &Default::default()).await.unwrap();
    let examples = read_dataset(&out);
    assert_eq!(server.requests(), 3);

    // Change one letter of one stored answer: the file is still JSON of the right shape.
    let mut entries: Vec<std::path::PathBuf> = Vec::new();
    for sub in std::fs::read_dir(out.join("llm-cache")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            entries.push(f.unwrap().path());
        }
    }
    assert_eq!(entries.len(), 3);
    entries.sort();
    let target = &entries[0];
    let mut bytes = std::fs::read(target).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"\"content\":\"")
        .expect("an answer")
        + 11;
    let letter = at
        + bytes[at..]
            .iter()
            .position(u8::is_ascii_alphabetic)
            .unwrap();
    bytes[letter] ^= 0x20; // swap its case
    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
    std::fs::write(target, &bytes).unwrap();

    let rerun = lux::DataRunOptions {
        fresh: true,
        ..Default::default()
    };
    recipe().run_data(&out, &rerun).await.unwrap();
    assert_eq!(
        server.requests(),
        4,
        "exactly the damaged answer is asked again"
    );
    assert_eq!(read_dataset(&out), examples);
    assert!(
        lux::core::checksum::unseal(&std::fs::read(target).unwrap()).is_ok(),
        "the damaged entry is rewritten"
    );
}

/// A recipe over a dictionary of `n` entries: a few megabytes of dataset, so that writing it
/// takes long enough to be interrupted.
fn write_big_recipe(d: &Path, n: usize) {
    let dict: String = (0..n)
        .map(|i| {
            serde_json::json!({
                "headword": format!("Wuert{i}"), "pos": "noun",
                "translations": {"en": [format!("word{i}")], "fr": [format!("mot{i}")], "de": [format!("Wort{i}")]},
                "examples": [format!("Dat ass d'Wuert{i} an engem laange Saz, deen iwwer d'Land an d'Leit erzielt."),
                             format!("Mir schreiwen d'Wuert{i} all Dag an eis Bicher an Zeitungen.")],
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(d.join("dict.jsonl"), dict).unwrap();
    std::fs::write(
        d.join("big.toml"),
        r#"
name = "big"
[data]
seed = 5
native = "lb"
instruction_langs = ["en", "fr", "de"]
[[data.sources]]
type = "dictionary"
path = "dict.jsonl"
[[data.generators]]
type = "word_translation"
[[data.generators]]
type = "usage_in_context"
per_entry = 2
[[data.filters]]
type = "exact_dedup"
"#,
    )
    .unwrap();
}

#[test]
fn kill_9_at_any_moment_leaves_no_torn_file_and_a_rerun_finishes_the_same_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_big_recipe(d, 6000);
    let started = Instant::now();
    let (ok, _, stderr) = lux(&["data", "big.toml", "--out", "reference", "--quiet"], d);
    assert!(ok, "{stderr}");
    let whole_run = started.elapsed();
    let reference = |f: &str| std::fs::read(d.join("reference").join(f)).unwrap();
    let out = d.join("killed");

    let check = |when: &str| {
        // Every output present is complete: the reference's bytes.
        for file in [
            "dataset.jsonl",
            "dropped.jsonl",
            "rejected.jsonl",
            "stats.json",
            "stats.md",
        ] {
            if let Ok(bytes) = std::fs::read(out.join(file)) {
                assert!(bytes == reference(file), "{file} torn after a kill {when}");
            }
        }
        // The journal holds whole, sound lines, and at most a cut last one.
        let journal = JournalContents::read(&out.join("journal.jsonl")).unwrap();
        assert!(journal.damaged.is_empty(), "{when}: {:?}", journal.damaged);
    };
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_lux"))
            .args(["data", "big.toml", "--out", "killed", "--quiet"])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Kills spread over the run's time: in generation, in filtering, in the writes.
    for step in 1..=6u32 {
        let mut child = spawn();
        std::thread::sleep(whole_run * step / 7);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        check(&format!("at {step}/7 of the run"));
    }
    // Kills aimed at the dataset write itself: the moment its temporary file appears.
    let mut caught = 0;
    for _ in 0..6 {
        std::fs::remove_file(out.join("dataset.jsonl")).ok();
        let mut child = spawn();
        let deadline = Instant::now() + whole_run * 4 + Duration::from_secs(10);
        while Instant::now() < deadline
            && !temp_files(&out)
                .iter()
                .any(|n| n.starts_with(".dataset.jsonl"))
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = child.kill();
        child.wait().unwrap();
        check("in the dataset write");
        if temp_files(&out)
            .iter()
            .any(|n| n.starts_with(".dataset.jsonl"))
        {
            caught += 1;
            assert!(
                !out.join("dataset.jsonl").exists(),
                "a dataset beside its temporary file"
            );
            if caught >= 2 {
                break;
            }
        }
    }
    assert!(
        caught >= 1,
        "no kill landed while the dataset was being written"
    );

    let (ok, _, stderr) = lux(&["data", "big.toml", "--out", "killed", "--quiet"], d);
    assert!(ok, "{stderr}");
    for file in [
        "dataset.jsonl",
        "dropped.jsonl",
        "rejected.jsonl",
        "stats.json",
        "stats.md",
    ] {
        assert!(
            std::fs::read(out.join(file)).unwrap() == reference(file),
            "{file} differs from the uninterrupted run's"
        );
    }
    assert_eq!(
        temp_files(&out),
        Vec::<String>::new(),
        "temporary files left behind"
    );
}
