//! Original-mode acknowledgements: `MSH` with sender and receiver swapped, `MSA` echoing the
//! original control id, and `ERR` saying what went wrong.

use crate::{Delimiters, Message, MessageBuf, escape};

/// MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// `AA`: accepted and processed (for us: committed).
    Accept,
    /// `AE`: accepted but processing failed (the message was kept for replay).
    Error,
    /// `AR`: rejected (unreadable, or not a message this receiver takes).
    Reject,
}

impl AckCode {
    /// The code as sent.
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// An ERR segment's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// HL7 table 0357 code: `100` segment sequence error, `101` required field missing,
    /// `102` data type error, `103` table value not found, `200` unsupported message type,
    /// `201` unsupported event code, `207` application internal error.
    pub code: &'static str,
    /// What went wrong, for people.
    pub text: String,
    /// Where (`PID^1^3`: segment, sequence, field), when known.
    pub location: Option<String>,
}

/// The acknowledgement of `original` (or of an unreadable message, when `None`), with
/// control id `control_id` and MSH-7 `timestamp` (`YYYYMMDDHHMMSS`).
pub fn build(
    original: Option<&Message<'_>>,
    code: AckCode,
    error: Option<&AckError>,
    control_id: &str,
    timestamp: &str,
) -> MessageBuf {
    let delimiters = original.map_or_else(Delimiters::default, |m| *m.delimiters());
    let header = |path: &str| -> String {
        original
            .and_then(|m| m.segment_index(0))
            .and_then(|msh| {
                let n: usize = path.parse().ok()?;
                msh.field(n).map(|f| f.raw().to_owned())
            })
            .unwrap_or_default()
    };
    let event = original.map_or("", |m| m.message_type().1);
    let version = original
        .map(|m| m.version().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "2.5.1".to_owned());
    let processing = Some(header("11"))
        .filter(|p| !p.is_empty())
        .unwrap_or("P".into());
    let c = delimiters.component;
    let escaped = |text: &str| escape::escape(text, &delimiters).into_owned();
    let message_type = if event.is_empty() {
        format!("ACK{c}{c}ACK")
    } else {
        format!("ACK{c}{}{c}ACK", escaped(event))
    };
    let mut fields = vec![
        header("5"),
        header("6"),
        header("3"),
        header("4"),
        escaped(timestamp),
        String::new(),
        message_type,
        escaped(control_id),
        processing,
        escaped(&version),
    ];
    let charset = header("18");
    if !charset.is_empty() {
        fields.resize(16, String::new());
        fields.push(charset);
    }
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut ack = MessageBuf::new(delimiters, &field_refs);
    if let Some(message) = original {
        ack.set_charset(message.charset());
    }
    let original_id = original.map_or(String::new(), |m| escaped(m.control_id()));
    let text = error.map_or(String::new(), |e| escaped(&e.text));
    ack.push_segment("MSA", &[code.code(), &original_id, &text]);
    if let Some(error) = error {
        // Written as `SEG^sequence^field` by callers; each part is escaped on its own.
        let location = error
            .location
            .as_deref()
            .map(|l| {
                l.split('^')
                    .map(escaped)
                    .collect::<Vec<_>>()
                    .join(&c.to_string())
            })
            .unwrap_or_default();
        let s = delimiters.subcomponent;
        if version_at_least(&version, 2, 5) {
            let code = format!("{}{c}{}{c}HL70357", error.code, text);
            ack.push_segment("ERR", &["", &location, &code, "E", "", "", "", &text]);
        } else {
            // ERR-1 (CM_ELD): segment, sequence, field, then the code as a CE.
            let mut parts: Vec<&str> = location.split(c).take(3).collect();
            parts.resize(3, "");
            let code = format!(
                "{}{c}{}{s}{}{s}HL70357",
                parts.join(&c.to_string()),
                error.code,
                text
            );
            ack.push_segment("ERR", &[&code]);
        }
    }
    ack
}

fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn accept_swaps_sender_and_receiver_and_echoes_the_control_id() {
        let original = parse(
            b"MSH|^~\\&|LAB|NORTH|EHR|SOUTH|20240101||ORU^R01^ORU_R01|ABC123|P|2.5.1\rPID|1\r",
            &Default::default(),
        )
        .unwrap();
        let ack = build(
            Some(&original),
            AckCode::Accept,
            None,
            "ACK1",
            "20240102030405",
        );
        assert_eq!(
            ack.to_text(),
            "MSH|^~\\&|EHR|SOUTH|LAB|NORTH|20240102030405||ACK^R01^ACK|ACK1|P|2.5.1\rMSA|AA|ABC123|\r"
        );
    }

    #[test]
    fn errors_by_version() {
        let v25 = parse(
            b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|T|2.5\rPID|1\r",
            &Default::default(),
        )
        .unwrap();
        let error = AckError {
            code: "101",
            text: "PID-3 (patient identifier) is required".into(),
            location: Some("PID^1^3".into()),
        };
        let ack = build(Some(&v25), AckCode::Error, Some(&error), "X", "20240101");
        let text = ack.to_text();
        let reparsed = parse(text.as_bytes(), &Default::default()).unwrap();
        assert_eq!(reparsed.get("MSA-1").as_deref(), Some("AE"));
        assert_eq!(reparsed.get("MSA-2").as_deref(), Some("9"));
        assert_eq!(reparsed.get("ERR-2-1").as_deref(), Some("PID"));
        assert_eq!(reparsed.get("ERR-3-1").as_deref(), Some("101"));
        assert_eq!(reparsed.get("ERR-4").as_deref(), Some("E"));
        assert_eq!(reparsed.get("MSH-11").as_deref(), Some("T"));
        let v23 = parse(
            b"MSH|^~\\&|A|B|C|D|1||ADT^A01|9|P|2.3\r",
            &Default::default(),
        )
        .unwrap();
        let old = build(Some(&v23), AckCode::Error, Some(&error), "X", "1").to_text();
        let old = parse(old.as_bytes(), &Default::default()).unwrap();
        assert_eq!(old.get("ERR-1-4-1").as_deref(), Some("101"));
        // An unreadable message still gets a well-formed rejection.
        let rejected = build(None, AckCode::Reject, Some(&error), "X", "1").to_text();
        let rejected = parse(rejected.as_bytes(), &Default::default()).unwrap();
        assert_eq!(rejected.get("MSA-1").as_deref(), Some("AR"));
        assert_eq!(rejected.message_type(), ("ACK", "", "ACK"));
    }
}
