//! Tests across the reader: files written here (valid and malformed) and the committed fixture
//! made by `tests/fixtures/gguf/make_fixtures.py` with the Python `gguf` package.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::f16;
use lux_core::Error;

use super::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn open_err(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.gguf", bytes);
    match GgufFile::open(&path) {
        Ok(_) => panic!("opened a malformed file"),
        Err(e) => {
            assert!(matches!(e, Error::Parse { .. }), "{e:?}");
            e.to_string()
        }
    }
}

fn every_value() -> Vec<(&'static str, GgufValue)> {
    vec![
        ("t.u8", GgufValue::U8(200)),
        ("t.i8", GgufValue::I8(-100)),
        ("t.u16", GgufValue::U16(60000)),
        ("t.i16", GgufValue::I16(-30000)),
        ("t.u32", GgufValue::U32(4_000_000_000)),
        ("t.i32", GgufValue::I32(-2_000_000_000)),
        ("t.f32", GgufValue::F32(0.125)),
        ("t.bool", GgufValue::Bool(true)),
        ("t.string", GgufValue::String("Lëtzebuerg 🇱🇺".into())),
        ("t.u64", GgufValue::U64(u64::MAX)),
        ("t.i64", GgufValue::I64(i64::MIN)),
        ("t.f64", GgufValue::F64(-1e300)),
        ("t.empty", GgufValue::Array(GgufArray::U32(vec![]))),
        ("t.u8s", GgufValue::Array(GgufArray::U8(vec![1, 2, 255]))),
        ("t.i8s", GgufValue::Array(GgufArray::I8(vec![-1, 2]))),
        ("t.u16s", GgufValue::Array(GgufArray::U16(vec![1, 65535]))),
        ("t.i16s", GgufValue::Array(GgufArray::I16(vec![-1, 2]))),
        ("t.u32s", GgufValue::Array(GgufArray::U32(vec![7]))),
        ("t.i32s", GgufValue::Array(GgufArray::I32(vec![1, -1, 3]))),
        ("t.f32s", GgufValue::Array(GgufArray::F32(vec![0.5, -0.25]))),
        (
            "t.bools",
            GgufValue::Array(GgufArray::Bool(vec![true, false])),
        ),
        (
            "t.strings",
            GgufValue::Array(GgufArray::String(vec!["a".into(), "".into(), "ü".into()])),
        ),
        ("t.u64s", GgufValue::Array(GgufArray::U64(vec![u64::MAX]))),
        (
            "t.i64s",
            GgufValue::Array(GgufArray::I64(vec![i64::MIN, 0])),
        ),
        ("t.f64s", GgufValue::Array(GgufArray::F64(vec![1e-300]))),
        (
            "t.nested",
            GgufValue::Array(GgufArray::Array(vec![
                GgufArray::I32(vec![1, 2]),
                GgufArray::String(vec!["x".into()]),
                GgufArray::Array(vec![GgufArray::F32(vec![3.0])]),
            ])),
        ),
    ]
}

/// A small valid file: every value type, an F32 matrix, a Q8_0 row, an F16 vector.
fn sample(version: u32) -> GgufWriter {
    let mut w = GgufWriter::new().with_version(version);
    w.add_metadata("general.architecture", GgufValue::String("llama".into()));
    for (k, v) in every_value() {
        w.add_metadata(k, v);
    }
    w.add_tensor_f32("m", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut q8 = f16::from_f32(0.5).to_le_bytes().to_vec();
    q8.extend((0..32).map(|i| (i as i8 - 16) as u8));
    w.add_tensor("q", &[1, 32], GgmlType::Q8_0, q8);
    let h: Vec<u8> = [1.5f32, -2.0, 0.0]
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    w.add_tensor("h", &[3], GgmlType::F16, h);
    w
}

#[test]
fn reads_every_value_type_in_versions_2_and_3() {
    for version in [2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gguf");
        sample(version).write(&path).unwrap();
        let f = GgufFile::open(&path).unwrap();
        assert_eq!(f.version(), version);
        assert_eq!(f.alignment(), 32);
        assert_eq!(f.data_offset() % 32, 0);
        let m = f.metadata();
        assert_eq!(m.len(), every_value().len() + 1);
        for (k, v) in every_value() {
            assert_eq!(m.get(k), Some(&v), "{k}");
        }
        assert_eq!(f.architecture().unwrap(), "llama");
        assert_eq!(m.get_u32("t.u32").unwrap(), 4_000_000_000);
        assert_eq!(m.get_i64("t.i8").unwrap(), -100);
        assert_eq!(m.get_f64("t.f32").unwrap(), 0.125);
        assert!(m.get_bool("t.bool").unwrap());
        assert_eq!(m.get_str("t.string").unwrap(), "Lëtzebuerg 🇱🇺");
        assert_eq!(m.get_str_array("t.strings").unwrap(), ["a", "", "ü"]);
        assert_eq!(m.get_i32_array("t.i32s").unwrap(), [1, -1, 3]);
        assert_eq!(m.get_f32_array("t.f32s").unwrap(), [0.5, -0.25]);
        assert_eq!(m.get_array("t.nested").unwrap().len(), 3);

        let names: Vec<&str> = f.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["m", "q", "h"]);
        assert_eq!(f.tensor_info("m").unwrap().ggml_dims(), vec![3, 2]);
        assert_eq!(
            f.tensor_f32("m").unwrap(),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        let (shape, q) = f.tensor_f32("q").unwrap();
        assert_eq!(shape, vec![1, 32]);
        assert_eq!(q[0], -8.0);
        assert_eq!(q[31], 7.5);
        assert_eq!(f.tensor_f32("h").unwrap().1, vec![1.5, -2.0, 0.0]);
        assert_eq!(f.tensor_bytes("q").unwrap().len(), 34);
    }
}

#[test]
fn a_wrong_key_type_names_key_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.gguf");
    sample(3).write(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    let e = f.metadata().get_u32("t.string").unwrap_err().to_string();
    assert!(
        e.contains("s.gguf:key \"t.string\": expected u32, found string"),
        "{e}"
    );
    let e = f
        .metadata()
        .get_str_array("t.i32s")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key \"t.i32s\": expected array of string, found array of i32"),
        "{e}"
    );
    let e = f
        .metadata()
        .get_u32("llama.block_count")
        .unwrap_err()
        .to_string();
    assert!(e.contains("key \"llama.block_count\": missing"), "{e}");
    let e = f.tensor_f32("nope").unwrap_err().to_string();
    assert!(e.contains("tensor \"nope\": no such tensor"), "{e}");
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = sample(3).to_bytes();
    for len in 0..bytes.len() {
        let e = open_err(&bytes[..len]);
        assert!(
            e.contains("truncated") || e.contains("past the end"),
            "length {len}: {e}"
        );
    }
}

#[test]
fn truncated_data_names_the_tensor() {
    let bytes = sample(3).to_bytes();
    let e = open_err(&bytes[..bytes.len() - 1]);
    assert!(
        e.contains("tensor \"h\": data lies past the end of the file"),
        "{e}"
    );
}

#[test]
fn bad_magic_and_versions_are_refused() {
    let mut bytes = sample(3).to_bytes();
    bytes[..4].copy_from_slice(b"GGML");
    let e = open_err(&bytes);
    assert!(e.contains("not a GGUF file") && e.contains("byte 0"), "{e}");
    for (version, want) in [
        (1u32, "GGUF version 1 is not supported"),
        (4, "unsupported GGUF version 4"),
        (3u32.swap_bytes(), "big-endian GGUF (version 3)"),
    ] {
        let mut bytes = sample(3).to_bytes();
        bytes[4..8].copy_from_slice(&version.to_le_bytes());
        let e = open_err(&bytes);
        assert!(e.contains(want), "{e}");
    }
    assert!(open_err(b"").contains("file ends while reading the magic"));
}

#[test]
fn unknown_and_unsupported_types_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = GgufWriter::new();
    w.add_tensor_raw("mystery", &[4], 99, vec![0; 16]);
    w.add_tensor("k5", &[256], GgmlType::Q5_K, vec![0; 176]);
    let path = dir.path().join("t.gguf");
    w.write(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.tensor_info("mystery").unwrap().type_name(), "type 99");
    let e = f.tensor_f32("mystery").unwrap_err().to_string();
    assert!(
        e.contains("tensor \"mystery\"") && e.contains("unknown ggml type id 99"),
        "{e}"
    );
    let e = f.tensor_f32("k5").unwrap_err().to_string();
    assert!(
        e.contains("tensor \"k5\"") && e.contains("Q5_K (id 13) cannot be dequantized"),
        "{e}"
    );
}

#[test]
fn malformed_tables_are_errors() {
    // A row that is not a whole number of blocks.
    let mut w = GgufWriter::new();
    w.add_tensor("q", &[2, 16], GgmlType::Q8_0, vec![0; 34]);
    assert!(open_err(&w.to_bytes()).contains("tensor \"q\": shape [2, 16]: rows of 16 values"));
    // A repeated tensor name.
    let mut w = GgufWriter::new();
    w.add_tensor_f32("a", &[1], &[1.0])
        .add_tensor_f32("a", &[1], &[2.0]);
    assert!(open_err(&w.to_bytes()).contains("tensor \"a\": appears twice"));
    // A repeated key.
    let mut w = GgufWriter::new();
    w.add_metadata("k", GgufValue::U8(1))
        .add_metadata("k", GgufValue::U8(1));
    assert!(open_err(&w.to_bytes()).contains("key \"k\": appears twice"));
    // An alignment that is not a power of two.
    let mut w = GgufWriter::new();
    w.add_metadata("general.alignment", GgufValue::U32(24));
    assert!(open_err(&w.to_bytes()).contains("24 is not a power of two"));
    // Five dimensions.
    let mut w = GgufWriter::new();
    w.add_tensor_f32("five", &[1, 1, 1, 1, 1], &[1.0]);
    assert!(open_err(&w.to_bytes()).contains("tensor \"five\" has 5 dimensions"));
}

/// Byte position of the value of the first metadata entry (after magic, version, counts, key).
fn first_value_at(key: &str) -> usize {
    4 + 4 + 8 + 8 + 8 + key.len() + 4
}

#[test]
fn corrupt_values_are_errors() {
    // Unknown value type.
    let mut w = GgufWriter::new();
    w.add_metadata("k", GgufValue::U8(1));
    let mut bytes = w.to_bytes();
    let at = first_value_at("k") - 4;
    bytes[at..at + 4].copy_from_slice(&13u32.to_le_bytes());
    assert!(open_err(&bytes).contains("unknown value type 13 for the value of key \"k\""));
    // A bool that is neither 0 nor 1.
    let mut w = GgufWriter::new();
    w.add_metadata("b", GgufValue::Bool(true));
    let mut bytes = w.to_bytes();
    bytes[first_value_at("b")] = 2;
    assert!(open_err(&bytes).contains("bool of the value of key \"b\" is 2"));
    // A string length far beyond the file.
    let mut w = GgufWriter::new();
    w.add_metadata("s", GgufValue::String("abc".into()));
    let mut bytes = w.to_bytes();
    let at = first_value_at("s");
    bytes[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(open_err(&bytes).contains("a string length of 18446744073709551615"));
    // An array count far beyond the file.
    let mut w = GgufWriter::new();
    w.add_metadata("a", GgufValue::Array(GgufArray::U32(vec![1, 2])));
    let mut bytes = w.to_bytes();
    let at = first_value_at("a") + 4;
    bytes[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(open_err(&bytes).contains("an array length of 1099511627776"));
    // A tensor count far beyond the file.
    let mut bytes = GgufWriter::new().to_bytes();
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(open_err(&bytes).contains("a tensor count of"));
    // Arrays nested too deep.
    let mut deep = GgufArray::U8(vec![1]);
    for _ in 0..20 {
        deep = GgufArray::Array(vec![deep]);
    }
    let mut w = GgufWriter::new();
    w.add_metadata("deep", GgufValue::Array(deep));
    assert!(open_err(&w.to_bytes()).contains("nested more than 16 deep"));
}

#[test]
fn unaligned_offsets_are_errors_and_custom_alignment_is_used() {
    let mut w = GgufWriter::new();
    w.add_metadata("general.alignment", GgufValue::U32(64));
    w.add_tensor_f32("a", &[3], &[1.0, 2.0, 3.0])
        .add_tensor_f32("b", &[2], &[4.0, 5.0]);
    let bytes = w.to_bytes();
    let dir = tempfile::tempdir().unwrap();
    let f = GgufFile::open(write(dir.path(), "a.gguf", &bytes)).unwrap();
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.data_offset() % 64, 0);
    assert_eq!(f.tensor_info("b").unwrap().offset, 64);
    assert_eq!(f.tensor_f32("b").unwrap().1, vec![4.0, 5.0]);
    // Point "b" at offset 12: after its name come n_dims (4), one dim (8), type (4), offset.
    let name_end = bytes.windows(3).position(|w| w == b"\x00\x00b").unwrap() + 3;
    let mut bad = bytes.clone();
    let at = name_end + 4 + 8 + 4;
    assert_eq!(bad[at..at + 8], 64u64.to_le_bytes());
    bad[at..at + 8].copy_from_slice(&12u64.to_le_bytes());
    assert!(
        open_err(&bad)
            .contains("tensor \"b\": data offset 12 is not a multiple of the alignment 64")
    );
}

// ---------------------------------------------------------------------------------------------
// The committed fixture (tests/fixtures/gguf/), written by the Python `gguf` package.

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf")
}

#[derive(serde::Deserialize)]
struct RefEntry {
    #[serde(rename = "type")]
    ty: String,
    shape: Vec<usize>,
    offset: usize,
    count: usize,
}

#[derive(serde::Deserialize)]
struct Reference {
    tensors: BTreeMap<String, RefEntry>,
}

fn read_f32s(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn fixture_dequantizes_like_the_python_gguf_package() {
    let dir = fixture_dir();
    let f = GgufFile::open(dir.join("fixture.gguf")).unwrap();
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let values = read_f32s(&dir.join("reference.bin"));
    assert_eq!(f.tensors().len(), reference.tensors.len());
    let mut types_seen = std::collections::BTreeSet::new();
    for (name, r) in &reference.tensors {
        let info = f
            .tensor_info(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(info.type_name(), r.ty, "{name}");
        types_seen.insert(r.ty.clone());
        let (shape, got) = f.tensor_f32(name).unwrap();
        assert_eq!(shape, r.shape, "{name}");
        let want = &values[r.offset..r.offset + r.count];
        assert_eq!(got.len(), want.len(), "{name}");
        let exact = matches!(r.ty.as_str(), "F32" | "F16" | "BF16");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            if exact {
                assert_eq!(g.to_bits(), w.to_bits(), "{name}[{i}]: {g} vs {w}");
            } else {
                let tol = 1e-6 * w.abs().max(1e-30);
                assert!((g - w).abs() <= tol, "{name}[{i}]: {g} vs {w}");
            }
        }
    }
    let want_types = ["BF16", "F16", "F32", "Q4_0", "Q4_1", "Q4_K", "Q6_K", "Q8_0"];
    assert_eq!(
        types_seen.iter().map(String::as_str).collect::<Vec<_>>(),
        want_types
    );
}

#[test]
fn fixture_metadata_has_every_type() {
    let f = GgufFile::open(fixture_dir().join("fixture.gguf")).unwrap();
    let m = f.metadata();
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), 64);
    assert_eq!(m.get_str("general.architecture").unwrap(), "lux-fixture");
    assert_eq!(m.get("fixture.u8"), Some(&GgufValue::U8(250)));
    assert_eq!(m.get("fixture.i8"), Some(&GgufValue::I8(-120)));
    assert_eq!(m.get("fixture.u16"), Some(&GgufValue::U16(65000)));
    assert_eq!(m.get("fixture.i16"), Some(&GgufValue::I16(-32000)));
    assert_eq!(m.get("fixture.u32"), Some(&GgufValue::U32(4_000_000_000)));
    assert_eq!(m.get("fixture.i32"), Some(&GgufValue::I32(-2_000_000_000)));
    assert_eq!(
        m.get("fixture.u64"),
        Some(&GgufValue::U64(18_000_000_000_000_000_000))
    );
    assert_eq!(
        m.get("fixture.i64"),
        Some(&GgufValue::I64(-9_000_000_000_000_000_000))
    );
    assert_eq!(m.get("fixture.f32"), Some(&GgufValue::F32(0.1)));
    assert_eq!(m.get("fixture.f64"), Some(&GgufValue::F64(0.1)));
    assert_eq!(m.get("fixture.bool"), Some(&GgufValue::Bool(true)));
    assert_eq!(m.get_str("fixture.string").unwrap(), "Moien, Lëtzebuerg!");
    assert_eq!(
        m.get_str_array("fixture.strings").unwrap(),
        ["a", "bb", "ccc"]
    );
    assert_eq!(m.get_i32_array("fixture.i32s").unwrap(), [1, -2, 3]);
    assert_eq!(
        m.get("fixture.u8s"),
        Some(&GgufValue::Array(GgufArray::U8(vec![0, 1, 255])))
    );
    assert_eq!(m.get_f32_array("fixture.f32s").unwrap(), [0.5, -1.5]);
    assert_eq!(
        m.get("fixture.bools"),
        Some(&GgufValue::Array(GgufArray::Bool(vec![true, false])))
    );
    assert_eq!(
        m.get("fixture.nested"),
        Some(&GgufValue::Array(GgufArray::Array(vec![
            GgufArray::I32(vec![1, 2]),
            GgufArray::I32(vec![3]),
            GgufArray::String(vec!["x".into()]),
        ])))
    );
}
