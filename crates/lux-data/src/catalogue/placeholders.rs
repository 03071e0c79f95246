//! Every format's placeholders in one canonical form (`{1}`, `{name}`).

use std::sync::LazyLock;

use regex::Regex;

use super::DropReason;

const PRINTF_CONVERSIONS: &str = "diouxXeEfFgGcsp@";

/// Parses a printf conversion spec after `%` (or after `%N$`) starting at `i`: flags, width,
/// precision, length, conversion. Returns the index after it.
fn printf_spec(c: &[char], mut i: usize) -> Option<usize> {
    while i < c.len() && "-+#0".contains(c[i]) {
        i += 1;
    }
    if i < c.len() && c[i] == '*' {
        i += 1;
    } else {
        while i < c.len() && c[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < c.len() && c[i] == '.' {
        i += 1;
        if i < c.len() && c[i] == '*' {
            i += 1;
        } else {
            let start = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
        }
    }
    for len in ["hh", "ll", "h", "l", "L", "q", "j", "z", "t"] {
        let n = len.len();
        if c.get(i..i + n)
            .is_some_and(|w| w.iter().copied().eq(len.chars()))
        {
            i += n;
            break;
        }
    }
    (i < c.len() && PRINTF_CONVERSIONS.contains(c[i])).then_some(i + 1)
}

/// Reads `[1-9][0-9]*` at `i`; returns the number and the index after it.
fn number_at(c: &[char], i: usize) -> Option<(u32, usize)> {
    if !c.get(i).is_some_and(|d| ('1'..='9').contains(d)) {
        return None;
    }
    let mut j = i;
    let mut n: u32 = 0;
    while j < c.len() && c[j].is_ascii_digit() && j - i < 4 {
        n = n * 10 + c[j].to_digit(10).unwrap_or(0);
        j += 1;
    }
    Some((n, j))
}

/// Reads `name` up to `close` starting at `i` when it is an identifier; returns the name and
/// the index after `close`.
fn name_until(c: &[char], i: usize, close: char) -> Option<(String, usize)> {
    let end = (i..c.len().min(i + 64)).find(|&j| c[j] == close)?;
    let name: String = c[i..end].iter().collect();
    is_identifier(&name).then_some((name, end + 1))
}

/// Rewrites every placeholder to the canonical `{N}` / `{name}` form.
/// Whether `s` can be a named placeholder (`SITENAME`, `user_name`, `count.total`).
pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !s.ends_with(['.', '-'])
}

pub(super) fn canonical_placeholders(
    s: &str,
    zero_based_braces: bool,
) -> Result<String, DropReason> {
    if !s.contains(['%', '$', '{']) {
        return Ok(s.to_string());
    }
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut seq = 0u32;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        match ch {
            '%' => {
                if next == Some('%') {
                    out.push('%');
                    i += 2;
                    continue;
                }
                if next == Some('(')
                    && let Some((name, j)) = name_until(&c, i + 2, ')')
                    && let Some(k) = printf_spec(&c, j)
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = k;
                    continue;
                }
                if next == Some('{')
                    && let Some((name, j)) = name_until(&c, i + 2, '}')
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = j;
                    continue;
                }
                let qt_start = if next == Some('L') { i + 2 } else { i + 1 };
                if let Some((n, j)) = number_at(&c, qt_start) {
                    if c.get(j) == Some(&'$') && qt_start == i + 1 {
                        if let Some(k) = printf_spec(&c, j + 1) {
                            out.push_str(&format!("{{{n}}}"));
                            i = k;
                            continue;
                        }
                    } else if qt_start == i + 2 || printf_spec(&c, i + 1).is_none_or(|k| k <= j + 1)
                    {
                        // `%1` (Qt), and `%1d` read as `%1` + `d`; `%5.2f`, `%10ld` are printf.
                        out.push_str(&format!("{{{n}}}"));
                        i = j;
                        continue;
                    }
                }
                if let Some(k) = printf_spec(&c, i + 1) {
                    seq += 1;
                    out.push_str(&format!("{{{seq}}}"));
                    i = k;
                    continue;
                }
                out.push('%');
                i += 1;
            }
            '$' => {
                if let Some((n, j)) = number_at(&c, i + 1) {
                    out.push_str(&format!("{{{n}}}"));
                    i = j;
                } else if next == Some('{')
                    && let Some((name, j)) = name_until(&c, i + 2, '}')
                {
                    out.push_str(&format!("{{{name}}}"));
                    i = j;
                } else {
                    out.push('$');
                    i += 1;
                }
            }
            '{' => {
                let Some(end) = (i + 1..c.len()).find(|&j| c[j] == '}' || c[j] == '{') else {
                    out.push('{');
                    i += 1;
                    continue;
                };
                if c[end] == '{' {
                    // A brace inside a brace: ICU plural/select, or not a placeholder at all.
                    let inner: String = c[i + 1..end].iter().collect();
                    if inner.contains(',') {
                        return Err(DropReason::Unresolvable);
                    }
                    out.push('{');
                    i += 1;
                    continue;
                }
                let inner: String = c[i + 1..end].iter().collect();
                let head = inner.split(',').next().unwrap_or_default().trim();
                let complex = inner.contains(',') && {
                    let kind = inner.split(',').nth(1).unwrap_or_default().trim();
                    matches!(kind, "plural" | "select" | "selectordinal" | "choice")
                };
                if complex {
                    return Err(DropReason::Unresolvable);
                }
                if inner.is_empty() {
                    seq += 1;
                    out.push_str(&format!("{{{seq}}}"));
                } else if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
                    let n: u32 = head.parse().unwrap_or(0);
                    let n = if zero_based_braces { n + 1 } else { n };
                    out.push_str(&format!("{{{n}}}"));
                } else if is_identifier(head) {
                    out.push_str(&format!("{{{head}}}"));
                } else {
                    out.push_str(&format!("{{{inner}}}"));
                }
                i = end + 1;
            }
            _ => {
                out.push(ch);
                i += 1;
            }
        }
    }
    Ok(out)
}

static CANONICAL_PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{[A-Za-z0-9_.-]+\}").expect("valid regex"));

/// `s` without its canonical placeholders.
pub fn strip_placeholders(s: &str) -> String {
    CANONICAL_PLACEHOLDER.replace_all(s, " ").into_owned()
}

// ---------------------------------------------------------------------------------------
#[cfg(test)]
mod tests {
    use super::super::DropReason;
    use super::*;
    use crate::catalogue::clean::tests_support::clean;

    #[test]
    fn placeholders_become_canonical() {
        let p = |s: &str| canonical_placeholders(s, false).unwrap();
        assert_eq!(p("Delete %s?"), "Delete {1}?");
        assert_eq!(p("%d of %d files"), "{1} of {2} files");
        assert_eq!(p("%2$s in %1$s"), "{2} in {1}");
        assert_eq!(p("%5.2f%% done, %-10ld left"), "{1}% done, {2} left");
        assert_eq!(p("Hello %(name)s"), "Hello {name}");
        assert_eq!(p("Hello %{name} and ${other}"), "Hello {name} and {other}");
        assert_eq!(p("Page %1 of %2, %L3 bytes"), "Page {1} of {2}, {3} bytes");
        assert_eq!(p("Delete page $1 by $2?"), "Delete page {1} by {2}?");
        assert_eq!(p("Hello {name}, {}"), "Hello {name}, {1}");
        assert_eq!(p("Price: $ 5, 100% sure"), "Price: $ 5, 100% sure");
        assert_eq!(
            canonical_placeholders("{0} of {1}", true).unwrap(),
            "{1} of {2}"
        );
        assert_eq!(
            canonical_placeholders("{0,number} items", true).unwrap(),
            "{1} items"
        );
        assert_eq!(p("{1} of {2}"), "{1} of {2}");
        assert_eq!(
            canonical_placeholders("{count, plural, one {# item} other {# items}}", false),
            Err(DropReason::Unresolvable)
        );
        // Canonical text is a fixed point.
        let once = clean("Copy %s to %s (%d%%)").unwrap();
        assert_eq!(once, "Copy {1} to {2} ({3}%)");
        assert_eq!(clean(&once).unwrap(), once);
    }
}
