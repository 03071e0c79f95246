//! `mediawiki_dump`: articles from a MediaWiki XML export (`lbwiki-…-pages-articles.xml.bz2`).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use lux_core::{
    Document, Error, IoContext, Lang, Provenance, Result, Seed, SeedSource, SeedStream,
    SourceContext,
};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use super::wikitext::to_plain_text;
use crate::text::nfc;

/// Native articles from a MediaWiki XML export dump, plain or bzip2-compressed.
///
/// Reads `<page>` elements one at a time (the dump is never held in memory), keeps pages of
/// namespace 0 that are not redirects, converts their wikitext with
/// [`to_plain_text`](super::wikitext::to_plain_text) and yields a [`Document`] per page:
/// id = page id, the page title, metadata `timestamp` and `revision_id` of the last revision
/// in the page.
///
/// ```toml
/// [[data.sources]]
/// type = "mediawiki_dump"
/// path = "lbwiki-latest-pages-articles.xml.bz2"
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaWikiDump {
    /// The dump file (`.xml`, or bzip2 by extension or content), relative to the recipe.
    pub path: PathBuf,
    /// The language the wiki is written in.
    #[serde(default = "default_lang")]
    pub lang: Lang,
    /// License of the text (Wikipedia's is CC-BY-SA-4.0).
    #[serde(default = "default_license")]
    pub license: String,
    /// Source name recorded in provenance.
    #[serde(default = "default_source")]
    pub source: String,
    /// Pages whose plain text has fewer characters than this are skipped.
    #[serde(default = "default_min_chars")]
    pub min_chars: usize,
}

fn default_lang() -> Lang {
    Lang::LB
}
fn default_license() -> String {
    "CC-BY-SA-4.0".into()
}
fn default_source() -> String {
    "wikipedia".into()
}
fn default_min_chars() -> usize {
    1
}

impl MediaWikiDump {
    /// A source reading `path` with the default settings.
    pub fn new(path: impl Into<PathBuf>) -> MediaWikiDump {
        MediaWikiDump {
            path: path.into(),
            lang: default_lang(),
            license: default_license(),
            source: default_source(),
            min_chars: default_min_chars(),
        }
    }
}

#[typetag::serde(name = "mediawiki_dump")]
impl SeedSource for MediaWikiDump {
    fn open(&self, ctx: &SourceContext) -> Result<SeedStream> {
        let path = ctx.resolve(&self.path);
        let (input, compressed) = open_input(&path)?;
        let mut reader = Reader::from_reader(BufReader::new(LineCounter::new(input)));
        reader.config_mut().trim_text(false);
        Ok(Box::new(DumpPages {
            reader,
            buf: Vec::new(),
            path,
            compressed,
            lang: self.lang.clone(),
            provenance: Provenance::new(&self.source, &self.license)
                .with_origin(self.path.display().to_string()),
            min_chars: self.min_chars,
            stack: Vec::new(),
            page: None,
            field: Field::None,
            done: false,
        }))
    }
}

/// Opens `path` for reading, decompressing bzip2 (by `.bz2` extension or `BZh` magic);
/// says whether it was compressed.
pub(crate) fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, bool)> {
    let mut file = BufReader::new(File::open(path).with_path(path)?);
    let by_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bz2"));
    let by_magic = file.fill_buf().with_path(path)?.starts_with(b"BZh");
    if by_name || by_magic {
        Ok((Box::new(bzip2::bufread::MultiBzDecoder::new(file)), true))
    } else {
        Ok((Box::new(file), false))
    }
}

/// Counts lines in what passes through, so errors can name a line as well as a byte.
///
/// Keeps the offsets of newlines read since the last [`LineCounter::forget_before`], which
/// the dump reader calls after each page: memory stays bounded by one page.
struct LineCounter<R> {
    /// The stream being counted.
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Newlines before the oldest offset still kept.
    forgotten: u64,
    /// Offsets of the newlines read and not yet forgotten.
    newlines: VecDeque<u64>,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> LineCounter<R> {
        LineCounter {
            inner,
            offset: 0,
            forgotten: 0,
            newlines: VecDeque::new(),
        }
    }

    /// The 1-based line of byte `pos` (which must not be before the last forgotten position).
    fn line_of(&self, pos: u64) -> u64 {
        let kept = self.newlines.partition_point(|&n| n < pos) as u64;
        self.forgotten + kept + 1
    }

    /// Folds newlines before `pos` into the count.
    fn forget_before(&mut self, pos: u64) {
        while self.newlines.front().is_some_and(|&n| n < pos) {
            self.newlines.pop_front();
            self.forgotten += 1;
        }
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' {
                self.newlines.push_back(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The element whose text is being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// None of interest.
    None,
    /// `page/title`.
    Title,
    /// `page/ns`.
    Ns,
    /// `page/id`.
    Id,
    /// `page/revision/id`.
    RevisionId,
    /// `page/revision/timestamp`.
    Timestamp,
    /// `page/revision/text`.
    Text,
}

/// What has been read of the current `<page>`.
#[derive(Debug, Default)]
struct Page {
    title: String,
    ns: Option<String>,
    id: String,
    redirect: bool,
    revision_id: String,
    timestamp: String,
    text: String,
    /// Byte offset of the `<page>` start tag, for errors about the page.
    start: u64,
}

impl Page {
    /// Whether the page is in the main (article) namespace; dumps without `<ns>` (before
    /// MediaWiki 1.16) count as main.
    fn is_article(&self) -> bool {
        self.ns.as_deref().is_none_or(|ns| ns.trim() == "0")
    }

    fn buffer(&mut self, field: Field) -> Option<&mut String> {
        match field {
            Field::None => None,
            Field::Title => Some(&mut self.title),
            Field::Ns => Some(self.ns.get_or_insert_with(String::new)),
            Field::Id => Some(&mut self.id),
            Field::RevisionId => Some(&mut self.revision_id),
            Field::Timestamp => Some(&mut self.timestamp),
            // Text of pages that will be skipped is not kept.
            Field::Text if !self.is_article() || self.redirect => None,
            Field::Text => Some(&mut self.text),
        }
    }
}

/// The stream of pages of one dump.
struct DumpPages {
    reader: Reader<BufReader<LineCounter<Box<dyn Read + Send>>>>,
    buf: Vec<u8>,
    path: PathBuf,
    compressed: bool,
    lang: Lang,
    provenance: Provenance,
    min_chars: usize,
    /// Local names of the open elements.
    stack: Vec<String>,
    page: Option<Page>,
    field: Field,
    done: bool,
}

impl DumpPages {
    /// A parse error at byte `pos` of the (decompressed) XML.
    fn error_at(&self, pos: u64, message: impl Into<String>) -> Error {
        let line = self.reader.get_ref().get_ref().line_of(pos);
        let of = if self.compressed {
            " of the decompressed XML"
        } else {
            ""
        };
        Error::parse(
            &self.path,
            Some(format!("line {line}, byte {pos}{of}")),
            message,
        )
    }

    /// Reads events up to the next page that becomes a document.
    fn next_document(&mut self) -> Result<Option<Document>> {
        loop {
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(quick_xml::Error::Io(e)) => {
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::new(e.kind(), e.to_string()),
                    ));
                }
                Err(e) => {
                    let pos = self.reader.error_position();
                    return Err(self.error_at(pos, format!("malformed XML: {e}")));
                }
            };
            match event {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    if name == "page" {
                        let start = self.reader.buffer_position();
                        self.page = Some(Page {
                            start,
                            ..Page::default()
                        });
                    }
                    if name == "redirect" {
                        mark_redirect(&mut self.page, &self.stack);
                    }
                    if name == "revision"
                        && self.stack.last().is_some_and(|n| n == "page")
                        && let Some(p) = &mut self.page
                    {
                        p.revision_id.clear();
                        p.timestamp.clear();
                        p.text.clear();
                    }
                    self.stack.push(name);
                    self.field = field_of(&self.stack);
                }
                Event::Empty(e) => {
                    if e.local_name().as_ref() == "redirect" {
                        mark_redirect(&mut self.page, &self.stack);
                    }
                    if is_empty_text(&e, &self.stack)
                        && let Some(p) = &mut self.page
                    {
                        p.text.clear();
                    }
                }
                Event::End(e) => {
                    self.stack.pop();
                    self.field = field_of(&self.stack);
                    if e.local_name().as_ref() == "page" {
                        let pos = self.reader.buffer_position();
                        let finished = match self.page.take() {
                            Some(page) => self.finish(page),
                            None => Ok(None),
                        };
                        // Errors about the page may name its start, so forget only now.
                        self.reader.get_mut().get_mut().forget_before(pos);
                        if let Some(doc) = finished? {
                            return Ok(Some(doc));
                        }
                    }
                }
                Event::Text(t) => {
                    if let Some(b) = self.page.as_mut().and_then(|p| p.buffer(self.field)) {
                        b.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(b) = self.page.as_mut().and_then(|p| p.buffer(self.field)) {
                        b.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        Ok(None) => quick_xml::escape::resolve_xml_entity(&r).map(str::to_string),
                        Err(_) => None,
                    };
                    let Some(resolved) = resolved else {
                        let pos = self.reader.buffer_position();
                        let entity = r.to_string();
                        return Err(self.error_at(pos, format!("unknown entity `&{entity};`")));
                    };
                    if let Some(b) = self.page.as_mut().and_then(|p| p.buffer(self.field)) {
                        b.push_str(&resolved);
                    }
                }
                Event::Eof => {
                    if let Some(open) = self.stack.last() {
                        let pos = self.reader.buffer_position();
                        let open = open.clone();
                        return Err(self.error_at(
                            pos,
                            format!("file ends inside <{open}>: truncated download or dump?"),
                        ));
                    }
                    return Ok(None);
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    /// The document a complete page becomes, if it is a non-redirect article long enough.
    fn finish(&self, page: Page) -> Result<Option<Document>> {
        if !page.is_article() || page.redirect || is_redirect_text(&page.text) {
            return Ok(None);
        }
        let id = page.id.trim();
        if id.is_empty() {
            let title = page.title.trim();
            return Err(self.error_at(page.start, format!("page `{title}` has no <id>")));
        }
        let text = nfc(&to_plain_text(&page.text));
        if text.chars().count() < self.min_chars {
            return Ok(None);
        }
        let mut metadata = BTreeMap::new();
        let timestamp = page.timestamp.trim();
        if !timestamp.is_empty() {
            metadata.insert("timestamp".to_string(), timestamp.into());
        }
        let revision = page.revision_id.trim();
        if !revision.is_empty() {
            let value = match revision.parse::<u64>() {
                Ok(n) => serde_json::Value::from(n),
                Err(_) => serde_json::Value::from(revision),
            };
            metadata.insert("revision_id".to_string(), value);
        }
        let title = nfc(page.title.trim());
        Ok(Some(Document {
            id: id.to_string(),
            lang: self.lang.clone(),
            title: (!title.is_empty()).then_some(title),
            text,
            provenance: self.provenance.clone(),
            metadata,
        }))
    }
}

impl Iterator for DumpPages {
    type Item = Result<Seed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_document() {
            Ok(Some(doc)) => Some(Ok(Seed::Document(doc))),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Which field the innermost open element is.
fn field_of(stack: &[String]) -> Field {
    let tail = |names: &[&str]| {
        stack.len() >= names.len()
            && stack[stack.len() - names.len()..]
                .iter()
                .zip(names)
                .all(|(a, b)| a == b)
    };
    if tail(&["page", "title"]) {
        Field::Title
    } else if tail(&["page", "ns"]) {
        Field::Ns
    } else if tail(&["page", "id"]) {
        Field::Id
    } else if tail(&["page", "revision", "id"]) {
        Field::RevisionId
    } else if tail(&["page", "revision", "timestamp"]) {
        Field::Timestamp
    } else if tail(&["page", "revision", "text"]) {
        Field::Text
    } else {
        Field::None
    }
}

/// Marks the page a redirect when `<redirect>` sits directly in `<page>`.
fn mark_redirect(page: &mut Option<Page>, stack: &[String]) {
    if stack.last().is_some_and(|n| n == "page")
        && let Some(p) = page
    {
        p.redirect = true;
    }
}

/// `<text … />` directly in a revision: a deleted or empty text.
fn is_empty_text(e: &BytesStart<'_>, stack: &[String]) -> bool {
    e.local_name().as_ref() == "text" && stack.last().is_some_and(|n| n == "revision")
}

/// Whether wikitext is a redirect (`#REDIRECT`, `#WEITERLEEDUNG`, `#WEITERLEITUNG`, any case).
fn is_redirect_text(text: &str) -> bool {
    let t = text.trim_start();
    ["#REDIRECT", "#WEITERLEEDUNG", "#WEITERLEITUNG"]
        .iter()
        .any(|w| t.get(..w.len()).is_some_and(|h| h.eq_ignore_ascii_case(w)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn page(id: u64, ns: u32, title: &str, extra: &str, text: &str) -> String {
        format!(
            "  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{id}</id>\n{extra}    \
             <revision>\n      <id>{}</id>\n      <parentid>1</parentid>\n      \
             <timestamp>2024-05-01T10:00:00Z</timestamp>\n      <contributor>\n        \
             <username>Bot</username>\n        <id>99</id>\n      </contributor>\n      \
             <model>wikitext</model>\n      <format>text/x-wiki</format>\n      \
             <text bytes=\"{}\" xml:space=\"preserve\">{text}</text>\n      <sha1>x</sha1>\n    \
             </revision>\n  </page>\n",
            id * 100,
            text.len()
        )
    }

    fn dump(pages: &[String]) -> String {
        format!(
            "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.11/\" version=\"0.11\" \
             xml:lang=\"lb\">\n  <siteinfo>\n    <sitename>Wikipedia</sitename>\n    \
             <dbname>lbwiki</dbname>\n    <namespaces>\n      \
             <namespace key=\"0\" case=\"first-letter\" />\n      \
             <namespace key=\"14\" case=\"first-letter\">Kategorie</namespace>\n    \
             </namespaces>\n  </siteinfo>\n{}</mediawiki>\n",
            pages.concat()
        )
    }

    fn sample() -> String {
        dump(&[
            page(
                1,
                0,
                "Lëtzebuerg",
                "",
                "{{Infobox Land\n| Numm = Lëtzebuerg\n}}\n'''Lëtzebuerg''' ass e Land.&lt;ref&gt;Quell&lt;/ref&gt;\n\n== Geschicht ==\nAl &amp; nei.\n[[Kategorie:Land]]",
            ),
            page(
                2,
                0,
                "Luxemburg",
                "    <redirect title=\"Lëtzebuerg\" />\n",
                "#WEITERLEEDUNG [[Lëtzebuerg]]",
            ),
            page(3, 14, "Kategorie:Land", "", "Kategorie fir Länner."),
            page(4, 0, "Lux", "", "#redirect [[Lëtzebuerg]]"),
            page(5, 0, "Stub", "", "{{Stub}}"),
            // NFD input (e + combining diaeresis) is stored NFC.
            page(
                6,
                0,
                "Esch-Uelzecht",
                "",
                "Esch-Uelzecht la\u{308}it am Süden.",
            ),
        ])
    }

    fn read_all(dir: &Path, toml_src: &str) -> Vec<Result<Seed>> {
        let source: Box<dyn SeedSource> = toml::from_str(toml_src).unwrap();
        source.open(&SourceContext::new(dir)).unwrap().collect()
    }

    fn docs(seeds: Vec<Result<Seed>>) -> Vec<Document> {
        seeds
            .into_iter()
            .map(|s| match s.unwrap() {
                Seed::Document(d) => d,
                other => panic!("not a document: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn plain_dump_yields_articles_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lbwiki.xml"), sample()).unwrap();
        let got = docs(read_all(
            dir.path(),
            "type = \"mediawiki_dump\"\npath = \"lbwiki.xml\"",
        ));
        let ids: Vec<_> = got.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["1", "6"]);
        let d = &got[0];
        assert_eq!(d.title.as_deref(), Some("Lëtzebuerg"));
        assert_eq!(d.text, "Lëtzebuerg ass e Land.\n\nGeschicht\n\nAl & nei.");
        assert_eq!(d.lang, Lang::LB);
        assert_eq!(d.provenance.license, "CC-BY-SA-4.0");
        assert_eq!(d.provenance.source, "wikipedia");
        assert_eq!(d.provenance.origin.as_deref(), Some("lbwiki.xml"));
        assert_eq!(d.metadata["timestamp"], "2024-05-01T10:00:00Z");
        assert_eq!(d.metadata["revision_id"], 100);
        assert_eq!(got[1].text, "Esch-Uelzecht l\u{e4}it am Süden.");
    }

    #[test]
    fn bz2_dump_by_extension_and_by_magic_same_as_plain() {
        let dir = tempfile::tempdir().unwrap();
        let xml = sample();
        std::fs::write(dir.path().join("plain.xml"), &xml).unwrap();
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        enc.write_all(xml.as_bytes()).unwrap();
        let compressed = enc.finish().unwrap();
        std::fs::write(dir.path().join("lbwiki.xml.bz2"), &compressed).unwrap();
        std::fs::write(dir.path().join("no-extension"), &compressed).unwrap();
        let plain = docs(read_all(
            dir.path(),
            "type = \"mediawiki_dump\"\npath = \"plain.xml\"",
        ));
        for name in ["lbwiki.xml.bz2", "no-extension"] {
            let toml_src = format!("type = \"mediawiki_dump\"\npath = \"{name}\"");
            let got = docs(read_all(dir.path(), &toml_src));
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].text, plain[0].text);
            assert_eq!(got[1].metadata, plain[1].metadata);
        }
    }

    #[test]
    fn multistream_bz2_is_read_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let xml = sample();
        let (a, b) = xml.as_bytes().split_at(xml.find("  <page>").unwrap() + 200);
        let mut all = Vec::new();
        for part in [a, b] {
            let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            enc.write_all(part).unwrap();
            all.extend(enc.finish().unwrap());
        }
        std::fs::write(dir.path().join("multi.xml.bz2"), all).unwrap();
        let got = docs(read_all(
            dir.path(),
            "type = \"mediawiki_dump\"\npath = \"multi.xml.bz2\"",
        ));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn settings_and_repeat_opens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.xml"), sample()).unwrap();
        let src = "type = \"mediawiki_dump\"\npath = \"d.xml\"\nlang = \"de\"\nsource = \"dewiki\"\n\
                   license = \"CC-BY-SA-3.0\"\nmin_chars = 40";
        let first = docs(read_all(dir.path(), src));
        assert_eq!(first.len(), 1, "the 28-character page is below min_chars");
        assert_eq!(first[0].lang, Lang::DE);
        assert_eq!(first[0].provenance.source, "dewiki");
        assert_eq!(first[0].provenance.license, "CC-BY-SA-3.0");
        assert_eq!(first, docs(read_all(dir.path(), src)));
        let err = toml::from_str::<Box<dyn SeedSource>>(
            "type = \"mediawiki_dump\"\npath = \"d.xml\"\nmin_char = 3",
        )
        .unwrap_err();
        assert!(err.to_string().contains("min_char"), "{err}");
    }

    #[test]
    fn last_revision_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = page(7, 0, "Musel", "", "Al Versioun.").replace(
            "  </page>",
            "    <revision>\n      <id>701</id>\n      <timestamp>2025-01-01T00:00:00Z</timestamp>\n      \
             <text>Nei Versioun.</text>\n    </revision>\n  </page>",
        );
        std::fs::write(dir.path().join("h.xml"), dump(&[p])).unwrap();
        let got = docs(read_all(
            dir.path(),
            "type = \"mediawiki_dump\"\npath = \"h.xml\"",
        ));
        assert_eq!(got[0].text, "Nei Versioun.");
        assert_eq!(got[0].metadata["revision_id"], 701);
    }

    #[test]
    fn malformed_xml_names_file_line_and_byte() {
        let dir = tempfile::tempdir().unwrap();
        // Enough pages that the reader refills its buffer and forgets old lines many times.
        let mut pages: Vec<String> = (10..400)
            .map(|id| {
                page(
                    id,
                    0,
                    &format!("Säit {id}"),
                    "",
                    "Text iwwer eppes.\nMéi Text.",
                )
            })
            .collect();
        pages.push(page(400, 0, "Stub", "", "Kuerz.").replace("</title>", "</titel>"));
        let xml = dump(&pages);
        let at = xml.find("</titel>").unwrap();
        let line = xml[..at].matches('\n').count() + 1;
        std::fs::write(dir.path().join("bad.xml"), &xml).unwrap();
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        enc.write_all(xml.as_bytes()).unwrap();
        std::fs::write(dir.path().join("bad.xml.bz2"), enc.finish().unwrap()).unwrap();
        for name in ["bad.xml", "bad.xml.bz2"] {
            let toml_src = format!("type = \"mediawiki_dump\"\npath = \"{name}\"");
            let got = read_all(dir.path(), &toml_src);
            assert_eq!(got.len(), 391, "390 pages, then the error, then nothing");
            assert!(
                got[..390].iter().all(Result::is_ok),
                "pages before the error still come"
            );
            let err = got[390].as_ref().unwrap_err().to_string();
            assert!(err.contains(&format!("{name}:line {line}, byte ")), "{err}");
            assert!(err.contains("titel"), "{err}");
            let byte: usize = err
                .split("byte ")
                .nth(1)
                .unwrap()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!(byte.abs_diff(at) < 30, "byte {byte} is near {at}: {err}");
        }
    }

    #[test]
    fn truncated_dump_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let xml = sample();
        let cut = &xml[..xml.find("<title>Esch").unwrap()];
        std::fs::write(dir.path().join("cut.xml"), cut).unwrap();
        let got = read_all(dir.path(), "type = \"mediawiki_dump\"\npath = \"cut.xml\"");
        let err = got.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(
            err.contains("cut.xml") && err.contains("ends inside <page>"),
            "{err}"
        );
    }

    #[test]
    fn page_without_id_and_missing_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let xml = dump(&[page(8, 0, "Ouni", "", "Text.").replace("    <id>8</id>\n", "")]);
        std::fs::write(dir.path().join("noid.xml"), &xml).unwrap();
        let got = read_all(dir.path(), "type = \"mediawiki_dump\"\npath = \"noid.xml\"");
        let err = got[0].as_ref().unwrap_err().to_string();
        let line = xml[..xml.find("<page>").unwrap()].matches('\n').count() + 1;
        assert!(
            err.contains(&format!("noid.xml:line {line}, byte ")),
            "{err}"
        );
        assert!(err.contains("`Ouni` has no <id>"), "{err}");
        let source = MediaWikiDump::new("missing.xml.bz2");
        let err = source
            .open(&SourceContext::new(dir.path()))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing.xml.bz2"), "{err}");
    }

    #[test]
    fn redirect_words() {
        assert!(is_redirect_text("  #Weiterleedung [[X]]"));
        assert!(is_redirect_text("#WEITERLEITUNG [[X]]"));
        assert!(is_redirect_text("#REDIRECT[[X]]"));
        assert!(!is_redirect_text("# Redirect"));
        assert!(!is_redirect_text("#R"));
    }
}
