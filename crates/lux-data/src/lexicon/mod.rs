//! Bilingual lexicon induction, as MUSE does it (Conneau et al., 2018, *Word Translation
//! Without Parallel Data*), for the code-switched data of LinguaLIFT's first stage.
//!
//! - [`WordVectors`]: `.vec` files, spaCy tables ([`read_spacy_vectors`]), or static vectors
//!   from a model's input-embedding table ([`WordVectors::from_embedding_table`]) for languages
//!   with no word vectors (Luxembourgish); MUSE's normalisations.
//! - [`Mapping::procrustes`]: the orthogonal map fitted on a dictionary.
//! - [`retrieve`] with [`Retrieval::Csls`] or nearest neighbours; [`neighbourhoods`].
//! - [`refine`]: MUSE's refinement on mutual CSLS nearest neighbours, started from a seed
//!   lexicon, identical strings or both ([`initial_pairs`]).
//! - [`evaluate`]: precision@1/5/10 against a gold lexicon, with coverage and out-of-vocabulary
//!   pairs.
//! - [`Lexicon`]: pairs with provenance; MUSE's dictionary files, freedict gold dictionaries
//!   ([`read_freedict`]), lexicons from lux's dictionary and catalogue seeds
//!   ([`from_dictionary`], [`from_parallel`]), merged with [`Lexicon::merge`].
//!
//! Matrix products run on burn's `flex` CPU backend (gemm, multi-threaded); see `linalg`.
//!
//! ```no_run
//! use lux_data::lexicon::*;
//! # fn main() -> lux_core::Result<()> {
//! let mut src = WordVectors::read_vec("wiki.en.vec", Some(200_000))?;
//! let mut tgt = WordVectors::read_vec("wiki.fr.vec", Some(200_000))?;
//! src.normalize("renorm,center,renorm")?;
//! tgt.normalize("renorm,center,renorm")?;
//! let seed = Lexicon::read_muse("en-fr.0-5000.txt", "muse")?;
//! let init = initial_pairs(&src, &tgt, Init::Seed, Some(&seed))?;
//! let refined = refine(&src, &tgt, &init, &RefineConfig::default())?;
//! let gold = Lexicon::read_muse("en-fr.5000-6500.txt", "muse")?;
//! println!("{}", evaluate(&refined.mapping.apply(&src)?, &tgt, &gold, Retrieval::default()));
//! # Ok(()) }
//! ```

mod csls;
mod evaluate;
mod freedict;
mod linalg;
mod merge;
mod muse_dictionary;
mod procrustes;
mod refine;
mod spacy_vectors;
mod vectors;

pub use csls::*;
pub use evaluate::*;
pub use freedict::*;
pub use merge::*;
pub use muse_dictionary::*;
pub use procrustes::*;
pub use refine::*;
pub use spacy_vectors::*;
pub use vectors::*;
