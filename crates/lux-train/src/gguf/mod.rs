//! GGUF reading and dequantisation (being written).
