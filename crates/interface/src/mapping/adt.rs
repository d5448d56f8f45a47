//! ADT events → Patient (conditional update by PID-3) and Encounter (conditional update by
//! visit number), the event deciding the Encounter's status:
//!
//! | event | meaning | Encounter |
//! |---|---|---|
//! | A01 | admit | in-progress |
//! | A04 | register an outpatient | in-progress |
//! | A05 | pre-admit | planned |
//! | A08 | update patient information | finished when PV1-45 is sent, else in-progress |
//! | A03 | discharge | finished, ending at PV1-45, else EVN-6, else EVN-2 |
//! | A11 | cancel admit | cancelled |
//! | A13 | cancel discharge | in-progress, no end |
//! | A28, A31 | add/update person information | none (Patient only) |

use super::bundle::Builder;
use super::encounter;
use super::patient;
use super::segment::Seg;
use super::{Context, MapError};
use serde_json::Value;

/// The ADT events this interface takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A01.
    Admit,
    /// A04.
    Register,
    /// A05.
    PreAdmit,
    /// A08.
    Update,
    /// A03.
    Discharge,
    /// A11.
    CancelAdmit,
    /// A13.
    CancelDischarge,
    /// A28, A31.
    PersonInformation,
}

impl Event {
    /// The event for an MSH-9-2 code.
    pub fn from_code(code: &str) -> Option<Event> {
        Some(match code {
            "A01" => Event::Admit,
            "A04" => Event::Register,
            "A05" => Event::PreAdmit,
            "A08" => Event::Update,
            "A03" => Event::Discharge,
            "A11" => Event::CancelAdmit,
            "A13" => Event::CancelDischarge,
            "A28" | "A31" => Event::PersonInformation,
            _ => return None,
        })
    }
}

/// Maps an ADT message of `event`.
///
/// # Errors
/// 101 without PID or PID-3; 102/103 for malformed values.
pub(crate) fn map(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    event: Event,
) -> Result<(), MapError> {
    let message = context.message;
    let pid = Seg::first(message, "PID")
        .ok_or_else(|| MapError::missing("PID^1^3".to_owned(), "the PID segment"))?;
    let patient_url = patient::update(context, builder, &pid)?;
    if event == Event::PersonInformation {
        return Ok(());
    }
    let Some(pv1) = Seg::first(message, "PV1").filter(encounter::names_a_visit) else {
        return Ok(());
    };
    let patient_key = patient::key(context, &pid)?;
    let key = encounter::key(context, &pv1, &patient_key);
    let discharged = context.field_date_time(&pv1, 45, "PV1-45 (discharge date/time)")?;
    let (status, end) = match event {
        Event::Admit | Event::Register => ("in-progress", None),
        Event::PreAdmit => ("planned", None),
        Event::Update => match discharged {
            Some(end) => ("finished", Some(end)),
            None => ("in-progress", None),
        },
        Event::Discharge => ("finished", discharged.or(event_time(context)?)),
        Event::CancelAdmit => ("cancelled", None),
        Event::CancelDischarge => ("in-progress", None),
        Event::PersonInformation => return Ok(()),
    };
    let resource = encounter::resource(context, builder, &pv1, &key, &patient_url, status, end)?;
    builder.update("Encounter", &key, Value::Object(resource), || {
        pv1.location(19)
    })?;
    Ok(())
}

/// When the event happened: EVN-6 (event occurred), else EVN-2 (recorded).
fn event_time(context: &Context<'_, '_>) -> Result<Option<String>, MapError> {
    let Some(evn) = Seg::first(context.message, "EVN") else {
        return Ok(None);
    };
    match context.field_date_time(&evn, 6, "EVN-6 (event occurred)")? {
        Some(occurred) => Ok(Some(occurred)),
        None => context.field_date_time(&evn, 2, "EVN-2 (recorded date/time)"),
    }
}
