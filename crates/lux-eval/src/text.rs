//! How numbers and quoted text appear in prompts, error messages and reports.

/// `text` with whitespace runs made one space, cut to `max` characters with an ellipsis: a
/// model's answer quoted in an error message or a report cell.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match t.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    }
}

/// `x` without a trailing `.0` when whole (`5`, `2.5`): a scale bound in a prompt.
pub(crate) fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_and_numbers() {
        assert_eq!(excerpt("a  b\nc", 3), "a b…");
        assert_eq!(excerpt(" abc ", 3), "abc");
        assert_eq!(excerpt("ëëëë", 2), "ëë…");
        assert_eq!(number(5.0), "5");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(-1.0), "-1");
    }
}
