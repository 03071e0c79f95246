//! Tokenizers: HF `tokenizer.json` files, or rebuilt from GGUF metadata, plus the model's
//! chat template.
//!
//! GGUF files carry their tokenizer as metadata (`tokenizer.ggml.*`): the vocabulary, the BPE
//! merges, token types, special token ids, the pre-tokenizer's name and the chat template.
//! [`Tokenizer::from_gguf_metadata`] rebuilds an HF `tokenizers` tokenizer from them, so a GGUF
//! file alone is enough to run a model.

mod chat_template;

use std::path::Path;

pub use chat_template::ChatTemplate;
use lux_core::{ChatMessage, Error, IoContext, Result};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

/// Tokens that end an assistant turn in common chat templates (ChatML, Llama 3, GPT-2-style,
/// SentencePiece).
const TURN_END_TOKENS: &[&str] = &[
    "<|im_end|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|endoftext|>",
    "</s>",
];
/// The tokenizer section of a GGUF file's metadata (`tokenizer.ggml.*`).
#[derive(Debug, Clone, Default)]
pub struct GgufTokenizerMetadata {
    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE) is supported.
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer's name (`smollm`, `gpt2`, `llama-bpe`, `qwen2`…).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`, by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte).
    pub token_types: Vec<i32>,
    /// `tokenizer.ggml.merges`: `"a b"` pairs, by rank.
    pub merges: Vec<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub padding_token_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos_token: bool,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

/// A tokenizer with the special tokens and chat template of its model.
#[derive(Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    bos: Option<u32>,
    eos: Option<u32>,
    pad: Option<u32>,
    add_bos: bool,
    chat_template: Option<ChatTemplate>,
}

/// Llama 3's (and Qwen2's, with single digits) pre-tokenisation regex.
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn tk_err(what: &str) -> impl Fn(tokenizers::Error) -> Error + '_ {
    move |e| Error::invalid("tokenizer", format!("{what}: {e}"))
}

impl Tokenizer {
    /// Loads an HF `tokenizer.json`; a `tokenizer_config.json` beside it supplies the chat
    /// template and the bos/eos tokens when present.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_path(path)?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| Error::parse(path, None, format!("not a tokenizer.json: {e}")))?;
        let mut tok = Tokenizer {
            inner,
            bos: None,
            eos: None,
            pad: None,
            add_bos: false,
            chat_template: None,
        };
        let config_path = path.with_file_name("tokenizer_config.json");
        if config_path.exists() {
            let text = std::fs::read_to_string(&config_path).with_path(&config_path)?;
            let cfg: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::parse_source(&config_path, None, e))?;
            let token = |key: &str| -> Option<String> {
                match &cfg[key] {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Object(o) => o
                        .get("content")
                        .and_then(|c| c.as_str())
                        .map(str::to_string),
                    _ => None,
                }
            };
            let bos = token("bos_token");
            let eos = token("eos_token");
            tok.bos = bos.as_deref().and_then(|t| tok.inner.token_to_id(t));
            tok.eos = eos.as_deref().and_then(|t| tok.inner.token_to_id(t));
            tok.pad = token("pad_token").and_then(|t| tok.inner.token_to_id(&t));
            tok.add_bos = cfg["add_bos_token"].as_bool().unwrap_or(false);
            if let Some(src) = cfg["chat_template"].as_str() {
                tok.chat_template = Some(ChatTemplate::new(
                    src,
                    bos.as_deref().unwrap_or(""),
                    eos.as_deref().unwrap_or(""),
                )?);
            }
        }
        Ok(tok)
    }

    /// Rebuilds a byte-level BPE tokenizer from GGUF metadata.
    pub fn from_gguf_metadata(meta: &GgufTokenizerMetadata) -> Result<Tokenizer> {
        if meta.model != "gpt2" {
            return Err(Error::invalid(
                "tokenizer.ggml.model",
                format!(
                    "`{}` is not supported (only byte-level BPE, `gpt2`)",
                    meta.model
                ),
            ));
        }
        if !meta.token_types.is_empty() && meta.token_types.len() != meta.tokens.len() {
            return Err(Error::invalid(
                "tokenizer.ggml.token_type",
                format!(
                    "has {} entries for {} tokens",
                    meta.token_types.len(),
                    meta.tokens.len()
                ),
            ));
        }
        let vocab: tokenizers::models::bpe::Vocab = meta
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut merges = Vec::with_capacity(meta.merges.len());
        for (rank, m) in meta.merges.iter().enumerate() {
            let Some((a, b)) = m.split_once(' ') else {
                return Err(Error::invalid(
                    "tokenizer.ggml.merges",
                    format!("entry {rank} `{m}` is not `a b`"),
                ));
            };
            merges.push((a.to_string(), b.to_string()));
        }
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| Error::invalid("tokenizer.ggml.merges", e.to_string()))?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tokenizer(meta.pre.as_deref())?));
        inner.with_decoder(Some(ByteLevel::default()));
        // Control and user-defined tokens are matched whole, before BPE (as llama.cpp does).
        let specials: Vec<AddedToken> = meta
            .tokens
            .iter()
            .zip(&meta.token_types)
            .filter(|(_, ty)| matches!(**ty, 3 | 4))
            .map(|(t, ty)| AddedToken::from(t.clone(), *ty == 3))
            .collect();
        inner.add_special_tokens(&specials);
        let name = |id: Option<u32>| {
            id.and_then(|i| meta.tokens.get(i as usize))
                .cloned()
                .unwrap_or_default()
        };
        let chat_template = meta
            .chat_template
            .as_deref()
            .map(|src| ChatTemplate::new(src, &name(meta.bos_token_id), &name(meta.eos_token_id)))
            .transpose()?;
        Ok(Tokenizer {
            inner,
            bos: meta.bos_token_id,
            eos: meta.eos_token_id,
            pad: meta.padding_token_id,
            add_bos: meta.add_bos_token,
            chat_template,
        })
    }

    /// Token ids of `text`. Special-token strings in the text (`<|im_start|>`) become their
    /// ids; with `add_bos`, the model's BOS token is prepended when the model asks for it.
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(tk_err("encoding"))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if add_bos && self.add_bos {
            ids.extend(self.bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Text of `ids`; special tokens are dropped when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(tk_err("decoding"))
    }

    /// Renders a conversation with the model's chat template.
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.chat_template
            .as_ref()
            .ok_or_else(|| Error::invalid("chat_template", "this tokenizer has no chat template"))?
            .render(messages, add_generation_prompt)
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The ids that end an assistant's turn: the end-of-sequence token and the turn-end tokens
    /// of common chat templates that this vocabulary has (sorted, no repeats). Generation of a
    /// chat answer stops at any of them.
    pub fn turn_end_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = TURN_END_TOKENS
            .iter()
            .filter_map(|t| self.token_id(t))
            .chain(self.eos)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Beginning-of-sequence id.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence id (generation stops there).
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// Padding id (falls back to EOS, as most decoder-only models do).
    pub fn pad_id(&self) -> Option<u32> {
        self.pad.or(self.eos)
    }

    /// The wrapped HF tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

fn split(regex: &str) -> Result<PreTokenizerWrapper> {
    let split = Split::new(
        SplitPattern::Regex(regex.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(|e| Error::invalid("tokenizer.ggml.pre", format!("bad regex: {e}")))?;
    Ok(split.into())
}

/// The pre-tokenizer llama.cpp names by `tokenizer.ggml.pre`.
fn pre_tokenizer(pre: Option<&str>) -> Result<PreTokenizerWrapper> {
    let byte_level = |use_regex: bool| -> PreTokenizerWrapper {
        ByteLevel::default()
            .add_prefix_space(false)
            .use_regex(use_regex)
            .into()
    };
    Ok(match pre.unwrap_or("gpt2") {
        "gpt2" | "default" => byte_level(true),
        // SmolLM: GPT-2's regex with every digit its own token.
        "smollm" | "starcoder" => {
            Sequence::new(vec![Digits::new(true).into(), byte_level(true)]).into()
        }
        "llama-bpe" | "llama3" | "smaug-bpe" => {
            Sequence::new(vec![split(LLAMA3_REGEX)?, byte_level(false)]).into()
        }
        "qwen2" => Sequence::new(vec![split(QWEN2_REGEX)?, byte_level(false)]).into(),
        other => {
            return Err(Error::invalid(
                "tokenizer.ggml.pre",
                format!(
                    "pre-tokenizer `{other}` is not supported (gpt2, smollm, starcoder, llama-bpe, qwen2)"
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy byte-level vocabulary: single bytes, one merge, two control tokens.
    fn toy() -> GgufTokenizerMetadata {
        let mut tokens: Vec<String> = vec!["<|endoftext|>".into(), "<|im_start|>".into()];
        let mut types = vec![3, 3];
        // ByteLevel's printable alphabet for ASCII letters and the space marker Ġ.
        for c in ('a'..='z').chain(['Ġ']) {
            tokens.push(c.to_string());
            types.push(1);
        }
        tokens.push("ab".into());
        types.push(1);
        GgufTokenizerMetadata {
            model: "gpt2".into(),
            pre: Some("smollm".into()),
            tokens,
            token_types: types,
            merges: vec!["a b".into()],
            bos_token_id: Some(1),
            eos_token_id: Some(0),
            chat_template: Some("{{ bos_token }}{{ messages[0].content }}".into()),
            ..Default::default()
        }
    }

    #[test]
    fn rebuilds_bpe_with_specials_and_template() {
        let t = Tokenizer::from_gguf_metadata(&toy()).unwrap();
        let ab = t.token_id("ab").unwrap();
        let ids = t.encode("<|im_start|>ab c", false).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(ids[1], ab);
        assert_eq!(t.decode(&ids, true).unwrap(), "ab c");
        assert_eq!(
            t.apply_chat_template(&[ChatMessage::user("x")], false)
                .unwrap(),
            "<|im_start|>x"
        );
        assert_eq!(t.pad_id(), Some(0));
    }

    #[test]
    fn bad_metadata_names_the_key() {
        let mut m = toy();
        m.merges.push("nospace".into());
        let e = Tokenizer::from_gguf_metadata(&m).unwrap_err().to_string();
        assert!(
            e.contains("tokenizer.ggml.merges") && e.contains("nospace"),
            "{e}"
        );
        let mut m = toy();
        m.pre = Some("mystery".into());
        assert!(
            Tokenizer::from_gguf_metadata(&m)
                .unwrap_err()
                .to_string()
                .contains("mystery")
        );
        let mut m = toy();
        m.model = "llama".into();
        assert!(
            Tokenizer::from_gguf_metadata(&m)
                .unwrap_err()
                .to_string()
                .contains("tokenizer.ggml.model")
        );
    }
}
