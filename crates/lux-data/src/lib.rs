//! # lux-data
//!
//! Everything between raw files and a filtered instruction dataset: seed sources for real
//! formats (MediaWiki dumps, JSONL, dictionaries, Hunspell, gettext, MediaWiki i18n, CLDR),
//! offline instruction generators, filters (lengths, language id, dedup, blocklists), and the
//! task registry, lexicon induction and code-switching, and dataset mixing (per-category
//! prompt templates, seeded shuffle and validation split).
//!
//! Every plugin here is registered with `typetag`, so a recipe file names it by `type`.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub mod catalogue;
mod charset;
pub mod code_switch;
pub mod corpus;
pub mod filters;
pub mod generators;
mod html_entities;
pub mod langid;
pub mod lexicon;
mod mediawiki_tags;
pub mod mix;
pub mod sources;
pub mod tasks;
pub mod text;
