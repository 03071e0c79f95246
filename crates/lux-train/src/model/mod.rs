//! burn models (being written).
