//! Seed sources, one format per file.

mod cldr;
mod dictionary;
mod gettext;
mod hunspell;
mod json_messages;
mod jsonl;
mod mediawiki_dump;
mod parallel_jsonl;
pub mod wikitext;

pub use cldr::*;
pub use dictionary::*;
pub use gettext::*;
pub use hunspell::*;
pub use json_messages::*;
pub use jsonl::*;
pub use mediawiki_dump::*;
pub use parallel_jsonl::*;
