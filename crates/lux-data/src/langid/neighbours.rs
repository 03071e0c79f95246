//! The language-id neighbours table (`tables/langid_neighbours.toml`): for each native
//! language, the close languages its identifier must tell it from (Faroese from Icelandic,
//! Danish and Norwegian; Luxembourgish from German, Dutch and French).

use std::sync::OnceLock;

use lux_core::Lang;
use lux_core::lang_table::LangTable;

fn table() -> &'static LangTable<Vec<Lang>> {
    static TABLE: OnceLock<LangTable<Vec<Lang>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        LangTable::from_toml(
            "langid_neighbours",
            "lux-data/tables/langid_neighbours.toml",
            include_str!("../../tables/langid_neighbours.toml"),
        )
        // Embedded at build time and checked by this module's tests.
        .expect("the embedded language-id neighbours table parses")
    })
}

/// The close neighbours of `native`, nearest first; none (logged once) for a language the
/// table lacks.
pub fn neighbours(native: &Lang) -> Vec<Lang> {
    table().get_or_fallback(native).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_other_languages_and_a_new_one_gets_none() {
        let fo = Lang::new("fo").unwrap();
        let is = Lang::new("is").unwrap();
        assert_eq!(neighbours(&fo)[0], is);
        assert!(neighbours(&Lang::LB).contains(&Lang::DE));
        assert!(neighbours(&Lang::new("qaa").unwrap()).is_empty());
        for (code, list) in table().iter() {
            assert!(!list.is_empty(), "{code}");
            assert!(list.iter().all(|l| l.code() != code), "{code} lists itself");
        }
    }
}
