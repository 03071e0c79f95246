//! lux-eval
