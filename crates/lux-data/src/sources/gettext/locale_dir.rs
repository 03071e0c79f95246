//! The `gettext_locale_dir` source: an installed locale tree, every domain the native
//! language has.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, IoContext, Lang, Parallel, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};

use super::{english, gettext_name, read_catalogue, unknown_license};
use crate::catalogue::{CatalogueBuilder, CatalogueCleaning, CleaningReport, source_langs};

/// An installed gettext locale tree: `{root}/{lang}/LC_MESSAGES/{domain}.mo` (or `.po`).
///
/// ```toml
/// [[data.sources]]
/// type = "gettext_locale_dir"
/// root = "packages/debian/gettext/usr/share/locale"
/// langs = ["en", "lb", "de", "fr"]
/// license = "GPL-2.0-or-later"
/// licenses = { geonames = "GPL-3.0-only" }
/// ```
///
/// Every domain that the native language has is read in every language of `langs` that has
/// it (a language directory is `{lang}` as written, or with `_` for `-`: `pt_BR`). When a
/// domain has both a `.po` and a `.mo`, the `.po` is read. A group's id is
/// `domain/msgid` or `domain/msgctxt/msgid`; with `recursive`, every directory under `root`
/// that has `{native}/LC_MESSAGES/` is a locale tree and ids start with its path relative to
/// `root` (`django/contrib/admin/locale/django/…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GettextLocaleDir {
    /// The locale directory (`/usr/share/locale`).
    pub root: PathBuf,
    /// Languages to read; the source language's text is the msgid. Default: the run's (see
    /// `catalogue::source_langs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<Lang>,
    /// Only these domains (file stems); all the native language has when absent.
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// Find every locale tree under `root` instead of reading `root` alone.
    #[serde(default)]
    pub recursive: bool,
    /// The language the msgids are written in.
    #[serde(default = "english")]
    pub source_lang: Lang,
    /// The native language: its domains are read, and groups without it are dropped. Default:
    /// the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Lang>,
    /// The source name in provenance.
    #[serde(default = "gettext_name")]
    pub source: String,
    /// SPDX license expression of the translations.
    #[serde(default = "unknown_license")]
    pub license: String,
    /// Per-domain licenses that override `license` (`{ geonames = "GPL-3.0-only" }`).
    #[serde(default)]
    pub licenses: BTreeMap<String, String>,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

/// The directory of `lang` under a locale tree, if there is one.
fn lang_dir(locale: &Path, lang: &Lang) -> Option<PathBuf> {
    let code = lang.code();
    [code.to_string(), code.replace('-', "_")]
        .into_iter()
        .map(|name| locale.join(name).join("LC_MESSAGES"))
        .find(|p| p.is_dir())
}

/// `domain → file` in one `LC_MESSAGES` directory (`.po` preferred over `.mo`).
fn domains_in(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for entry in fs::read_dir(dir).with_path(dir)? {
        let path = entry.with_path(dir)?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if !matches!(ext, "po" | "mo") || !path.is_file() {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let slot = out.entry(stem.to_string()).or_insert_with(|| path.clone());
        if ext == "po" {
            *slot = path;
        }
    }
    Ok(out)
}

/// Directories under `root` (itself included) that have `{native}/LC_MESSAGES`, sorted.
fn locale_trees(root: &Path, native: &Lang) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if lang_dir(&dir, native).is_some() {
            found.push(dir.clone());
        }
        for entry in fs::read_dir(&dir).with_path(&dir)? {
            let entry = entry.with_path(&dir)?;
            let ty = entry.file_type().with_path(entry.path())?;
            if ty.is_dir() && entry.file_name() != "LC_MESSAGES" {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl GettextLocaleDir {
    /// Reads, aligns and cleans every domain of the tree(s).
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        let (native, wanted) = source_langs(self.native.as_ref(), &self.langs, ctx)?;
        let root = ctx.resolve(&self.root);
        if !root.is_dir() {
            return Err(Error::io(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "locale directory not found"),
            ));
        }
        let trees = if self.recursive {
            locale_trees(&root, &native)?
        } else {
            vec![root.clone()]
        };
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(native.clone(), provenance);
        for tree in &trees {
            let prefix = match tree.strip_prefix(&root) {
                Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", slash_path(rel)),
                _ => String::new(),
            };
            let Some(native_dir) = lang_dir(tree, &native) else {
                if self.recursive {
                    continue;
                }
                return Err(Error::io(
                    tree.join(native.code()).join("LC_MESSAGES"),
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the native language has no LC_MESSAGES directory",
                    ),
                ));
            };
            let mut domains: Vec<String> = domains_in(&native_dir)?.into_keys().collect();
            if let Some(only) = &self.domains {
                domains.retain(|d| only.contains(d));
            }
            // Read the native language first so that origins name its files.
            let mut langs: Vec<&Lang> = vec![&native];
            langs.extend(wanted.iter().filter(|l| **l != native));
            for lang in langs {
                if *lang == self.source_lang {
                    continue;
                }
                let Some(dir) = lang_dir(tree, lang) else {
                    continue;
                };
                let files = domains_in(&dir)?;
                for domain in &domains {
                    let Some(file) = files.get(domain) else {
                        continue;
                    };
                    let catalogue = read_catalogue(file)?;
                    let origin = file.strip_prefix(&root).map(slash_path).unwrap_or_default();
                    for e in &catalogue.entries {
                        let Some(text) = e.translation() else {
                            continue;
                        };
                        let key = format!("{prefix}{domain}/{}", e.key());
                        if wanted.contains(&self.source_lang) {
                            b.insert(&key, &self.source_lang, &e.msgid);
                        }
                        b.insert(&key, lang, text);
                        if *lang == native {
                            b.set_origin(&key, origin.clone());
                            if let Some(l) = self.licenses.get(domain) {
                                b.set_license(&key, l.clone());
                            }
                        }
                    }
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, "gettext_locale_dir: {report}");
        Ok((groups, report))
    }
}

#[typetag::serde(name = "gettext_locale_dir")]
impl SeedSource for GettextLocaleDir {
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
    fn locale_dir_reads_every_native_domain() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("locale");
        write(&root, "lb/LC_MESSAGES/app.po", LB_PO.as_bytes());
        write(
            &root,
            "lb/LC_MESSAGES/geo.mo",
            &mo_bytes(&[(b"Luxembourg", b"L\xc3\xabtzebuerg")], false),
        );
        write(
            &root,
            "de/LC_MESSAGES/app.mo",
            &mo_bytes(&[(b"menu\x04Open", "Öffnen".as_bytes())], false),
        );
        write(
            &root,
            "de/LC_MESSAGES/geo.po",
            "msgid \"Luxembourg\"\nmsgstr \"Luxemburg\"\n".as_bytes(),
        );
        write(
            &root,
            "de/LC_MESSAGES/other.mo",
            &mo_bytes(&[(b"Other", b"Andere")], false),
        );
        write(
            &root,
            "pt_BR/LC_MESSAGES/geo.mo",
            &mo_bytes(&[(b"Luxembourg", b"Luxemburgo")], false),
        );
        let recipe = r#"
            type = "gettext_locale_dir"
            root = "locale"
            langs = ["en", "lb", "de", "pt-BR"]
            license = "GPL-2.0-or-later"
            licenses = { geo = "GPL-3.0-only" }
        "#;
        let source: Box<dyn SeedSource> = toml::from_str(recipe).unwrap();
        let ctx = SourceContext::new(dir.path());
        let groups: Vec<Parallel> = source
            .open(&ctx)
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Parallel(p) => p,
                other => panic!("{other:?}"),
            })
            .collect();
        let by_id: BTreeMap<&str, &Parallel> = groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let geo = by_id["geo/Luxembourg"];
        assert_eq!(geo.get(&Lang::LB), Some("Lëtzebuerg"));
        assert_eq!(geo.get(&Lang::DE), Some("Luxemburg"));
        assert_eq!(geo.get(&Lang::new("pt-BR").unwrap()), Some("Luxemburgo"));
        assert_eq!(geo.provenance.license, "GPL-3.0-only");
        assert_eq!(
            geo.provenance.origin.as_deref(),
            Some("lb/LC_MESSAGES/geo.mo")
        );
        assert_eq!(by_id["app/menu/Open"].get(&Lang::DE), Some("Öffnen"));
        assert_eq!(
            by_id["app/menu/Open"].provenance.license,
            "GPL-2.0-or-later"
        );
        assert!(!by_id.keys().any(|k| k.starts_with("other/")));

        let only: Box<dyn SeedSource> =
            toml::from_str("type = \"gettext_locale_dir\"\nroot = \"locale\"\ndomains = [\"geo\"]")
                .unwrap();
        let n = only.open(&ctx).unwrap().count();
        assert_eq!(n, 1);
    }

    #[test]
    fn locale_dir_recursive_prefixes_ids() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("django");
        write(
            &root,
            "conf/locale/lb/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Yes", b"Jo")], false),
        );
        write(
            &root,
            "conf/locale/fr/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Yes", b"Oui")], false),
        );
        write(
            &root,
            "contrib/admin/locale/lb/LC_MESSAGES/django.mo",
            &mo_bytes(&[(b"Log out", b"Ofmellen")], false),
        );
        let s = GettextLocaleDir {
            root: root.clone(),
            langs: vec![Lang::EN, Lang::LB, Lang::DE, Lang::FR],
            domains: None,
            recursive: true,
            source_lang: Lang::EN,
            native: Some(Lang::LB),
            source: "django".into(),
            license: "BSD-3-Clause".into(),
            licenses: BTreeMap::new(),
            cleaning: CatalogueCleaning::default(),
        };
        let (groups, report) = s.load(&SourceContext::new(dir.path())).unwrap();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "conf/locale/django/Yes",
                "contrib/admin/locale/django/Log out"
            ]
        );
        assert_eq!(report.texts.get(&Lang::LB), Some(&2));
        // Not recursive: the root has no lb directory.
        let flat = GettextLocaleDir {
            recursive: false,
            ..s
        };
        let e = flat
            .load(&SourceContext::new(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("LC_MESSAGES"), "{e}");
        let bad = GettextLocaleDir {
            langs: vec![Lang::EN],
            ..flat
        };
        assert!(bad.load(&SourceContext::new(dir.path())).is_err());
    }
}
