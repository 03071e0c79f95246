//! [`PromptCache`]: keys and values of prompt prefixes seen before, so that requests sharing a
//! beginning (a judge's form, a chat template's system turn, one example scored by several
//! judges) compute it once, as vLLM's automatic prefix caching and llama.cpp's prompt cache do.
//!
//! **Deterministic by construction.** A prompt is always run in chunks of
//! [`PromptCache::CHUNK`] tokens at the same boundaries (`64, 128, …`, the rest after the last
//! one), whether or not a chunk is cached: a cached chunk holds the very keys and values the
//! chunked pass would compute again, so an answer never depends on what was asked before, on
//! the cache's size or on what it evicted — only its speed does. (Caching the longest common
//! prefix with earlier prompts instead would split each prompt where its predecessors happen
//! to end, and a split moves the floating-point sums.)

use std::collections::HashMap;

use burn::tensor::{Int, Tensor, TensorData};
use lux_core::Result;

use crate::model::{KvCache, Llama};

/// Prompt prefixes' keys and values, least recently used evicted first beyond a byte budget.
///
/// One cache serves one model: the keys and values are that model's.
#[derive(Debug)]
pub struct PromptCache {
    capacity_bytes: usize,
    bytes: usize,
    clock: u64,
    /// Keyed by the prefix's token ids (always a whole number of chunks).
    entries: HashMap<Vec<u32>, Entry>,
    stats: PromptCacheStats,
}

#[derive(Debug)]
struct Entry {
    cache: KvCache,
    bytes: usize,
    used: u64,
}

/// What a [`PromptCache`] saved: prompt tokens read from it and tokens computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptCacheStats {
    /// Prompt tokens whose keys and values came from the cache.
    pub reused_tokens: u64,
    /// Prompt tokens run through the model.
    pub computed_tokens: u64,
}

impl PromptCache {
    /// Tokens per chunk: the granularity of reuse, and the row count of each prompt pass (64
    /// rows keep the matrix products efficient; a shorter chunk would reuse more of a prompt
    /// and run each pass less efficiently).
    pub const CHUNK: usize = 64;

    /// A cache holding at most `capacity_bytes` of keys and values (0: nothing is kept, and
    /// prompts still run in chunks, so answers are the same with any budget).
    pub fn new(capacity_bytes: usize) -> PromptCache {
        PromptCache {
            capacity_bytes,
            bytes: 0,
            clock: 0,
            entries: HashMap::new(),
            stats: PromptCacheStats::default(),
        }
    }

    /// What the cache has saved so far.
    pub fn stats(&self) -> PromptCacheStats {
        self.stats
    }

    /// Bytes of keys and values held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Runs `prompt` (not empty; ids below the vocabulary size, which the caller checks)
    /// through `model` at batch 1, taking every whole chunk it can from the cache and keeping
    /// the ones it computes: the cache over the whole prompt and the last position's logits
    /// `[1, vocab_size]`.
    pub fn prefill(&mut self, model: &Llama, prompt: &[u32]) -> Result<(KvCache, Tensor<2>)> {
        // Chunk ends strictly inside the prompt: the rest (at least one token) gives the logits.
        let ends: Vec<usize> = (1..)
            .map(|j| j * Self::CHUNK)
            .take_while(|&end| end < prompt.len())
            .collect();
        self.clock += 1;
        let mut cache = model.new_cache();
        let mut at = 0;
        for &end in ends.iter().rev() {
            if let Some(entry) = self.entries.get_mut(&prompt[..end]) {
                entry.used = self.clock;
                cache = entry.cache.clone();
                at = end;
                break;
            }
        }
        self.stats.reused_tokens += at as u64;
        self.stats.computed_tokens += (prompt.len() - at) as u64;
        let device = model.model.device();
        let ids = |tokens: &[u32]| {
            let data: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
            Tensor::<2, Int>::from_data(TensorData::new(data, [1, tokens.len()]), &device)
        };
        let first_missing = at;
        for &end in ends.iter().filter(|&&end| end > first_missing) {
            let _ = model.forward_step_last(ids(&prompt[at..end]), None, &mut cache);
            self.insert(prompt[..end].to_vec(), &cache);
            at = end;
        }
        let logits = model.forward_step_last(ids(&prompt[at..]), None, &mut cache);
        Ok((cache, logits))
    }

    fn insert(&mut self, prefix: Vec<u32>, cache: &KvCache) {
        let bytes = cache.bytes();
        if bytes > self.capacity_bytes {
            return;
        }
        while self.bytes + bytes > self.capacity_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
        self.bytes += bytes;
        let entry = Entry {
            cache: cache.clone(),
            bytes,
            used: self.clock,
        };
        if let Some(old) = self.entries.insert(prefix, entry) {
            self.bytes -= old.bytes;
        }
    }
}
