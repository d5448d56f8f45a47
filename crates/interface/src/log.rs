//! The message log: one store record per message received (kind [`KIND`]), keyed by sender
//! and control id (unreadable messages get a key of their own), holding what happened and
//! the raw bytes. A record whose status is [`Status::Failed`] is a dead letter: it can be
//! replayed once the cause is fixed.

use medulla_store::{Record, Store};
use serde_json::{Value, json};

/// The store record kind of the message log.
pub const KIND: &str = "hl7v2-message";

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Mapped and written; ACKed AA.
    Applied,
    /// Readable but not mapped or written (a dead letter); ACKed AE.
    Failed,
    /// Unreadable or of a type not taken; ACKed AR.
    Rejected,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
        }
    }

    /// From its stored form.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "applied" => Some(Status::Applied),
            "failed" => Some(Status::Failed),
            "rejected" => Some(Status::Rejected),
            _ => None,
        }
    }
}

/// One log entry, as stored in a record's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `MSH-3|MSH-4`, raw.
    pub sender: String,
    /// MSH-10.
    pub control_id: String,
    /// `ADT^A01`.
    pub message_type: String,
    /// What happened.
    pub status: Status,
    /// MSA-1 of the ACK sent.
    pub ack_code: String,
    /// Why it failed or was rejected.
    pub error: Option<String>,
    /// `Type/id/_history/version` of every resource the message wrote (or, for a
    /// create-if-absent, found already there).
    pub resources: Vec<String>,
    /// Times the message was received again (duplicates) or replayed.
    pub repeats: u64,
}

impl Entry {
    /// The record value.
    pub fn to_json(&self) -> Vec<u8> {
        let value = json!({
            "sender": self.sender,
            "controlId": self.control_id,
            "type": self.message_type,
            "status": self.status.as_str(),
            "ack": self.ack_code,
            "error": self.error,
            "resources": self.resources,
            "repeats": self.repeats,
        });
        serde_json::to_vec(&value).unwrap_or_default()
    }

    /// Reads a record value back.
    pub fn from_json(bytes: &[u8]) -> Option<Entry> {
        let value: Value = serde_json::from_slice(bytes).ok()?;
        let text = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Some(Entry {
            sender: text("sender"),
            control_id: text("controlId"),
            message_type: text("type"),
            status: Status::parse(value.get("status")?.as_str()?)?,
            ack_code: text("ack"),
            error: value
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned),
            resources: value
                .get("resources")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            repeats: value.get("repeats").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// The log key of a readable message.
pub fn key(sender: &str, control_id: &str) -> String {
    format!("{sender}|{control_id}")
}

/// A logged message with its record's sequence number (its id in `medulla hl7 log`).
#[derive(Debug, Clone)]
pub struct Logged {
    /// The record.
    pub record: Record,
    /// The decoded entry.
    pub entry: Entry,
}

/// Messages logged after sequence number `after`, oldest first, at most `limit`,
/// optionally only those with `status`.
///
/// # Errors
/// When the store cannot be read.
pub fn list(
    store: &dyn Store,
    after: i64,
    limit: usize,
    status: Option<Status>,
) -> Result<Vec<Logged>, medulla_store::Error> {
    let mut out = Vec::new();
    let mut cursor = after;
    while out.len() < limit {
        let batch = store.records(KIND, cursor, 500)?;
        let Some(last) = batch.last() else { break };
        cursor = last.seq;
        for record in batch {
            let Some(entry) = Entry::from_json(&record.value) else {
                continue;
            };
            if status.is_none_or(|wanted| entry.status == wanted) && out.len() < limit {
                out.push(Logged { record, entry });
            }
        }
    }
    Ok(out)
}
