//! Character sets named in MSH-18.

use std::borrow::Cow;

/// The character sets a message may declare in MSH-18 that this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `ASCII` (or no MSH-18): 7-bit; bytes above 0x7F are rejected in strict mode and read
    /// as UTF-8 (or, failing that, Latin-1) in lenient mode.
    Ascii,
    /// `UNICODE UTF-8`.
    Utf8,
    /// `8859/1`: ISO-8859-1 (Latin-1), every byte one character.
    Latin1,
}

impl Charset {
    /// The charset an MSH-18 value names; `None` for one this crate cannot decode.
    pub fn from_msh18(value: &str) -> Option<Charset> {
        match value.trim().to_ascii_uppercase().as_str() {
            "" | "ASCII" => Some(Charset::Ascii),
            "UNICODE UTF-8" | "UTF-8" | "UNICODE" => Some(Charset::Utf8),
            "8859/1" | "ISO-8859-1" | "ISO IR100" => Some(Charset::Latin1),
            _ => None,
        }
    }

    /// Decodes `bytes` as this charset; `None` if they are not valid in it.
    pub fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            Charset::Ascii => bytes
                .is_ascii()
                .then(|| std::str::from_utf8(bytes).ok().map(Cow::Borrowed))
                .flatten(),
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Charset::Latin1 => Some(latin1(bytes)),
        }
    }

    /// Encodes `text` for the wire; characters Latin-1 cannot hold become `?`.
    pub fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            Charset::Latin1 if !text.is_ascii() => Cow::Owned(
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect(),
            ),
            _ => Cow::Borrowed(text.as_bytes()),
        }
    }
}

/// Latin-1 bytes as text: each byte is the code point of the same number.
pub(crate) fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        // ASCII is the same in both, so no copy.
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_charset() {
        assert_eq!(Charset::from_msh18("8859/1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_msh18("UNICODE UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_msh18(""), Some(Charset::Ascii));
        assert_eq!(Charset::from_msh18("ISO IR87"), None);
        assert_eq!(Charset::Latin1.decode(b"M\xfcller").unwrap(), "Müller");
        assert_eq!(Charset::Utf8.decode("Müller".as_bytes()).unwrap(), "Müller");
        assert!(Charset::Ascii.decode("Müller".as_bytes()).is_none());
        assert!(Charset::Utf8.decode(b"M\xfcller").is_none());
        assert_eq!(&*Charset::Latin1.encode("Müller"), b"M\xfcller");
    }
}
