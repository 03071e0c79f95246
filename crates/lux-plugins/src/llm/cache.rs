//! [`Cache`]: a content-addressed on-disk store of answers, so that a rerun, or a resumed
//! run, repeats no completed call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use lux_core::{ChatRequest, ChatResponse};
use serde::{Deserialize, Serialize};

use super::ChatService;
use crate::LlmError;

/// A cache entry could not be read (permissions, a directory in the way). A missing entry is
/// a miss, and a damaged one (checksum mismatch, cut short, hand-edited, of an older lux) is
/// a miss that is reported and rewritten: neither is an error.
#[derive(Debug, thiserror::Error)]
#[error("reading LLM cache entry {}: {source}", path.display())]
pub struct CacheError {
    /// The entry's file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Counts of what the cache did.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    write_errors: AtomicU64,
    unreadable: AtomicU64,
}

impl CacheStats {
    /// Requests answered from disk.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
    /// Requests passed on.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
    /// Answers stored.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
    /// Answers that could not be stored (logged; the answer was still returned).
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
    /// Entries found damaged or unreadable and treated as misses (never loaded).
    pub fn unreadable(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }
}

/// 2: entries are checksummed records (version 1 entries had no checksum; they are asked
/// again and rewritten).
const VERSION: u32 = 2;

/// One file of the cache: `<dir>/<key[0..2]>/<key>.json`, a checksummed record
/// ([`lux_core::checksum`]) so that an answer changed on disk is detected, not returned.
#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    key: String,
    /// Server, model and wire options (never the API key).
    namespace: String,
    request: ChatRequest,
    response: ChatResponse,
}

/// The cache key of `request` in `namespace`: the SHA-256, in hex, of the namespace (server
/// URL, model, wire options) and the request's canonical JSON (messages and every sampling
/// parameter). The API key is in neither.
pub fn cache_key(namespace: &str, request: &ChatRequest) -> String {
    let json = serde_json::to_string(request).unwrap_or_default();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(namespace.as_bytes());
    ctx.update(b"\n");
    ctx.update(json.as_bytes());
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Answers requests seen before from `dir`; passes the others on and stores their answers,
/// one file per entry, written atomically (temporary file, fsync, rename), so a process
/// killed at any moment leaves whole entries only. Each entry carries a CRC-32 of its
/// content: one damaged afterwards (disk, copy, hand edit) is logged with its file and asked
/// again, never returned. Failed requests are not stored.
///
/// Concurrent identical requests are sent once: the others wait for the first and read its
/// answer. Entries hold the request and the answer (readable JSON, for audits), never the key.
#[derive(Debug)]
pub struct Cache<S> {
    inner: S,
    dir: PathBuf,
    namespace: String,
    stats: Arc<CacheStats>,
    pending: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl<S> Cache<S> {
    /// Wraps `inner` with a cache in `dir` (created on the first write); `namespace`
    /// separates servers, models and wire options that share a directory.
    pub fn new(inner: S, dir: impl Into<PathBuf>, namespace: impl Into<String>) -> Cache<S> {
        Cache {
            inner,
            dir: dir.into(),
            namespace: namespace.into(),
            stats: Arc::default(),
            pending: Mutex::default(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an answer to `request` is stored in.
    pub fn entry_path(&self, request: &ChatRequest) -> PathBuf {
        self.path_of(&cache_key(&self.namespace, request))
    }

    /// A live view of the counts.
    pub fn stats(&self) -> Arc<CacheStats> {
        Arc::clone(&self.stats)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = pending.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        if pending.len() > 4096 {
            pending.retain(|_, w| w.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        pending.insert(key.to_string(), Arc::downgrade(&lock));
        lock
    }

    async fn lookup(&self, key: &str, path: &Path) -> Result<Option<ChatResponse>, CacheError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => match lux_core::checksum::unseal_value::<Entry>(&bytes) {
                Ok(e) if e.version == VERSION && e.key == key => Ok(Some(e.response)),
                Ok(_) => {
                    tracing::warn!(
                        "{}: cache entry of another key or version; ignored",
                        path.display()
                    );
                    self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
                    Ok(None)
                }
                Err(e) => {
                    tracing::warn!(
                        "{}: damaged cache entry ({e}); not used, asking again",
                        path.display()
                    );
                    self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
                    Ok(None)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CacheError {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    async fn store(
        &self,
        key: String,
        path: PathBuf,
        request: &ChatRequest,
        response: &ChatResponse,
    ) {
        let entry = Entry {
            version: VERSION,
            key,
            namespace: self.namespace.clone(),
            request: request.clone(),
            response: response.clone(),
        };
        let written = match lux_core::checksum::seal_value(&entry) {
            Ok(bytes) => {
                let p = path.clone();
                tokio::task::spawn_blocking(move || lux_core::fs::write_atomic(&p, &bytes))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(()) => {
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "could not store an LLM answer in the cache ({e}); a rerun will ask again"
                );
            }
        }
    }
}

#[async_trait]
impl<S: ChatService> ChatService for Cache<S> {
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let key = cache_key(&self.namespace, request);
        let path = self.path_of(&key);
        if let Some(hit) = self.lookup(&key, &path).await? {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        // One request per key at a time; a waiter finds the first one's answer on disk.
        let lock = self.lock_for(&key);
        let _guard = lock.lock().await;
        if let Some(hit) = self.lookup(&key, &path).await? {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let response = self.inner.call(request).await?;
        self.store(key, path, request, &response).await;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use lux_core::{ChatChoice, ChatMessage, Usage};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting(AtomicU64);

    #[async_trait]
    impl ChatService for Counting {
        async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(ChatResponse {
                choices: vec![ChatChoice {
                    content: request.messages[0].content.to_uppercase(),
                    finish_reason: None,
                    logprobs: None,
                }],
                usage: Usage::default(),
                model: "m".into(),
            })
        }
    }

    #[test]
    fn key_covers_every_parameter() {
        let a = ChatRequest::new(vec![ChatMessage::user("x")]);
        let mut b = a.clone();
        b.temperature = Some(0.0);
        assert_ne!(cache_key("ns", &a), cache_key("ns", &b));
        assert_ne!(cache_key("ns", &a), cache_key("other", &a));
        assert_eq!(cache_key("ns", &a), cache_key("ns", &a.clone()));
        assert_eq!(cache_key("ns", &a).len(), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hits_survive_a_new_cache_and_concurrent_twins_ask_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Counting::default(), dir.path(), "ns");
        let req = ChatRequest::new(vec![ChatMessage::user("moien")]);
        let (a, b) = tokio::join!(cache.call(&req), cache.call(&req));
        assert_eq!(a.unwrap().choices[0].content, "MOIEN");
        assert_eq!(b.unwrap().choices[0].content, "MOIEN");
        assert_eq!(cache.get_ref().0.load(Ordering::SeqCst), 1);
        assert!(cache.entry_path(&req).exists());

        let again = Cache::new(Counting::default(), dir.path(), "ns");
        assert_eq!(again.call(&req).await.unwrap().choices[0].content, "MOIEN");
        assert_eq!(again.get_ref().0.load(Ordering::SeqCst), 0);
        assert_eq!(again.stats().hits(), 1);

        // A damaged entry is a miss, and is rewritten.
        std::fs::write(again.entry_path(&req), b"{\"version\":1,").unwrap();
        assert_eq!(again.call(&req).await.unwrap().choices[0].content, "MOIEN");
        assert_eq!(again.get_ref().0.load(Ordering::SeqCst), 1);
        assert!(again.stats().unreadable() >= 1);
        assert_eq!(again.call(&req).await.unwrap().choices[0].content, "MOIEN");
        assert_eq!(again.get_ref().0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_changed_on_disk_is_detected_and_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Counting::default(), dir.path(), "ns");
        let req = ChatRequest::new(vec![ChatMessage::user("moien")]);
        cache.call(&req).await.unwrap();
        let path = cache.entry_path(&req);
        // Still valid JSON, still the right key and version: only the checksum tells.
        let text = std::fs::read_to_string(&path).unwrap();
        let forged = text.replacen("\"MOIEN\"", "\"MOIEN!\"", 1);
        assert_ne!(forged, text);
        serde_json::from_str::<serde_json::Value>(&forged).unwrap();
        std::fs::write(&path, forged).unwrap();

        let again = Cache::new(Counting::default(), dir.path(), "ns");
        assert_eq!(again.call(&req).await.unwrap().choices[0].content, "MOIEN");
        assert_eq!(
            again.get_ref().0.load(Ordering::SeqCst),
            1,
            "not recomputed"
        );
        assert!(again.stats().unreadable() >= 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text,
            "not rewritten"
        );

        // An entry of the previous format (no checksum) is not trusted either.
        let v1 = serde_json::from_str::<serde_json::Value>(&text).unwrap()["data"].clone();
        std::fs::write(&path, v1.to_string()).unwrap();
        let third = Cache::new(Counting::default(), dir.path(), "ns");
        third.call(&req).await.unwrap();
        assert_eq!(third.get_ref().0.load(Ordering::SeqCst), 1);
    }
}
