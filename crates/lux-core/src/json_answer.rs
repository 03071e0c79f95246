//! Reading a model's JSON answer: tolerant of code fences and chatter around the object,
//! strict about the fields. The one parser of lux's LLM-backed judges, generators and
//! benchmarks.
//!
//! Errors are plain strings, meant to be recorded as the reason an answer was rejected
//! (`invalid JSON: …`, `schema: missing field instruction`).
//!
//! ```
//! use lux_core::json_answer::{number_field, parse_object};
//!
//! let obj = parse_object("Sure!\n```json\n{\"score\": 4}\n```").unwrap();
//! assert_eq!(number_field(&obj, "score"), Ok(4.0));
//! ```

use serde_json::{Map, Value};

/// The JSON object in a model's answer: the whole answer, else the answer without a
/// Markdown code fence, else the text from the first `{` to the last `}`. The error is the
/// reason a rejection records (`invalid JSON: …`, `schema: answer is a JSON array, not an
/// object`).
pub fn parse_object(answer: &str) -> Result<Map<String, Value>, String> {
    let trimmed = answer.trim();
    if trimmed.is_empty() {
        return Err("invalid JSON: empty answer".into());
    }
    let first_error = match serde_json::from_str::<Value>(trimmed) {
        Ok(v) => return as_object(v),
        Err(e) => e,
    };
    let unfenced = strip_fence(trimmed);
    if let Ok(v) = serde_json::from_str::<Value>(unfenced) {
        return as_object(v);
    }
    if let (Some(a), Some(b)) = (unfenced.find('{'), unfenced.rfind('}'))
        && a < b
        && let Ok(v) = serde_json::from_str::<Value>(&unfenced[a..=b])
    {
        return as_object(v);
    }
    Err(format!("invalid JSON: {first_error}"))
}

fn as_object(v: Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(format!(
            "schema: answer is a JSON {}, not an object",
            kind(&other)
        )),
    }
}

fn strip_fence(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("```") else {
        return s;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// The JSON type of `v` in words (`null`, `boolean`, `number`, `string`, `array`, `object`),
/// for schema errors.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A required non-empty string field: `schema: missing field instruction`,
/// `schema: field span is a number, not a string`, `schema: field span is empty`.
pub fn string_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(format!("schema: missing field {name}")),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(format!("schema: field {name} is empty"))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "schema: field {name} is a {}, not a string",
            kind(other)
        )),
    }
}

/// A required number field (a numeric string such as `"4"` is accepted).
pub fn number_field(obj: &Map<String, Value>, name: &str) -> Result<f64, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Err(format!("schema: missing field {name}")),
        Some(Value::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("schema: field {name} is not a finite number")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("schema: field {name} is the string {s:?}, not a number")),
        Some(other) => Err(format!(
            "schema: field {name} is a {}, not a number",
            kind(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_with_and_without_wrapping() {
        assert!(parse_object(r#"{"a":"b"}"#).is_ok());
        assert!(parse_object("```json\n{\"a\":\"b\"}\n```").is_ok());
        assert!(parse_object("```json\n{\"a\": 1}\n```").is_ok());
        assert!(parse_object("Here you go: {\"a\":\"b\"} Enjoy!").is_ok());
        assert!(parse_object("Sure! {\"a\": 1} done").is_ok());
        assert!(
            parse_object("{\"a\": \"b")
                .unwrap_err()
                .starts_with("invalid JSON: ")
        );
        assert!(
            parse_object("no")
                .unwrap_err()
                .starts_with("invalid JSON: ")
        );
        assert_eq!(parse_object("").unwrap_err(), "invalid JSON: empty answer");
        assert!(
            parse_object("[1]")
                .unwrap_err()
                .starts_with("schema: answer is a JSON array")
        );
    }

    #[test]
    fn field_errors_are_specific() {
        let o = parse_object(r#"{"span": 3, "x": " ", "score": "4"}"#).unwrap();
        assert_eq!(
            string_field(&o, "instruction").unwrap_err(),
            "schema: missing field instruction"
        );
        assert_eq!(
            string_field(&o, "span").unwrap_err(),
            "schema: field span is a number, not a string"
        );
        assert_eq!(
            string_field(&o, "x").unwrap_err(),
            "schema: field x is empty"
        );
        assert_eq!(number_field(&o, "score").unwrap(), 4.0);
        assert_eq!(number_field(&o, "span").unwrap(), 3.0);
    }
}
