//! The `gettext` source: one program's catalogues, one file per language.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lux_core::{
    Error, Lang, Parallel, Provenance, Result, Seed, SeedSource, SeedStream, SourceContext,
};
use serde::{Deserialize, Serialize};

use super::{english, gettext_name, luxembourgish, read_catalogue, unknown_license};
use crate::catalogue::{CatalogueBuilder, CatalogueCleaning, CleaningReport};

/// Gettext catalogues of one program, one file per language, aligned by msgid.
///
/// ```toml
/// [[data.sources]]
/// type = "gettext"
/// files = { lb = "po/lb.po", de = "po/de.po", fr = "locale/fr/LC_MESSAGES/app.mo" }
/// license = "GPL-2.0-or-later"
/// ```
///
/// Each file is `.po` or `.mo` (told apart by content). The msgid is the `source_lang` text; a
/// group's id is the entry key (`msgid`, or `msgctxt/msgid`), and its origin the native file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GettextCatalogue {
    /// One `.po` or `.mo` file per translated language (not the source language).
    pub files: BTreeMap<Lang, PathBuf>,
    /// The language the msgids are written in.
    #[serde(default = "english")]
    pub source_lang: Lang,
    /// The native language: groups without it are dropped.
    #[serde(default = "luxembourgish")]
    pub native: Lang,
    /// The source name in provenance.
    #[serde(default = "gettext_name")]
    pub source: String,
    /// SPDX license expression of the translations.
    #[serde(default = "unknown_license")]
    pub license: String,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

impl GettextCatalogue {
    /// Reads, aligns and cleans the catalogues.
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        if self.files.contains_key(&self.source_lang) {
            return Err(Error::invalid(
                "files",
                format!(
                    "names the source language `{}`: its text is the msgid",
                    self.source_lang
                ),
            ));
        }
        if self.native != self.source_lang && !self.files.contains_key(&self.native) {
            return Err(Error::invalid(
                "files",
                format!("has no file for the native language `{}`", self.native),
            ));
        }
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(self.native.clone(), provenance);
        for (lang, file) in &self.files {
            let path = ctx.resolve(file);
            let catalogue = read_catalogue(&path)?;
            for e in &catalogue.entries {
                let Some(text) = e.translation() else {
                    continue;
                };
                let key = e.key();
                b.insert(&key, &self.source_lang, &e.msgid);
                b.insert(&key, lang, text);
                if *lang == self.native {
                    b.set_origin(&key, file.display().to_string());
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, "gettext: {report}");
        Ok((groups, report))
    }
}

#[typetag::serde(name = "gettext")]
impl SeedSource for GettextCatalogue {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let (groups, _) = self.load(ctx)?;
        Ok(Box::new(groups.into_iter().map(|g| Ok(Seed::Parallel(g)))))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::gettext::test_support::*;

    #[test]
    fn gettext_source_aligns_by_msgid_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "po/lb.po", LB_PO.as_bytes());
        write(
            dir.path(),
            "mo/fr.mo",
            &sample_mo(true, "UTF-8", "_Ouvrir le fichier".as_bytes()),
        );
        let de = "msgid \"_Open File\"\nmsgstr \"Datei ö_ffnen\"\n\nmsgctxt \"menu\"\nmsgid \"Open\"\nmsgstr \"Öffnen\"\n";
        write(dir.path(), "po/de.po", de.as_bytes());
        let recipe = r#"
            type = "gettext"
            files = { lb = "po/lb.po", de = "po/de.po", fr = "mo/fr.mo" }
            license = "GPL-2.0-or-later"
        "#;
        let source: Box<dyn SeedSource> = toml::from_str(recipe).unwrap();
        assert_eq!(source.name(), "gettext");
        let ctx = SourceContext::new(dir.path());
        let seeds: Vec<Seed> = source.open(&ctx).unwrap().collect::<Result<_>>().unwrap();
        let groups: Vec<&Parallel> = seeds
            .iter()
            .map(|s| match s {
                Seed::Parallel(p) => p,
                other => panic!("not parallel: {other:?}"),
            })
            .collect();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "%d file",
                "A long message on two lines",
                "Delete %s?",
                "_Open File",
                "menu/Open"
            ]
        );
        let open = groups[3];
        assert_eq!(open.get(&Lang::EN), Some("Open File"));
        assert_eq!(open.get(&Lang::LB), Some("Fichier opmaachen"));
        assert_eq!(open.get(&Lang::DE), Some("Datei öffnen"));
        assert_eq!(open.get(&Lang::FR), Some("Ouvrir le fichier"));
        assert_eq!(open.provenance.license, "GPL-2.0-or-later");
        assert_eq!(open.provenance.source, "gettext");
        assert_eq!(open.provenance.origin.as_deref(), Some("po/lb.po"));
        assert_eq!(groups[0].get(&Lang::LB), Some("{1} Fichier"));
        assert_eq!(groups[0].get(&Lang::FR), Some("{1} fichier"));
        assert_eq!(groups[2].get(&Lang::LB), Some("{1} läschen?"));
        // Deterministic: a second open gives the same items.
        let again: Vec<Seed> = source.open(&ctx).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(again, seeds);
        // Fuzzy "Close" never appears.
        assert!(
            groups
                .iter()
                .all(|g| g.get(&Lang::LB) != Some("Zoumaachen"))
        );
    }

    #[test]
    fn gettext_source_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = SourceContext::new(dir.path());
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { de = \"de.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("native language `lb`")
        );
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { en = \"en.po\", lb = \"lb.po\" }")
                .unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("source language")
        );
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { lb = \"missing.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("missing.po")
        );
        write(dir.path(), "broken.po", b"msgid \"a\"\nmsgstr \"b\n");
        let s: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext\"\nfiles = { lb = \"broken.po\" }").unwrap();
        assert!(
            s.open(&ctx)
                .err()
                .unwrap()
                .to_string()
                .contains("broken.po:line 2")
        );
        assert!(
            toml::from_str::<Box<dyn SeedSource>>("type = \"gettext\"\nfiles = {}\nbogus = 1")
                .is_err()
        );
    }
}
