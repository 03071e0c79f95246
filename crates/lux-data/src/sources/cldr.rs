//! Unicode CLDR data as published on npm (`cldr-localenames-full`, `cldr-dates-full`,
//! `cldr-units-full`, `cldr-misc-full`, `cldr-annotations-full`): language, territory and
//! script names, month and day names, unit patterns, emoji names, all keyed alike in every
//! locale.
//!
//! A package holds `{pkg}/main/{lang}/*.json` (`{"main": {"lb": {…}}}`) or, for annotations,
//! `{pkg}/annotations/{lang}/annotations.json` (`{"annotations": {"annotations": {"👍":
//! {"default": […], "tts": […]}}}}`). [`Cldr`] strips the wrapper and the language segment
//! and flattens the rest with dots, so `main.lb.localeDisplayNames.languages.de` and
//! `main.fr.localeDisplayNames.languages.de` both become the key
//! `cldr-localenames-full/localeDisplayNames.languages.de`.
//!
//! A list of strings becomes one text joined with ` | `. For emoji that gives two texts per
//! emoji: `annotations.👍.tts` (its name, a single string: "Daum no uewen") and
//! `annotations.👍.default` (its search keywords: "Daum | no uewen | +1"); keyword lists are not
//! translations of one another term by term, so they are read only with `keywords = true`.
//!
//! Patterns and data that are not language (`dateFormats`, `availableFormats`, exemplar
//! character sets, `posix`, `layout`…) are skipped by path segment; see [`Cldr::skip`].
//! CLDR's `{0}`, `{1}` placeholders are 0-based and become `{1}`, `{2}` (see
//! [`crate::catalogue`]).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use lux_core::{
    Error, IoContext, Lang, Parallel, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::{CatalogueBuilder, CatalogueCleaning, CleaningReport, source_langs};

fn default_packages() -> Vec<String> {
    [
        "cldr-localenames-full",
        "cldr-dates-full",
        "cldr-units-full",
        "cldr-misc-full",
        "cldr-annotations-full",
    ]
    .map(String::from)
    .to_vec()
}
fn default_skip() -> Vec<String> {
    [
        "identity",
        "dateFormats",
        "timeFormats",
        "dateTimeFormats",
        "dateTimeFormats-atTime",
        "dateTimeFormats-relative",
        "dateSkeletons",
        "timeSkeletons",
        "availableFormats",
        "intervalFormats",
        "appendItems",
        "hourFormat",
        "gmtFormat",
        "gmtZeroFormat",
        "gmtUnknownFormat",
        "fallbackFormat",
        "characters",
        "delimiters",
        "layout",
        "posix",
        "localeDisplayPattern",
    ]
    .map(String::from)
    .to_vec()
}
fn cldr_name() -> String {
    "cldr".to_string()
}
fn unicode_license() -> String {
    "Unicode-3.0".to_string()
}

/// Unicode CLDR JSON packages, aligned by path across locales.
///
/// ```toml
/// [[data.sources]]
/// type = "cldr"
/// root = "packages/npm"   # holds cldr-localenames-full/, cldr-dates-full/, …
/// ```
///
/// A group's id is `{package}/{path}`; its origin the native file, relative to `root`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cldr {
    /// The directory holding the unpacked packages (`{root}/{package}/main/…`).
    pub root: PathBuf,
    /// Locales to read, as CLDR names them (`lb`, `de`, `pt-PT`). Default: the run's
    /// languages (see `catalogue::source_langs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<Lang>,
    /// The native language: groups without it are dropped. Default: the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<Lang>,
    /// Packages to read.
    #[serde(default = "default_packages")]
    pub packages: Vec<String>,
    /// Path segments whose subtrees are skipped (format patterns, character sets).
    #[serde(default = "default_skip")]
    pub skip: Vec<String>,
    /// Also read emoji keyword lists (`annotations.👍.default`), joined with ` | `.
    #[serde(default)]
    pub keywords: bool,
    /// The source name in provenance.
    #[serde(default = "cldr_name")]
    pub source: String,
    /// SPDX license expression of the data.
    #[serde(default = "unicode_license")]
    pub license: String,
    /// Cleaning steps (all on by default).
    #[serde(default)]
    pub cleaning: CatalogueCleaning,
}

/// The data directories a package may have, and the top-level key of their files.
const SECTIONS: &[&str] = &["main", "annotations", "annotationsDerived"];

impl Cldr {
    /// Reads, aligns and cleans the packages.
    pub fn load(&self, ctx: &SourceContext) -> Result<(Vec<Parallel>, CleaningReport)> {
        let (native, langs) = source_langs(self.native.as_ref(), &self.langs, ctx)?;
        let root = ctx.resolve(&self.root);
        let provenance = Provenance::new(&self.source, &self.license);
        let mut b = CatalogueBuilder::new(native.clone(), provenance);
        for pkg in &self.packages {
            let pkg_dir = root.join(pkg);
            if !pkg_dir.is_dir() {
                return Err(Error::io(
                    &pkg_dir,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "CLDR package not found"),
                ));
            }
            for section in SECTIONS {
                let section_dir = pkg_dir.join(section);
                if !section_dir.is_dir() {
                    continue;
                }
                for lang in &langs {
                    let dir = section_dir.join(lang.code());
                    if !dir.is_dir() {
                        continue;
                    }
                    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
                        .with_path(&dir)?
                        .map(|e| e.map(|e| e.path()).with_path(&dir))
                        .collect::<Result<_>>()?;
                    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
                    files.sort();
                    for file in files {
                        let texts = self.read_file(&file, section, lang)?;
                        let origin = file
                            .strip_prefix(&root)
                            .unwrap_or(&file)
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy())
                            .collect::<Vec<_>>()
                            .join("/");
                        for (path, text) in texts {
                            let key = format!("{pkg}/{path}");
                            b.insert(&key, lang, &text);
                            if *lang == native {
                                b.set_origin(&key, origin.clone());
                            }
                        }
                    }
                }
            }
        }
        let (groups, report) = b.build(&self.cleaning);
        tracing::info!(source = %self.source, "cldr: {report}");
        Ok((groups, report))
    }

    /// One file's `path → text`, wrapper and language stripped.
    fn read_file(
        &self,
        path: &Path,
        section: &str,
        lang: &Lang,
    ) -> Result<BTreeMap<String, String>> {
        let text = fs::read_to_string(path).with_path(path)?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::at_line(path, e.line(), format!("invalid JSON: {e}")))?;
        let Value::Object(mut top) = value else {
            return Err(Error::at_line(path, 1, "expected a JSON object"));
        };
        let Some(Value::Object(mut body)) = top.remove(section) else {
            return Err(Error::parse(
                path,
                Some(format!("key \"{section}\"")),
                "missing or not an object",
            ));
        };
        if section == "main" {
            let key = body
                .keys()
                .find(|k| k.eq_ignore_ascii_case(lang.code()))
                .cloned();
            match key.and_then(|k| body.remove(&k)) {
                Some(Value::Object(inner)) => body = inner,
                _ => {
                    return Err(Error::parse(
                        path,
                        Some(format!("key \"main.{}\"", lang.code())),
                        "missing or not an object",
                    ));
                }
            }
        }
        let mut out = BTreeMap::new();
        for (k, v) in body {
            self.flatten(&k, v, &mut out);
        }
        Ok(out)
    }

    fn flatten(&self, path: &str, value: Value, out: &mut BTreeMap<String, String>) {
        let last = path.rsplit('.').next().unwrap_or(path);
        if self.skip.iter().any(|s| s == last) || last.starts_with('_') {
            return;
        }
        match value {
            Value::String(s) => {
                out.insert(path.to_string(), s);
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.flatten(&format!("{path}.{k}"), v, out);
                }
            }
            Value::Array(items) => {
                if last == "default" && !self.keywords {
                    return;
                }
                let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                if !strings.is_empty() {
                    out.insert(path.to_string(), strings.join(" | "));
                }
            }
            _ => {}
        }
    }
}

#[typetag::serde(name = "cldr")]
impl SeedSource for Cldr {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let (groups, _) = self.load(ctx)?;
        Ok(Box::new(groups.into_iter().map(|g| Ok(Seed::Parallel(g)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn names(lang: &str, de: &str, lu: &str, pattern: &str) -> String {
        format!(
            r#"{{"main": {{"{lang}": {{"identity": {{"language": "{lang}"}},
              "localeDisplayNames": {{"localeDisplayPattern": {{"localePattern": "{{0}} ({{1}})"}},
                "languages": {{"de": "{de}", "lb": "{lu}"}},
                "codePatterns": {{"language": "{pattern}"}}}}}}}}}}"#
        )
    }

    fn annotations(lang: &str, tts: &str, keywords: &str) -> String {
        format!(
            r#"{{"annotations": {{"identity": {{"language": "{lang}"}},
               "annotations": {{"👍": {{"default": [{keywords}], "tts": ["{tts}"]}}}}}}}}"#
        )
    }

    fn sample(d: &Path) {
        write(
            d,
            "npm/cldr-localenames-full/main/en/languages.json",
            &names("en", "German", "Luxembourgish", "Language: {0}"),
        );
        write(
            d,
            "npm/cldr-localenames-full/main/lb/languages.json",
            &names("lb", "Däitsch", "Lëtzebuergesch", "Sprooch: {0}"),
        );
        write(
            d,
            "npm/cldr-localenames-full/main/fr/languages.json",
            &names("fr", "allemand", "luxembourgeois", "langue : {0}"),
        );
        write(
            d,
            "npm/cldr-localenames-full/main/de/languages.json",
            &names("de", "Deutsch", "Luxemburgisch", "Sprache: {0}"),
        );
        write(
            d,
            "npm/cldr-annotations-full/annotations/en/annotations.json",
            &annotations("en", "thumbs up", r#""+1", "hand", "thumb""#),
        );
        write(
            d,
            "npm/cldr-annotations-full/annotations/lb/annotations.json",
            &annotations("lb", "Daum no uewen", r#""+1", "Hand", "Daum""#),
        );
    }

    fn cldr(keywords: bool) -> Cldr {
        Cldr {
            root: "npm".into(),
            langs: vec![Lang::EN, Lang::LB, Lang::DE, Lang::FR],
            native: Some(Lang::LB),
            packages: vec![
                "cldr-localenames-full".into(),
                "cldr-annotations-full".into(),
            ],
            skip: default_skip(),
            keywords,
            source: cldr_name(),
            license: unicode_license(),
            cleaning: CatalogueCleaning::default(),
        }
    }

    #[test]
    fn aligns_paths_across_locales_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path());
        let recipe = "type = \"cldr\"\nroot = \"npm\"\npackages = [\"cldr-localenames-full\", \"cldr-annotations-full\"]";
        let source: Box<dyn SeedSource> = toml::from_str(recipe).unwrap();
        let groups: Vec<Parallel> = source
            .open(&SourceContext::new(dir.path()))
            .unwrap()
            .map(|s| match s.unwrap() {
                Seed::Parallel(p) => p,
                other => panic!("{other:?}"),
            })
            .collect();
        let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "cldr-annotations-full/annotations.👍.tts",
                "cldr-localenames-full/localeDisplayNames.codePatterns.language",
                "cldr-localenames-full/localeDisplayNames.languages.de",
                "cldr-localenames-full/localeDisplayNames.languages.lb",
            ]
        );
        let de = &groups[2];
        assert_eq!(de.texts.len(), 4);
        assert_eq!(de.get(&Lang::LB), Some("Däitsch"));
        assert_eq!(de.get(&Lang::FR), Some("allemand"));
        assert_eq!(de.provenance.license, "Unicode-3.0");
        assert_eq!(
            de.provenance.origin.as_deref(),
            Some("cldr-localenames-full/main/lb/languages.json")
        );
        // 0-based CLDR placeholders become canonical 1-based ones.
        assert_eq!(groups[1].get(&Lang::LB), Some("Sprooch: {1}"));
        assert_eq!(groups[0].get(&Lang::EN), Some("thumbs up"));
    }

    #[test]
    fn keywords_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path());
        let (groups, report) = cldr(true).load(&SourceContext::new(dir.path())).unwrap();
        let kw = groups.iter().find(|g| g.id.ends_with(".default")).unwrap();
        assert_eq!(kw.get(&Lang::LB), Some("+1 | Hand | Daum"));
        assert_eq!(report.texts.get(&Lang::LB), Some(&5));
        let (groups, _) = cldr(false).load(&SourceContext::new(dir.path())).unwrap();
        assert!(!groups.iter().any(|g| g.id.ends_with(".default")));
    }

    #[test]
    fn errors_name_file_and_place() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ctx = SourceContext::new(d);
        let e = cldr(false).load(&ctx).unwrap_err().to_string();
        assert!(
            e.contains("cldr-localenames-full") && e.contains("not found"),
            "{e}"
        );
        write(
            d,
            "npm/cldr-localenames-full/main/lb/languages.json",
            "{\"main\": {\"lb\": {\n\"a\": }}}",
        );
        write(
            d,
            "npm/cldr-annotations-full/annotations/lb/annotations.json",
            "{\"annotations\": {}}",
        );
        let e = cldr(false).load(&ctx).unwrap_err().to_string();
        assert!(
            e.contains("languages.json:line 2") && e.contains("invalid JSON"),
            "{e}"
        );
        write(
            d,
            "npm/cldr-localenames-full/main/lb/languages.json",
            "{\"main\": {\"fr\": {}}}",
        );
        let e = cldr(false).load(&ctx).unwrap_err().to_string();
        assert!(e.contains("languages.json:key \"main.lb\""), "{e}");
        let bad = Cldr {
            langs: vec![Lang::EN],
            ..cldr(false)
        };
        assert!(bad.load(&ctx).unwrap_err().to_string().contains("native"));
        assert!(toml::from_str::<Box<dyn SeedSource>>("type = \"cldr\"").is_err());
    }
}
