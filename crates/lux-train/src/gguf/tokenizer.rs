//! Reading a GGUF file's tokenizer section into [`GgufTokenizerMetadata`].

use lux_core::{Error, Result};

use super::file::GgufFile;
use super::value::GgufArray;
use crate::tokenizer::GgufTokenizerMetadata;

impl GgufFile {
    /// The `tokenizer.ggml.*` keys and `tokenizer.chat_template`, ready for
    /// [`Tokenizer::from_gguf_metadata`](crate::tokenizer::Tokenizer::from_gguf_metadata).
    ///
    /// `tokenizer.ggml.model` and `tokenizer.ggml.tokens` are required; the rest are optional
    /// (`add_bos_token` defaults to `false`). Token types may be stored as any integer type.
    pub fn tokenizer_metadata(&self) -> Result<GgufTokenizerMetadata> {
        let m = self.metadata();
        let token_types = match m.get_opt::<&GgufArray>("tokenizer.ggml.token_type")? {
            None => Vec::new(),
            Some(a) => a
                .to_i64_vec()
                .and_then(|v| {
                    v.into_iter()
                        .map(|t| i32::try_from(t).ok())
                        .collect::<Option<Vec<i32>>>()
                })
                .ok_or_else(|| {
                    Error::parse(
                        self.path(),
                        Some("key \"tokenizer.ggml.token_type\"".to_owned()),
                        format!(
                            "expected an array of i32, found array of {}",
                            a.element_type_name()
                        ),
                    )
                })?,
        };
        Ok(GgufTokenizerMetadata {
            model: m.get_str("tokenizer.ggml.model")?.to_owned(),
            pre: m.get_opt::<&str>("tokenizer.ggml.pre")?.map(str::to_owned),
            tokens: m.get_str_array("tokenizer.ggml.tokens")?.to_vec(),
            token_types,
            merges: m
                .get_opt::<&[String]>("tokenizer.ggml.merges")?
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            bos_token_id: m.get_opt("tokenizer.ggml.bos_token_id")?,
            eos_token_id: m.get_opt("tokenizer.ggml.eos_token_id")?,
            padding_token_id: m.get_opt("tokenizer.ggml.padding_token_id")?,
            add_bos_token: m.get_opt("tokenizer.ggml.add_bos_token")?.unwrap_or(false),
            chat_template: m
                .get_opt::<&str>("tokenizer.chat_template")?
                .map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::gguf::{GgufArray, GgufFile, GgufValue, GgufWriter};

    #[test]
    fn reads_the_tokenizer_keys() {
        let mut w = GgufWriter::new();
        let strings = |v: &[&str]| {
            GgufValue::Array(GgufArray::String(v.iter().map(|s| s.to_string()).collect()))
        };
        w.add_metadata("tokenizer.ggml.model", GgufValue::String("gpt2".into()))
            .add_metadata("tokenizer.ggml.tokens", strings(&["a", "b", "ab"]))
            .add_metadata(
                "tokenizer.ggml.token_type",
                GgufValue::Array(GgufArray::U8(vec![1, 1, 3])),
            )
            .add_metadata("tokenizer.ggml.merges", strings(&["a b"]))
            .add_metadata("tokenizer.ggml.eos_token_id", GgufValue::U32(2))
            .add_metadata("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gguf");
        w.write(&path).unwrap();
        let t = GgufFile::open(&path).unwrap().tokenizer_metadata().unwrap();
        assert_eq!(t.model, "gpt2");
        assert_eq!(t.tokens, vec!["a", "b", "ab"]);
        assert_eq!(t.token_types, vec![1, 1, 3]);
        assert_eq!(t.merges, vec!["a b"]);
        assert_eq!(
            (t.bos_token_id, t.eos_token_id, t.padding_token_id),
            (None, Some(2), None)
        );
        assert!(t.add_bos_token && t.pre.is_none() && t.chat_template.is_none());
    }
}
