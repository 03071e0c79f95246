//! The HTML and extension tags of MediaWiki markup, grouped by what their content is to a
//! reader.
//!
//! Two cleaners read these tags: [`crate::sources::wikitext`] turns an article into prose and
//! [`crate::catalogue`] turns a one-line interface message into plain text. They treat a kind
//! differently (an article keeps the text of its tables; a message with a table is not a
//! message), but they must agree on which tag is of which kind, so the lists live here once.
//! Names are lower case, as the cleaners compare them after lowering the tag's name.

/// Extension tags whose content is not prose: references, formulas, code, galleries, maps,
/// template documentation, and parts that only exist when the page is transcluded.
pub(crate) const NON_PROSE: &[&str] = &[
    "ref",
    "references",
    "gallery",
    "math",
    "chem",
    "ce",
    "score",
    "syntaxhighlight",
    "source",
    "timeline",
    "imagemap",
    "graph",
    "mapframe",
    "maplink",
    "templatedata",
    "templatestyles",
    "inputbox",
    "hiero",
    "categorytree",
    "includeonly",
    "indicator",
    "charinsert",
];

/// Tags whose content is literal text, not markup.
pub(crate) const LITERAL: &[&str] = &["nowiki", "pre"];

/// Formatting within a line: removing the tag leaves its text as the reader sees it.
/// `wbr` (a place where a long word may wrap) is here too: it stands for no character.
pub(crate) const INLINE: &[&str] = &[
    "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
    "ins", "kbd", "mark", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "small", "span",
    "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "wbr",
];

/// Page structure: paragraphs, quotes, headings, lists, tables, rules and sections.
pub(crate) const BLOCK: &[&str] = &[
    "p",
    "div",
    "center",
    "blockquote",
    "poem",
    "section",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ol",
    "ul",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "caption",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
];

/// Transclusion and translation markers: the text between them is part of the page.
pub(crate) const MARKERS: &[&str] = &["onlyinclude", "noinclude", "translate", "tvar", "languages"];

/// Whether `name` (lower case) is in `list`.
pub(crate) fn is(list: &[&str], name: &str) -> bool {
    list.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_has_one_kind() {
        let kinds = [NON_PROSE, LITERAL, INLINE, BLOCK, MARKERS];
        for (i, a) in kinds.iter().enumerate() {
            for name in *a {
                assert_eq!(name.to_ascii_lowercase(), *name, "{name} is not lower case");
                let in_kinds = kinds.iter().filter(|k| is(k, name)).count();
                assert_eq!(in_kinds, 1, "`{name}` (kind {i}) is in {in_kinds} kinds");
            }
        }
    }
}
