//! Catalogue alignment and normalisation (being written).
