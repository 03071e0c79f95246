//! MediaWiki templates (`{{PLURAL:…}}`, `{{GENDER:…}}`…) and links (`[[…|label]]`).

use std::sync::LazyLock;

use regex::Regex;

use super::DropReason;
use super::placeholders::is_identifier;

/// Resolves `{{…}}` templates innermost first.
pub(super) fn resolve_templates(s: &str) -> Result<String, DropReason> {
    if !s.contains("{{") && !s.contains("}}") {
        return Ok(s.to_string());
    }
    let mut s = s.to_string();
    loop {
        let Some(close) = s.find("}}") else {
            if s.contains("{{") {
                return Err(DropReason::Unresolvable);
            }
            return Ok(s);
        };
        let Some(open) = s[..close].rfind("{{") else {
            return Err(DropReason::Unresolvable);
        };
        let replacement = template(&s[open + 2..close])?;
        s.replace_range(open..close + 2, &replacement);
    }
}

/// The plain text of one template's inside (`PLURAL:$1|a|b`).
fn template(inner: &str) -> Result<String, DropReason> {
    let colon = inner.find(':');
    let pipe = inner.find('|');
    let (name, rest) = match colon {
        Some(c) if pipe.is_none_or(|p| c < p) => (inner[..c].trim(), Some(&inner[c + 1..])),
        _ => (inner.trim(), None),
    };
    let Some(rest) = rest else {
        if name == "!" {
            return Ok("|".to_string());
        }
        if is_identifier(name) {
            return Ok(format!("{{{name}}}"));
        }
        return Err(DropReason::Unresolvable);
    };
    let args = split_pipes(rest);
    let forms = args.get(1..).unwrap_or_default();
    match name.to_ascii_uppercase().as_str() {
        "PLURAL" => {
            let explicit = |f: &str| {
                let f = f.trim_start();
                let digits = f.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && f[digits..].trim_start().starts_with('=')
            };
            if let Some(f) = forms.iter().rev().find(|f| !explicit(f)) {
                Ok(f.to_string())
            } else if let Some(f) = forms.last() {
                Ok(f.split_once('=').map(|(_, v)| v).unwrap_or(f).to_string())
            } else {
                Ok(String::new())
            }
        }
        "GENDER" => Ok(forms
            .get(2)
            .or(forms.first())
            .map(|f| f.to_string())
            .unwrap_or_default()),
        "GRAMMAR" => Ok(forms.first().map(|f| f.to_string()).unwrap_or_default()),
        "BIDI" => Ok(rest.to_string()),
        _ => Err(DropReason::Unresolvable),
    }
}

/// Splits template arguments at `|`, except inside `[[…]]` links.
fn split_pipes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' if b.get(i + 1) == Some(&b'[') => {
                depth += 1;
                i += 1;
            }
            b']' if b.get(i + 1) == Some(&b']') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'|' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

static WIKI_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[:?([^\[\]|]*)(?:\|([^\[\]]*))?\]\]").expect("valid regex"));
static EXTERNAL_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[(?:(?:https?:)?//|\$\d+|\{[^{}\s]+\})[^\s\]]*(?:\s+([^\]]*))?\]")
        .expect("valid regex")
});
static EMPHASIS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'{2,}").expect("valid regex"));

/// Wiki links keep their label; external links `[url label]` keep the label (an unlabelled
/// external link cannot be made plain); `''`/`'''` emphasis is removed.
/// Returns the text and the number of links.
pub(super) fn resolve_links(s: &str) -> Result<(String, usize), DropReason> {
    if !s.contains('[') && !s.contains("''") {
        return Ok((s.to_string(), 0));
    }
    let mut links = 0;
    let s = WIKI_LINK.replace_all(s, |c: &regex::Captures<'_>| {
        links += 1;
        c.get(2)
            .or(c.get(1))
            .map(|m| m.as_str().to_string())
            .unwrap_or_default()
    });
    let mut unlabelled = false;
    let s = EXTERNAL_LINK.replace_all(&s, |c: &regex::Captures<'_>| {
        links += 1;
        match c.get(1) {
            Some(m) if !m.as_str().trim().is_empty() => m.as_str().to_string(),
            _ => {
                unlabelled = true;
                String::new()
            }
        }
    });
    if unlabelled {
        return Err(DropReason::Unresolvable);
    }
    Ok((EMPHASIS.replace_all(&s, "").into_owned(), links))
}

#[cfg(test)]
mod tests {
    use super::super::DropReason;
    use crate::catalogue::clean::tests_support::clean;

    #[test]
    fn mediawiki_syntax_is_resolved() {
        assert_eq!(
            clean("{{PLURAL:$1|Category|Categories}}").unwrap(),
            "Categories"
        );
        assert_eq!(
            clean("The following {{PLURAL:$1|subcategory|$1 subcategories}} of $2.").unwrap(),
            "The following {1} subcategories of {2}."
        );
        assert_eq!(
            clean("{{PLURAL:$1|0=none|one file|$1 files}}").unwrap(),
            "{1} files"
        );
        assert_eq!(
            clean("{{GENDER:$1|Dësem Benotzer|Dëser Benotzerin}} schécken").unwrap(),
            "Dësem Benotzer schécken"
        );
        assert_eq!(
            clean("{{GENDER:$1|he|she|they}} edited").unwrap(),
            "they edited"
        );
        assert_eq!(clean("About {{SITENAME}}").unwrap(), "About {SITENAME}");
        assert_eq!(
            clean("You have {{count}} messages").unwrap(),
            "You have {count} messages"
        );
        assert_eq!(
            clean("See {{int:specialpages}} now"),
            Err(DropReason::Unresolvable)
        );
        assert_eq!(clean("Broken {{PLURAL:$1|a"), Err(DropReason::Unresolvable));
        assert_eq!(
            clean("See [[Special:Version|version page]] and [[Help]].").unwrap(),
            "See version page and Help."
        );
        assert_eq!(
            clean("{{PLURAL:$1|one [[Special:X|link]]|many [[Special:X|links]]}} here").unwrap(),
            "many links here"
        );
        assert_eq!(
            clean("Read [https://example.org the manual] first").unwrap(),
            "Read the manual first"
        );
        assert_eq!(
            clean("Read [$1 the manual] first").unwrap(),
            "Read the manual first"
        );
        assert_eq!(
            clean("Read [https://example.org] first"),
            Err(DropReason::Unresolvable)
        );
        assert_eq!(
            clean("Show '''bold''' and ''italic'' text").unwrap(),
            "Show bold and italic text"
        );
    }
}
