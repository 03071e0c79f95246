//! [`Number`]: an exact decimal, so `18`, `18.0` and `18,00` are the same answer.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use lux_core::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An exact decimal number `mantissa / 10^scale`, kept normalised (no trailing zero after
/// the decimal point), so equality is value equality: `Number::parse("3.50") ==
/// Number::parse("3.5")`.
///
/// Written canonically (`-1234.5`, no grouping) by `Display`, and in JSON as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    mantissa: i128,
    scale: u32,
}

/// Most digits after the decimal point lux keeps track of.
const MAX_SCALE: u32 = 30;

impl Number {
    /// `mantissa / 10^scale`, normalised; `None` when `scale` is above 30.
    pub fn new(mantissa: i128, scale: u32) -> Option<Number> {
        if scale > MAX_SCALE {
            return None;
        }
        let (mut m, mut s) = (mantissa, scale);
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Some(Number {
            mantissa: m,
            scale: s,
        })
    }

    /// An integer.
    pub fn integer(value: i64) -> Number {
        Number {
            mantissa: i128::from(value),
            scale: 0,
        }
    }

    /// Parses the canonical form: an optional `-`, digits, optionally `.` and more digits
    /// (`18`, `-3.5`, `0.25`). Grouped or localised forms are read by
    /// [`AnswerExtractor`](super::AnswerExtractor) instead.
    pub fn parse(text: &str) -> Result<Number> {
        let bad = || Error::invalid("number", format!("`{text}` is not a decimal number"));
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if digits.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
            return Err(bad());
        }
        Number::from_parts(negative, int, frac).ok_or_else(bad)
    }

    /// Builds a number from ASCII digit strings; `None` on overflow.
    pub(crate) fn from_parts(negative: bool, int: &str, frac: &str) -> Option<Number> {
        let mut m: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let scale = u32::try_from(frac.len()).ok()?;
        Number::new(if negative { -m } else { m }, scale)
    }

    /// Whether the number has no fractional part.
    pub fn is_integer(&self) -> bool {
        self.scale == 0
    }

    /// The value as `f64` (rounded for long decimals).
    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }

    /// Parses the shortest decimal form of a finite `f64` (`7.5` → `7.5`); `None` for NaN
    /// and infinities.
    pub fn from_f64(value: f64) -> Option<Number> {
        if !value.is_finite() {
            return None;
        }
        let s = format!("{value}");
        Number::parse(&s).ok()
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int}.{frac}")
    }
}

impl std::ops::Neg for Number {
    type Output = Number;
    fn neg(self) -> Number {
        // Mantissas come from digits or `i64`s, never `i128::MIN`.
        Number {
            mantissa: self.mantissa.saturating_neg(),
            scale: self.scale,
        }
    }
}

impl FromStr for Number {
    type Err = Error;
    fn from_str(s: &str) -> Result<Number> {
        Number::parse(s)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        let lift = |n: &Number| {
            10i128
                .checked_pow(scale - n.scale)
                .and_then(|p| n.mantissa.checked_mul(p))
        };
        match (lift(self), lift(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match (self.is_integer(), i64::try_from(self.mantissa)) {
            (true, Ok(i)) => serializer.serialize_i64(i),
            _ => serializer.serialize_f64(self.to_f64()),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Number, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(i64),
            Float(f64),
            Text(String),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Int(i) => Ok(Number::integer(i)),
            Repr::Float(v) => Number::from_f64(v)
                .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a finite number"))),
            Repr::Text(s) => Number::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_equality_and_display() {
        let n = |s: &str| Number::parse(s).unwrap();
        assert_eq!(n("3.50"), n("3.5"));
        assert_eq!(n("18.000"), Number::integer(18));
        assert_eq!(n("-0.25").to_string(), "-0.25");
        assert_eq!(n("0.05").to_string(), "0.05");
        assert_eq!(n("1234").to_string(), "1234");
        assert!(n("2.5") < n("10"));
        assert!(n("-3") < n("-2.5"));
        for bad in ["", "-", "1.", ".5", "1,5", "1.2.3", "a1", "1e3"] {
            assert!(Number::parse(bad).is_err(), "{bad}");
        }
        assert!(Number::parse("99999999999999999999999999999999999999999").is_err());
    }

    #[test]
    fn json_round_trip() {
        let v: Vec<Number> = serde_json::from_str(r#"[7, 7.5, "12.25", -3]"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "[7,7.5,12.25,-3]");
    }
}
