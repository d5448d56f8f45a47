//! Helpers of the string functions: substring by characters, base64 and hex, HTML and JSON
//! escapes.

/// Characters `start..start+length` (by character, not byte); `None` when `start` is outside.
pub(crate) fn substring(text: &str, start: i64, length: Option<i64>) -> Option<String> {
    let count = i64::try_from(text.chars().count()).ok()?;
    if start < 0 || start >= count {
        return None;
    }
    let start = usize::try_from(start).ok()?;
    let taken = match length {
        Some(length) if length <= 0 => return Some(String::new()),
        Some(length) => usize::try_from(length).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    Some(text.chars().skip(start).take(taken).collect())
}

/// Character index of the first occurrence of `needle`, or -1.
pub(crate) fn index_of(text: &str, needle: &str, last: bool) -> i64 {
    let found = if last {
        text.rfind(needle)
    } else {
        text.find(needle)
    };
    match found {
        Some(byte) => {
            i64::try_from(text.get(..byte).map_or(0, |prefix| prefix.chars().count())).unwrap_or(-1)
        }
        None => -1,
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_encode(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (n >> (18 - 6 * position)) & 63;
                out.push(char::from(alphabet[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = alphabet.iter().position(|c| *c == byte)?;
        buffer = (buffer << 6) | u32::try_from(value).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// `encode(format)`: `base64`, `urlbase64`, `hex`.
pub(crate) fn encode(text: &str, format: &str) -> Option<String> {
    match format {
        "base64" => Some(base64_encode(text.as_bytes(), BASE64)),
        "urlbase64" => Some(base64_encode(text.as_bytes(), BASE64_URL)),
        "hex" => Some(text.bytes().map(|b| format!("{b:02x}")).collect()),
        _ => None,
    }
}

/// `decode(format)`; `None` for invalid input or text that is not UTF-8.
pub(crate) fn decode(text: &str, format: &str) -> Option<String> {
    let bytes = match format {
        "base64" => base64_decode(text, BASE64)?,
        "urlbase64" => base64_decode(text, BASE64_URL)?,
        "hex" => {
            if !text.len().is_multiple_of(2) {
                return None;
            }
            (0..text.len())
                .step_by(2)
                .map(|i| {
                    text.get(i..i + 2)
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()?
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

/// `escape(format)`: `html` or `json`.
pub(crate) fn escape(text: &str, format: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    match format {
        "html" => {
            for c in text.chars() {
                match c {
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    c => out.push(c),
                }
            }
        }
        "json" => {
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => out.push(c),
                }
            }
        }
        _ => return None,
    }
    Some(out)
}

/// `unescape(format)`: `html` or `json`.
pub(crate) fn unescape(text: &str, format: &str) -> Option<String> {
    match format {
        "html" => Some(
            text.replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        ),
        "json" => {
            let mut out = String::with_capacity(text.len());
            let mut chars = text.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(
            encode("subjects?_d", "base64").as_deref(),
            Some("c3ViamVjdHM/X2Q=")
        );
        assert_eq!(
            decode("c3ViamVjdHM_X2Q=", "urlbase64").as_deref(),
            Some("subjects?_d")
        );
        assert_eq!(decode("74657374", "hex").as_deref(), Some("test"));
    }
}
