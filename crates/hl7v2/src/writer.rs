//! Editing and writing messages. A [`MessageBuf`] keeps every field as written, so writing an
//! unchanged message gives back its exact text; edits escape their values.

use crate::path::Path;
use crate::{Charset, Delimiters, Message, escape};

/// An editable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBuf {
    delimiters: Delimiters,
    charset: Charset,
    segments: Vec<SegmentBuf>,
    trailer: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SegmentBuf {
    /// Split on the field separator: `[name, field 1 (or MSH-2), …]`.
    parts: Vec<String>,
    terminator: String,
}

impl From<&Message<'_>> for MessageBuf {
    fn from(message: &Message<'_>) -> Self {
        let delimiters = *message.delimiters();
        MessageBuf {
            delimiters,
            charset: message.charset(),
            segments: message
                .segments()
                .map(|segment| SegmentBuf {
                    parts: segment
                        .raw()
                        .split(delimiters.field)
                        .map(str::to_owned)
                        .collect(),
                    terminator: segment.terminator().to_owned(),
                })
                .collect(),
            trailer: message.trailer().to_owned(),
        }
    }
}

impl MessageBuf {
    /// A new message with only an MSH segment of these fields (MSH-3 onwards).
    pub fn new(delimiters: Delimiters, header: &[&str]) -> MessageBuf {
        let mut parts = vec!["MSH".to_owned(), delimiters.encoding_characters()];
        parts.extend(header.iter().map(|v| (*v).to_owned()));
        MessageBuf {
            delimiters,
            charset: Charset::Ascii,
            segments: vec![SegmentBuf {
                parts,
                terminator: "\r".into(),
            }],
            trailer: String::new(),
        }
    }

    /// Sets the character set the bytes are written in (MSH-18 is not changed).
    pub fn set_charset(&mut self, charset: Charset) {
        self.charset = charset;
    }

    /// The message as text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            for (n, part) in segment.parts.iter().enumerate() {
                if n > 0 {
                    out.push(self.delimiters.field);
                }
                out.push_str(part);
            }
            out.push_str(&segment.terminator);
        }
        out.push_str(&self.trailer);
        out
    }

    /// The message as bytes in its character set.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.charset.encode(&self.to_text()).into_owned()
    }

    /// Appends a segment; `fields` are raw (already escaped) field values from field 1.
    pub fn push_segment(&mut self, name: &str, fields: &[&str]) {
        let mut parts = vec![name.to_owned()];
        parts.extend(fields.iter().map(|f| (*f).to_owned()));
        self.segments.push(SegmentBuf {
            parts,
            terminator: "\r".into(),
        });
    }

    /// Sets the value at a terser path, escaping it; missing segments are appended, missing
    /// fields, repetitions and components filled with empty ones. `false` for a malformed path
    /// or one inside MSH-1/MSH-2.
    pub fn set(&mut self, path: &str, value: &str) -> bool {
        let Some(path) = Path::parse(path) else {
            return false;
        };
        let header = matches!(path.segment.as_str(), "MSH" | "BHS" | "FHS");
        if header && path.field <= 2 {
            return false;
        }
        let d = self.delimiters;
        let escaped = escape::escape(value, &d).into_owned();
        let existing: Vec<usize> = (0..self.segments.len())
            .filter(|&i| self.segments[i].parts.first().map(String::as_str) == Some(&path.segment))
            .collect();
        let index = match existing.get(path.occurrence - 1) {
            Some(&index) => index,
            None => {
                for _ in existing.len()..path.occurrence {
                    self.push_segment(&path.segment, &[]);
                }
                self.segments.len() - 1
            }
        };
        let part = if header { path.field - 1 } else { path.field };
        let parts = &mut self.segments[index].parts;
        if parts.len() <= part {
            parts.resize(part + 1, String::new());
        }
        let field = &mut parts[part];
        *field = replace_nth(field, d.repetition, path.repetition, |repetition| {
            replace_nth(
                repetition,
                d.component,
                path.component.max(1),
                |component| {
                    replace_nth(component, d.subcomponent, path.subcomponent.max(1), |_| {
                        escaped.clone()
                    })
                },
            )
        });
        true
    }
}

/// `text` split on `separator`, with part `n` (1-based) replaced by `f(old part)`, padded
/// with empty parts if it had fewer.
fn replace_nth(text: &str, separator: char, n: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut parts: Vec<String> = text.split(separator).map(str::to_owned).collect();
    if parts.len() < n {
        parts.resize(n, String::new());
    }
    let new = f(&parts[n - 1]);
    parts[n - 1] = new;
    let mut sep = [0_u8; 4];
    parts.join(separator.encode_utf8(&mut sep))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, parse};

    #[test]
    fn unchanged_messages_round_trip_byte_for_byte() {
        let samples: Vec<Vec<u8>> = vec![
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||1^^^H||Doe^J\\S\\r\r".to_vec(),
            b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\nPID|1||1\r\nPV1|1|I\n\n".to_vec(),
            b"MSH*:@!%*A*B*C*D*1**ORU:R01*7*P*2.3\rOBX*1*ST*X**a!F!b\r".to_vec(),
            [
                b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||||8859/1\rPID|1||1||M".as_slice(),
                b"\xfcller\r",
            ]
            .concat(),
            b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rZZZ|||||\rPID|1".to_vec(),
        ];
        for bytes in samples {
            let message = parse(&bytes, &ParseOptions::default()).unwrap();
            assert_eq!(MessageBuf::from(&message).to_bytes(), bytes);
        }
    }

    #[test]
    fn edits_escape_and_pad() {
        let text = b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1||1^^^H\r";
        let message = parse(text, &Default::default()).unwrap();
        let mut buf = MessageBuf::from(&message);
        assert!(buf.set("PID-5-2", "Ann|Marie"));
        assert!(buf.set("PID-3(2)-1", "X9"));
        assert!(buf.set("PV1-2", "I"));
        assert!(!buf.set("MSH-2", "x"));
        assert!(!buf.set("bad", "x"));
        assert_eq!(
            buf.to_text(),
            "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1||1^^^H~X9||^Ann\\F\\Marie\rPV1||I\r"
        );
        let again = buf.to_bytes();
        let reparsed = parse(&again, &Default::default()).unwrap();
        assert_eq!(reparsed.get("PID-5-2").as_deref(), Some("Ann|Marie"));
    }
}
