//! [`TokenVocabulary`]: every token's bytes, computed once per tokenizer and indexed for
//! masking; [`TokenMask`]: the per-step mask of one constrained sequence.
//!
//! At each step, a token is allowed when the recognizer accepts all of its bytes. Trying all
//! 49 152 tokens of SmolLM2 byte by byte would cost tens of milliseconds, so the vocabulary is
//! indexed two ways:
//!
//! - by first byte: the recognizer is tried on each of the 256 first bytes once, and a whole
//!   bucket is skipped when its first byte is refused (most buckets, between values);
//! - inside a string, the tokens that are plain text (whole UTF-8 characters, no `"`, `\` or
//!   control character) are all accepted at once, subject only to `maxLength`, since they
//!   leave the recognizer as it was; only the other tokens are fed byte by byte.

use lux_core::{Error, Result};
use tokenizers::DecoderWrapper;

use super::json_recognizer::JsonRecognizer;
use super::json_schema::JsonSchema;
use crate::tokenizer::Tokenizer;

/// The bytes of every token of a vocabulary, indexed for [`TokenMask`].
#[derive(Debug, Clone)]
pub struct TokenVocabulary {
    /// By id. Empty: the token writes no text (a special token), so it never appears inside
    /// a document.
    bytes: Vec<Vec<u8>>,
    /// Ids of the tokens with text, by first byte.
    by_first_byte: Vec<Vec<u32>>,
    /// The same without the plain-text tokens.
    non_plain_by_first_byte: Vec<Vec<u32>>,
    /// Plain-text tokens: (id, characters).
    plain: Vec<(u32, usize)>,
}

impl TokenVocabulary {
    /// A vocabulary of these token byte strings (by id; empty for tokens without text).
    pub fn new(bytes: Vec<Vec<u8>>) -> TokenVocabulary {
        let mut by_first_byte = vec![Vec::new(); 256];
        let mut non_plain_by_first_byte = vec![Vec::new(); 256];
        let mut plain = Vec::new();
        for (id, b) in bytes.iter().enumerate() {
            let Some(&first) = b.first() else { continue };
            let id = id as u32;
            by_first_byte[usize::from(first)].push(id);
            match plain_chars(b) {
                Some(chars) => plain.push((id, chars)),
                None => non_plain_by_first_byte[usize::from(first)].push(id),
            }
        }
        TokenVocabulary {
            bytes,
            by_first_byte,
            non_plain_by_first_byte,
            plain,
        }
    }

    /// The bytes of the first `vocab_size` ids of `tokenizer` (the model's logits' width;
    /// ids the tokenizer lacks write nothing). Byte-level BPE tokens (GPT-2, Llama 3,
    /// SmolLM2) map their characters back to bytes; other vocabularies use SentencePiece's
    /// conventions (`▁` is a space, `<0x0A>` a byte). Special tokens write nothing.
    pub fn from_tokenizer(tokenizer: &Tokenizer, vocab_size: usize) -> Result<TokenVocabulary> {
        let inner = tokenizer.inner();
        let byte_level = matches!(inner.get_decoder(), Some(DecoderWrapper::ByteLevel(_)));
        let unicode_to_byte = byte_level_alphabet();
        let added = inner.get_added_tokens_decoder();
        let mut bytes = Vec::with_capacity(vocab_size);
        for id in 0..vocab_size as u32 {
            let token = match added.get(&id) {
                Some(t) if t.special => Vec::new(),
                Some(t) => t.content.as_bytes().to_vec(),
                None => match inner.id_to_token(id) {
                    None => Vec::new(),
                    Some(text) if byte_level => text
                        .chars()
                        .map(&unicode_to_byte)
                        .collect::<Option<Vec<u8>>>()
                        .unwrap_or_default(),
                    Some(text) => sentencepiece_bytes(&text),
                },
            };
            bytes.push(token);
        }
        if bytes.iter().all(Vec::is_empty) {
            return Err(Error::invalid(
                "tokenizer",
                "no token of the vocabulary has text, so no document can be written",
            ));
        }
        Ok(TokenVocabulary::new(bytes))
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes token `id` writes (empty for special tokens and unknown ids).
    pub fn bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Sets `allowed[id]` to whether all bytes of token `id` can come next after what
    /// `recognizer` has read; tokens without text are not allowed. `allowed` must hold
    /// [`len`](Self::len) entries.
    pub fn allowed(&self, recognizer: &JsonRecognizer<'_>, allowed: &mut [bool]) {
        allowed.fill(false);
        let buckets = match recognizer.string_room() {
            Some(room) => {
                for &(id, chars) in &self.plain {
                    if chars <= room {
                        allowed[id as usize] = true;
                    }
                }
                &self.non_plain_by_first_byte
            }
            None => &self.by_first_byte,
        };
        let mut after_first = recognizer.clone();
        let mut scratch = recognizer.clone();
        for (first, ids) in buckets.iter().enumerate() {
            if ids.is_empty() {
                continue;
            }
            after_first.clone_from(recognizer);
            if !after_first.feed(first as u8) {
                continue;
            }
            for &id in ids {
                let rest = &self.bytes[id as usize][1..];
                scratch.clone_from(&after_first);
                if scratch.feed_all(rest) {
                    allowed[id as usize] = true;
                }
            }
        }
    }
}

/// The number of characters of `bytes` when a string may hold them as they are: whole UTF-8
/// characters, none of them `"`, `\` or a control character (below U+0020).
fn plain_chars(bytes: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\')
        .then(|| text.chars().count())
}

/// GPT-2's byte-level alphabet, reversed: the byte each of its 256 characters stands for.
/// Printable Latin-1 bytes stand for themselves; the others (controls, space, soft hyphen…)
/// were shifted to U+0100 onwards, in byte order.
fn byte_level_alphabet() -> impl Fn(char) -> Option<u8> {
    let mut table = [None; 324];
    let mut shifted = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        let c = if printable {
            u32::from(b)
        } else {
            shifted += 1;
            255 + shifted
        };
        table[c as usize] = Some(b);
    }
    move |c| table.get(c as usize).copied().flatten()
}

/// A SentencePiece token's bytes: `<0xAB>` is one byte, `▁` a space.
fn sentencepiece_bytes(text: &str) -> Vec<u8> {
    if let Some(hex) = text.strip_prefix("<0x").and_then(|t| t.strip_suffix('>'))
        && hex.len() == 2
        && let Ok(b) = u8::from_str_radix(hex, 16)
    {
        return vec![b];
    }
    text.replace('\u{2581}', " ").into_bytes()
}

/// The constraint of one sequence: which tokens may come next so that the text stays a
/// prefix of a document of the schema, and when the document is done.
///
/// End-of-sequence tokens (`end_ids`) are allowed only once the document is complete; then
/// [`is_finished`](Self::is_finished) says whether anything could still be appended (a
/// top-level number could grow), and the decoder stops when nothing can.
#[derive(Debug, Clone)]
pub struct TokenMask<'a> {
    vocabulary: &'a TokenVocabulary,
    recognizer: JsonRecognizer<'a>,
    end_ids: Vec<u32>,
    allowed: Vec<bool>,
}

impl<'a> TokenMask<'a> {
    /// The mask at the start of a document of `schema`.
    pub fn new(
        schema: &'a JsonSchema,
        vocabulary: &'a TokenVocabulary,
        end_ids: impl IntoIterator<Item = u32>,
    ) -> TokenMask<'a> {
        TokenMask {
            vocabulary,
            recognizer: JsonRecognizer::new(schema),
            end_ids: end_ids.into_iter().collect(),
            allowed: vec![false; vocabulary.len()],
        }
    }

    /// Sets every logit whose token cannot come next to `-inf` (ids beyond the vocabulary
    /// too). Errors when no token can (a vocabulary without the bytes the schema needs).
    pub fn apply(&mut self, logits: &mut [f32]) -> Result<()> {
        self.vocabulary.allowed(&self.recognizer, &mut self.allowed);
        let complete = self.recognizer.is_complete();
        for &id in &self.end_ids {
            if let Some(a) = self.allowed.get_mut(id as usize) {
                *a = complete;
            }
        }
        let mut any = false;
        for (i, l) in logits.iter_mut().enumerate() {
            if self.allowed.get(i).copied().unwrap_or(false) {
                any = true;
            } else {
                *l = f32::NEG_INFINITY;
            }
        }
        if any {
            Ok(())
        } else {
            Err(Error::invalid(
                "json_schema",
                "no token of the vocabulary can continue the document (the vocabulary lacks \
                 the bytes the schema needs)",
            ))
        }
    }

    /// Takes the chosen token. Errors when the token cannot come next (a token chosen
    /// without [`apply`](Self::apply)).
    pub fn accept(&mut self, token: u32) -> Result<()> {
        if self.end_ids.contains(&token) && self.recognizer.is_complete() {
            return Ok(());
        }
        let bytes = self.vocabulary.bytes(token);
        let mut next = self.recognizer.clone();
        if bytes.is_empty() || !next.feed_all(bytes) {
            return Err(Error::invalid(
                "json_schema",
                format!(
                    "token {token} ({:?}) cannot continue the document",
                    String::from_utf8_lossy(bytes)
                ),
            ));
        }
        self.recognizer = next;
        Ok(())
    }

    /// Whether the text so far is a whole document.
    pub fn is_complete(&self) -> bool {
        self.recognizer.is_complete()
    }

    /// Whether the document is complete and nothing can be appended.
    pub fn is_finished(&self) -> bool {
        self.recognizer.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vocabulary(tokens: &[&str]) -> TokenVocabulary {
        TokenVocabulary::new(tokens.iter().map(|t| t.as_bytes().to_vec()).collect())
    }

    #[test]
    fn masks_follow_the_schema_and_end_only_when_complete() {
        // id 0 is the end-of-sequence token (no text).
        let v = vocabulary(&[
            "", "{\"", "score", "\":", " 3", "4", "7", ",", " \"", "reason", "\": \"", "ok", "\"}",
            "\"", "}", "a\"b",
        ]);
        let schema = JsonSchema::compile(&json!({
            "type": "object",
            "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                           "reason": {"type": "string"}},
            "required": ["score", "reason"]
        }))
        .unwrap();
        let mut mask = TokenMask::new(&schema, &v, [0]);
        let allowed = |mask: &mut TokenMask| {
            let mut logits = vec![0.0; v.len()];
            mask.apply(&mut logits).unwrap();
            (0..v.len() as u32)
                .filter(|&i| logits[i as usize] == 0.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(&mut mask), [1]);
        for t in [1, 2, 3] {
            mask.accept(t).unwrap();
        }
        // " 3" and "4" are in range, "7" is not.
        assert_eq!(allowed(&mut mask), [4, 5]);
        mask.accept(4).unwrap();
        assert_eq!(allowed(&mut mask), [7]);
        for t in [7, 8, 9, 10] {
            mask.accept(t).unwrap();
        }
        // Inside the string: plain text (`}` too), the closing quote alone, after text
        // (`{"`, ` "`) or with the brace, but not `":` or `a"b` (after the last property's
        // closing quote only `}` may come).
        assert_eq!(allowed(&mut mask), [1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14]);
        assert!(mask.accept(15).is_err());
        mask.accept(12).unwrap();
        assert!(mask.is_finished());
        assert_eq!(allowed(&mut mask), [0]);
    }

    #[test]
    fn max_length_limits_plain_tokens_by_characters() {
        let v = vocabulary(&["\"", "ab", "ëë", "abc", "\"x"]);
        let schema = JsonSchema::compile(&json!({"type": "string", "maxLength": 2})).unwrap();
        let mut mask = TokenMask::new(&schema, &v, []);
        mask.accept(0).unwrap();
        let mut logits = vec![0.0; v.len()];
        mask.apply(&mut logits).unwrap();
        let allowed: Vec<bool> = logits.iter().map(|l| l.is_finite()).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
    }

    #[test]
    fn byte_level_alphabet_maps_back_to_bytes() {
        let to_byte = byte_level_alphabet();
        assert_eq!(to_byte('a'), Some(b'a'));
        // GPT-2 writes a space as `Ġ` (U+0120) and a newline as `Ċ` (U+010A).
        assert_eq!(to_byte('\u{120}'), Some(b' '));
        assert_eq!(to_byte('\u{10a}'), Some(b'\n'));
        assert_eq!(to_byte('\u{ad}'), None);
        assert_eq!(to_byte('é'), Some(0xe9));
        assert_eq!(sentencepiece_bytes("<0x0A>"), b"\n");
        assert_eq!(sentencepiece_bytes("\u{2581}the"), b" the");
    }
}
