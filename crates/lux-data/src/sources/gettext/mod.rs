//! GNU gettext catalogues: `.po` text files and compiled `.mo` files.
//!
//! [`read_po`] and [`read_mo`] parse one file into a [`GettextFile`]; the two sources align
//! several languages' catalogues by msgid:
//!
//! - `type = "gettext"` ([`GettextCatalogue`]): one file per language, named in the recipe;
//! - `type = "gettext_locale_dir"` ([`GettextLocaleDir`]): an installed locale tree
//!   (`/usr/share/locale/{lang}/LC_MESSAGES/{domain}.mo`), every domain the native language has.
//!
//! The msgid is the source-language (English) text. A group's key is the msgid, prefixed by
//! its context as `msgctxt/msgid` when it has one (and by `domain/` in a locale tree). A plural
//! entry is aligned by its singular: `msgid` ↔ `msgstr[0]` (for `en`, `lb`, `de` and `fr`,
//! form 0 is the singular); the other forms are not used. Fuzzy and obsolete (`#~`) entries
//! and the header entry are skipped; untranslated entries give no text.
//!
//! One file per job: `file.rs` (the parsed catalogue and telling `.po` from `.mo`),
//! `charset.rs` (the charset the header declares), `po.rs` and `mo.rs` (the two parsers),
//! `program.rs` (the `gettext` source) and `locale_dir.rs` (the `gettext_locale_dir` source).

use lux_core::Lang;

mod charset;
mod file;
mod locale_dir;
mod mo;
mod po;
mod program;
#[cfg(test)]
mod test_support;

pub use file::{GettextEntry, GettextFile, read_catalogue};
pub use locale_dir::GettextLocaleDir;
pub use mo::{parse_mo, read_mo};
pub use po::{parse_po, read_po};
pub use program::GettextCatalogue;

// Serde defaults shared by the two sources.

/// The msgids' language: English.
fn english() -> Lang {
    Lang::EN
}
/// The native language when a recipe names none.
fn luxembourgish() -> Lang {
    Lang::LB
}
/// The source name in provenance.
fn gettext_name() -> String {
    "gettext".to_string()
}
/// The license when a recipe names none.
fn unknown_license() -> String {
    "unknown".to_string()
}
