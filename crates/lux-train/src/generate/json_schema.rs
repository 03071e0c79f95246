//! [`JsonSchema`]: the subset of JSON Schema that constrained decoding enforces, compiled
//! from a request's `json_schema`, and a validator of finished documents against it.
//!
//! The subset is what lux's prompts ask for (LUXELLA question generation, the LLM judge,
//! reverse instructions) and what OpenAI's strict mode accepts, minus combinators:
//!
//! | keyword | enforced as |
//! |---|---|
//! | `type: object` + `properties` | every property, once, in a fixed order: the `required` ones in `required`'s order, then the others by name |
//! | `type: object` without `properties` | any object (this is also `response_format: json_object`) |
//! | `type: string`, `minLength`, `maxLength` | a JSON string with that many characters (escapes count as one) |
//! | `type: integer`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` | an integer in range, no leading zeros |
//! | `type: number` | a JSON number (at most 15 integer and 15 fraction digits) |
//! | `type: boolean`, `type: null` | `true`/`false`, `null` |
//! | `enum`, `const` | one of the values, written compactly |
//! | `type: array`, `items`, `minItems`, `maxItems` | an array of such items |
//! | no `type` (`{}`) | any JSON value |
//!
//! Annotations (`title`, `description`, `examples`, `default`, `format`, `$schema`,
//! `additionalProperties`, `strict`) are accepted and ignored: a fixed property list never
//! writes additional properties. Keywords that would need more than this (`anyOf`, `oneOf`,
//! `allOf`, `not`, `$ref`, `pattern`, `type` lists, ranges on `number`, …) are an error naming
//! the keyword's path, so a schema is never silently half-enforced.

use lux_core::{Error, Result};
use serde_json::Value;

/// A compiled schema: what a value at one position of the document may be.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonSchema {
    /// Any JSON value (a schema without `type`).
    Any,
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// An integer in `minimum..=maximum`.
    Integer {
        /// Smallest allowed value.
        minimum: i64,
        /// Largest allowed value.
        maximum: i64,
    },
    /// Any JSON number.
    Number,
    /// A string of `min_length..=max_length` characters.
    String {
        /// Fewest characters.
        min_length: usize,
        /// Most characters; `None`: unbounded.
        max_length: Option<usize>,
    },
    /// One of these values, each as its compact JSON text (sorted, no repeats).
    Enum(Vec<Vec<u8>>),
    /// An array of `min_items..=max_items` values of `items`.
    Array {
        /// The elements' schema.
        items: Box<JsonSchema>,
        /// Fewest elements.
        min_items: usize,
        /// Most elements; `None`: unbounded.
        max_items: Option<usize>,
    },
    /// An object with exactly these properties, in this order. Each key is kept as its JSON
    /// text with quotes (`"score"`), the bytes the decoder must write.
    Object(Vec<Property>),
    /// Any object (`type: object` without `properties`, or `json_object`).
    AnyObject,
}

/// One property of a [`JsonSchema::Object`].
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The key.
    pub name: String,
    /// The key as JSON text, quotes included.
    pub key: Vec<u8>,
    /// The value's schema.
    pub schema: JsonSchema,
}

/// Keywords that only describe a value; they change nothing that is written.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "default",
    "format",
    "$schema",
    "$id",
    "$comment",
    "additionalProperties",
    "strict",
    "deprecated",
    "readOnly",
    "writeOnly",
];

impl JsonSchema {
    /// Compiles `schema`; an unsupported or malformed keyword is an error naming its path
    /// (`json_schema.properties.score.anyOf`).
    pub fn compile(schema: &Value) -> Result<JsonSchema> {
        compile(schema, "json_schema")
    }

    /// The schema of `response_format: json_object`: any object.
    pub fn any_object() -> JsonSchema {
        JsonSchema::AnyObject
    }

    /// Checks a parsed document against the schema; the error names the first offending
    /// path (`$.questions[0].category`). Independent of the byte recognizer, so tests can
    /// check one against the other.
    pub fn validate(&self, value: &Value) -> std::result::Result<(), String> {
        validate(self, value, "$")
    }
}

fn compile(schema: &Value, path: &str) -> Result<JsonSchema> {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Bool(true) => Ok(JsonSchema::Any),
            _ => Err(Error::invalid(path, "a schema must be an object")),
        };
    };
    for key in map.keys() {
        let known = ANNOTATIONS.contains(&key.as_str())
            || matches!(
                key.as_str(),
                "type"
                    | "properties"
                    | "required"
                    | "items"
                    | "minItems"
                    | "maxItems"
                    | "minLength"
                    | "maxLength"
                    | "minimum"
                    | "maximum"
                    | "exclusiveMinimum"
                    | "exclusiveMaximum"
                    | "enum"
                    | "const"
            );
        if !known {
            return Err(Error::invalid(
                format!("{path}.{key}"),
                "not supported by constrained decoding (supported: type, properties, required, \
                 items, minItems, maxItems, minLength, maxLength, minimum, maximum, \
                 exclusiveMinimum, exclusiveMaximum, enum, const)",
            ));
        }
    }
    if let Some(values) = map.get("enum") {
        let Value::Array(values) = values else {
            return Err(Error::invalid(format!("{path}.enum"), "must be an array"));
        };
        if values.is_empty() {
            return Err(Error::invalid(
                format!("{path}.enum"),
                "an empty enum admits no value",
            ));
        }
        return Ok(literals(values.iter()));
    }
    if let Some(value) = map.get("const") {
        return Ok(literals(std::iter::once(value)));
    }
    let ty = match map.get("type") {
        None => return Ok(JsonSchema::Any),
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.type"),
                "must be one type name (type lists are not supported by constrained decoding)",
            ));
        }
    };
    let count = |key: &str| -> Result<Option<usize>> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| Error::invalid(format!("{path}.{key}"), "must be an integer ≥ 0")),
        }
    };
    let bound = |key: &str| -> Result<Option<f64>> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| Error::invalid(format!("{path}.{key}"), "must be a number")),
        }
    };
    let ranged = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];
    if ty != "integer"
        && let Some(key) = ranged.iter().find(|k| map.contains_key(**k))
    {
        return Err(Error::invalid(
            format!("{path}.{key}"),
            format!(
                "ranges are enforced on `integer` only, not on `{ty}` (constrained decoding \
                 cannot bound a decimal's digits as they are written)"
            ),
        ));
    }
    match ty {
        "null" => Ok(JsonSchema::Null),
        "boolean" => Ok(JsonSchema::Boolean),
        "number" => Ok(JsonSchema::Number),
        "integer" => {
            let mut minimum = i64::MIN;
            let mut maximum = i64::MAX;
            // Bounds beyond i64 clamp to i64's range; fractional ones round inwards.
            let clamp = |x: f64| x.clamp(i64::MIN as f64, i64::MAX as f64) as i64;
            if let Some(x) = bound("minimum")? {
                minimum = minimum.max(clamp(x.ceil()));
            }
            if let Some(x) = bound("exclusiveMinimum")? {
                minimum = minimum.max(clamp(x.floor()).saturating_add(1));
            }
            if let Some(x) = bound("maximum")? {
                maximum = maximum.min(clamp(x.floor()));
            }
            if let Some(x) = bound("exclusiveMaximum")? {
                maximum = maximum.min(clamp(x.ceil()).saturating_sub(1));
            }
            if minimum > maximum {
                return Err(Error::invalid(
                    path,
                    format!("no integer lies in {minimum}..={maximum}"),
                ));
            }
            Ok(JsonSchema::Integer { minimum, maximum })
        }
        "string" => {
            let min_length = count("minLength")?.unwrap_or(0);
            let max_length = count("maxLength")?;
            if max_length.is_some_and(|m| m < min_length) {
                return Err(Error::invalid(
                    format!("{path}.maxLength"),
                    "is below minLength",
                ));
            }
            Ok(JsonSchema::String {
                min_length,
                max_length,
            })
        }
        "array" => {
            let items = match map.get("items") {
                None => JsonSchema::Any,
                Some(items) => compile(items, &format!("{path}.items"))?,
            };
            let min_items = count("minItems")?.unwrap_or(0);
            let max_items = count("maxItems")?;
            if max_items.is_some_and(|m| m < min_items) {
                return Err(Error::invalid(
                    format!("{path}.maxItems"),
                    "is below minItems",
                ));
            }
            Ok(JsonSchema::Array {
                items: Box::new(items),
                min_items,
                max_items,
            })
        }
        "object" => compile_object(map, path),
        other => Err(Error::invalid(
            format!("{path}.type"),
            format!("unknown type `{other}`"),
        )),
    }
}

fn compile_object(map: &serde_json::Map<String, Value>, path: &str) -> Result<JsonSchema> {
    let properties = match map.get("properties") {
        None => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.properties"),
                "must be an object",
            ));
        }
    };
    let mut required: Vec<&str> = Vec::new();
    match map.get("required") {
        None => {}
        Some(Value::Array(names)) => {
            for (i, name) in names.iter().enumerate() {
                let Some(name) = name.as_str() else {
                    return Err(Error::invalid(
                        format!("{path}.required[{i}]"),
                        "must be a property name",
                    ));
                };
                if !required.contains(&name) {
                    required.push(name);
                }
            }
        }
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.required"),
                "must be an array of names",
            ));
        }
    }
    let Some(properties) = properties else {
        if required.is_empty() {
            return Ok(JsonSchema::AnyObject);
        }
        // Required names without declared schemas: any values.
        return Ok(JsonSchema::Object(
            required
                .iter()
                .map(|name| property(name, JsonSchema::Any))
                .collect(),
        ));
    };
    // Written in `required`'s order (the order the prompt's example usually shows), then the
    // optional ones by name: writing them is always valid, and a caller lists a property
    // because it wants it.
    let mut order: Vec<&str> = required.clone();
    let mut rest: Vec<&str> = properties
        .keys()
        .map(String::as_str)
        .filter(|k| !required.contains(k))
        .collect();
    rest.sort_unstable();
    order.extend(rest);
    order
        .into_iter()
        .map(|name| {
            let schema = match properties.get(name) {
                Some(s) => compile(s, &format!("{path}.properties.{name}"))?,
                None => JsonSchema::Any,
            };
            Ok(property(name, schema))
        })
        .collect::<Result<Vec<_>>>()
        .map(JsonSchema::Object)
}

fn property(name: &str, schema: JsonSchema) -> Property {
    Property {
        name: name.to_owned(),
        key: json_text(&Value::String(name.to_owned())),
        schema,
    }
}

fn json_text(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail (its keys are strings).
    serde_json::to_vec(value).unwrap_or_default()
}

fn literals<'v>(values: impl Iterator<Item = &'v Value>) -> JsonSchema {
    let mut texts: Vec<Vec<u8>> = values.map(json_text).collect();
    texts.sort();
    texts.dedup();
    JsonSchema::Enum(texts)
}

fn validate(schema: &JsonSchema, value: &Value, path: &str) -> std::result::Result<(), String> {
    let fail = |what: &str| Err(format!("{path}: {what}"));
    match (schema, value) {
        (JsonSchema::Any, _) | (JsonSchema::Null, Value::Null) => Ok(()),
        (JsonSchema::Boolean, Value::Bool(_)) | (JsonSchema::Number, Value::Number(_)) => Ok(()),
        (JsonSchema::Integer { minimum, maximum }, Value::Number(n)) => match n.as_i64() {
            Some(i) if (*minimum..=*maximum).contains(&i) => Ok(()),
            Some(i) => fail(&format!("{i} is outside {minimum}..={maximum}")),
            None => fail(&format!("{n} is not an integer")),
        },
        (
            JsonSchema::String {
                min_length,
                max_length,
            },
            Value::String(s),
        ) => {
            let n = s.chars().count();
            if n < *min_length || max_length.is_some_and(|m| n > m) {
                fail(&format!("{n} characters is outside the length bounds"))
            } else {
                Ok(())
            }
        }
        (JsonSchema::Enum(texts), v) => {
            if texts.contains(&json_text(v)) {
                Ok(())
            } else {
                fail(&format!("{v} is not one of the enum's values"))
            }
        }
        (
            JsonSchema::Array {
                items,
                min_items,
                max_items,
            },
            Value::Array(a),
        ) => {
            if a.len() < *min_items || max_items.is_some_and(|m| a.len() > m) {
                return fail(&format!("{} items is outside the bounds", a.len()));
            }
            a.iter()
                .enumerate()
                .try_for_each(|(i, v)| validate(items, v, &format!("{path}[{i}]")))
        }
        (JsonSchema::Object(props), Value::Object(o)) => {
            if let Some(extra) = o.keys().find(|k| !props.iter().any(|p| &p.name == *k)) {
                return fail(&format!("unexpected property `{extra}`"));
            }
            props.iter().try_for_each(|p| match o.get(&p.name) {
                Some(v) => validate(&p.schema, v, &format!("{path}.{}", p.name)),
                None => fail(&format!("missing property `{}`", p.name)),
            })
        }
        (JsonSchema::AnyObject, Value::Object(_)) => Ok(()),
        (schema, value) => fail(&format!("{value} does not have the type of {schema:?}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_properties_follow_required_then_names() {
        let s = JsonSchema::compile(&json!({
            "type": "object",
            "properties": {"b": {"type": "string"}, "a": {"type": "integer", "minimum": 1, "maximum": 5}, "c": {"type": "boolean"}},
            "required": ["c", "a"],
            "additionalProperties": false
        }))
        .unwrap();
        let JsonSchema::Object(props) = &s else {
            panic!("{s:?}")
        };
        let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(props[0].key, b"\"c\"");
        assert_eq!(
            props[1].schema,
            JsonSchema::Integer {
                minimum: 1,
                maximum: 5
            }
        );
    }

    #[test]
    fn unsupported_keywords_name_their_path() {
        let e = JsonSchema::compile(&json!({
            "type": "object",
            "properties": {"x": {"anyOf": [{"type": "string"}]}}
        }))
        .unwrap_err();
        assert!(
            e.to_string().contains("json_schema.properties.x.anyOf"),
            "{e}"
        );
        let e = JsonSchema::compile(&json!({"type": "number", "maximum": 1})).unwrap_err();
        assert!(e.to_string().contains("json_schema.maximum"), "{e}");
        let e = JsonSchema::compile(&json!({"type": ["string", "null"]})).unwrap_err();
        assert!(e.to_string().contains("json_schema.type"), "{e}");
        let e = JsonSchema::compile(&json!({"type": "integer", "minimum": 3, "maximum": 2}))
            .unwrap_err();
        assert!(e.to_string().contains("3..=2"), "{e}");
    }

    #[test]
    fn ranges_round_inwards_and_enums_are_sorted_literals() {
        assert_eq!(
            JsonSchema::compile(
                &json!({"type": "integer", "exclusiveMinimum": 0.5, "maximum": 4.9})
            )
            .unwrap(),
            JsonSchema::Integer {
                minimum: 1,
                maximum: 4
            }
        );
        assert_eq!(
            JsonSchema::compile(&json!({"enum": ["b", 3, "a", "b"]})).unwrap(),
            JsonSchema::Enum(vec![b"\"a\"".to_vec(), b"\"b\"".to_vec(), b"3".to_vec()])
        );
        assert_eq!(
            JsonSchema::compile(&json!({"type": "object"})).unwrap(),
            JsonSchema::AnyObject
        );
    }

    #[test]
    fn validate_names_the_offending_path() {
        let s = JsonSchema::compile(&json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"enum": ["x"]}, "maxItems": 2}},
            "required": ["items"]
        }))
        .unwrap();
        assert!(s.validate(&json!({"items": ["x"]})).is_ok());
        assert_eq!(
            s.validate(&json!({"items": ["x", "y"]})).unwrap_err(),
            "$.items[1]: \"y\" is not one of the enum's values"
        );
        assert!(s.validate(&json!({"items": ["x", "x", "x"]})).is_err());
        assert!(s.validate(&json!({})).unwrap_err().contains("missing"));
        assert!(
            s.validate(&json!({"items": [], "z": 1}))
                .unwrap_err()
                .contains("`z`")
        );
    }
}
