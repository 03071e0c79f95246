//! [`keep_freed_memory`]: stop glibc's `malloc` from handing every large freed block back to
//! the kernel, which made each CPU forward pass page-fault its activations in again.
//!
//! burn allocates a fresh buffer for every op's output. At SmolLM2's shape an MLP activation of
//! 8 × 128 tokens is 6.3 MB; glibc serves blocks that large with `mmap` (or trims them off the
//! top of the heap) and returns them with `munmap` on free, so the next op's buffer is new
//! memory: ≈ 1 500 page faults and 6 MB zeroed by the kernel per matmul. Raising the `mmap` and
//! trim thresholds keeps freed blocks in the process for reuse: the 8 × 128 hidden-state
//! forward went from 1.57 s to 1.27 s on the project's 2-core machine (`benches/forward.rs`).
//!
//! It changes process-wide allocator settings, so the library never calls it on its own: the
//! `lux` binary, the examples and the benches call it first thing in `main`; a program of your
//! own can do the same, or set `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824`.
//! The cost is memory: up to the trim threshold of freed memory stays mapped.

/// Largest block glibc may serve from the heap instead of `mmap` (its ceiling on 64-bit).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Free memory kept at the top of the heap before glibc trims it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 1 << 30;

/// Raises glibc's `mmap` threshold to 32 MiB and its trim threshold to 1 GiB, so that tensor
/// buffers freed by one op are reused by the next instead of going back to the kernel.
///
/// Returns whether the settings were applied: `false` off glibc (musl, macOS, Windows), where
/// it does nothing.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes glibc's tuning parameters; it is safe to call at any
        // time, from any thread.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn applies_on_glibc() {
        assert!(super::keep_freed_memory());
    }
}
