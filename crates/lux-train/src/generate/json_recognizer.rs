//! [`JsonRecognizer`]: reads a JSON document byte by byte and says, after every byte, whether
//! the text so far can still be completed into a document that follows a [`JsonSchema`].
//!
//! It is a pushdown automaton: a stack of [`Frame`]s, one per value being written (the
//! innermost on top). A byte goes to the top frame, which takes it, rejects it, opens a
//! nested value (push), or ends its value (pop, and the parent moves past it). Numbers and
//! literals such as `1`/`12` end only when a byte that cannot extend them arrives; that byte
//! is then handed to the parent.
//!
//! Every prefix the recognizer accepts can be completed: strings close, integer prefixes
//! that cannot reach the range are refused digit by digit, an object's keys are spelled out
//! by the schema. That is what lets [`TokenMask`](super::TokenMask) mask tokens without ever
//! leading the decoder into a dead end.
//!
//! Runaway output is bounded where the model could loop without writing anything useful:
//! between two tokens of the document, whitespace is nothing, one space, or one newline and
//! at most [`MAX_INDENT`] spaces or tabs (llama.cpp's JSON grammar allows the same); numbers
//! have at most 15 + 15 digits and a 2-digit exponent; values nest at most [`MAX_DEPTH`]
//! deep.

use std::sync::LazyLock;

use super::json_schema::{JsonSchema, Property};

/// Most spaces or tabs after a newline between two tokens of the document: enough to indent
/// a pretty-printed answer, too few for a model to loop on blanks.
pub const MAX_INDENT: u8 = 20;
/// [`JsonRecognizer::whitespace`] after a single space: no more whitespace in this gap.
const AFTER_SPACE: u8 = u8::MAX;
/// Deepest nesting of values (frames): bounds `[[[[…` under a schema without `type`.
pub const MAX_DEPTH: usize = 32;
const MAX_INT_DIGITS: u8 = 15;
const MAX_FRACTION_DIGITS: u8 = 15;
const MAX_EXPONENT_DIGITS: u8 = 2;

static ANY: JsonSchema = JsonSchema::Any;
static KEYWORDS: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![b"false".to_vec(), b"null".to_vec(), b"true".to_vec()]);
static BOOLEANS: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| vec![b"false".to_vec(), b"true".to_vec()]);
static NULL: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| vec![b"null".to_vec()]);

/// The incremental recognizer of documents of one schema. Cheap to clone (a short stack of
/// small frames), which is how candidate tokens are tried.
#[derive(Debug)]
pub struct JsonRecognizer<'s> {
    stack: Vec<Frame<'s>>,
    /// The whitespace gap since the last other byte: 0 none, [`AFTER_SPACE`] one space,
    /// else 1 + the spaces and tabs after a newline.
    whitespace: u8,
}

impl Clone for JsonRecognizer<'_> {
    fn clone(&self) -> Self {
        JsonRecognizer {
            stack: self.stack.clone(),
            whitespace: self.whitespace,
        }
    }

    /// Reuses the stack's allocation: the token mask resets a scratch recognizer once per
    /// candidate token, tens of thousands of times per step.
    fn clone_from(&mut self, source: &Self) {
        self.stack.clone_from(&source.stack);
        self.whitespace = source.whitespace;
    }
}

/// Where a container is between its delimiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// After `{` or `[`.
    Open,
    /// After `,` in an object: a key comes next.
    ExpectKey,
    /// A key is being written (the child frame).
    InKey,
    /// After a key: `:` comes next.
    AfterKey,
    /// A value is being written (the child frame).
    InValue,
    /// After a value: `,` or the closing bracket.
    AfterValue,
}

/// Where a string is, after its opening quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrAt {
    /// Between characters.
    Plain,
    /// After `\`.
    Escape,
    /// In `\uXXXX` with `left` hex digits to go; `surrogate` when the first was `d`, so the
    /// second must keep the code point out of the surrogate range (serde and most parsers
    /// reject a lone surrogate, and pairs are not worth the states).
    Unicode { left: u8, surrogate: bool },
    /// In a multi-byte UTF-8 character with `left` continuation bytes to go, the next in
    /// `lo..=hi` (which excludes overlong forms and surrogates).
    Utf8 { left: u8, lo: u8, hi: u8 },
}

/// Where a number is (JSON's number grammar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumAt {
    Start,
    Minus,
    /// A leading `0`: no more integer digits.
    Zero,
    Int,
    Dot,
    Fraction,
    E,
    ExponentSign,
    Exponent,
}

/// One value being written.
#[derive(Debug, Clone, Copy)]
enum Frame<'s> {
    /// Not started: leading whitespace, then the first byte picks the frame that replaces
    /// this one.
    Value(&'s JsonSchema),
    /// One of `options` (sorted JSON texts), `pos` bytes in; those still possible are
    /// `options[lo..hi]` (contiguous, because the options are sorted and share the prefix).
    Literal {
        options: &'s [Vec<u8>],
        lo: usize,
        hi: usize,
        pos: usize,
    },
    /// After the opening quote; `chars` characters written, at most `max`.
    Str {
        min: usize,
        max: usize,
        chars: usize,
        at: StrAt,
    },
    /// An integer in `minimum..=maximum`: sign and the digits' value so far.
    Int {
        minimum: i64,
        maximum: i64,
        negative: bool,
        digits: u8,
        magnitude: u64,
    },
    /// A number, `digits` digits into its current part.
    Num { at: NumAt, digits: u8 },
    /// An array; `count` items done.
    Array {
        items: &'s JsonSchema,
        min: usize,
        max: usize,
        count: usize,
        at: At,
    },
    /// An object with a fixed property list; `next` properties done.
    Object {
        props: &'s [Property],
        next: usize,
        at: At,
    },
    /// An object with any keys and values.
    AnyObject { at: At },
}

/// What the top frame did with a byte.
enum Step<'s> {
    /// Took it.
    Took,
    /// It is whitespace between tokens, allowed here (as the gap's shape allows).
    Whitespace,
    /// It cannot come here.
    Reject,
    /// The frame changed kind (a [`Frame::Value`] started); give it the byte again.
    Again,
    /// Took it, and a nested value starts after it.
    Push(Frame<'s>),
    /// A nested value starts with this byte: push, then give it the byte.
    PushAgain(Frame<'s>),
    /// Took it, and it ended the value.
    Ended,
    /// The value ended just before it: pop, then give the byte to the parent.
    EndedBefore,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

fn literal(options: &[Vec<u8>]) -> Frame<'_> {
    Frame::Literal {
        options,
        lo: 0,
        hi: options.len(),
        pos: 0,
    }
}

fn any_string<'s>() -> Frame<'s> {
    Frame::Str {
        min: 0,
        max: usize::MAX,
        chars: 0,
        at: StrAt::Plain,
    }
}

impl<'s> JsonRecognizer<'s> {
    /// A recognizer at the start of a document of `schema`.
    pub fn new(schema: &'s JsonSchema) -> JsonRecognizer<'s> {
        JsonRecognizer {
            stack: vec![Frame::Value(schema)],
            whitespace: 0,
        }
    }

    /// Reads one byte; `false` when no valid document continues with it. After a rejected
    /// byte the recognizer is in an unspecified state: try bytes on a clone.
    pub fn feed(&mut self, b: u8) -> bool {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return false;
            };
            match top.step(b) {
                Step::Took => {
                    self.whitespace = 0;
                    return true;
                }
                Step::Whitespace => {
                    self.whitespace = match (self.whitespace, b) {
                        (0, b' ') => AFTER_SPACE,
                        (0, b'\n') => 1,
                        (w, b' ' | b'\t') if (1..=MAX_INDENT).contains(&w) => w + 1,
                        _ => return false,
                    };
                    return true;
                }
                Step::Reject => return false,
                Step::Again => {}
                Step::Push(child) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return false;
                    }
                    self.stack.push(child);
                    self.whitespace = 0;
                    return true;
                }
                Step::PushAgain(child) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return false;
                    }
                    self.stack.push(child);
                }
                Step::Ended => {
                    self.pop();
                    self.whitespace = 0;
                    return true;
                }
                Step::EndedBefore => self.pop(),
            }
        }
    }

    /// Reads `bytes`; `false` (state unspecified) at the first byte no document allows.
    pub fn feed_all(&mut self, bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| self.feed(b))
    }

    fn pop(&mut self) {
        self.stack.pop();
        if let Some(parent) = self.stack.last_mut() {
            parent.child_ended();
        }
    }

    /// Whether the text so far is a whole document (end of sequence may come now).
    pub fn is_complete(&self) -> bool {
        match self.stack.as_slice() {
            [] => true,
            [only] => only.can_end(),
            _ => false,
        }
    }

    /// Whether the document is complete and nothing can be appended to it (so decoding can
    /// stop without asking the model for its end-of-sequence token).
    pub fn is_finished(&self) -> bool {
        self.stack.is_empty()
    }

    /// When the recognizer is between characters of a string: how many more characters it
    /// may take. Every byte string that is whole, valid UTF-8 without `"`, `\` or control
    /// characters then is accepted if it has at most that many characters, and leaves the
    /// recognizer as it found it apart from the count, which lets the token mask accept most
    /// of the vocabulary without feeding it byte by byte.
    pub fn string_room(&self) -> Option<usize> {
        match self.stack.last() {
            Some(Frame::Str {
                max,
                chars,
                at: StrAt::Plain,
                ..
            }) => Some(max - chars),
            _ => None,
        }
    }
}

impl<'s> Frame<'s> {
    fn step(&mut self, b: u8) -> Step<'s> {
        match self {
            Frame::Value(schema) => {
                if is_whitespace(b) {
                    return Step::Whitespace;
                }
                match start(schema, b) {
                    Some((frame, consumed)) => {
                        *self = frame;
                        if consumed { Step::Took } else { Step::Again }
                    }
                    None => Step::Reject,
                }
            }
            Frame::Literal {
                options,
                lo,
                hi,
                pos,
            } => {
                let candidates = &options[*lo..*hi];
                let first = candidates.iter().position(|o| o.get(*pos) == Some(&b));
                let Some(first) = first else {
                    // The shortest option sorts first: it is the one that may end here.
                    return if candidates.first().is_some_and(|o| o.len() == *pos) {
                        Step::EndedBefore
                    } else {
                        Step::Reject
                    };
                };
                let count = candidates[first..]
                    .iter()
                    .take_while(|o| o.get(*pos) == Some(&b))
                    .count();
                *lo += first;
                *hi = *lo + count;
                *pos += 1;
                if count == 1 && options[*lo].len() == *pos {
                    Step::Ended
                } else {
                    Step::Took
                }
            }
            Frame::Str {
                min,
                max,
                chars,
                at,
            } => step_string(*min, *max, chars, at, b),
            Frame::Int {
                minimum,
                maximum,
                negative,
                digits,
                magnitude,
            } => match b {
                b'-' if *digits == 0 && !*negative => {
                    if *minimum < 0 {
                        *negative = true;
                        Step::Took
                    } else {
                        Step::Reject
                    }
                }
                b'0'..=b'9' => {
                    let d = u64::from(b - b'0');
                    // No leading zeros, no `-0`.
                    if (*digits > 0 && *magnitude == 0) || (*negative && *digits == 0 && d == 0) {
                        return Step::Reject;
                    }
                    let Some(m) = magnitude.checked_mul(10).and_then(|m| m.checked_add(d)) else {
                        return Step::Reject;
                    };
                    if !int_reachable(*minimum, *maximum, *negative, m) {
                        return Step::Reject;
                    }
                    *magnitude = m;
                    *digits += 1;
                    Step::Took
                }
                _ if *digits > 0 && int_in_range(*minimum, *maximum, *negative, *magnitude) => {
                    Step::EndedBefore
                }
                _ => Step::Reject,
            },
            Frame::Num { at, digits } => step_number(at, digits, b),
            Frame::Array {
                items,
                min,
                max,
                count,
                at,
            } => {
                if is_whitespace(b) && *at != At::InValue {
                    return Step::Whitespace;
                }
                match (*at, b) {
                    (At::Open, b']') if *min == 0 => Step::Ended,
                    (At::Open, _) if *max > 0 => {
                        *at = At::InValue;
                        Step::PushAgain(Frame::Value(items))
                    }
                    (At::AfterValue, b',') if *count < *max => {
                        *at = At::InValue;
                        Step::Push(Frame::Value(items))
                    }
                    (At::AfterValue, b']') if *count >= *min => Step::Ended,
                    _ => Step::Reject,
                }
            }
            Frame::Object { props, next, at } => {
                if is_whitespace(b) && !matches!(*at, At::InKey | At::InValue) {
                    return Step::Whitespace;
                }
                match (*at, b) {
                    (At::Open, b'}') if props.is_empty() => Step::Ended,
                    (At::Open | At::ExpectKey, b'"') if *next < props.len() => {
                        *at = At::InKey;
                        Step::PushAgain(literal(std::slice::from_ref(&props[*next].key)))
                    }
                    (At::AfterKey, b':') => {
                        *at = At::InValue;
                        Step::Push(Frame::Value(&props[*next].schema))
                    }
                    (At::AfterValue, b',') if *next < props.len() => {
                        *at = At::ExpectKey;
                        Step::Took
                    }
                    (At::AfterValue, b'}') if *next == props.len() => Step::Ended,
                    _ => Step::Reject,
                }
            }
            Frame::AnyObject { at } => {
                if is_whitespace(b) && !matches!(*at, At::InKey | At::InValue) {
                    return Step::Whitespace;
                }
                match (*at, b) {
                    (At::Open | At::AfterValue, b'}') => Step::Ended,
                    (At::Open | At::ExpectKey, b'"') => {
                        *at = At::InKey;
                        Step::Push(any_string())
                    }
                    (At::AfterKey, b':') => {
                        *at = At::InValue;
                        Step::Push(Frame::Value(&ANY))
                    }
                    (At::AfterValue, b',') => {
                        *at = At::ExpectKey;
                        Step::Took
                    }
                    _ => Step::Reject,
                }
            }
        }
    }

    /// The nested value on top of this container ended.
    fn child_ended(&mut self) {
        match self {
            Frame::Array { count, at, .. } => {
                *count += 1;
                *at = At::AfterValue;
            }
            Frame::Object { next, at, .. } => {
                if *at == At::InKey {
                    *at = At::AfterKey;
                } else {
                    *next += 1;
                    *at = At::AfterValue;
                }
            }
            Frame::AnyObject { at } => {
                *at = if *at == At::InKey {
                    At::AfterKey
                } else {
                    At::AfterValue
                };
            }
            _ => {}
        }
    }

    /// Whether the value may end here (for values that end only when something follows).
    fn can_end(&self) -> bool {
        match *self {
            Frame::Literal {
                options, lo, pos, ..
            } => options.get(lo).is_some_and(|o| o.len() == pos),
            Frame::Int {
                minimum,
                maximum,
                negative,
                digits,
                magnitude,
            } => digits > 0 && int_in_range(minimum, maximum, negative, magnitude),
            Frame::Num { at, .. } => {
                matches!(
                    at,
                    NumAt::Zero | NumAt::Int | NumAt::Fraction | NumAt::Exponent
                )
            }
            _ => false,
        }
    }
}

/// The frame a value of `schema` starts with on byte `b`, and whether it took `b` (else the
/// new frame must be given `b`); `None`: no value of the schema starts with `b`.
fn start(schema: &JsonSchema, b: u8) -> Option<(Frame<'_>, bool)> {
    let frame = match (schema, b) {
        (JsonSchema::Any, b'{') | (JsonSchema::AnyObject, b'{') => {
            (Frame::AnyObject { at: At::Open }, true)
        }
        (JsonSchema::Any, b'[') => (
            Frame::Array {
                items: &ANY,
                min: 0,
                max: usize::MAX,
                count: 0,
                at: At::Open,
            },
            true,
        ),
        (JsonSchema::Any, b'"') => (any_string(), true),
        (JsonSchema::Any, b'-' | b'0'..=b'9') | (JsonSchema::Number, _) => (
            Frame::Num {
                at: NumAt::Start,
                digits: 0,
            },
            false,
        ),
        (JsonSchema::Any, _) => (literal(&KEYWORDS), false),
        (JsonSchema::Null, _) => (literal(&NULL), false),
        (JsonSchema::Boolean, _) => (literal(&BOOLEANS), false),
        (JsonSchema::Enum(options), _) => (literal(options), false),
        (JsonSchema::Integer { minimum, maximum }, _) => (
            Frame::Int {
                minimum: *minimum,
                maximum: *maximum,
                negative: false,
                digits: 0,
                magnitude: 0,
            },
            false,
        ),
        (
            JsonSchema::String {
                min_length,
                max_length,
            },
            b'"',
        ) => (
            Frame::Str {
                min: *min_length,
                max: max_length.unwrap_or(usize::MAX),
                chars: 0,
                at: StrAt::Plain,
            },
            true,
        ),
        (
            JsonSchema::Array {
                items,
                min_items,
                max_items,
            },
            b'[',
        ) => (
            Frame::Array {
                items,
                min: *min_items,
                max: max_items.unwrap_or(usize::MAX),
                count: 0,
                at: At::Open,
            },
            true,
        ),
        (JsonSchema::Object(props), b'{') => (
            Frame::Object {
                props,
                next: 0,
                at: At::Open,
            },
            true,
        ),
        _ => return None,
    };
    Some(frame)
}

fn step_string<'s>(min: usize, max: usize, chars: &mut usize, at: &mut StrAt, b: u8) -> Step<'s> {
    match *at {
        StrAt::Plain => {
            if b == b'"' {
                return if *chars >= min {
                    Step::Ended
                } else {
                    Step::Reject
                };
            }
            // Every other accepted byte starts a character.
            if *chars >= max {
                return Step::Reject;
            }
            let next = match b {
                b'\\' => StrAt::Escape,
                0x00..=0x1f => return Step::Reject,
                0x20..=0x7f => StrAt::Plain,
                0xc2..=0xdf => StrAt::Utf8 {
                    left: 1,
                    lo: 0x80,
                    hi: 0xbf,
                },
                0xe0 => StrAt::Utf8 {
                    left: 2,
                    lo: 0xa0,
                    hi: 0xbf,
                },
                0xed => StrAt::Utf8 {
                    left: 2,
                    lo: 0x80,
                    hi: 0x9f,
                },
                0xe1..=0xef => StrAt::Utf8 {
                    left: 2,
                    lo: 0x80,
                    hi: 0xbf,
                },
                0xf0 => StrAt::Utf8 {
                    left: 3,
                    lo: 0x90,
                    hi: 0xbf,
                },
                0xf1..=0xf3 => StrAt::Utf8 {
                    left: 3,
                    lo: 0x80,
                    hi: 0xbf,
                },
                0xf4 => StrAt::Utf8 {
                    left: 3,
                    lo: 0x80,
                    hi: 0x8f,
                },
                _ => return Step::Reject,
            };
            *chars += 1;
            *at = next;
            Step::Took
        }
        StrAt::Escape => match b {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                *at = StrAt::Plain;
                Step::Took
            }
            b'u' => {
                *at = StrAt::Unicode {
                    left: 4,
                    surrogate: false,
                };
                Step::Took
            }
            _ => Step::Reject,
        },
        StrAt::Unicode { left, surrogate } => {
            if !b.is_ascii_hexdigit() || (surrogate && !(b'0'..=b'7').contains(&b)) {
                return Step::Reject;
            }
            *at = match left {
                1 => StrAt::Plain,
                _ => StrAt::Unicode {
                    left: left - 1,
                    surrogate: left == 4 && b.eq_ignore_ascii_case(&b'd'),
                },
            };
            Step::Took
        }
        StrAt::Utf8 { left, lo, hi } => {
            if !(lo..=hi).contains(&b) {
                return Step::Reject;
            }
            *at = match left {
                1 => StrAt::Plain,
                _ => StrAt::Utf8 {
                    left: left - 1,
                    lo: 0x80,
                    hi: 0xbf,
                },
            };
            Step::Took
        }
    }
}

fn step_number<'s>(at: &mut NumAt, digits: &mut u8, b: u8) -> Step<'s> {
    let digit = b.is_ascii_digit();
    let (next, count) = match (*at, b) {
        (NumAt::Start, b'-') => (NumAt::Minus, 0),
        (NumAt::Start | NumAt::Minus, b'0') => (NumAt::Zero, 1),
        (NumAt::Start | NumAt::Minus, b'1'..=b'9') => (NumAt::Int, 1),
        (NumAt::Int, _) if digit && *digits < MAX_INT_DIGITS => (NumAt::Int, *digits + 1),
        (NumAt::Zero | NumAt::Int, b'.') => (NumAt::Dot, 0),
        (NumAt::Dot, _) if digit => (NumAt::Fraction, 1),
        (NumAt::Fraction, _) if digit && *digits < MAX_FRACTION_DIGITS => {
            (NumAt::Fraction, *digits + 1)
        }
        (NumAt::Zero | NumAt::Int | NumAt::Fraction, b'e' | b'E') => (NumAt::E, 0),
        (NumAt::E, b'+' | b'-') => (NumAt::ExponentSign, 0),
        (NumAt::E | NumAt::ExponentSign, _) if digit => (NumAt::Exponent, 1),
        (NumAt::Exponent, _) if digit && *digits < MAX_EXPONENT_DIGITS => {
            (NumAt::Exponent, *digits + 1)
        }
        // A digit past a limit is refused, not taken as the number's end (the parent could
        // not take it either, and the error is clearer here).
        _ if digit => return Step::Reject,
        (NumAt::Zero | NumAt::Int | NumAt::Fraction | NumAt::Exponent, _) => {
            return Step::EndedBefore;
        }
        _ => return Step::Reject,
    };
    *at = next;
    *digits = count;
    Step::Took
}

fn int_in_range(minimum: i64, maximum: i64, negative: bool, magnitude: u64) -> bool {
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    (i128::from(minimum)..=i128::from(maximum)).contains(&value)
}

/// Whether an integer whose digits start with `magnitude` (sign `negative`) can still land in
/// `minimum..=maximum`: appending `k` digits gives the magnitudes
/// `magnitude·10^k ..= magnitude·10^k + 10^k - 1` (just `0` when the magnitude is 0, which
/// takes no more digits).
fn int_reachable(minimum: i64, maximum: i64, negative: bool, magnitude: u64) -> bool {
    let (min, max) = (i128::from(minimum), i128::from(maximum));
    let mut low = i128::from(magnitude);
    let mut span = 1i128;
    // 19 digits reach past i64's range, so no bound needs more appended digits.
    for _ in 0..20 {
        if low > i128::from(i64::MAX) + 1 {
            return false;
        }
        let high = low + span - 1;
        let (a, b) = if negative { (-high, -low) } else { (low, high) };
        if a <= max && b >= min {
            return true;
        }
        if magnitude == 0 {
            return false;
        }
        low *= 10;
        span *= 10;
    }
    false
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(v: serde_json::Value) -> JsonSchema {
        JsonSchema::compile(&v).unwrap()
    }

    /// Whether `text` is accepted as a prefix, and whether it is then complete.
    fn run(s: &JsonSchema, text: &str) -> Option<bool> {
        let mut r = JsonRecognizer::new(s);
        r.feed_all(text.as_bytes()).then(|| r.is_complete())
    }

    fn judge() -> JsonSchema {
        schema(json!({
            "type": "object",
            "properties": {
                "score": {"type": "integer", "minimum": 1, "maximum": 5},
                "reason": {"type": "string"}
            },
            "required": ["score", "reason"],
            "additionalProperties": false
        }))
    }

    #[test]
    fn object_keys_and_order_are_enforced() {
        let s = judge();
        assert_eq!(run(&s, r#"{"score": 4, "reason": "ok"}"#), Some(true));
        assert_eq!(run(&s, "{\n  \"score\":3,\"reason\":\"\"\n}"), Some(true));
        assert_eq!(run(&s, r#"{"score": 4, "rea"#), Some(false));
        // Wrong order, unknown key, missing property, trailing text.
        assert_eq!(run(&s, r#"{"reason""#), None);
        assert_eq!(run(&s, r#"{"scores""#), None);
        assert_eq!(run(&s, r#"{"score": 4}"#), None);
        assert_eq!(run(&s, r#"{"score": 4, "reason": "ok"} "#), None);
        assert_eq!(run(&s, r#"{"score": 4, "reason": "ok"}x"#), None);
    }

    #[test]
    fn integer_ranges_refuse_unreachable_digits() {
        let s = judge();
        assert_eq!(run(&s, r#"{"score": 0"#), None);
        assert_eq!(run(&s, r#"{"score": 6"#), None);
        assert_eq!(run(&s, r#"{"score": 5"#), Some(false));
        assert_eq!(run(&s, r#"{"score": 51"#), None);
        assert_eq!(run(&s, r#"{"score": -"#), None);
        assert_eq!(run(&s, r#"{"score": 4.5"#), None);
        let wide = schema(json!({"type": "integer", "minimum": -20, "maximum": 150}));
        assert_eq!(run(&wide, "-2"), Some(true));
        assert_eq!(run(&wide, "-20"), Some(true));
        assert_eq!(run(&wide, "-21"), None);
        assert_eq!(run(&wide, "-3"), Some(true));
        assert_eq!(run(&wide, "-30"), None);
        assert_eq!(run(&wide, "15"), Some(true));
        assert_eq!(run(&wide, "150"), Some(true));
        assert_eq!(run(&wide, "151"), None);
        assert_eq!(run(&wide, "0"), Some(true));
        assert_eq!(run(&wide, "01"), None);
        assert_eq!(run(&wide, "-0"), None);
        let above = schema(json!({"type": "integer", "minimum": 100}));
        // `1` can still become 100; `0` cannot grow.
        assert_eq!(run(&above, "1"), Some(false));
        assert_eq!(run(&above, "0"), None);
        let unbounded = schema(json!({"type": "integer"}));
        assert_eq!(run(&unbounded, "-9223372036854775808"), Some(true));
        assert_eq!(run(&unbounded, "92233720368547758070"), None);
    }

    #[test]
    fn enums_match_whole_literals() {
        let s = schema(json!({"enum": ["easy", "east", 1, 12]}));
        assert_eq!(run(&s, "\"eas"), Some(false));
        assert_eq!(run(&s, "\"easy\""), Some(true));
        assert_eq!(run(&s, "\"easx"), None);
        assert_eq!(run(&s, "1"), Some(true));
        assert_eq!(run(&s, "12"), Some(true));
        assert_eq!(run(&s, "13"), None);
        let nested = schema(json!({"type": "array", "items": {"enum": [1, 12]}}));
        assert_eq!(run(&nested, "[1,12, 1]"), Some(true));
        assert_eq!(run(&nested, "[1,2"), None);
        let b = schema(json!({"type": "boolean"}));
        assert_eq!(run(&b, "true"), Some(true));
        assert_eq!(run(&b, "null"), None);
    }

    #[test]
    fn strings_escape_lengths_and_utf8() {
        let s = schema(json!({"type": "string", "minLength": 2, "maxLength": 3}));
        assert_eq!(run(&s, r#""a""#), None);
        assert_eq!(run(&s, r#""ab""#), Some(true));
        assert_eq!(run(&s, r#""a\në""#), Some(true));
        assert_eq!(run(&s, r#""abcd"#), None);
        assert_eq!(run(&s, "\"a\u{1}"), None);
        assert_eq!(run(&s, r#""\q"#), None);
        assert_eq!(run(&s, r#""\u00e9x""#), Some(true));
        assert_eq!(run(&s, r#""\ud83d"#), None);
        let any = schema(json!({"type": "string"}));
        let mut r = JsonRecognizer::new(&any);
        assert!(r.feed_all("\"Lëtzebuerg ".as_bytes()));
        // A partial UTF-8 character: only continuation bytes may follow.
        assert!(r.feed(0xc3));
        assert!(!r.clone().feed(b'a'));
        assert!(r.feed(0xab));
        assert_eq!(r.string_room(), Some(usize::MAX - 12));
        assert!(!r.clone().feed(0xc0));
        // A UTF-16 surrogate written as UTF-8 is not valid UTF-8.
        assert!(!r.clone().feed_all(&[0xed, 0xa0]));
    }

    #[test]
    fn arrays_count_items_and_nest() {
        let s = schema(json!({
            "type": "object",
            "properties": {"questions": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
                "type": "object",
                "properties": {"q": {"type": "string"}, "level": {"enum": ["easy"]}},
                "required": ["q", "level"]
            }}},
            "required": ["questions"]
        }));
        assert_eq!(run(&s, r#"{"questions": []"#), None);
        assert_eq!(
            run(&s, r#"{"questions": [{"q": "x", "level": "easy"}]}"#),
            Some(true)
        );
        assert_eq!(
            run(
                &s,
                r#"{"questions":[{"q":"x","level":"easy"},{"q":"y","level":"easy"},"#
            ),
            None
        );
    }

    #[test]
    fn numbers_and_any_values() {
        let n = schema(json!({"type": "number"}));
        for ok in ["0", "-1.5", "3e7", "2.25E-3", "10"] {
            assert_eq!(run(&n, ok), Some(true), "{ok}");
        }
        for bad in ["01", "1.", "-", ".5", "1e"] {
            assert_ne!(run(&n, bad), Some(true), "{bad}");
        }
        let any = schema(json!({}));
        assert_eq!(
            run(&any, r#"{"a": [1, "x", null, {"b": false}], "c": {}}"#),
            Some(true)
        );
        assert_eq!(run(&any, r#"[tru"#), Some(false));
        assert_eq!(run(&any, r#"[trux"#), None);
        let obj = JsonSchema::any_object();
        assert_eq!(run(&obj, "[]"), None);
        assert_eq!(run(&obj, "{}"), Some(true));
    }

    #[test]
    fn whitespace_and_depth_are_bounded() {
        let s = judge();
        let mut r = JsonRecognizer::new(&s);
        assert!(r.feed(b'{'));
        assert!(!r.clone().feed_all(b"\n\n"));
        assert!(!r.clone().feed_all(b"  "));
        assert!(!r.clone().feed_all(b" \n"));
        assert!(!r.clone().feed(b'\t'));
        assert!(r.feed(b'\n'));
        for _ in 0..MAX_INDENT {
            assert!(r.feed(b' '));
        }
        assert!(!r.clone().feed(b' '));
        assert!(r.feed(b'"'));
        assert!(r.feed_all(b"score\":\n\t4"));
        let any = schema(json!({}));
        let mut r = JsonRecognizer::new(&any);
        let deep = "[".repeat(MAX_DEPTH);
        assert!(r.feed_all(deep.as_bytes()));
        assert!(!r.feed(b'['));
    }

    #[test]
    fn finished_only_when_nothing_can_follow() {
        let s = judge();
        let mut r = JsonRecognizer::new(&s);
        assert!(r.feed_all(br#"{"score": 2, "reason": "x"}"#));
        assert!(r.is_finished());
        let n = schema(json!({"type": "integer", "minimum": 0, "maximum": 99}));
        let mut r = JsonRecognizer::new(&n);
        assert!(r.feed(b'4'));
        assert!(r.is_complete() && !r.is_finished());
    }
}
