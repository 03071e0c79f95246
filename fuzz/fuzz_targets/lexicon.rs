//! Lexicon inputs: MUSE dictionaries (`src tgt` lines), fastText `.vec` word vectors, dictd
//! (`.index` + `.dict`) and spaCy `vocab/` vectors; the first byte picks the format.
#![no_main]
use lux_data::lexicon::{Lexicon, WordVectors, read_freedict, read_spacy_vectors};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let dir = lux_fuzz::scratch_dir();
    match which % 4 {
        0 => {
            let path = lux_fuzz::write(&dir, "lb-en.txt", rest);
            let _ = Lexicon::read_muse(&path, "fuzz");
        }
        1 => {
            let path = lux_fuzz::write(&dir, "wiki.lb.vec", rest);
            let _ = WordVectors::read_vec(&path, Some(10_000));
        }
        2 => {
            let [index, dict] = lux_fuzz::parts(rest, 2)[..] else {
                return;
            };
            lux_fuzz::write(&dir, "lb-en.index", index);
            lux_fuzz::write(&dir, "lb-en.dict", dict);
            let _ = read_freedict(dir.join("lb-en"), which & 4 != 0);
        }
        _ => {
            let [cfg, vectors, key2row, strings] = lux_fuzz::parts(rest, 4)[..] else {
                return;
            };
            if !cfg.is_empty() {
                lux_fuzz::write(&dir, "vocab/vectors.cfg", cfg);
            }
            lux_fuzz::write(&dir, "vocab/vectors", vectors);
            lux_fuzz::write(&dir, "vocab/key2row", key2row);
            lux_fuzz::write(&dir, "vocab/strings.json", strings);
            let _ = read_spacy_vectors(dir.join("vocab"));
        }
    }
});
