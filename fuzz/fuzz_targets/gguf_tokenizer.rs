//! Tokenizers rebuilt from GGUF metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`).
//!
//! The input is cut at 0xFF bytes into: flags, tokens (one per line), merges (one per line),
//! token types (one byte each), the chat template, and a text to encode. This reaches
//! `Tokenizer::from_gguf_metadata` directly; the `gguf` target covers reading the keys.
#![no_main]
use lux_core::ChatMessage;
use lux_train::tokenizer::{GgufTokenizerMetadata, Tokenizer};

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .map(str::to_owned)
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let [flags, tokens, merges, types, template, text] = lux_fuzz::parts(data, 6)[..] else {
        return;
    };
    let flag = |i: usize| flags.get(i).copied();
    let id = |i: usize| flag(i).map(u32::from);
    let meta = GgufTokenizerMetadata {
        model: if flag(0).unwrap_or(0) & 0x80 == 0 {
            "gpt2"
        } else {
            "llama"
        }
        .to_owned(),
        pre: match flag(0).unwrap_or(0) & 3 {
            0 => None,
            1 => Some("smollm".to_owned()),
            2 => Some("llama-bpe".to_owned()),
            _ => Some("default".to_owned()),
        },
        tokens: lines(tokens),
        token_types: types.iter().map(|&t| i32::from(t as i8)).collect(),
        merges: if merges.is_empty() {
            Vec::new()
        } else {
            lines(merges)
        },
        bos_token_id: id(1),
        eos_token_id: id(2),
        padding_token_id: id(3),
        add_bos_token: flag(0).unwrap_or(0) & 4 != 0,
        chat_template: (!template.is_empty())
            .then(|| String::from_utf8_lossy(template).into_owned()),
    };
    let Ok(tokenizer) = Tokenizer::from_gguf_metadata(&meta) else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    if let Ok(ids) = tokenizer.encode(&text, true) {
        let _ = tokenizer.decode(&ids, false);
    }
    let _ = tokenizer.turn_end_ids();
    let _ = tokenizer.apply_chat_template(
        &[
            ChatMessage::system("Du bass hëllefräich."),
            ChatMessage::user(text.as_ref()),
        ],
        true,
    );
});
