//! HL7 v2 → FHIR R4: turns one parsed message into one `transaction` Bundle.
//!
//! This module owns the mappings, written after the HL7 v2-to-FHIR implementation guide's
//! segment and datatype maps:
//!
//! - ADT A01/A04/A05/A08/A03/A11/A13 (and A28/A31, demographics only) → Patient, Encounter,
//!   Practitioner, Location (`adt`); ADT A40 → the surviving and the merged Patient, linked
//!   (`merge`);
//! - ORU R01 → DiagnosticReport and Observations (`results`);
//! - ORM O01 / OML O21 → ServiceRequest (`orders`);
//! - VXU V04 → Immunization (`immunization`);
//! - SIU S12/S13/S14/S15/S17/S26 → Appointment (`schedule`).
//!
//! Every entry is idempotent, so that a message sent twice (or a corrected result) updates
//! rather than duplicates: the resources a message is about are conditional updates
//! (`PUT Type?identifier=system|value`); the ones it only points at (a Patient named by a
//! lab result, a Practitioner, a Location) are conditional creates (`POST` with
//! `ifNoneExist`), so that a sparse PID in a lab message never overwrites the demographics
//! that registration sent. Entries point at each other through `urn:uuid:` fullUrls that the
//! engine rewrites; those are derived from the message's sender and control id and the
//! entry's identity, so the same message always gives the same Bundle.
//!
//! Empty and `""`: a field sent as the explicit null `""` means "the sender says this is now
//! empty". Resources are written with PUT, which replaces the stored resource as a whole, so
//! both an absent and a null field simply leave the element out.
//!
//! Times sent without a UTC offset are read in MSH-7's offset, or in UTC when MSH-7 has none.
//!
//! Errors never quote patient data: they name the HL7 location and the field only.
//!
//! Does not: parse v2 (`medulla-hl7v2`), write anything, or re-point references after a
//! merge (the caller does that with [`merges`]).

mod actors;
mod adt;
mod bundle;
mod datatypes;
mod encounter;
mod immunization;
mod merge;
mod numeric;
mod orders;
mod patient;
mod results;
mod schedule;
mod segment;
mod time;

use medulla_hl7v2::Message;
use segment::Seg;

pub use merge::merges;

/// Why a message could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A message type/event this interface does not take (→ AR with code 200/201).
    #[error("{0}")]
    Unsupported(String),
    /// Readable but missing or wrong data (→ AE, dead letter). `code` is an HL7 table 0357 code
    /// ("101" required field missing, "102" data type error, "103" table value not found);
    /// `location` like "PID^1^3" (segment^occurrence^field).
    #[error("{text}")]
    Invalid {
        /// HL7 table 0357 error code.
        code: &'static str,
        /// What is wrong, without patient data.
        text: String,
        /// Where, as `SEG^occurrence^field[^repetition^component]`.
        location: Option<String>,
    },
}

impl MapError {
    /// 101: a required field (or segment) is missing.
    pub(crate) fn missing(location: String, what: &str) -> MapError {
        MapError::Invalid {
            code: "101",
            text: format!("{what} is required"),
            location: Some(location),
        }
    }

    /// 102: a value is not of its data type.
    pub(crate) fn bad_type(location: String, what: &str) -> MapError {
        MapError::Invalid {
            code: "102",
            text: format!("{what} is not valid"),
            location: Some(location),
        }
    }

    /// 103: a coded value is not in its table.
    pub(crate) fn bad_code(location: String, what: &str, table: &str) -> MapError {
        MapError::Invalid {
            code: "103",
            text: format!("{what} is not a value of HL7 table {table}"),
            location: Some(location),
        }
    }

    /// 205: two segments of the message claim the same identity.
    pub(crate) fn duplicate(location: String, what: &str) -> MapError {
        MapError::Invalid {
            code: "205",
            text: format!("{what} repeats an identifier already used in this message"),
            location: Some(location),
        }
    }
}

/// Maps `message` to a FHIR R4 `transaction` Bundle.
///
/// # Errors
/// [`MapError::Unsupported`] for message types and events this interface does not take;
/// [`MapError::Invalid`] when required data is missing or malformed.
pub fn to_bundle(message: &Message<'_>) -> Result<serde_json::Value, MapError> {
    let context = Context::new(message);
    let mut bundle = bundle::Builder::new(message);
    let (code, event, _) = message.message_type();
    match (code, event) {
        ("ADT", "A40") => merge::map(&context, &mut bundle)?,
        ("ADT", event) => match adt::Event::from_code(event) {
            Some(event) => adt::map(&context, &mut bundle, event)?,
            None => return Err(unsupported(code, event)),
        },
        ("ORU", "R01") => results::map(&context, &mut bundle)?,
        ("ORM", "O01") | ("OML", "O21") => orders::map(&context, &mut bundle)?,
        ("VXU", "V04") => immunization::map(&context, &mut bundle)?,
        ("SIU", event) => match schedule::Event::from_code(event) {
            Some(event) => schedule::map(&context, &mut bundle, event)?,
            None => return Err(unsupported(code, event)),
        },
        _ => return Err(unsupported(code, event)),
    }
    Ok(bundle.finish())
}

fn unsupported(code: &str, event: &str) -> MapError {
    let shown = |text: &str| -> String {
        // MSH-9 is sender-controlled text: keep the message short and printable.
        let text: String = text.chars().filter(|c| !c.is_control()).take(16).collect();
        if text.is_empty() {
            "(none)".to_owned()
        } else {
            text
        }
    };
    MapError::Unsupported(format!(
        "message type {}^{} is not taken by this interface",
        shown(code),
        shown(event)
    ))
}

/// What every mapping needs to know about the message as a whole.
pub(crate) struct Context<'m, 'a> {
    /// The message being mapped.
    pub message: &'m Message<'a>,
    /// The identifier system for identifiers the sender does not qualify with an assigning
    /// authority: such identifiers are local to the sending facility (MSH-4, else MSH-3).
    pub local_system: Option<String>,
    /// The UTC offset of times sent without one: MSH-7's, else UTC.
    pub default_offset: time::Offset,
}

impl<'m, 'a> Context<'m, 'a> {
    fn new(message: &'m Message<'a>) -> Context<'m, 'a> {
        let header = Seg::first(message, "MSH");
        let hd_system = |field: usize| {
            let header = header?;
            let hd = header.parts(field)?;
            datatypes::hd_system(hd.part(1), hd.part(2), hd.part(3))
        };
        let local_system = hd_system(4).or_else(|| hd_system(3));
        let default_offset = header
            .and_then(|header| header.text(7))
            .and_then(|text| time::Timestamp::parse(&text))
            .and_then(|sent| sent.offset())
            .unwrap_or(time::Offset::UTC);
        Context {
            message,
            local_system,
            default_offset,
        }
    }

    /// A TS/DTM text as a FHIR dateTime; `location` names it in the error when malformed.
    pub fn date_time(
        &self,
        text: Option<String>,
        location: impl FnOnce() -> String,
        what: &str,
    ) -> Result<Option<String>, MapError> {
        self.timestamp(text, location, what)
            .map(|ts| ts.map(|ts| ts.date_time(self.default_offset)))
    }

    /// A TS/DTM/DT text as a FHIR date (the time part, if any, dropped).
    pub fn date(
        &self,
        text: Option<String>,
        location: impl FnOnce() -> String,
        what: &str,
    ) -> Result<Option<String>, MapError> {
        self.timestamp(text, location, what)
            .map(|ts| ts.map(|ts| ts.date()))
    }

    /// A TS/DTM text parsed; `None` when there is none.
    pub fn timestamp(
        &self,
        text: Option<String>,
        location: impl FnOnce() -> String,
        what: &str,
    ) -> Result<Option<time::Timestamp>, MapError> {
        match text {
            None => Ok(None),
            Some(text) => time::Timestamp::parse(&text)
                .map(Some)
                .ok_or_else(|| MapError::bad_type(location(), what)),
        }
    }

    /// A dateTime read from field `field` (component 1) of `seg`.
    pub fn field_date_time(
        &self,
        seg: &Seg<'_>,
        field: usize,
        what: &str,
    ) -> Result<Option<String>, MapError> {
        self.date_time(seg.text(field), || seg.location(field), what)
    }
}
