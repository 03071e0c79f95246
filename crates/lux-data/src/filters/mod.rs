//! Filters, one per file.
