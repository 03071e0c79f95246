//! Text helpers of the LLM-backed generators: whitespace normalisation and verbatim spans.

/// `text` with every run of whitespace made one space, trimmed.
pub(crate) fn normalize_ws(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where `span` occurs in `source` once whitespace is normalised on both sides: the slice of
/// `source` (with its own whitespace and line breaks) that the span quotes.
pub(crate) fn find_verbatim<'a>(source: &'a str, span: &str) -> Option<&'a str> {
    let needle = normalize_ws(span);
    if needle.is_empty() {
        return None;
    }
    // The normalised source, and for each of its chars the byte range it stands for.
    let mut norm = String::with_capacity(source.len());
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(source.len());
    let mut pending_space: Option<usize> = None;
    for (i, c) in source.char_indices() {
        if c.is_whitespace() {
            if !norm.is_empty() && pending_space.is_none() {
                pending_space = Some(i);
            }
            continue;
        }
        if let Some(start) = pending_space.take() {
            norm.push(' ');
            ranges.push((start, i));
        }
        norm.push(c);
        ranges.push((i, i + c.len_utf8()));
    }
    let at = norm.find(&needle)?;
    let first = norm[..at].chars().count();
    let last = first + needle.chars().count() - 1;
    Some(&source[ranges[first].0..ranges[last].1])
}

/// `text` cut to at most `max_chars` characters at a paragraph, else sentence, else word
/// boundary.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> &str {
    let text = text.trim();
    let Some((cut_at, _)) = text.char_indices().nth(max_chars) else {
        return text;
    };
    let cut = &text[..cut_at];
    for sep in ["\n\n", ". ", "\n", " "] {
        if let Some(i) = cut.rfind(sep)
            && i > cut.len() / 3
        {
            let end = if sep == ". " { i + 1 } else { i };
            return cut[..end].trim_end();
        }
    }
    cut
}

/// The first `n` characters of `text`, with `…` when cut: for messages.
pub(crate) fn excerpt(text: &str, n: usize) -> String {
    let t = normalize_ws(text);
    match t.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_found_across_line_breaks_and_returned_verbatim() {
        let src = "Lëtzebuerg ass e Land.\n\nD'Haaptstad  ass\nLëtzebuerg-Stad. Si ass kleng.";
        assert_eq!(
            find_verbatim(src, "D'Haaptstad ass Lëtzebuerg-Stad."),
            Some("D'Haaptstad  ass\nLëtzebuerg-Stad.")
        );
        assert_eq!(find_verbatim(src, "  ass e   Land.\n"), Some("ass e Land."));
        assert_eq!(
            find_verbatim(src, "Land. D'Haaptstad"),
            Some("Land.\n\nD'Haaptstad")
        );
        assert_eq!(find_verbatim(src, "Lëtzebuerg ass e Stad"), None);
        assert_eq!(find_verbatim(src, "   "), None);
        assert_eq!(find_verbatim("ë", "ë"), Some("ë"));
    }

    #[test]
    fn truncation_and_excerpts() {
        let t = "Eischte Paragraph ass hei.\n\nZweete Paragraph ass vill méi laang a geet weider.";
        assert_eq!(truncate_chars(t, 40), "Eischte Paragraph ass hei.");
        assert_eq!(truncate_chars("kuerz", 40), "kuerz");
        assert_eq!(excerpt("a  b c", 3), "a b…");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}
