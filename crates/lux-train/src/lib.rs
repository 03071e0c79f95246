//! lux-train
