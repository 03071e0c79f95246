//! The inputs on which fuzzing (`fuzz/`, docs/reliability.md) made a lux-data parser panic,
//! hang or allocate without bound, fed again to the same parser the same way the fuzz target
//! feeds it: each must now come back as a value or an error, quickly.
//!
//! `tests/fuzz_regressions/<target>/` holds one target's findings; adding a finding is adding
//! a file. Multi-file inputs are cut at 0xFF bytes, as `fuzz/src/lib.rs` cuts them.

use std::path::{Path, PathBuf};

use lux_core::{Lang, SeedSource, SourceContext};
use lux_data::lexicon::{Lexicon, WordVectors, read_freedict, read_spacy_vectors};
use lux_data::sources::{
    Cldr, DictionaryFile, JsonlDocuments, MediaWikiDump, parse_mo, parse_po, read_blockly_js,
    read_json_messages, read_word_list, wikitext,
};

/// Cuts `data` at its first `n - 1` 0xFF bytes into exactly `n` parts.
fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.iter().position(|&b| b == 0xFF) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn lb() -> Lang {
    Lang::new("lb").unwrap()
}

/// Reads a whole seed stream; it must end (on its first error at the latest).
fn drain(stream: lux_core::Result<lux_core::SeedStream>) {
    if let Ok(stream) = stream {
        for item in stream {
            if item.is_err() {
                break;
            }
        }
    }
}

/// Feeds one input to the parser that `target` fuzzes (the same harness as
/// `fuzz/fuzz_targets/<target>.rs`).
fn feed(target: &str, data: &[u8], dir: &Path) {
    let ctx = SourceContext::new(dir);
    match target {
        "jsonl_documents" => {
            let path = write(dir, "docs.jsonl", data);
            drain(JsonlDocuments::new(path, lb()).open(&ctx));
        }
        "po" => {
            let _ = parse_po(data, Path::new("fuzz.po"));
        }
        "mo" => {
            let _ = parse_mo(data, Path::new("fuzz.mo"));
        }
        "mediawiki_xml" => {
            let mut source = MediaWikiDump::new(write(dir, "dump.xml", data));
            source.min_chars = 0;
            drain(source.open(&ctx));
        }
        "wikitext" => {
            let _ = wikitext::to_plain_text(&String::from_utf8_lossy(data));
        }
        "cldr" => {
            let [lb_json, en_json, section] = parts(data, 3)[..] else {
                unreachable!()
            };
            let section = match section.first().copied().unwrap_or(0) % 3 {
                0 => "main",
                1 => "annotations",
                _ => "annotationsDerived",
            };
            write(dir, &format!("cldr-fuzz/{section}/lb/a.json"), lb_json);
            write(dir, &format!("cldr-fuzz/{section}/en/a.json"), en_json);
            let source: Cldr = toml::from_str(
                "root = \".\"\nlangs = [\"lb\", \"en\"]\nnative = \"lb\"\npackages = [\"cldr-fuzz\"]\nkeywords = true",
            )
            .unwrap();
            let _ = source.load(&ctx);
        }
        "json_messages" => {
            let path = write(dir, "lb.json", data);
            let _ = read_json_messages(&path, &lb());
            let _ = read_blockly_js(&path);
        }
        "dictionary" => {
            let mut source = DictionaryFile::new(write(dir, "dictionary.jsonl", data));
            source.lang = Some(lb());
            let _ = source.read_all(&ctx);
        }
        "hunspell" => {
            let [aff, dic] = parts(data, 2)[..] else {
                unreachable!()
            };
            write(dir, "index.aff", aff);
            let _ = read_word_list(write(dir, "index.dic", dic));
        }
        "lexicon" => {
            let Some((&which, rest)) = data.split_first() else {
                return;
            };
            match which % 4 {
                0 => {
                    let _ = Lexicon::read_muse(write(dir, "lb-en.txt", rest), "fuzz");
                }
                1 => {
                    let _ = WordVectors::read_vec(write(dir, "wiki.lb.vec", rest), Some(10_000));
                }
                2 => {
                    let [index, dict] = parts(rest, 2)[..] else {
                        unreachable!()
                    };
                    write(dir, "lb-en.index", index);
                    write(dir, "lb-en.dict", dict);
                    let _ = read_freedict(dir.join("lb-en"), which & 4 != 0);
                }
                _ => {
                    let [cfg, vectors, key2row, strings] = parts(rest, 4)[..] else {
                        unreachable!()
                    };
                    if !cfg.is_empty() {
                        write(dir, "vocab/vectors.cfg", cfg);
                    }
                    write(dir, "vocab/vectors", vectors);
                    write(dir, "vocab/key2row", key2row);
                    write(dir, "vocab/strings.json", strings);
                    let _ = read_spacy_vectors(dir.join("vocab"));
                }
            }
        }
        other => panic!("tests/fuzz_regressions/{other}: no lux-data fuzz target of that name"),
    }
}

#[test]
fn every_fuzz_finding_is_a_value_or_an_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut fed = 0;
    for target in std::fs::read_dir(&root).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_str().unwrap().to_owned();
        for input in std::fs::read_dir(&target).unwrap() {
            let input = input.unwrap().path();
            let data = std::fs::read(&input).unwrap();
            let dir = tempfile::tempdir().unwrap();
            // A panic here names the input in the test's output.
            eprintln!("feeding {}", input.display());
            feed(&name, &data, dir.path());
            fed += 1;
        }
    }
    assert!(fed > 0, "no inputs under {}", root.display());
}
