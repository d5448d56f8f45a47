//! A minimal JSON text writer.
//!
//! Resources are written straight to text rather than through `serde_json::Value`, because
//! building millions of small maps is the dominant cost of generation and the output must reach
//! tens of megabytes per second. The writer only tracks whether a separator is due; callers are
//! responsible for balancing objects and arrays.

/// Appends JSON text to an owned buffer, inserting commas between siblings.
#[derive(Debug, Default)]
pub(crate) struct Json {
    buf: String,
    needs_comma: bool,
}

impl Json {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Json {
            buf: String::with_capacity(capacity),
            needs_comma: false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.needs_comma = false;
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.buf
    }

    fn separate(&mut self) {
        if self.needs_comma {
            self.buf.push(',');
        }
    }

    pub(crate) fn begin_object(&mut self) {
        self.separate();
        self.buf.push('{');
        self.needs_comma = false;
    }

    pub(crate) fn end_object(&mut self) {
        self.buf.push('}');
        self.needs_comma = true;
    }

    pub(crate) fn begin_array(&mut self) {
        self.separate();
        self.buf.push('[');
        self.needs_comma = false;
    }

    pub(crate) fn end_array(&mut self) {
        self.buf.push(']');
        self.needs_comma = true;
    }

    /// Writes `"key":`; keys are always literals from this crate and never need escaping.
    pub(crate) fn key(&mut self, key: &str) {
        self.separate();
        self.buf.push('"');
        self.buf.push_str(key);
        self.buf.push_str("\":");
        self.needs_comma = false;
    }

    pub(crate) fn string(&mut self, value: &str) {
        self.separate();
        self.buf.push('"');
        push_escaped(&mut self.buf, value);
        self.buf.push('"');
        self.needs_comma = true;
    }

    /// Writes a string value whose text is produced by `write`, which must emit only characters
    /// that need no escaping (digits, hex, ASCII punctuation, and catalog text).
    pub(crate) fn string_with(&mut self, write: impl FnOnce(&mut String)) {
        self.separate();
        self.buf.push('"');
        write(&mut self.buf);
        self.buf.push('"');
        self.needs_comma = true;
    }

    /// Writes an already valid JSON token such as `true` or a number.
    pub(crate) fn raw(&mut self, token: &str) {
        self.separate();
        self.buf.push_str(token);
        self.needs_comma = true;
    }

    pub(crate) fn integer(&mut self, value: i64) {
        self.separate();
        push_integer(&mut self.buf, value);
        self.needs_comma = true;
    }

    /// Writes `value` rounded to `places` decimals (at most 3), without exponent.
    pub(crate) fn decimal(&mut self, value: f64, places: u32) {
        self.separate();
        push_decimal(&mut self.buf, value, places);
        self.needs_comma = true;
    }

    pub(crate) fn field_str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    pub(crate) fn field_with(&mut self, key: &str, write: impl FnOnce(&mut String)) {
        self.key(key);
        self.string_with(write);
    }

    pub(crate) fn field_raw(&mut self, key: &str, token: &str) {
        self.key(key);
        self.raw(token);
    }

    pub(crate) fn field_object(&mut self, key: &str) {
        self.key(key);
        self.begin_object();
    }

    pub(crate) fn field_array(&mut self, key: &str) {
        self.key(key);
        self.begin_array();
    }
}

/// Appends `value` with JSON string escaping applied.
pub(crate) fn push_escaped(buf: &mut String, value: &str) {
    let needs_escape = value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
    if !needs_escape {
        buf.push_str(value);
        return;
    }
    for ch in value.chars() {
        match ch {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                buf.push_str("\\u00");
                buf.push(hex_digit((c as u32 >> 4) as u8));
                buf.push(hex_digit((c as u32 & 0xf) as u8));
            }
            c => buf.push(c),
        }
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0xf)])
}

/// Appends the decimal digits of `value`.
pub(crate) fn push_integer(buf: &mut String, value: i64) {
    if value < 0 {
        buf.push('-');
    }
    push_unsigned(buf, value.unsigned_abs());
}

pub(crate) fn push_unsigned(buf: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        buf.push(char::from(digit));
    }
}

/// Appends `value` zero-padded to `width` digits.
pub(crate) fn push_padded(buf: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut remaining = value;
    let mut position = digits.len();
    while remaining > 0 && position > 0 {
        position -= 1;
        digits[position] = b'0' + (remaining % 10) as u8;
        remaining /= 10;
    }
    let first = position.min(digits.len().saturating_sub(width));
    for &digit in &digits[first..] {
        buf.push(char::from(digit));
    }
}

/// Appends `value` with exactly `places` decimals (capped at 3); non-finite values become 0.
pub(crate) fn push_decimal(buf: &mut String, value: f64, places: u32) {
    let places = places.min(3);
    let scale = 10u64.pow(places);
    let value = if value.is_finite() { value } else { 0.0 };
    let scaled = (value.abs() * scale as f64).round() as u64;
    if value < 0.0 && scaled != 0 {
        buf.push('-');
    }
    push_unsigned(buf, scaled / scale);
    if places > 0 {
        buf.push('.');
        push_padded(buf, scaled % scale, places as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_structures_with_commas() {
        let mut json = Json::default();
        json.begin_object();
        json.field_str("a", "x\"y");
        json.field_array("b");
        json.integer(-12);
        json.decimal(1.23456, 2);
        json.begin_object();
        json.field_raw("c", "true");
        json.end_object();
        json.end_array();
        json.end_object();
        assert_eq!(json.as_str(), r#"{"a":"x\"y","b":[-12,1.23,{"c":true}]}"#);
    }

    #[test]
    fn formats_decimals_and_padding() {
        let mut text = String::new();
        push_decimal(&mut text, 0.05, 1);
        text.push(' ');
        push_decimal(&mut text, -2.0, 0);
        text.push(' ');
        push_decimal(&mut text, 98.6049, 2);
        text.push(' ');
        push_padded(&mut text, 7, 3);
        text.push(' ');
        push_padded(&mut text, 0, 2);
        assert_eq!(text, "0.1 -2 98.60 007 00");
    }
}
