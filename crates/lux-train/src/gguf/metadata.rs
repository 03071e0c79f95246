//! [`GgufMetadata`]: a GGUF file's key/value section with typed getters.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lux_core::{Error, Result};

use super::value::{FromGgufValue, GgufArray, GgufValue};

/// The integer targets of [`FromGgufValue`], whose failures on an integer are range failures.
const INTEGER_TYPES: [&str; 9] = [
    "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "usize",
];

/// The metadata of a GGUF file: keys in file order, each with a typed value.
///
/// Getters fail with an [`Error::Parse`] that names the file, the key, the type expected and the
/// type found: `model.gguf:key "llama.block_count": expected u32, found string "30"`.
///
/// ```no_run
/// # fn main() -> lux_core::Result<()> {
/// let file = lux_train::gguf::GgufFile::open("SmolLM2-135M-Instruct.Q4_1.gguf")?;
/// let meta = file.metadata();
/// let arch = meta.get_str("general.architecture")?; // "llama"
/// let layers = meta.get_u32(&format!("{arch}.block_count"))?; // 30
/// let tokens = meta.get_str_array("tokenizer.ggml.tokens")?; // 49,152 strings
/// let pad: Option<u32> = meta.get_opt("tokenizer.ggml.padding_token_id")?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct GgufMetadata {
    path: PathBuf,
    entries: Vec<(String, GgufValue)>,
    index: HashMap<String, usize>,
}

impl GgufMetadata {
    /// Metadata read from `path` (used in error messages). A repeated key is an error naming it.
    pub fn new(path: impl AsRef<Path>, entries: Vec<(String, GgufValue)>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut index = HashMap::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            if index.insert(key.clone(), i).is_some() {
                return Err(Error::parse(
                    &path,
                    Some(format!("key \"{key}\"")),
                    "appears twice",
                ));
            }
        }
        Ok(Self {
            path,
            entries,
            index,
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GgufValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.index.get(key).map(|&i| &self.entries[i].1)
    }

    /// The value of `key` converted to `T` (see [`FromGgufValue`] for what converts); an error
    /// naming the key when it is missing or has another type.
    pub fn get_as<'a, T: FromGgufValue<'a>>(&'a self, key: &str) -> Result<T> {
        match self.get_opt(key)? {
            Some(v) => Ok(v),
            None => Err(Error::parse(
                &self.path,
                Some(format!("key \"{key}\"")),
                format!("missing (expected {})", T::EXPECTED),
            )),
        }
    }

    /// Like [`get_as`](Self::get_as), but a missing key is `Ok(None)`; a key of another type is
    /// still an error.
    pub fn get_opt<'a, T: FromGgufValue<'a>>(&'a self, key: &str) -> Result<Option<T>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match T::from_gguf_value(value) {
            Some(v) => Ok(Some(v)),
            None => {
                let found = match value {
                    GgufValue::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
                    GgufValue::Array(_) => value.type_name(),
                    v if v.as_integer().is_some() && INTEGER_TYPES.contains(&T::EXPECTED) => {
                        format!("{} {v} (out of range)", v.type_name())
                    }
                    v => format!("{} {v}", v.type_name()),
                };
                Err(Error::parse(
                    &self.path,
                    Some(format!("key \"{key}\"")),
                    format!("expected {}, found {found}", T::EXPECTED),
                ))
            }
        }
    }

    /// An integer that fits in `u32`.
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.get_as(key)
    }

    /// An integer that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.get_as(key)
    }

    /// An integer that fits in `i32`.
    pub fn get_i32(&self, key: &str) -> Result<i32> {
        self.get_as(key)
    }

    /// An integer that fits in `i64`.
    pub fn get_i64(&self, key: &str) -> Result<i64> {
        self.get_as(key)
    }

    /// An integer that fits in `usize` (counts and sizes).
    pub fn get_usize(&self, key: &str) -> Result<usize> {
        self.get_as(key)
    }

    /// An `f32` (an `f64` is narrowed).
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        self.get_as(key)
    }

    /// An `f64` (an `f32` is widened).
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        self.get_as(key)
    }

    /// A bool.
    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.get_as(key)
    }

    /// A string.
    pub fn get_str(&self, key: &str) -> Result<&str> {
        self.get_as(key)
    }

    /// An array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<&[String]> {
        self.get_as(key)
    }

    /// An array of `i32`.
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32]> {
        self.get_as(key)
    }

    /// An array of `f32`.
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32]> {
        self.get_as(key)
    }

    /// An array of any element type.
    pub fn get_array(&self, key: &str) -> Result<&GgufArray> {
        self.get_as(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> GgufMetadata {
        GgufMetadata::new(
            "m.gguf",
            vec![
                ("a.count".into(), GgufValue::U32(30)),
                ("a.neg".into(), GgufValue::I32(-3)),
                ("a.name".into(), GgufValue::String("llama".into())),
                ("a.eps".into(), GgufValue::F32(1e-5)),
                (
                    "a.list".into(),
                    GgufValue::Array(GgufArray::String(vec!["x".into()])),
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn typed_getters_read_their_types() {
        let m = meta();
        assert_eq!(m.get_u32("a.count").unwrap(), 30);
        assert_eq!(m.get_usize("a.count").unwrap(), 30);
        assert_eq!(m.get_i64("a.neg").unwrap(), -3);
        assert_eq!(m.get_str("a.name").unwrap(), "llama");
        assert_eq!(m.get_f32("a.eps").unwrap(), 1e-5);
        assert_eq!(m.get_str_array("a.list").unwrap(), &["x".to_string()]);
        assert_eq!(m.get_opt::<u32>("nope").unwrap(), None);
        assert_eq!(m.iter().map(|(k, _)| k).collect::<Vec<_>>()[0], "a.count");
        assert!(m.contains("a.eps") && m.len() == 5 && !m.is_empty());
    }

    #[test]
    fn errors_name_the_key_and_the_type_found() {
        let m = meta();
        let e = m.get_u32("a.name").unwrap_err().to_string();
        assert_eq!(
            e,
            "m.gguf:key \"a.name\": expected u32, found string \"llama\""
        );
        let e = m.get_u32("a.neg").unwrap_err().to_string();
        assert!(
            e.contains("expected u32, found i32 -3 (out of range)"),
            "{e}"
        );
        let e = m.get_str("a.list").unwrap_err().to_string();
        assert!(e.contains("expected string, found array of string"), "{e}");
        let e = m.get_i32_array("a.list").unwrap_err().to_string();
        assert!(
            e.contains("expected array of i32, found array of string"),
            "{e}"
        );
        let e = m.get_bool("missing.key").unwrap_err().to_string();
        assert!(
            e.contains("key \"missing.key\": missing (expected bool)"),
            "{e}"
        );
        let e = m.get_opt::<f32>("a.count").unwrap_err().to_string();
        assert!(e.contains("expected f32, found u32 30"), "{e}");
    }

    #[test]
    fn a_repeated_key_is_an_error() {
        let e = GgufMetadata::new(
            "d.gguf",
            vec![
                ("k".into(), GgufValue::U8(1)),
                ("k".into(), GgufValue::U8(2)),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("key \"k\": appears twice"), "{e}");
    }
}
