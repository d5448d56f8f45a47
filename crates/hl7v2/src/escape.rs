//! Escape sequences: `\F\ \S\ \T\ \R\ \E\` stand for the delimiters, `\Xhh…\` for bytes,
//! `\.br\` for a line break in formatted text; highlighting (`\H\`, `\N\`) is dropped.

use crate::Delimiters;
use std::borrow::Cow;

/// The text a raw value stands for. Unknown or unterminated sequences are kept as written.
pub fn unescape<'a>(raw: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(escape) = delimiters.escape else {
        return Cow::Borrowed(raw);
    };
    if !raw.contains(escape) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + escape.len_utf8()..];
        let Some(end) = after.find(escape) else {
            // No closing escape character: literal.
            out.push_str(&rest[start..]);
            return Cow::Owned(out);
        };
        let sequence = &after[..end];
        match sequence {
            "F" => out.push(delimiters.field),
            "S" => out.push(delimiters.component),
            "T" => out.push(delimiters.subcomponent),
            "R" => out.push(delimiters.repetition),
            "E" => out.push(escape),
            "P" => out.extend(delimiters.truncation),
            ".br" => out.push('\n'),
            "H" | "N" => {}
            hex if hex.len() > 1 && hex.starts_with('X') && hex.len() % 2 == 1 => {
                match decode_hex(&hex[1..]) {
                    Some(text) => out.push_str(&text),
                    None => {
                        out.push(escape);
                        out.push_str(sequence);
                        out.push(escape);
                    }
                }
            }
            _ => {
                out.push(escape);
                out.push_str(sequence);
                out.push(escape);
            }
        }
        rest = &after[end + escape.len_utf8()..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `\Xhh…\` bytes as text: UTF-8 when they are valid UTF-8, otherwise Latin-1.
fn decode_hex(hex: &str) -> Option<String> {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => crate::charset::latin1(error.as_bytes()).into_owned(),
    })
}

/// `text` with every delimiter (and the escape character) escaped, and line breaks as
/// `\.br\`, ready to be a value in a message with these delimiters.
pub fn escape<'a>(text: &'a str, delimiters: &Delimiters) -> Cow<'a, str> {
    let Some(escape) = delimiters.escape else {
        return Cow::Borrowed(text);
    };
    let special = |c: char| {
        c == delimiters.field
            || c == delimiters.component
            || c == delimiters.repetition
            || c == delimiters.subcomponent
            || c == escape
            || Some(c) == delimiters.truncation
            || c == '\r'
            || c == '\n'
    };
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let code = match c {
            c if c == delimiters.field => "F",
            c if c == delimiters.component => "S",
            c if c == delimiters.repetition => "R",
            c if c == delimiters.subcomponent => "T",
            c if c == escape => "E",
            c if Some(c) == delimiters.truncation => "P",
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                ".br"
            }
            '\n' => ".br",
            other => {
                out.push(other);
                continue;
            }
        };
        out.push(escape);
        out.push_str(code);
        out.push(escape);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_sequence() {
        let d = Delimiters::default();
        assert_eq!(unescape(r"a\F\b\S\c\T\d\R\e\E\f", &d), r"a|b^c&d~e\f");
        assert_eq!(unescape(r"line 1\.br\line 2", &d), "line 1\nline 2");
        assert_eq!(unescape(r"\H\bold\N\ text", &d), "bold text");
        assert_eq!(unescape(r"\X4D\\XC3BC\ller", &d), "Müller");
        assert_eq!(unescape(r"\XFC\", &d), "ü");
        assert_eq!(unescape(r"keep \Z99\ and \X1\", &d), r"keep \Z99\ and \X1\");
        assert_eq!(unescape(r"open \F", &d), r"open \F");
        assert!(matches!(unescape("plain", &d), Cow::Borrowed(_)));
        assert_eq!(
            escape("a|b^c&d~e\\f\r\ng", &d),
            r"a\F\b\S\c\T\d\R\e\E\f\.br\g"
        );
    }

    proptest! {
        #[test]
        fn escaping_round_trips(text in "[a-z|^~&\\\\\n #]{0,40}") {
            let d = Delimiters::default();
            let escaped = escape(&text, &d).into_owned();
            prop_assert_eq!(unescape(&escaped, &d).into_owned(), text);
        }
    }
}
