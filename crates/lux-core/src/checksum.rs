//! Checksummed records: one JSON value per record, with a CRC-32 of its exact bytes, so a
//! torn or bit-flipped journal line or cache entry is *detected* instead of loaded.
//!
//! A record is itself one line of JSON that any JSON tool reads:
//!
//! ```text
//! {"crc32":"1c291ca3","data":{"seq":0,"key":"0/news/a","examples":[]}}
//! ```
//!
//! The checksum covers the bytes of `data` exactly as written (no re-serialisation, so no
//! question of key order or number formatting), which is why the layout is fixed: the
//! prefix `{"crc32":"XXXXXXXX","data":` then the value then `}`. JSON alone cannot catch
//! damage that still parses (a digit changed in a count, a letter in an answer); the
//! checksum does, and a damaged record is reported with its place and computed again.

use serde::Serialize;
use serde::de::DeserializeOwned;

const PREFIX: &[u8] = br#"{"crc32":""#;
const MIDDLE: &[u8] = br#"","data":"#;
const HEX_LEN: usize = 8;

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// The record is not in the checksummed layout (cut short, or written by an older lux
    /// without checksums: it cannot be verified, so it is not trusted).
    #[error("not a checksummed record (cut short, or written without a checksum)")]
    NotSealed,
    /// The bytes changed after they were written.
    #[error("checksum mismatch: recorded {recorded}, computed {computed}")]
    Mismatch {
        /// The checksum in the record.
        recorded: String,
        /// The checksum of the bytes found.
        computed: String,
    },
    /// The checksum matches but the value is not what the reader expects (a record of another
    /// kind or version).
    #[error("sound record of an unexpected shape: {0}")]
    Shape(String),
}

fn crc_hex(bytes: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(bytes))
}

/// Wraps the JSON text `json` in a checksummed record (no trailing newline).
pub fn seal(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX.len() + HEX_LEN + MIDDLE.len() + json.len() + 1);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(crc_hex(json).as_bytes());
    out.extend_from_slice(MIDDLE);
    out.extend_from_slice(json);
    out.push(b'}');
    out
}

/// Serialises `value` (compact JSON, one line) into a checksummed record.
pub fn seal_value<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    Ok(seal(&serde_json::to_vec(value)?))
}

/// The verified JSON bytes inside `record` (trailing `\r`/`\n` ignored).
pub fn unseal(record: &[u8]) -> Result<&[u8], Damage> {
    let end = record
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |i| i + 1);
    let record = &record[..end];
    let head = PREFIX.len() + HEX_LEN + MIDDLE.len();
    if record.len() < head + 1
        || !record.starts_with(PREFIX)
        || &record[PREFIX.len() + HEX_LEN..head] != MIDDLE
        || record.last() != Some(&b'}')
    {
        return Err(Damage::NotSealed);
    }
    let recorded = &record[PREFIX.len()..PREFIX.len() + HEX_LEN];
    let data = &record[head..record.len() - 1];
    let computed = crc_hex(data);
    if recorded != computed.as_bytes() {
        return Err(Damage::Mismatch {
            recorded: String::from_utf8_lossy(recorded).into_owned(),
            computed,
        });
    }
    Ok(data)
}

/// Verifies `record` and parses the value inside it.
pub fn unseal_value<T: DeserializeOwned>(record: &[u8]) -> Result<T, Damage> {
    serde_json::from_slice(unseal(record)?).map_err(|e| Damage::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_json_and_round_trips() {
        let record = seal_value(&serde_json::json!({"a": [1, 2], "b": "é"})).unwrap();
        let as_json: serde_json::Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(as_json["data"]["b"], "é");
        let back: serde_json::Value = unseal_value(&record).unwrap();
        assert_eq!(back["a"][1], 2);
        let mut line = record.clone();
        line.extend_from_slice(b"\r\n");
        assert!(unseal(&line).is_ok());
    }

    #[test]
    fn every_single_byte_change_and_every_cut_is_caught() {
        let record =
            seal_value(&serde_json::json!({"answer": "Moien, wéi geet et?", "n": 12})).unwrap();
        for i in 0..record.len() {
            let mut damaged = record.clone();
            damaged[i] ^= 0x01;
            assert!(unseal(&damaged).is_err(), "flip at byte {i} went unnoticed");
            assert!(
                unseal(&record[..i]).is_err(),
                "cut at byte {i} went unnoticed"
            );
        }
        assert_eq!(
            unseal(br#"{"seq":0,"key":"a"}"#).unwrap_err(),
            Damage::NotSealed
        );
    }
}
