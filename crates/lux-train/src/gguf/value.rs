//! [`GgufValue`] and [`GgufArray`]: the values a GGUF metadata entry can hold.

use std::fmt;

/// One metadata value, with the type the file stores it as.
///
/// GGUF has twelve value types; arrays hold values of one element type (arrays of arrays may mix
/// element types from one inner array to the next).
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7 (one byte, 0 or 1).
    Bool(bool),
    /// Type 8: UTF-8 text.
    String(String),
    /// Type 9: an array.
    Array(GgufArray),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

/// A metadata array: its elements, stored by element type.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufArray {
    /// Array of u8.
    U8(Vec<u8>),
    /// Array of i8.
    I8(Vec<i8>),
    /// Array of u16.
    U16(Vec<u16>),
    /// Array of i16.
    I16(Vec<i16>),
    /// Array of u32.
    U32(Vec<u32>),
    /// Array of i32 (`tokenizer.ggml.token_type`).
    I32(Vec<i32>),
    /// Array of f32 (`tokenizer.ggml.scores`).
    F32(Vec<f32>),
    /// Array of bool.
    Bool(Vec<bool>),
    /// Array of strings (`tokenizer.ggml.tokens`, `tokenizer.ggml.merges`).
    String(Vec<String>),
    /// Array of arrays; each inner array has its own element type.
    Array(Vec<GgufArray>),
    /// Array of u64.
    U64(Vec<u64>),
    /// Array of i64.
    I64(Vec<i64>),
    /// Array of f64.
    F64(Vec<f64>),
}

impl GgufValue {
    /// The type's name as error messages show it: `u32`, `string`, `array of i32`.
    pub fn type_name(&self) -> String {
        match self {
            GgufValue::Array(a) => format!("array of {}", a.element_type_name()),
            other => scalar_type_name(other).to_owned(),
        }
    }

    /// The value as an `i128` when it is any integer type (not bool).
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            GgufValue::U8(v) => v.into(),
            GgufValue::I8(v) => v.into(),
            GgufValue::U16(v) => v.into(),
            GgufValue::I16(v) => v.into(),
            GgufValue::U32(v) => v.into(),
            GgufValue::I32(v) => v.into(),
            GgufValue::U64(v) => v.into(),
            GgufValue::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The array, when the value is one.
    pub fn as_array(&self) -> Option<&GgufArray> {
        match self {
            GgufValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

fn scalar_type_name(v: &GgufValue) -> &'static str {
    match v {
        GgufValue::U8(_) => "u8",
        GgufValue::I8(_) => "i8",
        GgufValue::U16(_) => "u16",
        GgufValue::I16(_) => "i16",
        GgufValue::U32(_) => "u32",
        GgufValue::I32(_) => "i32",
        GgufValue::F32(_) => "f32",
        GgufValue::Bool(_) => "bool",
        GgufValue::String(_) => "string",
        GgufValue::Array(_) => "array",
        GgufValue::U64(_) => "u64",
        GgufValue::I64(_) => "i64",
        GgufValue::F64(_) => "f64",
    }
}

impl GgufArray {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            GgufArray::U8(v) => v.len(),
            GgufArray::I8(v) => v.len(),
            GgufArray::U16(v) => v.len(),
            GgufArray::I16(v) => v.len(),
            GgufArray::U32(v) => v.len(),
            GgufArray::I32(v) => v.len(),
            GgufArray::F32(v) => v.len(),
            GgufArray::Bool(v) => v.len(),
            GgufArray::String(v) => v.len(),
            GgufArray::Array(v) => v.len(),
            GgufArray::U64(v) => v.len(),
            GgufArray::I64(v) => v.len(),
            GgufArray::F64(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type's name: `i32`, `string`, `array`.
    pub fn element_type_name(&self) -> &'static str {
        match self {
            GgufArray::U8(_) => "u8",
            GgufArray::I8(_) => "i8",
            GgufArray::U16(_) => "u16",
            GgufArray::I16(_) => "i16",
            GgufArray::U32(_) => "u32",
            GgufArray::I32(_) => "i32",
            GgufArray::F32(_) => "f32",
            GgufArray::Bool(_) => "bool",
            GgufArray::String(_) => "string",
            GgufArray::Array(_) => "array",
            GgufArray::U64(_) => "u64",
            GgufArray::I64(_) => "i64",
            GgufArray::F64(_) => "f64",
        }
    }

    /// The elements as `i64` when the element type is any integer type that fits.
    pub fn to_i64_vec(&self) -> Option<Vec<i64>> {
        fn conv<T: Copy + TryInto<i64>>(v: &[T]) -> Option<Vec<i64>> {
            v.iter().map(|&x| x.try_into().ok()).collect()
        }
        match self {
            GgufArray::U8(v) => conv(v),
            GgufArray::I8(v) => conv(v),
            GgufArray::U16(v) => conv(v),
            GgufArray::I16(v) => conv(v),
            GgufArray::U32(v) => conv(v),
            GgufArray::I32(v) => conv(v),
            GgufArray::U64(v) => conv(v),
            GgufArray::I64(v) => conv(v),
            _ => None,
        }
    }
}

impl fmt::Display for GgufValue {
    /// Scalars as they are, strings quoted, arrays by type and length (`[string; 49152]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufValue::U8(v) => write!(f, "{v}"),
            GgufValue::I8(v) => write!(f, "{v}"),
            GgufValue::U16(v) => write!(f, "{v}"),
            GgufValue::I16(v) => write!(f, "{v}"),
            GgufValue::U32(v) => write!(f, "{v}"),
            GgufValue::I32(v) => write!(f, "{v}"),
            GgufValue::F32(v) => write!(f, "{v}"),
            GgufValue::Bool(v) => write!(f, "{v}"),
            GgufValue::String(v) => write!(f, "{v:?}"),
            GgufValue::Array(a) => write!(f, "[{}; {}]", a.element_type_name(), a.len()),
            GgufValue::U64(v) => write!(f, "{v}"),
            GgufValue::I64(v) => write!(f, "{v}"),
            GgufValue::F64(v) => write!(f, "{v}"),
        }
    }
}

/// Conversion from a metadata value to a Rust type, used by
/// [`GgufMetadata::get_as`](super::GgufMetadata::get_as).
///
/// Integer targets accept any integer type whose value fits (converters differ: one writes
/// `u32` where another writes `i32`); `f32` and `f64` accept either float type; `bool`, `&str`
/// and the slice types accept only their own type.
pub trait FromGgufValue<'a>: Sized {
    /// What the target expects, for error messages (`"u32"`, `"array of string"`).
    const EXPECTED: &'static str;

    /// The converted value, or `None` when the value has another type or does not fit.
    fn from_gguf_value(value: &'a GgufValue) -> Option<Self>;
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl FromGgufValue<'_> for $t {
            const EXPECTED: &'static str = stringify!($t);
            fn from_gguf_value(value: &GgufValue) -> Option<Self> {
                value.as_integer().and_then(|v| <$t>::try_from(v).ok())
            }
        }
    )*};
}
from_integer!(u8, i8, u16, i16, u32, i32, u64, i64, usize);

impl FromGgufValue<'_> for f32 {
    const EXPECTED: &'static str = "f32";
    fn from_gguf_value(value: &GgufValue) -> Option<Self> {
        match *value {
            GgufValue::F32(v) => Some(v),
            GgufValue::F64(v) => Some(v as f32),
            _ => None,
        }
    }
}

impl FromGgufValue<'_> for f64 {
    const EXPECTED: &'static str = "f64";
    fn from_gguf_value(value: &GgufValue) -> Option<Self> {
        match *value {
            GgufValue::F32(v) => Some(v.into()),
            GgufValue::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl FromGgufValue<'_> for bool {
    const EXPECTED: &'static str = "bool";
    fn from_gguf_value(value: &GgufValue) -> Option<Self> {
        match *value {
            GgufValue::Bool(v) => Some(v),
            _ => None,
        }
    }
}

impl<'a> FromGgufValue<'a> for &'a str {
    const EXPECTED: &'static str = "string";
    fn from_gguf_value(value: &'a GgufValue) -> Option<Self> {
        value.as_str()
    }
}

impl<'a> FromGgufValue<'a> for &'a GgufArray {
    const EXPECTED: &'static str = "array";
    fn from_gguf_value(value: &'a GgufValue) -> Option<Self> {
        value.as_array()
    }
}

macro_rules! from_array {
    ($($t:ty => $variant:ident, $name:literal);* $(;)?) => {$(
        impl<'a> FromGgufValue<'a> for &'a [$t] {
            const EXPECTED: &'static str = $name;
            fn from_gguf_value(value: &'a GgufValue) -> Option<Self> {
                match value {
                    GgufValue::Array(GgufArray::$variant(v)) => Some(v),
                    _ => None,
                }
            }
        }
    )*};
}
from_array! {
    u8 => U8, "array of u8";
    i8 => I8, "array of i8";
    u16 => U16, "array of u16";
    i16 => I16, "array of i16";
    u32 => U32, "array of u32";
    i32 => I32, "array of i32";
    f32 => F32, "array of f32";
    bool => Bool, "array of bool";
    String => String, "array of string";
    GgufArray => Array, "array of array";
    u64 => U64, "array of u64";
    i64 => I64, "array of i64";
    f64 => F64, "array of f64";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_convert_when_they_fit() {
        assert_eq!(u32::from_gguf_value(&GgufValue::I32(7)), Some(7));
        assert_eq!(u32::from_gguf_value(&GgufValue::I32(-1)), None);
        assert_eq!(u8::from_gguf_value(&GgufValue::U64(256)), None);
        assert_eq!(i64::from_gguf_value(&GgufValue::U64(u64::MAX)), None);
        assert_eq!(usize::from_gguf_value(&GgufValue::U16(9)), Some(9));
        assert_eq!(u32::from_gguf_value(&GgufValue::F32(1.0)), None);
        assert_eq!(u32::from_gguf_value(&GgufValue::Bool(true)), None);
    }

    #[test]
    fn floats_strings_and_arrays_are_strict() {
        assert_eq!(f32::from_gguf_value(&GgufValue::F64(0.5)), Some(0.5));
        assert_eq!(f64::from_gguf_value(&GgufValue::F32(0.5)), Some(0.5));
        assert_eq!(f32::from_gguf_value(&GgufValue::I32(1)), None);
        let s = GgufValue::String("x".into());
        assert_eq!(<&str>::from_gguf_value(&s), Some("x"));
        let a = GgufValue::Array(GgufArray::I32(vec![1, -2]));
        assert_eq!(<&[i32]>::from_gguf_value(&a), Some(&[1, -2][..]));
        assert_eq!(<&[u32]>::from_gguf_value(&a), None);
        assert_eq!(a.type_name(), "array of i32");
        assert_eq!(a.to_string(), "[i32; 2]");
        assert_eq!(
            a.as_array().and_then(GgufArray::to_i64_vec),
            Some(vec![1, -2])
        );
        let nested = GgufValue::Array(GgufArray::Array(vec![GgufArray::U8(vec![1])]));
        assert_eq!(nested.type_name(), "array of array");
    }
}
