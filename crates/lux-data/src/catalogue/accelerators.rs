//! Keyboard accelerator marks in menu labels (`_File`, `&File`, `(_F)`).

use std::sync::LazyLock;

use regex::Regex;

use crate::html_entities::REFERENCE;

static CJK_ACCELERATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?s)(.*?)\s*[(（][_&][\p{L}\p{N}][)）]((?:\.\.\.|…|:|：)?\s*)$")
        .expect("valid regex")
});

pub(super) fn strip_accelerators(s: &str) -> String {
    let s = match CJK_ACCELERATOR.captures(s) {
        Some(c) => format!(
            "{}{}",
            c.get(1).map(|m| m.as_str()).unwrap_or_default(),
            c.get(2).map(|m| m.as_str()).unwrap_or_default()
        ),
        None => s.to_string(),
    };
    if !s.contains(['&', '_']) {
        return s;
    }
    let c: Vec<char> = s.chars().collect();
    let mnemonic = |i: usize| c.get(i + 1).is_some_and(|n| n.is_alphanumeric());
    // GTK allows one mnemonic; several `_x` mean an identifier, not a label.
    let mut underscores = Vec::new();
    let mut depth = 0usize;
    for (i, &ch) in c.iter().enumerate() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '_' if depth == 0 && mnemonic(i) && (i == 0 || c[i - 1] != '_') => underscores.push(i),
            _ => {}
        }
    }
    let strip_underscore = (underscores.len() == 1).then(|| underscores[0]);
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && ch == '&' {
            if c.get(i + 1) == Some(&'&') {
                out.push('&');
                i += 2;
                continue;
            }
            // An entity (`&amp;`, `&CounterClockwiseContourIntegral;`) is not a mark.
            let rest: String = c[i..c.len().min(i + 42)].iter().collect();
            if REFERENCE.find(&rest).is_some_and(|m| m.start() == 0) {
                out.push('&');
                i += 1;
                continue;
            }
            if mnemonic(i) {
                i += 1;
                continue;
            }
        }
        if Some(i) == strip_underscore {
            i += 1;
            continue;
        }
        out.push(ch);
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
#[cfg(test)]
mod tests {
    use super::super::{CatalogueCleaning, DropReason, clean_text};
    use crate::catalogue::clean::tests_support::clean;

    #[test]
    fn accelerators_are_stripped() {
        assert_eq!(clean("_File").unwrap(), "File");
        assert_eq!(clean("Save _As…").unwrap(), "Save As…");
        assert_eq!(clean("Ö_ffnen").unwrap(), "Öffnen");
        assert_eq!(clean("&File").unwrap(), "File");
        assert_eq!(clean("Save &As...").unwrap(), "Save As...");
        assert_eq!(clean("Drag && Drop").unwrap(), "Drag & Drop");
        assert_eq!(clean("Tom &amp; Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(clean("Tom & Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(clean("ファイル(_F)").unwrap(), "ファイル");
        assert_eq!(clean("打开(&O)...").unwrap(), "打开...");
        assert_eq!(clean("Datei (_D):").unwrap(), "Datei:");
        // Several `_x`: not a mnemonic; the identifier is then code-like.
        assert_eq!(clean("user_name_field"), Err(DropReason::CodeLike));
        // Placeholder names keep their underscores.
        assert_eq!(
            clean("Hello %(user_name)s, _welcome").unwrap(),
            "Hello {user_name}, welcome"
        );
        let off = CatalogueCleaning {
            accelerators: false,
            ..Default::default()
        };
        assert_eq!(clean_text("Save _As", &off, false).unwrap(), "Save _As");
    }
}
