//! Localisation catalogues as aligned human translations.
//!
//! A localisation catalogue (a gettext `.po`/`.mo`, a MediaWiki `i18n/lb.json`, a CLDR file)
//! maps keys to the strings of one language. The same key in several languages is one string
//! translated by people, so lining catalogues up by key gives [`Parallel`](lux_core::Parallel) groups. The
//! [`CatalogueBuilder`] collects `key → text` per language from any format; its
//! [`build`](CatalogueBuilder::build) cleans every text with [`clean_text`] and keeps the groups
//! that still have the native language and at least one other.
//!
//! ## Cleaning
//!
//! Each step can be switched off in [`CatalogueCleaning`]; in order:
//!
//! 1. **Markup** (`markup`): MediaWiki `{{PLURAL:$1|file|files}}` keeps its last plain form
//!    (the general plural: `files`; explicit `0=`/`1=` forms are skipped),
//!    `{{GENDER:$1|he|she|they}}` keeps its third (neutral) form, else its first,
//!    `{{GRAMMAR:case|word}}` keeps `word`, `{{BIDI:x}}` keeps `x`; `{{SITENAME}}` and
//!    i18next's `{{count}}` become the named placeholder `{SITENAME}` / `{count}`; any other
//!    template (`{{int:…}}`, `{{#special:…}}`, `{{fullurl:…}}`) cannot be made plain and drops
//!    the text. Wiki links keep their label (`[[Special:Version|version page]]` → `version page`),
//!    `''`/`'''` emphasis is removed, inline HTML tags (`<b>`, `<strong>`, `<span …>`, `<br>`…)
//!    are removed keeping their content, and a text with block markup (`<pre>`, `<table>`,
//!    `<ul>`, `<div>`, comments) or with more tags and links than `max_markup_per_word` per
//!    visible word (`<b><i>x</i></b>`) is dropped. A `<word>` that is not an HTML tag (`<none>`) is text.
//! 2. **Placeholders** (`placeholders`): every format's placeholders become one canonical form,
//!    a 1-based argument number or a name in single braces (see below).
//! 3. **Accelerators** (`accelerators`): the keyboard-mnemonic marks translators keep in menu
//!    labels: a trailing CJK-style `(_F)` / `(&F)` (before an optional `...`, `…` or `:`), KDE and
//!    Qt `&File` (`&&` is a literal `&`, and `&amp;`-style entities are not marks), and GTK's
//!    single `_File` / `Fi_le` (only when the text has exactly one `_` before a letter or digit,
//!    so `user_name_field` is left for the code-like check).
//! 4. HTML entities (`&amp;`, `&quot;`, `&#8230;`…) are decoded (with `markup`), whitespace runs
//!    become one space (`collapse_whitespace`), and the text is stored in Unicode NFC.
//! 5. **Drops**: a text with no letter outside its placeholders (`%s`, `{1}: {2}`, `…`) is
//!    dropped (`drop_placeholder_only`); so is a code-like text (`drop_code_like`): a URL alone,
//!    one token that looks like an identifier, file name, option or address (`user_name`,
//!    `file.txt`, `fooBar`, `--help`, `a@b.org`, `/usr/bin`), or a text more than 40 % of whose
//!    visible characters are symbols (`%Y-%m-%d %H:%M`).
//!
//! Then, per group: a pivot text of two or three capitals (`TR`) that every translation
//! writes with lower-case letters (`Tierkei`) is an id, not English, and is removed (with
//! `drop_code_like`); a member in another language whose text equals the `pivot` language's
//! (English) text by [`dedup_key`](crate::text::dedup_key) merely copies it and is removed (`drop_copies`); a group is
//! kept when it has the native language and at least `min_langs` languages in all; and a group
//! whose native and pivot texts repeat an earlier group's is merged into that group, adding the
//! languages it lacked (`dedupe`). Groups come out sorted by key.
//!
//! ## The canonical placeholder form
//!
//! | written as | format | canonical |
//! |---|---|---|
//! | `%s`, `%d`, `%5.2f`, `%ld`, `%@` (in order of appearance) | printf, Objective-C | `{1}`, `{2}`… |
//! | `%1$s`, `%2$d` | printf positional | `{1}`, `{2}` |
//! | `%(name)s`, `%{name}`, `${name}`, `{name}`, `{{name}}` | Python, Ruby, JS, i18next | `{name}` |
//! | `%1`, `%L1` | Qt, KDE, Blockly | `{1}` |
//! | `$1` | MediaWiki, Chrome | `{1}` |
//! | `{0}`, `{1}`, `{0,number}` (0-based when any text of the group has `{0}`) | ICU, Java, CLDR, .NET | `{1}`, `{2}` |
//! | `{}` (in order of appearance) | Python, Rust | `{1}`, `{2}`… |
//! | `{{PLURAL:$1\|a\|b}}`, `{{GENDER:$1\|a\|b}}` | MediaWiki | the chosen form's text |
//! | `{n, plural, …}`, `{g, select, …}` | ICU MessageFormat | dropped (cannot be made plain) |
//!
//! So a placeholder is always `{` + a positive argument number or a name + `}`, and the same
//! argument has the same number in every language of a group (a translation that reorders
//! `%2$s … %1$s` keeps the numbers of the English `%s … %s`). `%%` becomes `%`. Canonical
//! text is a fixed point: cleaning it again changes nothing.
//!
//! ## Files
//!
//! One file per job: `cleaning.rs` (the settings), `report.rs` (what was dropped and why),
//! `builder.rs` (aligning keys into groups), `clean.rs` (one text through every step), and one
//! file per step: `wiki.rs` (templates and links), `html.rs` (tags and entities),
//! `placeholders.rs`, `accelerators.rs`, `code_like.rs`; `source_langs.rs` says which
//! languages a catalogue source reads.

mod accelerators;
mod builder;
mod clean;
mod cleaning;
mod code_like;
mod html;
mod placeholders;
mod report;
mod source_langs;
mod wiki;

pub use builder::CatalogueBuilder;
pub use clean::clean_text;
pub use cleaning::CatalogueCleaning;
pub use code_like::is_code_like;
pub use placeholders::strip_placeholders;
pub use report::{CleaningReport, DropReason};
pub(crate) use source_langs::source_langs;
