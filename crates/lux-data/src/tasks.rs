//! The task registry.
