//! Helpers shared by the data-pipeline tests: real-format samples written on the fly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Luxembourgish article long enough for the document generators.
pub fn article(title: &str, topic: &str) -> String {
    format!(
        "{topic} ass e Beispill fir en Artikel iwwer {title}. D'Leit zu Lëtzebuerg schwätzen \
         dacks doriwwer, well et eng laang Geschicht huet. Am Summer kommen vill Touristen, \
         an am Wanter ass et méi roueg an der Regioun.\n\nD'Gemeng huet decidéiert, en neie \
         Projet unzefänken. Dee soll bis 2030 fäerdeg sinn."
    )
}

/// Writes a MediaWiki XML export with `pages` (title, wikitext), bz2-compressed.
pub fn write_wiki_dump_bz2(path: &Path, pages: &[(&str, String)]) {
    let mut xml = String::from(
        "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.11/\" version=\"0.11\" xml:lang=\"lb\">\n\
         <siteinfo><sitename>Wikipedia</sitename><dbname>lbwiki</dbname></siteinfo>\n",
    );
    for (i, (title, text)) in pages.iter().enumerate() {
        let text = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        xml.push_str(&format!(
            "<page><title>{title}</title><ns>0</ns><id>{}</id><revision><id>{}</id>\
             <timestamp>2024-01-01T00:00:00Z</timestamp><text xml:space=\"preserve\">{text}</text>\
             </revision></page>\n",
            i + 1,
            100 + i
        ));
    }
    // A redirect and a talk page, which the source must skip.
    xml.push_str(
        "<page><title>Lux</title><ns>0</ns><id>900</id><redirect title=\"Lëtzebuerg\" />\
         <revision><id>901</id><text>#WEITERLEEDUNG [[Lëtzebuerg]]</text></revision></page>\n\
         <page><title>Diskussioun:Lëtzebuerg</title><ns>1</ns><id>902</id><revision><id>903</id>\
         <text>Eng Diskussioun.</text></revision></page>\n</mediawiki>\n",
    );
    let file = std::fs::File::create(path).unwrap();
    let mut enc = bzip2::write::BzEncoder::new(file, bzip2::Compression::default());
    enc.write_all(xml.as_bytes()).unwrap();
    enc.finish().unwrap();
}

/// Runs the `lux` binary with `args`, returning (success, stdout, stderr).
pub fn lux(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lux"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run lux");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The repository root (where `data/` and `recipes/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
