//! lux-plugins
