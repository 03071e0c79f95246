//! Wikitext to plain text, for the article bodies of MediaWiki dumps.
//!
//! [`to_plain_text`] keeps what a reader sees as prose: paragraph text, link labels, headings
//! and list items. It drops templates, references, tables, files, galleries, formulas,
//! categories, interlanguage links, comments and bare URLs. It is a tolerant scanner, not a
//! MediaWiki parser: templates are not expanded, and unbalanced markup (an unclosed `{{`, `[[`
//! or `<ref>`) is dropped rather than swallowing the rest of the article.

use std::collections::HashMap;

use crate::html_entities::decode_entities;
use crate::mediawiki_tags::{self as tags, BLOCK, INLINE, LITERAL, MARKERS, NON_PROSE};
use crate::text::collapse_whitespace;

/// How deeply link labels inside link labels are rendered before the rest is kept as is.
const MAX_DEPTH: usize = 8;
/// The farthest a `[[` looks for its `]]` (file captions can be long, links are not).
const MAX_LINK_BYTES: usize = 16 * 1024;
/// An invisible hyphenation hint (`&shy;`): a reader sees no character, so neither does the text.
const SOFT_HYPHEN: char = '\u{ad}';
/// The farthest a `<` looks for the `>` that ends its tag.
const MAX_TAG_BYTES: usize = 2048;

/// File namespaces (English, German, French and Luxembourgish wikis), lower case.
const FILE_NAMESPACES: &[&str] = &[
    "file", "image", "media", "datei", "bild", "fichier", "média",
];
/// Category namespaces, lower case.
const CATEGORY_NAMESPACES: &[&str] = &["category", "kategorie", "catégorie", "categorie"];

/// Converts MediaWiki markup to plain text.
///
/// The result has one paragraph per block, blocks separated by exactly one blank line;
/// headings (`== Geschicht ==` → `Geschicht`) are blocks of their own; consecutive list items
/// form one block, one item per line, without their `*`, `#`, `:`, `;` markers. Within a
/// paragraph, source lines are joined by a space and whitespace runs are collapsed.
///
/// Removed: templates `{{…}}` (nested), tables `{| … |}` (nested), `<ref>` (paired and
/// self-closing), `<references>`, `<gallery>`, `<math>` and other non-prose extension tags,
/// file and image links (with their captions), category links, interlanguage links
/// (`[[en:…]]`), HTML comments, behaviour switches (`__TOC__`), bold and italic quotes, bare
/// URLs. Kept as text: link labels (`[[a|b]]` → `b`, `[[a]]` → `a`,
/// `[http://x text]` → `text`), the content of other HTML tags, and the content of
/// `<nowiki>` and `<pre>` verbatim. HTML entities (`&nbsp;`, `&amp;`, `&#233;`, `&#xE9;`…)
/// are decoded last. A heading whose section is left without text (references only,
/// templates only) is dropped with it. Never panics, whatever the input.
pub fn to_plain_text(wikitext: &str) -> String {
    let without_comments = strip_comments(wikitext);
    let mut flat = String::with_capacity(without_comments.len());
    render_inline(&without_comments, &mut flat, 0);
    layout(&flat)
}

/// Removes `<!-- … -->`; an unclosed comment hides the rest of the text, as in MediaWiki.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            Some(end) => rest = &rest[start + 4 + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Renders inline markup of `s` into `out`, keeping line breaks for [`layout`].
///
/// Every index the scanner stops at is the position of an ASCII byte, so slicing `s` there is
/// always on a character boundary.
fn render_inline(s: &str, out: &mut String, depth: usize) {
    let b = s.as_bytes();
    let braces = if s.contains("{{") {
        brace_pairs(b)
    } else {
        HashMap::new()
    };
    let mut i = 0;
    while i < b.len() {
        let Some(off) = b[i..]
            .iter()
            .position(|c| matches!(c, b'{' | b'[' | b'<' | b'\''))
        else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + off]);
        i += off;
        i = match b[i] {
            b'{' => brace(s, i, out, &braces),
            b'[' => bracket(s, i, out, depth),
            b'<' => angle(s, i, out),
            _ => apostrophes(b, i, out),
        };
    }
}

/// For every `{` that has one, the index of its matching `}`, counting single braces, so
/// that `{{{p}}}` and `{{a|{{b}}}}` close where they should. One pass, so a text full of
/// unclosed `{{` still takes linear time.
fn brace_pairs(b: &[u8]) -> HashMap<usize, usize> {
    let mut open = Vec::new();
    let mut pairs = HashMap::new();
    for (j, &c) in b.iter().enumerate() {
        match c {
            b'{' => open.push(j),
            b'}' => {
                if let Some(o) = open.pop() {
                    pairs.insert(o, j);
                }
            }
            _ => {}
        }
    }
    pairs
}

/// `{{template}}`, `{{{parameter}}}` and `{| table |}` at `i`; returns where to go on.
fn brace(s: &str, i: usize, out: &mut String, braces: &HashMap<usize, usize>) -> usize {
    let b = s.as_bytes();
    if b.get(i + 1) == Some(&b'|') && at_line_start(b, i) {
        return skip_table(s, i);
    }
    let run = b[i..].iter().take_while(|&&c| c == b'{').count();
    if run == 1 {
        out.push('{');
        return i + 1;
    }
    match braces.get(&i) {
        Some(&close) => close + 1,
        // Unclosed: drop the braces and keep the text that follows.
        None => i + run,
    }
}

/// Whether only spaces or tabs precede `i` on its line.
fn at_line_start(b: &[u8], i: usize) -> bool {
    b[..i]
        .iter()
        .rev()
        .take_while(|&&c| c != b'\n')
        .all(|&c| c == b' ' || c == b'\t')
}

/// Skips the table starting at `i` (a `{|` at the start of a line) and any tables nested in
/// it; an unclosed table runs to the end of the text, as in MediaWiki.
fn skip_table(s: &str, i: usize) -> usize {
    let mut depth = 0usize;
    let mut pos = i;
    while pos < s.len() {
        let line_end = s[pos..].find('\n').map_or(s.len(), |n| pos + n);
        let line = &s[pos..line_end];
        let trimmed = line.trim_start();
        if trimmed.starts_with("{|") {
            depth += 1;
        } else if trimmed.starts_with("|}") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return pos + (line.len() - trimmed.len()) + 2;
            }
        }
        pos = line_end + 1;
    }
    s.len()
}

/// `[[link]]` or `[external link]` at `i`.
fn bracket(s: &str, i: usize, out: &mut String, depth: usize) -> usize {
    let b = s.as_bytes();
    if b.get(i + 1) == Some(&b'[') {
        return match find_link_end(b, i) {
            Some(close) => {
                render_link(&s[i + 2..close], out, depth);
                close + 2
            }
            None => i + 2,
        };
    }
    if url_scheme_len(&s[i + 1..]).is_some() {
        let close = b[i + 1..]
            .iter()
            .position(|&c| c == b']' || c == b'\n')
            .map(|n| i + 1 + n);
        return match close {
            Some(close) if b[close] == b']' => {
                let inner = &s[i + 1..close];
                if let Some((_, label)) = inner.split_once(char::is_whitespace) {
                    render_nested(label.trim(), out, depth);
                }
                close + 1
            }
            // No closing bracket: the URL stays and is removed as a bare URL.
            _ => i + 1,
        };
    }
    out.push('[');
    i + 1
}

/// The index of the `]]` that closes the `[[` at `i`, counting nested links.
fn find_link_end(b: &[u8], i: usize) -> Option<usize> {
    let limit = b.len().min(i.saturating_add(MAX_LINK_BYTES));
    let mut depth = 1usize;
    let mut j = i + 2;
    while j + 1 < limit {
        match (b[j], b[j + 1]) {
            (b'[', b'[') => {
                depth += 1;
                j += 2;
            }
            (b']', b']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
                j += 2;
            }
            _ => j += 1,
        }
    }
    None
}

/// Renders the inside of a `[[…]]`: nothing for files, categories and interlanguage links,
/// else the label (or the target when there is none).
fn render_link(inner: &str, out: &mut String, depth: usize) {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l)),
        None => (inner, None),
    };
    let target = target.trim();
    let visible_target = match target.strip_prefix(':') {
        Some(rest) => rest.trim_start(),
        None => {
            if let Some((prefix, _)) = target.split_once(':') {
                let ns = prefix.trim().to_lowercase().replace('_', " ");
                if FILE_NAMESPACES.contains(&ns.as_str())
                    || CATEGORY_NAMESPACES.contains(&ns.as_str())
                    || is_interlanguage_prefix(prefix.trim())
                {
                    return;
                }
            }
            target
        }
    };
    match label {
        None => out.push_str(visible_target),
        Some(l) if l.trim().is_empty() => out.push_str(&pipe_trick(visible_target)),
        Some(l) => render_nested(l, out, depth),
    }
}

/// Renders a link label, which may itself hold markup, up to [`MAX_DEPTH`].
fn render_nested(label: &str, out: &mut String, depth: usize) {
    if depth >= MAX_DEPTH {
        out.push_str(label);
    } else {
        render_inline(label, out, depth + 1);
    }
}

/// `[[Help:Foo (bar)|]]` shows `Foo`: no namespace, no trailing parenthesis.
fn pipe_trick(target: &str) -> String {
    let name = target
        .split_once(':')
        .map_or(target, |(_, rest)| rest)
        .trim();
    let name = match (name.rfind(" ("), name.ends_with(')')) {
        (Some(open), true) => &name[..open],
        _ => name,
    };
    name.trim().to_string()
}

/// `en`, `fr`, `gsw`, `zh-min-nan`, `simple`: the prefixes of interlanguage links.
fn is_interlanguage_prefix(prefix: &str) -> bool {
    if prefix == "simple" {
        return true;
    }
    let mut parts = prefix.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.bytes().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
}

/// The length of the URL scheme (`https://`) `s` starts with, if any.
fn url_scheme_len(s: &str) -> Option<usize> {
    ["https://", "http://", "ftps://", "ftp://", "//"]
        .iter()
        .find_map(|scheme| {
            let head = s.get(..scheme.len())?;
            head.eq_ignore_ascii_case(scheme).then_some(scheme.len())
        })
}

/// A run of apostrophes at `i`: `''` and `'''` (and `'''''`) are formatting and vanish; a
/// single one is text; four are an apostrophe plus bold.
fn apostrophes(b: &[u8], i: usize, out: &mut String) -> usize {
    let run = b[i..].iter().take_while(|&&c| c == b'\'').count();
    let literal = match run {
        1 | 4 => 1,
        2 | 3 | 5 => 0,
        n => n - 5,
    };
    out.extend(std::iter::repeat_n('\'', literal));
    i + run
}

/// An HTML or extension tag parsed at a `<`.
struct Tag {
    /// Lower-case name.
    name: String,
    /// `</name>`.
    closing: bool,
    /// `<name … />`.
    self_closing: bool,
    /// The index just after the `>`.
    end: usize,
}

/// Parses the tag at `i`, if `<` starts one.
fn parse_tag(s: &str, i: usize) -> Option<Tag> {
    let b = s.as_bytes();
    let mut j = i + 1;
    let closing = b.get(j) == Some(&b'/');
    if closing {
        j += 1;
    }
    let name_start = j;
    if !b.get(j)?.is_ascii_alphabetic() {
        return None;
    }
    while b.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        j += 1;
    }
    let name = s[name_start..j].to_ascii_lowercase();
    if !matches!(b.get(j)?, b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>') {
        return None;
    }
    let limit = b.len().min(j + MAX_TAG_BYTES);
    let gt = j + b[j..limit].iter().position(|&c| c == b'>' || c == b'<')?;
    if b[gt] != b'>' {
        return None;
    }
    let self_closing = s[j..gt].trim_end().ends_with('/');
    Some(Tag {
        name,
        closing,
        self_closing,
        end: gt + 1,
    })
}

/// Finds `</name>` (any case, optional space before `>`) from `from`: (its start, its end).
fn find_closing_tag(s: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut pos = from;
    while let Some(off) = s.get(pos..)?.find("</") {
        let start = pos + off;
        let name_end = start + 2 + name.len();
        let name_matches = s
            .get(start + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if name_matches && !b.get(name_end).is_some_and(u8::is_ascii_alphanumeric) {
            let after = b[name_end..].iter().position(|c| !c.is_ascii_whitespace());
            if let Some(k) = after.map(|k| name_end + k).filter(|&k| b[k] == b'>') {
                return Some((start, k + 1));
            }
        }
        pos = start + 2;
    }
    None
}

/// A `<` at `i`: a tag to drop, strip or read literally, or just a less-than sign.
fn angle(s: &str, i: usize, out: &mut String) -> usize {
    let Some(tag) = parse_tag(s, i) else {
        out.push('<');
        return i + 1;
    };
    let name = tag.name.as_str();
    let known = |list: &[&str]| tags::is(list, name);
    if known(NON_PROSE) || known(LITERAL) {
        if tag.closing || tag.self_closing {
            return tag.end;
        }
        // An unclosed tag loses only itself, not the rest of the article.
        return match find_closing_tag(s, tag.end, name) {
            Some((start, end)) => {
                if known(LITERAL) {
                    push_literal(&s[tag.end..start], out);
                }
                end
            }
            None => tag.end,
        };
    }
    if name == "br" {
        out.push(' ');
        return tag.end;
    }
    // HTML and extension tags whose content is kept.
    if known(INLINE) || known(BLOCK) || known(MARKERS) {
        return tag.end;
    }
    out.push('<');
    i + 1
}

/// Appends `nowiki` content so that no later step reads it as markup: markup characters
/// become numeric character references, which [`decode_entities`] turns back at the end.
fn push_literal(text: &str, out: &mut String) {
    for c in text.chars() {
        if matches!(
            c,
            '\'' | '*'
                | '#'
                | ':'
                | ';'
                | '='
                | '['
                | ']'
                | '{'
                | '}'
                | '<'
                | '>'
                | '|'
                | '_'
                | '-'
        ) {
            out.push_str(&format!("&#{};", u32::from(c)));
        } else {
            out.push(c);
        }
    }
}

/// What the line being laid out belongs to.
enum Block {
    /// Nothing open.
    None,
    /// A paragraph, its lines joined by spaces.
    Paragraph(String),
    /// List items, one per line.
    List(Vec<String>),
}

/// Turns rendered lines into blocks: headings, paragraphs and lists, separated by one blank
/// line, with URLs, behaviour switches and entities handled and whitespace collapsed.
fn layout(flat: &str) -> String {
    // Each block with its heading level (`None` for paragraphs and lists).
    let mut blocks: Vec<(Option<usize>, String)> = Vec::new();
    let mut open = Block::None;
    let close =
        |open: &mut Block, blocks: &mut Vec<(Option<usize>, String)>| match std::mem::replace(
            open,
            Block::None,
        ) {
            Block::Paragraph(p) => blocks.push((None, p)),
            Block::List(items) => blocks.push((None, items.join("\n"))),
            Block::None => {}
        };
    for raw in flat.lines() {
        let mut line = raw.trim();
        if line.starts_with("----") {
            // A horizontal rule ends the paragraph; text after it on the line goes on.
            close(&mut open, &mut blocks);
            line = line.trim_start_matches('-').trim_start();
        }
        if let Some((level, heading)) = heading(line) {
            close(&mut open, &mut blocks);
            let text = clean(heading);
            if !text.is_empty() {
                blocks.push((Some(level), text));
            }
            continue;
        }
        if line.starts_with(['*', '#', ':', ';']) {
            let text = clean(line.trim_start_matches(['*', '#', ':', ';']));
            if text.is_empty() {
                continue;
            }
            if !matches!(open, Block::List(_)) {
                close(&mut open, &mut blocks);
                open = Block::List(Vec::new());
            }
            if let Block::List(items) = &mut open {
                items.push(text);
            }
            continue;
        }
        let text = clean(line);
        if text.is_empty() {
            close(&mut open, &mut blocks);
            continue;
        }
        match &mut open {
            Block::Paragraph(p) => {
                p.push(' ');
                p.push_str(&text);
            }
            _ => {
                close(&mut open, &mut blocks);
                open = Block::Paragraph(text);
            }
        }
    }
    close(&mut open, &mut blocks);
    let kept: Vec<&str> = blocks
        .iter()
        .enumerate()
        .filter(|(i, (level, _))| level.is_none_or(|l| section_has_text(&blocks[i + 1..], l)))
        .map(|(_, (_, text))| text.as_str())
        .collect();
    kept.join("\n\n")
}

/// Whether a heading of `level` followed by `rest` has any text before the next heading of
/// the same or a higher rank: sections left empty (references, templates only) are dropped.
fn section_has_text(rest: &[(Option<usize>, String)], level: usize) -> bool {
    for (next_level, _) in rest {
        match next_level {
            None => return true,
            Some(l) if *l <= level => return false,
            Some(_) => {}
        }
    }
    false
}

/// The level and text of a `== heading ==` line.
fn heading(line: &str) -> Option<(usize, &str)> {
    let lead = line.bytes().take_while(|&c| c == b'=').count();
    let trail = line.bytes().rev().take_while(|&c| c == b'=').count();
    if lead == 0 || trail == 0 || line.len() < 3 || lead == line.len() {
        return None;
    }
    let level = lead.min(trail).min(6);
    Some((level, line[level..line.len() - level].trim()))
}

/// Removes behaviour switches and bare URLs, decodes entities, collapses whitespace.
fn clean(text: &str) -> String {
    let text = remove_behaviour_switches(text);
    let text = remove_bare_urls(&text);
    collapse_whitespace(&decode_entities(&text).replace(SOFT_HYPHEN, ""))
}

/// Removes `__TOC__`, `__NOTOC__`, `__INHALTSVERZEICHNIS__` and the like.
fn remove_behaviour_switches(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("__") {
        let after = &rest[start + 2..];
        let word_len = after
            .chars()
            .take_while(|c| c.is_uppercase())
            .map(char::len_utf8)
            .sum();
        if word_len > 0 && after[word_len..].starts_with("__") {
            out.push_str(&rest[..start]);
            rest = &after[word_len + 2..];
        } else {
            out.push_str(&rest[..start + 2]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Removes `http://…`, `https://…`, `ftp://…` URLs that start a word, leaving trailing
/// sentence punctuation in place.
fn remove_bare_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < text.len() {
        let at_word_start = text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let scheme = url_scheme_len(&text[i..]).filter(|&n| n > 2);
        let Some(scheme) = scheme.filter(|_| at_word_start) else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let body = &text[i + scheme..];
        let mut len = body
            .find(|c: char| c.is_whitespace() || "<>[]\"{}|".contains(c))
            .unwrap_or(body.len());
        while let Some(last) = body[..len].chars().next_back() {
            let unmatched_paren = last == ')' && !body[..len].contains('(');
            if ".,;:!?'".contains(last) || unmatched_paren {
                len -= last.len_utf8();
            } else {
                break;
            }
        }
        if len == 0 {
            i += scheme;
            continue;
        }
        out.push_str(&text[copied..i]);
        i += scheme + len;
        copied = i;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lux_article_with_infobox_refs_table_gallery_file_and_categories() {
        let src = r#"{{Infobox Land
| Numm = Lëtzebuerg
| Kaart = [[Fichier:Luxembourg map.svg|200px]]
| Awunner = {{formatnum:660809}}
}}
'''Lëtzebuerg''' ([[Lëtzebuergesch]]: ''Lëtzebuerg'') ass e Land a [[Westeuropa|Westeuropa]].<ref name="stat">{{Citation|url=https://statec.lu|titel=Statec}}</ref> D'Haaptstad ass [[Stad Lëtzebuerg|Lëtzebuerg]].<ref name="stat" />
Et grenzt un [[Belsch]], [[Frankräich]] an [[Däitschland]].

[[Fichier:Vianden castle.jpg|thumb|right|D'[[Buerg Veianen]] am [[Éislek]]]]
== Geschicht ==
D'Land gouf [[963]] gegrënnt.<!-- Quell feelt -->

{| class="wikitable"
|-
! Joer !! Awunner
|-
| 1900 || {{formatnum:236543}}
{| 
| nested
|}
|}
=== Kantonen ===
* Kanton [[Capellen (Kanton)|Capellen]]
* Kanton [[Esch-Uelzecht]]
<gallery>
Fichier:Esch.jpg|[[Esch-Uelzecht|Esch]]
</gallery>
Méi op [https://www.gouvernement.lu Gouvernement] an op http://www.visitluxembourg.com.
__NOTOC__
[[Kategorie:Lëtzebuerg]]
[[Category:Countries]]
[[en:Luxembourg]]
[[fr:Luxembourg]]
"#;
        let text = to_plain_text(src);
        let expected = "Lëtzebuerg (Lëtzebuergesch: Lëtzebuerg) ass e Land a Westeuropa. \
D'Haaptstad ass Lëtzebuerg. Et grenzt un Belsch, Frankräich an Däitschland.\n\n\
Geschicht\n\n\
D'Land gouf 963 gegrënnt.\n\n\
Kantonen\n\n\
Kanton Capellen\n\
Kanton Esch-Uelzecht\n\n\
Méi op Gouvernement an op .";
        assert_eq!(text, expected);
    }

    #[test]
    fn biography_with_empty_sections() {
        let src = r#"{{Infobox Persoun
| Numm = Michel Rodange
| Bild = Michel Rodange.jpg
}}
De '''Michel Rodange''' (* [[3. Januar]] [[1827]] zu [[Waldbëlleg]]; † [[27. August]] [[1876]] an der [[Stad Lëtzebuerg]]) war e [[Lëtzebuerg|lëtzebuergeschen]] Schrëftsteller.<ref>{{Internetquell|url=http://www.autorenlexikon.lu/|titel=Autorenlexikon}}</ref>

== Liewen ==
=== Jugend ===
[[Fichier:Rodange.jpg|mini|lénks|De Michel Rodange<br />op enger [[Bréifmark]]]]
Hie gouf als Jong vun engem [[Bauer]] gebuer.

=== Wierker ===
* ''[[De Renert|De Rénert]]'' (1872)
* ''Dem Grow Sigfrid seng Goldkuemer'' (1863)

== Literatur ==
* {{Literatur|Autor=X|Titel=Y}}

== Referenzen ==
<references />

{{Navigatiounsleescht Lëtzebuerger Schrëftsteller}}
{{DEFAULTSORT:Rodange, Michel}}
[[Kategorie:Lëtzebuerger Schrëftsteller]]
"#;
        assert_eq!(
            to_plain_text(src),
            "De Michel Rodange (* 3. Januar 1827 zu Waldbëlleg; † 27. August 1876 an der Stad \
             Lëtzebuerg) war e lëtzebuergeschen Schrëftsteller.\n\n\
             Liewen\n\nJugend\n\nHie gouf als Jong vun engem Bauer gebuer.\n\n\
             Wierker\n\nDe Rénert (1872)\nDem Grow Sigfrid seng Goldkuemer (1863)"
        );
        assert_eq!(
            to_plain_text("Text\n== Leer ==\n=== Och leer ===\n== Voll ==\nJo"),
            "Text\n\nVoll\n\nJo"
        );
    }

    #[test]
    fn random_markup_soup_never_panics_and_stays_tidy() {
        const TOKENS: &[&str] = &[
            "{{",
            "}}",
            "{",
            "}",
            "[[",
            "]]",
            "[",
            "]",
            "{|",
            "|}",
            "|",
            "<ref>",
            "</ref>",
            "<ref name=a/>",
            "<gallery>",
            "</gallery>",
            "<nowiki>",
            "</nowiki>",
            "<!--",
            "-->",
            "<",
            ">",
            "<b>",
            "'''",
            "''",
            "'",
            "==",
            "=",
            "*",
            "#",
            ":",
            ";",
            "----",
            "\n",
            "\n\n",
            " ",
            "\t",
            "ë",
            "Lëtzebuerg",
            "Fichier:",
            "Kategorie:",
            "en:",
            "http://x.lu",
            "&amp;",
            "&nbsp;",
            "&#",
            "&#xEB;",
            ";",
            "__TOC__",
            "__",
            "\u{308}",
            "日本",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let src: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            let out = to_plain_text(&src);
            assert_eq!(out.trim(), out, "untrimmed output for {src:?}");
            assert!(
                !out.contains("\n\n\n"),
                "more than one blank line for {src:?}"
            );
            assert!(
                !out.lines().any(|l| l != l.trim()),
                "untidy line for {src:?}: {out:?}"
            );
        }
    }

    #[test]
    fn templates_nest_and_parameters_close() {
        assert_eq!(to_plain_text("a {{x|{{y|z}}|w}} b"), "a b");
        assert_eq!(to_plain_text("a {{{1|default}}} b"), "a b");
        assert_eq!(to_plain_text("a{{x}}}b"), "a}b");
    }

    #[test]
    fn links() {
        assert_eq!(to_plain_text("[[Stad Lëtzebuerg|d'Stad]]"), "d'Stad");
        assert_eq!(to_plain_text("[[Musel]]er Wäin"), "Museler Wäin");
        assert_eq!(
            to_plain_text("[[:Kategorie:Lëtzebuerg]]"),
            "Kategorie:Lëtzebuerg"
        );
        assert_eq!(to_plain_text("[[Capellen (Kanton)|]]"), "Capellen");
        assert_eq!(to_plain_text("[[Wikipedia:Hëllef|Hëllef]]"), "Hëllef");
        assert_eq!(
            to_plain_text("[[Bild:a.png|mini|Eng [[Kiirch]]]] Text"),
            "Text"
        );
        assert_eq!(
            to_plain_text("[[Datei:a.png]][[Image:b.png|x]]Text"),
            "Text"
        );
        assert_eq!(to_plain_text("[[catégorie:X]][[de:Luxemburg]]Text"), "Text");
        assert_eq!(
            to_plain_text("[[Star Wars: Episode I]]"),
            "Star Wars: Episode I"
        );
        assert_eq!(to_plain_text("[[Lëtzebuerg|''d'Land'']]"), "d'Land");
        assert_eq!(to_plain_text("[http://example.com]x"), "x");
        assert_eq!(to_plain_text("[https://rtl.lu RTL ''Info'']"), "RTL Info");
        assert_eq!(to_plain_text("a [b] c"), "a [b] c");
    }

    #[test]
    fn bare_urls_go_and_punctuation_stays() {
        assert_eq!(
            to_plain_text("Kuckt https://lb.wikipedia.org/wiki/X."),
            "Kuckt ."
        );
        assert_eq!(to_plain_text("(http://a.lu/b) an"), "() an");
        assert_eq!(to_plain_text("xhttp://a"), "xhttp://a");
    }

    #[test]
    fn tags() {
        assert_eq!(to_plain_text("a<ref>b</ref> c<ref name=x/> d"), "a c d");
        assert_eq!(to_plain_text("a<REF name=\"q\">b</Ref >c"), "ac");
        assert_eq!(to_plain_text("E = <math>mc^2</math>."), "E = .");
        assert_eq!(
            to_plain_text("H<sub>2</sub>O an <span style=\"x\">Waasser</span>"),
            "H2O an Waasser"
        );
        assert_eq!(
            to_plain_text("<nowiki>[[keen Link]] ''a''</nowiki>"),
            "[[keen Link]] ''a''"
        );
        assert_eq!(to_plain_text("a<br />b"), "a b");
        assert_eq!(
            to_plain_text("3 < 4 an <Lëtzebuerg>"),
            "3 < 4 an <Lëtzebuerg>"
        );
        assert_eq!(to_plain_text("x<references />y"), "xy");
    }

    #[test]
    fn quotes_and_entities() {
        assert_eq!(
            to_plain_text("'''fett''' an ''schréi'' an '''''béid'''''"),
            "fett an schréi an béid"
        );
        assert_eq!(to_plain_text("d'Stad"), "d'Stad");
        assert_eq!(to_plain_text("''''Bold''''"), "'Bold'");
        assert_eq!(
            to_plain_text("A&nbsp;B &amp; C &lt;x&gt; &#233;&#xEB; &euml; &foo; &"),
            "A B & C <x> éë ë &foo; &"
        );
        assert_eq!(to_plain_text("&amp;nbsp;"), "&nbsp;");
    }

    #[test]
    fn headings_lists_and_paragraphs() {
        let src = "Intro line one\nline two\n\n\n\n== Iwwerschrëft ==\n*eent\n** zwee\n# dräi\n: ageréckt\n; Term\nText no.\n----\nNei.";
        assert_eq!(
            to_plain_text(src),
            "Intro line one line two\n\nIwwerschrëft\n\neent\nzwee\ndräi\nageréckt\nTerm\n\nText no.\n\nNei."
        );
        assert_eq!(to_plain_text("==Kuerz==\nText"), "Kuerz\n\nText");
        assert_eq!(to_plain_text("a = b\n==\n="), "a = b == =");
    }

    #[test]
    fn comments_and_magic_words() {
        assert_eq!(
            to_plain_text("a<!-- x -->b __TOC__ c__NOEDITSECTION__"),
            "ab c"
        );
        assert_eq!(to_plain_text("a<!-- never closed"), "a");
        assert_eq!(to_plain_text("snake__case__x"), "snake__case__x");
    }

    #[test]
    fn unbalanced_input_never_panics_and_keeps_text() {
        assert_eq!(
            to_plain_text("{{Infobox | a = b\nText"),
            "Infobox | a = b Text"
        );
        assert_eq!(to_plain_text("[[Lëtzebuerg an"), "Lëtzebuerg an");
        assert_eq!(
            to_plain_text("Text<ref>Quell ouni Enn"),
            "TextQuell ouni Enn"
        );
        assert_eq!(to_plain_text("a\n{|\n| zell\nb"), "a");
        for s in [
            "{{",
            "}}",
            "[[",
            "]]",
            "<",
            "<ref",
            "<ref>",
            "</ref>",
            "{|",
            "|}",
            "'''",
            "&",
            "&#",
            "&#x110000;",
            "&#0;",
            "[http://",
            "==",
            "=",
            "*",
            "__",
            "[[a|",
            "{{{{{",
            "<nowiki>",
            "ë{{ë",
            "[[ë|ë",
            "<ë>",
            "<b ë",
            "[[:",
            "[[|]]",
            "[[Fichier:",
            "http://ë",
        ] {
            let _ = to_plain_text(s);
        }
        let deep = "[[a|".repeat(200) + &"]]".repeat(200);
        let _ = to_plain_text(&deep);
        let many = "{{".repeat(10_000);
        assert_eq!(to_plain_text(&many), "");
        let unclosed = "{{a ".repeat(100_000);
        assert_eq!(to_plain_text(&unclosed), "a ".repeat(100_000).trim_end());
    }
}
