//! One message end to end: parse, map, write with its log record, acknowledge.

use crate::log::{self, Entry, KIND, Status};
use crate::mapping::{self, MapError};
use medulla_engine::{Engine, EntryResponse, TransactionHooks};
use medulla_hl7v2::ack::{self, AckCode, AckError};
use medulla_hl7v2::{Message, ParseOptions};
use medulla_store::WriteTx;

/// Settings of the interface.
#[derive(Debug, Clone, Copy, Default)]
pub struct InterfaceOptions {
    /// Parse strictly (see [`ParseOptions::strict`]).
    pub strict: bool,
}

/// Takes v2 messages into the store. Cheap to clone.
#[derive(Clone)]
pub struct Interface {
    engine: Engine,
    options: InterfaceOptions,
}

/// What handling one message did.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The ACK to send; `None` when not even the message log could be written (the store is
    /// failing): then no ACK may be sent, so that the sender keeps the message and retries.
    pub ack: Option<Vec<u8>>,
    /// MSA-1 of that ACK.
    pub code: AckCode,
    /// What the log says now.
    pub status: Status,
    /// True when the message had been applied before (same sender and control id) and was
    /// not applied again.
    pub duplicate: bool,
    /// The message log record's sequence number.
    pub log_seq: Option<i64>,
}

impl Interface {
    /// An interface writing through `engine`.
    pub fn new(engine: Engine, options: InterfaceOptions) -> Interface {
        Interface { engine, options }
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handles one message (the bytes between MLLP's frame marks).
    pub async fn handle(&self, bytes: &[u8]) -> Handled {
        let parse_options = ParseOptions {
            strict: self.options.strict,
        };
        let message = match medulla_hl7v2::parse(bytes, &parse_options) {
            Ok(message) => message,
            Err(error) => {
                let code = match error {
                    medulla_hl7v2::ParseError::MissingHeaderField(_) => "101",
                    _ => "100",
                };
                let error = AckError {
                    code,
                    text: error.to_string(),
                    location: None,
                };
                return self.reject(bytes, None, &error).await;
            }
        };
        let bundle = match mapping::to_bundle(&message) {
            Ok(bundle) => bundle,
            Err(MapError::Unsupported(text)) => {
                let error = AckError {
                    code: "200",
                    text,
                    location: Some("MSH^1^9".into()),
                };
                return self.reject(bytes, Some(&message), &error).await;
            }
            Err(MapError::Invalid {
                code,
                text,
                location,
            }) => {
                let error = AckError {
                    code,
                    text,
                    location,
                };
                return self.dead_letter(bytes, &message, &error).await;
            }
        };
        let merges = mapping::merges(&message)
            .into_iter()
            .map(|((survivor_system, survivor), (merged_system, merged))| {
                (
                    identifier_criteria(&survivor_system, &survivor),
                    identifier_criteria(&merged_system, &merged),
                )
            })
            .collect();
        let hooks = LogHooks {
            engine: self.engine.clone(),
            merges,
            key: log::key(&message.sender(), message.control_id()),
            entry: entry_for(Some(&message), Status::Applied, AckCode::Accept, None),
            raw: bytes.to_vec(),
            duplicate: false,
            seq: None,
        };
        match self.engine.process_transaction_with(bundle, hooks).await {
            Ok((_, hooks)) => Handled {
                ack: Some(acknowledge(Some(&message), AckCode::Accept, None)),
                code: AckCode::Accept,
                status: Status::Applied,
                duplicate: hooks.duplicate,
                log_seq: hooks.seq,
            },
            Err(error) => {
                let error = AckError {
                    code: "207",
                    text: error.to_string(),
                    location: None,
                };
                self.dead_letter(bytes, &message, &error).await
            }
        }
    }

    /// Re-runs a dead-lettered message from the log (after a mapping fix, say).
    ///
    /// # Errors
    /// When there is no such log record, it is not a dead letter, or the store fails.
    pub async fn replay(&self, seq: i64) -> Result<Handled, String> {
        let record = self
            .engine
            .store()
            .record_by_seq(KIND, seq)
            .map_err(|error| error.to_string())?
            .ok_or_else(|| format!("no message {seq} in the log"))?;
        let entry = Entry::from_json(&record.value)
            .ok_or_else(|| format!("message {seq}: the log record is unreadable"))?;
        if entry.status != Status::Failed {
            return Err(format!(
                "message {seq} is {}, not failed: only dead letters are replayed",
                entry.status.as_str()
            ));
        }
        let raw = record
            .data
            .ok_or_else(|| format!("message {seq}: the raw message was not kept"))?;
        Ok(self.handle(&raw).await)
    }

    /// Logs an unreadable or unsupported message and builds its AR.
    async fn reject(
        &self,
        bytes: &[u8],
        message: Option<&Message<'_>>,
        error: &AckError,
    ) -> Handled {
        let entry = entry_for(message, Status::Rejected, AckCode::Reject, Some(error));
        // Rejected messages are kept under a key of their own: a sender's control id is not
        // trustworthy in a message that could not be read.
        let key = format!("rejected/{}", uuid::Uuid::new_v4().simple());
        let seq = self.put(key, entry, bytes).await;
        Handled {
            ack: seq.map(|_| acknowledge(message, AckCode::Reject, Some(error))),
            code: AckCode::Reject,
            status: Status::Rejected,
            duplicate: false,
            log_seq: seq,
        }
    }

    /// Logs a readable message that could not be applied (a dead letter) and builds its AE.
    async fn dead_letter(&self, bytes: &[u8], message: &Message<'_>, error: &AckError) -> Handled {
        let key = log::key(&message.sender(), message.control_id());
        let entry = entry_for(Some(message), Status::Failed, AckCode::Error, Some(error));
        let seq = self.put(key, entry, bytes).await;
        Handled {
            ack: seq.map(|_| acknowledge(Some(message), AckCode::Error, Some(error))),
            code: AckCode::Error,
            status: Status::Failed,
            duplicate: false,
            log_seq: seq,
        }
    }

    /// Writes a log record on its own; `None` when the store fails.
    async fn put(&self, key: String, mut entry: Entry, bytes: &[u8]) -> Option<i64> {
        let raw = bytes.to_vec();
        let result = medulla_store::write(self.engine.store().as_ref(), move |tx| {
            // A message that was applied before stays applied: a later failing copy of it
            // (same sender and control id) must not turn it into a dead letter.
            if let Some(existing) = tx.record(KIND, &key)?
                && let Some(earlier) = Entry::from_json(&existing.value)
            {
                if earlier.status == Status::Applied {
                    return Ok(existing.seq);
                }
                entry.repeats = earlier.repeats + 1;
            }
            tx.put_record(KIND, &key, &entry.to_json(), Some(&raw))
        })
        .wait()
        .await;
        match result {
            Ok(seq) => Some(seq),
            Err(error) => {
                tracing::error!(%error, "the message log could not be written; no ACK is sent");
                None
            }
        }
    }
}

/// Checks for an earlier copy of the message and logs this one, in the Bundle's job; moves
/// references for merges (A40).
struct LogHooks {
    engine: Engine,
    /// (survivor, merged) Patient search criteria.
    merges: Vec<(String, String)>,
    key: String,
    entry: Entry,
    raw: Vec<u8>,
    duplicate: bool,
    seq: Option<i64>,
}

impl TransactionHooks for LogHooks {
    fn before(&mut self, tx: &mut dyn WriteTx) -> Result<bool, medulla_engine::Error> {
        let existing = tx.record(KIND, &self.key).map_err(store_error)?;
        let Some(existing) = existing else {
            return Ok(true);
        };
        let Some(mut earlier) = Entry::from_json(&existing.value) else {
            return Ok(true);
        };
        self.entry.repeats = earlier.repeats + 1;
        if earlier.status != Status::Applied {
            // A dead letter sent again (or replayed): apply it now.
            return Ok(true);
        }
        self.duplicate = true;
        earlier.repeats += 1;
        let seq = tx
            .put_record(
                KIND,
                &self.key,
                &earlier.to_json(),
                existing.data.as_deref(),
            )
            .map_err(store_error)?;
        self.seq = Some(seq);
        Ok(false)
    }

    fn after(
        &mut self,
        tx: &mut dyn WriteTx,
        responses: &[EntryResponse],
    ) -> Result<(), medulla_engine::Error> {
        self.entry.resources = responses
            .iter()
            .filter(|response| response.status == 200 || response.status == 201)
            .filter_map(|response| response.location.clone())
            .collect();
        for (survivor, merged) in &self.merges {
            let moved = self.engine.merge_patient_references(tx, survivor, merged)?;
            self.entry.resources.extend(moved);
        }
        let seq = tx
            .put_record(KIND, &self.key, &self.entry.to_json(), Some(&self.raw))
            .map_err(store_error)?;
        self.seq = Some(seq);
        Ok(())
    }
}

/// `identifier=system|value` as search criteria, with the characters that would change the
/// query's meaning escaped.
fn identifier_criteria(system: &str, value: &str) -> String {
    let escape = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '%' | '&' | '#' | '+' | ' ' | '=' | '?' => {
                    let mut buffer = [0_u8; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        out.push_str(&format!("%{byte:02X}"));
                    }
                }
                '|' | ',' | '$' | '\\' => {
                    // FHIR search escapes, so that `|` in a value is not the system separator.
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out
    };
    format!("identifier={}|{}", escape(system), escape(value))
}

fn store_error(error: medulla_store::Error) -> medulla_engine::Error {
    medulla_engine::Error::from(error)
}

/// A new log entry for `message` (empty header fields for an unreadable one).
fn entry_for(
    message: Option<&Message<'_>>,
    status: Status,
    ack: AckCode,
    error: Option<&AckError>,
) -> Entry {
    let (sender, control_id, message_type) = match message {
        Some(message) => {
            let (code, event, _) = message.message_type();
            (
                message.sender(),
                message.control_id().to_owned(),
                format!("{code}^{event}"),
            )
        }
        None => (String::new(), String::new(), String::new()),
    };
    Entry {
        sender,
        control_id,
        message_type,
        status,
        ack_code: ack.code().to_owned(),
        error: error.map(|e| e.text.clone()),
        resources: Vec::new(),
        repeats: 0,
    }
}

/// An ACK with a fresh control id and the current time.
fn acknowledge(message: Option<&Message<'_>>, code: AckCode, error: Option<&AckError>) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc();
    let timestamp = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let control_id: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(20)
        .collect();
    ack::build(message, code, error, &control_id, &timestamp).to_bytes()
}
