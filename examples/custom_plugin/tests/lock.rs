//! This crate's `Cargo.lock` pins what lux's pins: with the same versions (and the profiles and
//! features in Cargo.toml), a build in lux's target directory reuses lux's compiled
//! dependencies instead of building burn again, and the plugins run on the versions lux is
//! tested with.

use std::collections::BTreeSet;
use std::path::Path;

/// `(name, version)` of every registry package of a lock file.
fn registry_packages(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lock: toml::Table = toml::from_str(&text).unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("source").is_some())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_locked_version_is_luxs() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = registry_packages(&here.join("Cargo.lock"));
    let luxs = registry_packages(&here.join("../../Cargo.lock"));
    assert!(
        ours.iter().any(|(n, _)| n == "burn"),
        "no burn in the lock file"
    );
    let differ: Vec<_> = ours.difference(&luxs).collect();
    assert!(
        differ.is_empty(),
        "versions lux's Cargo.lock does not have: {differ:?}; \
         refresh with `cp ../../Cargo.lock . && cargo build --offline`"
    );
}
