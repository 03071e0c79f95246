//! [`StopStrings`]: finding a stop string in the decoded text of a growing sequence.

/// The stop strings of a request, searched in decoded text as OpenAI's `stop`: the output ends
/// just before the earliest occurrence, and the stop string itself is not returned.
///
/// Matching is on text, not tokens, because a stop string may span several tokens or end in
/// the middle of one. Only the part of the text that could hold a new match is searched at
/// each step.
#[derive(Debug, Clone, Default)]
pub struct StopStrings {
    stops: Vec<String>,
    longest: usize,
}

impl StopStrings {
    /// Matches any of `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> StopStrings {
        let stops: Vec<String> = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        let longest = stops.iter().map(String::len).max().unwrap_or(0);
        StopStrings { stops, longest }
    }

    /// Whether there is nothing to match.
    pub fn is_empty(&self) -> bool {
        self.stops.is_empty()
    }

    /// The byte offset where `text` must be cut, if it contains a stop string that ends after
    /// byte `checked` (the length of the text at the previous check; 0 the first time).
    ///
    /// The earliest start among the matching stop strings wins, so the cut text never holds
    /// any of them whole.
    pub fn find(&self, text: &str, checked: usize) -> Option<usize> {
        if self.stops.is_empty() {
            return None;
        }
        // A new match ends after `checked`, so it starts after `checked - longest`.
        let mut from = checked.saturating_sub(self.longest.saturating_sub(1));
        while from > 0 && !text.is_char_boundary(from) {
            from -= 1;
        }
        let window = text.get(from..)?;
        self.stops
            .iter()
            .filter_map(|s| window.find(s.as_str()))
            .min()
            .map(|at| from + at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(s: &[&str]) -> StopStrings {
        StopStrings::new(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn earliest_match_wins_and_spans_steps() {
        let s = stops(&["\n\n", "END"]);
        assert_eq!(s.find("abc", 0), None);
        // "\n" arrived last step, the second "\n" now: the match spans both.
        assert_eq!(s.find("abc\n\nxEND", 4), Some(3));
        assert_eq!(s.find("ab END\n\n", 3), Some(3));
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let s = stops(&["ë"]);
        let text = "Lëtzebuerg";
        assert_eq!(s.find(text, 2), Some(1));
        assert!(stops(&[]).find(text, 0).is_none());
    }
}
