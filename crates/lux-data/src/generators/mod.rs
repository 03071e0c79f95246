//! Offline instruction generators, one per file.
