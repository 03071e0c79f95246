//! What the fuzz targets share: a scratch directory for parsers that only read paths, and a
//! way to cut one input into the several files a format needs.
//!
//! Parsers that take bytes or text (`parse_po`, `parse_object`, `to_plain_text`…) are fed
//! directly; the others are fed through real files, because the path-taking function is the
//! one users call and it is what must not panic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};

/// The largest single allocation a parser may make while fuzzed: 256 MiB.
///
/// No input here is larger than 64 KiB, so a parser asking for more than this has believed a
/// size the input claims (a tensor of 100 GB, a million-row table) instead of checking it
/// against the file. Built with `--sanitizer none`, libFuzzer's own `-malloc_limit_mb` is not
/// enforced (it needs a sanitizer's allocator hooks), so this allocator is the check: it
/// aborts, and libFuzzer saves the input as a crash.
pub const MAX_ALLOCATION: usize = 256 << 20;

/// The system allocator, refusing any single allocation over [`MAX_ALLOCATION`].
pub struct CappedAllocator;

// SAFETY: every call is forwarded unchanged to the system allocator; the cap only aborts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: the caller's contract is forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn check(size: usize) {
    if size > MAX_ALLOCATION {
        // No allocation here: the message is static, and abort does not unwind.
        const MESSAGE: &[u8] = b"lux-fuzz: a single allocation over 256 MiB (an unchecked size)\n";
        use std::io::Write;
        let _ = std::io::stderr().write_all(MESSAGE);
        std::process::abort();
    }
}

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

/// A directory private to this fuzzing process (on `/dev/shm` when there is one, so that
/// writing an input per execution costs no disk I/O); emptied and recreated on every call.
pub fn scratch_dir() -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("lux-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

/// Writes `bytes` to `dir/name` (creating parent directories) and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the scratch directory can be created");
    }
    std::fs::write(&path, bytes).expect("the scratch file can be written");
    path
}

/// The byte that separates the files of a multi-file input. 0xFF never occurs in UTF-8, so
/// text formats cannot need it; binary parts simply never contain one.
pub const SEPARATOR: u8 = 0xFF;

/// Cuts `data` at its first `n - 1` [`SEPARATOR`]s into exactly `n` parts (missing parts are
/// empty, the last part keeps any further separators).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.iter().position(|&b| b == SEPARATOR) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// The language most sources are read as.
pub fn lb() -> lux_core::Lang {
    lux_core::Lang::new("lb").expect("lb is a language code")
}

/// Drains a seed stream (bounded: a stream must end, and must end on its first error).
pub fn drain(stream: lux_core::Result<lux_core::plugin::source::SeedStream>) {
    if let Ok(stream) = stream {
        for item in stream.take(1_000_000) {
            if item.is_err() {
                break;
            }
        }
    }
}
