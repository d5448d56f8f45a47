//! Parsing: a message is its text plus the spans of its segments; everything below a segment
//! is split on access, so parsing costs one pass over the bytes and no copies (unless the
//! character set needs decoding).

use crate::path::Path;
use crate::{Charset, Delimiters, escape};
use std::borrow::Cow;
use std::ops::Range;

/// How forgiving the parser is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Strict: segments end with `\r` only, no blank segments or whitespace after the last
    /// one, and ASCII messages must be 7-bit. Lenient (the default) accepts `\n` and `\r\n`
    /// separators, blank lines and trailing whitespace, and reads 8-bit text in an "ASCII"
    /// message as UTF-8 or Latin-1.
    pub strict: bool,
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No bytes (or only whitespace).
    #[error("the message is empty")]
    Empty,
    /// The first segment is not MSH.
    #[error("the message does not start with an MSH segment")]
    MissingHeader,
    /// MSH-1/MSH-2 do not declare usable delimiters.
    #[error("MSH-1 and MSH-2 do not declare usable delimiters")]
    BadDelimiters,
    /// MSH-18 names a character set this parser does not read.
    #[error("unsupported character set {0:?} in MSH-18")]
    UnsupportedCharset(String),
    /// The bytes are not valid in the declared character set.
    #[error("the message is not valid {0:?} text")]
    Encoding(Charset),
    /// A segment name is not three upper-case letters or digits.
    #[error("segment {segment}: invalid segment name {name:?}")]
    BadSegmentName {
        /// 1-based segment number.
        segment: usize,
        /// The name as found.
        name: String,
    },
    /// Strict mode: a segment ends with something other than `\r`.
    #[error("segment {segment}: segments must end with a carriage return, found {found}")]
    SegmentSeparator {
        /// 1-based segment number.
        segment: usize,
        /// What was found (`"\\n"`, `"\\r\\n"`, or `"an empty segment"`).
        found: &'static str,
    },
    /// Strict mode: whitespace after the last segment.
    #[error("whitespace after the last segment")]
    TrailingWhitespace,
    /// MSH-9 (message type) or MSH-10 (control id) is empty.
    #[error("MSH-{0} is required")]
    MissingHeaderField(usize),
}

/// A segment's place in the message text: `text[body]` is the segment, `text[body.end..end]`
/// its terminator as written.
#[derive(Debug, Clone)]
struct Span {
    body: Range<usize>,
    end: usize,
}

/// A parsed message. Cheap to create; fields are split when read.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    text: Cow<'a, str>,
    delimiters: Delimiters,
    charset: Charset,
    segments: Vec<Span>,
    /// What follows the last segment (blank lines, whitespace), kept for round trips.
    trailer: Range<usize>,
}

/// Reads `bytes` as one message.
///
/// # Errors
/// [`ParseError`] saying what is wrong and, where it applies, in which segment.
pub fn parse<'a>(bytes: &'a [u8], options: &ParseOptions) -> Result<Message<'a>, ParseError> {
    let start = if options.strict {
        0
    } else {
        bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(bytes.len())
    };
    let bytes = &bytes[start..];
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    if !bytes.starts_with(b"MSH") {
        return Err(ParseError::MissingHeader);
    }
    // MSH-18 decides how to read the rest; the header itself is ASCII in every charset we
    // read, so read it as Latin-1 (which cannot fail) to find MSH-18 first.
    let header_end = memchr::memchr2(b'\r', b'\n', bytes).unwrap_or(bytes.len());
    let header = crate::charset::latin1(&bytes[..header_end]);
    let (delimiters, _) = Delimiters::from_header(&header).ok_or(ParseError::BadDelimiters)?;
    let msh18 = nth_part(&header, delimiters.field, 17)
        .and_then(|value| nth_part(value, delimiters.repetition, 0))
        .unwrap_or("");
    let charset = Charset::from_msh18(msh18)
        .ok_or_else(|| ParseError::UnsupportedCharset(msh18.to_owned()))?;
    let text = match charset.decode(bytes) {
        Some(text) => text,
        None if charset == Charset::Ascii && !options.strict => match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => crate::charset::latin1(bytes),
        },
        None => return Err(ParseError::Encoding(charset)),
    };
    let (segments, trailer) = split_segments(&text, options)?;
    let message = Message {
        text,
        delimiters,
        charset,
        segments,
        trailer,
    };
    for (index, segment) in message.segments().enumerate() {
        let name = segment.name();
        let valid = name.len() == 3
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !valid {
            return Err(ParseError::BadSegmentName {
                segment: index + 1,
                name: name.chars().take(16).collect(),
            });
        }
    }
    if message.header_value(9).is_empty() {
        return Err(ParseError::MissingHeaderField(9));
    }
    if message.header_value(10).is_empty() {
        return Err(ParseError::MissingHeaderField(10));
    }
    Ok(message)
}

fn split_segments(
    text: &str,
    options: &ParseOptions,
) -> Result<(Vec<Span>, Range<usize>), ParseError> {
    let bytes = text.as_bytes();
    let mut segments = Vec::with_capacity(16);
    let mut at = 0;
    while at < bytes.len() {
        let body_end = memchr::memchr2(b'\r', b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        let two = bytes.get(body_end..body_end + 2) == Some(b"\r\n");
        let end = if body_end < bytes.len() {
            body_end + if two { 2 } else { 1 }
        } else {
            body_end
        };
        let body = at..body_end;
        if text[body.clone()].trim().is_empty() {
            // Blank lines: in lenient mode only whitespace may follow; keep it as the trailer.
            let rest = &text[at..];
            if rest.trim().is_empty() {
                if options.strict {
                    return Err(ParseError::TrailingWhitespace);
                }
                return Ok((segments, at..bytes.len()));
            }
            if options.strict {
                return Err(ParseError::SegmentSeparator {
                    segment: segments.len() + 1,
                    found: "an empty segment",
                });
            }
            at = end;
            continue;
        }
        if options.strict && body_end < bytes.len() && (two || bytes[body_end] == b'\n') {
            return Err(ParseError::SegmentSeparator {
                segment: segments.len() + 1,
                found: if two { "\\r\\n" } else { "\\n" },
            });
        }
        segments.push(Span { body, end });
        at = end;
    }
    Ok((segments, bytes.len()..bytes.len()))
}

impl<'a> Message<'a> {
    /// The delimiters MSH-1/MSH-2 declare.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The character set MSH-18 declares.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The message as text (decoded from its character set).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The message re-encoded in its character set: the bytes it was parsed from, minus any
    /// whitespace skipped before MSH.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.charset.encode(&self.text).into_owned()
    }

    /// Every segment, in order.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = Segment<'_>> + '_ {
        self.segments.iter().map(|span| self.segment_at(span))
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Always false: a parsed message has at least its MSH.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segment at `index` (0-based, MSH is 0).
    pub fn segment_index(&self, index: usize) -> Option<Segment<'_>> {
        self.segments.get(index).map(|span| self.segment_at(span))
    }

    fn segment_at(&self, span: &Span) -> Segment<'_> {
        Segment {
            text: &self.text[span.body.clone()],
            terminator: &self.text[span.body.end..span.end],
            delimiters: &self.delimiters,
        }
    }

    /// The `occurrence`-th (1-based) segment named `name`.
    pub fn segment(&self, name: &str, occurrence: usize) -> Option<Segment<'_>> {
        self.segments()
            .filter(|segment| segment.name() == name)
            .nth(occurrence.checked_sub(1)?)
    }

    /// What follows the last segment (blank lines, whitespace; lenient mode only).
    pub(crate) fn trailer(&self) -> &str {
        &self.text[self.trailer.clone()]
    }

    /// The value at a terser path (`PID-5-1`, `OBX(3)-5`, `PID-3(2)-1`): absent, null (`""`)
    /// or text, unescaped. A path without component or sub-component means the first one, as
    /// in HAPI's terser. A malformed path is [`Value::Absent`].
    pub fn value(&self, path: &str) -> Value<'_> {
        match Path::parse(path) {
            Some(path) => self.value_at(&path),
            None => Value::Absent,
        }
    }

    /// The text at a terser path; `None` when absent, empty or null.
    pub fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        self.value(path).text()
    }

    /// [`Message::value`] with a parsed path.
    pub fn value_at(&self, path: &Path) -> Value<'_> {
        let Some(segment) = self.segment(&path.segment, path.occurrence) else {
            return Value::Absent;
        };
        segment.value_at(
            path.field,
            path.repetition,
            path.component,
            path.subcomponent,
        )
    }

    /// MSH-`n` as raw text (first repetition, whole field).
    fn header_value(&self, n: usize) -> &str {
        self.segments
            .first()
            .map(|span| self.segment_at(span))
            .and_then(|msh| msh.field(n))
            .map_or("", |field| field.raw)
    }

    /// MSH-9-1 (`ADT`), MSH-9-2 (`A01`) and MSH-9-3 (`ADT_A01`, possibly empty).
    pub fn message_type(&self) -> (&str, &str, &str) {
        let Some(msh) = self.segment_index(0) else {
            return ("", "", "");
        };
        let Some(field) = msh.field(9) else {
            return ("", "", "");
        };
        let repetition = field.repetition(1);
        let part = |n| {
            repetition
                .as_ref()
                .and_then(|r| r.component_raw(n))
                .unwrap_or("")
        };
        (part(1), part(2), part(3))
    }

    /// MSH-10, the message control id.
    pub fn control_id(&self) -> &str {
        self.header_value(10)
    }

    /// MSH-12-1, the version (`2.5.1`).
    pub fn version(&self) -> &str {
        let raw = self.header_value(12);
        raw.split(self.delimiters.component).next().unwrap_or("")
    }

    /// MSH-3 and MSH-4 (sending application and facility), raw: together they identify a
    /// sender, for duplicate detection by control id.
    pub fn sender(&self) -> String {
        format!("{}|{}", self.header_value(3), self.header_value(4))
    }
}

/// Part `n` (0-based) of `text` split on `separator`. Separators are nearly always ASCII, and
/// then a byte search (SIMD) finds them; any other separator goes through `str::split`.
fn nth_part(text: &str, separator: char, n: usize) -> Option<&str> {
    let Ok(byte) = u8::try_from(separator) else {
        return text.split(separator).nth(n);
    };
    if !byte.is_ascii() {
        return text.split(separator).nth(n);
    }
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut found = memchr::memchr_iter(byte, bytes);
    for _ in 0..n {
        start = found.next()? + 1;
    }
    let end = found.next().unwrap_or(bytes.len());
    // Both ends sit next to an ASCII byte, so they are character boundaries.
    text.get(start..end)
}

/// One segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'m> {
    text: &'m str,
    terminator: &'m str,
    delimiters: &'m Delimiters,
}

impl<'m> Segment<'m> {
    /// The segment id (three characters in every message `parse` accepts).
    pub fn name(&self) -> &'m str {
        // Fast path: a three-character id followed by the field separator or the end.
        if let Some(rest) = self.text.get(3..)
            && (rest.is_empty() || rest.starts_with(self.delimiters.field))
        {
            return &self.text[..3];
        }
        let end = self
            .text
            .find(self.delimiters.field)
            .unwrap_or(self.text.len());
        &self.text[..end]
    }

    /// The segment's text, without its terminator.
    pub fn raw(&self) -> &'m str {
        self.text
    }

    /// The terminator as written (`\r`, or `\n`/`\r\n` in lenient mode; empty at the end).
    pub fn terminator(&self) -> &'m str {
        self.terminator
    }

    fn is_header(&self) -> bool {
        // Byte tests rather than string comparisons: this runs on every field access.
        matches!(
            self.name().as_bytes(),
            [b'M', b'S', b'H'] | [b'B' | b'F', b'H', b'S']
        )
    }

    /// Field `n` (1-based). MSH-1 is the field separator and MSH-2 the encoding characters,
    /// both literal. `None` past the last field.
    pub fn field(&self, n: usize) -> Option<Field<'m>> {
        if n == 0 {
            return None;
        }
        let header = self.is_header();
        if header && n == 1 {
            let at = self.name().len();
            let width = self.delimiters.field.len_utf8();
            return Some(Field {
                raw: self.text.get(at..at + width)?,
                delimiters: self.delimiters,
                literal: true,
            });
        }
        let index = if header { n - 1 } else { n };
        let raw = nth_part(self.text, self.delimiters.field, index)?;
        Some(Field {
            raw,
            delimiters: self.delimiters,
            literal: header && n == 2,
        })
    }

    /// Number of fields (the highest field number present).
    pub fn field_count(&self) -> usize {
        let parts = self.text.split(self.delimiters.field).count() - 1;
        if self.is_header() { parts + 1 } else { parts }
    }

    /// The value at field/repetition/component/sub-component (all 1-based; 0 component or
    /// sub-component means the first).
    pub fn value_at(
        &self,
        field: usize,
        repetition: usize,
        component: usize,
        subcomponent: usize,
    ) -> Value<'m> {
        let Some(field) = self.field(field) else {
            return Value::Absent;
        };
        if field.literal {
            return Value::from_raw(field.raw, None);
        }
        let Some(repetition) = field.repetition(repetition.max(1)) else {
            return Value::Absent;
        };
        let Some(component) = repetition.component(component.max(1)) else {
            return Value::Absent;
        };
        match component.subcomponent_raw(subcomponent.max(1)) {
            Some(raw) => Value::from_raw(raw, Some(self.delimiters)),
            None => Value::Absent,
        }
    }
}

/// One field, with its repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Field<'m> {
    raw: &'m str,
    delimiters: &'m Delimiters,
    /// MSH-1 and MSH-2 are not split or unescaped.
    literal: bool,
}

impl<'m> Field<'m> {
    /// The field as written.
    pub fn raw(&self) -> &'m str {
        self.raw
    }

    /// The whole field as a value (unescaped; components not split).
    pub fn value(&self) -> Value<'m> {
        Value::from_raw(self.raw, (!self.literal).then_some(self.delimiters))
    }

    /// The repetitions (one for a field that does not repeat; none when empty).
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'m>> + 'm {
        let delimiters = self.delimiters;
        let raw = self.raw;
        let parts: Box<dyn Iterator<Item = &'m str>> = if self.literal {
            Box::new(std::iter::once(raw))
        } else {
            Box::new(raw.split(delimiters.repetition))
        };
        parts
            .filter(move |_| !raw.is_empty())
            .map(move |raw| Repetition { raw, delimiters })
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<Repetition<'m>> {
        if self.literal {
            return (n == 1).then_some(Repetition {
                raw: self.raw,
                delimiters: self.delimiters,
            });
        }
        Some(Repetition {
            raw: self
                .raw
                .split(self.delimiters.repetition)
                .nth(n.checked_sub(1)?)?,
            delimiters: self.delimiters,
        })
    }
}

/// One repetition of a field, with its components.
#[derive(Debug, Clone, Copy)]
pub struct Repetition<'m> {
    raw: &'m str,
    delimiters: &'m Delimiters,
}

impl<'m> Repetition<'m> {
    /// The repetition as written.
    pub fn raw(&self) -> &'m str {
        self.raw
    }

    /// Component `n` (1-based).
    pub fn component(&self, n: usize) -> Option<Component<'m>> {
        Some(Component {
            raw: self.component_raw(n)?,
            delimiters: self.delimiters,
        })
    }

    fn component_raw(&self, n: usize) -> Option<&'m str> {
        nth_part(self.raw, self.delimiters.component, n.checked_sub(1)?)
    }

    /// The text of component `n`; `None` when absent, empty or null.
    pub fn get(&self, n: usize) -> Option<Cow<'m, str>> {
        self.component(n)?.value().text()
    }

    /// Number of components.
    pub fn component_count(&self) -> usize {
        self.raw.split(self.delimiters.component).count()
    }

    /// The whole repetition as a value (unescaped; components not split).
    pub fn value(&self) -> Value<'m> {
        Value::from_raw(self.raw, Some(self.delimiters))
    }
}

/// One component, with its sub-components.
#[derive(Debug, Clone, Copy)]
pub struct Component<'m> {
    raw: &'m str,
    delimiters: &'m Delimiters,
}

impl<'m> Component<'m> {
    /// The component as written.
    pub fn raw(&self) -> &'m str {
        self.raw
    }

    fn subcomponent_raw(&self, n: usize) -> Option<&'m str> {
        nth_part(self.raw, self.delimiters.subcomponent, n.checked_sub(1)?)
    }

    /// Sub-component `n` (1-based) as a value.
    pub fn subcomponent(&self, n: usize) -> Value<'m> {
        match self.subcomponent_raw(n) {
            Some(raw) => Value::from_raw(raw, Some(self.delimiters)),
            None => Value::Absent,
        }
    }

    /// Number of sub-components (1 when it has none).
    pub fn subcomponent_count(&self) -> usize {
        self.raw.split(self.delimiters.subcomponent).count()
    }

    /// The first sub-component as a value (the component itself when it has none).
    pub fn value(&self) -> Value<'m> {
        self.subcomponent(1)
    }
}

/// A value as HL7 distinguishes them: not sent, sent as the explicit null `""` (which means
/// "delete what you have"), or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'m> {
    /// Absent or empty: no information.
    Absent,
    /// `""`: the sender says the value is null.
    Null,
    /// Text, unescaped.
    Text(Cow<'m, str>),
}

impl<'m> Value<'m> {
    fn from_raw(raw: &'m str, delimiters: Option<&Delimiters>) -> Value<'m> {
        match raw {
            "" => Value::Absent,
            "\"\"" => Value::Null,
            raw => Value::Text(match delimiters {
                Some(delimiters) => escape::unescape(raw, delimiters),
                None => Cow::Borrowed(raw),
            }),
        }
    }

    /// The text, if there is some.
    pub fn text(self) -> Option<Cow<'m, str>> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// True for `""`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &str = "MSH|^~\\&|REG|GOOD HEALTH|EHR|GOOD HEALTH|20240102030405||ADT^A01^ADT_A01|MSG00001|P|2.5.1\r\
EVN|A01|20240102030405\r\
PID|1||123456^^^GOOD HEALTH^MR~987-65-4321^^^USSSA^SS||O\\S\\Brien^Mary^Ann||19800214|F|||12 Main St^^Springfield^IL^62701||(217)555-0100|\"\"\r\
PV1|1|I|4W^401^1\r";

    fn parsed(text: &str) -> Message<'_> {
        parse(text.as_bytes(), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn fields_repetitions_components_and_nulls() {
        let message = parsed(ADT);
        assert_eq!(message.len(), 4);
        assert_eq!(message.message_type(), ("ADT", "A01", "ADT_A01"));
        assert_eq!(message.control_id(), "MSG00001");
        assert_eq!(message.version(), "2.5.1");
        assert_eq!(message.sender(), "REG|GOOD HEALTH");
        assert_eq!(message.get("MSH-1").as_deref(), Some("|"));
        assert_eq!(message.get("MSH-2").as_deref(), Some("^~\\&"));
        assert_eq!(message.get("PID-3-1").as_deref(), Some("123456"));
        assert_eq!(message.get("PID-3(2)-1").as_deref(), Some("987-65-4321"));
        assert_eq!(message.get("PID-3(2)-5").as_deref(), Some("SS"));
        assert_eq!(message.get("PID-3(3)-1"), None);
        assert_eq!(message.get("PID-5-1").as_deref(), Some("O^Brien"));
        assert_eq!(message.get("PID-5").as_deref(), Some("O^Brien"));
        assert_eq!(message.get("PID-11-3").as_deref(), Some("Springfield"));
        assert_eq!(message.value("PID-14"), Value::Null);
        assert_eq!(message.value("PID-15"), Value::Absent);
        assert_eq!(message.value("PID-4"), Value::Absent);
        assert_eq!(message.value("ZZZ-1"), Value::Absent);
        assert_eq!(message.value("not a path"), Value::Absent);
        let pid = message.segment("PID", 1).unwrap();
        assert_eq!(pid.field_count(), 14);
        let identifiers: Vec<_> = pid
            .field(3)
            .unwrap()
            .repetitions()
            .map(|r| r.get(1).unwrap().into_owned())
            .collect();
        assert_eq!(identifiers, ["123456", "987-65-4321"]);
        assert_eq!(pid.field(4).unwrap().repetitions().count(), 0);
    }

    #[test]
    fn separators_and_whitespace_by_mode() {
        let unix = ADT.replace('\r', "\n");
        let lenient = parse(unix.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(lenient.len(), 4);
        assert_eq!(lenient.get("PV1-3-2").as_deref(), Some("401"));
        let strict = ParseOptions { strict: true };
        assert_eq!(
            parse(unix.as_bytes(), &strict).unwrap_err(),
            ParseError::SegmentSeparator {
                segment: 1,
                found: "\\n"
            }
        );
        let windows = ADT.replace('\r', "\r\n");
        assert_eq!(
            parse(windows.as_bytes(), &Default::default())
                .unwrap()
                .len(),
            4
        );
        let padded = format!("{ADT}\r\n  \n");
        assert_eq!(
            parse(padded.as_bytes(), &Default::default()).unwrap().len(),
            4
        );
        assert_eq!(
            parse(padded.as_bytes(), &strict).unwrap_err(),
            ParseError::TrailingWhitespace
        );
        let blank_trailer = format!("{ADT}\r");
        assert_eq!(
            parse(blank_trailer.as_bytes(), &strict).unwrap_err(),
            ParseError::TrailingWhitespace
        );
        assert!(parse(ADT.as_bytes(), &strict).is_ok());
    }

    #[test]
    fn broken_messages_are_named() {
        let options = ParseOptions::default();
        assert_eq!(parse(b"", &options).unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b" \r\n", &options).unwrap_err(), ParseError::Empty);
        assert_eq!(
            parse(b"PID|1\r", &options).unwrap_err(),
            ParseError::MissingHeader
        );
        assert_eq!(
            parse(b"MSH|^~|A\r", &options).unwrap_err(),
            ParseError::BadDelimiters
        );
        assert_eq!(
            parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rpid|1\r", &options).unwrap_err(),
            ParseError::BadSegmentName {
                segment: 2,
                name: "pid".into()
            }
        );
        assert_eq!(
            parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5\r", &options).unwrap_err(),
            ParseError::MissingHeaderField(10)
        );
        assert_eq!(
            parse(
                b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||||ISO IR87\r",
                &options
            )
            .unwrap_err(),
            ParseError::UnsupportedCharset("ISO IR87".into())
        );
    }

    #[test]
    fn character_sets() {
        let mut latin = b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||||8859/1\rPID|1||1||M".to_vec();
        latin.extend_from_slice(b"\xfcller^J\xfcrgen\r");
        let message = parse(&latin, &Default::default()).unwrap();
        assert_eq!(message.get("PID-5-1").as_deref(), Some("Müller"));
        assert_eq!(message.to_bytes(), latin);
        let utf8 = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1||1||Ñandú\r";
        assert_eq!(parsed(utf8).get("PID-5").as_deref(), Some("Ñandú"));
        // 8-bit text in a message that claims ASCII: lenient reads it, strict refuses.
        let mut ascii = b"MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1||1||M".to_vec();
        ascii.extend_from_slice(b"\xfcller\r");
        assert_eq!(
            parse(&ascii, &Default::default())
                .unwrap()
                .get("PID-5")
                .as_deref(),
            Some("Müller")
        );
        assert_eq!(
            parse(&ascii, &ParseOptions { strict: true }).unwrap_err(),
            ParseError::Encoding(Charset::Ascii)
        );
    }

    #[test]
    fn other_delimiters() {
        let text = "MSH*:@!%*A*B*C*D*1**ORU:R01*7*P*2.3\rOBX*1*ST*X:Y**a!F!b:c@d\r";
        let message = parsed(text);
        assert_eq!(message.get("MSH-1").as_deref(), Some("*"));
        assert_eq!(message.message_type(), ("ORU", "R01", ""));
        assert_eq!(message.get("OBX-3-2").as_deref(), Some("Y"));
        assert_eq!(message.get("OBX-5").as_deref(), Some("a*b"));
        assert_eq!(message.get("OBX-5-2").as_deref(), Some("c"));
        assert_eq!(message.get("OBX-5(2)").as_deref(), Some("d"));
    }
}
