//! SIU (S12 new, S13 rescheduled, S14 modified, S15 cancelled, S17 deleted, S26 no-show) →
//! Appointment, a conditional update by the filler appointment id SCH-2 (the placer id SCH-1
//! when there is no filler id).
//!
//! Status: S15 cancelled, S17 entered-in-error and S26 noshow whatever SCH-25 says; otherwise
//! SCH-25 (filler status, table 0278), or booked. Time: SCH-11 (TQ) start/end, else TQ1-7/8,
//! else AIS-4; an end not sent is the start plus the duration (SCH-9/10, else AIS-7/8). FHIR
//! wants a start and an end or neither, so a start without an end is left out.
//! Participants: the patients (PID), the personnel (AIP-3) and the locations (AIL-3), all
//! accepted.

use super::actors::{location, practitioner, xcn};
use super::bundle::{Builder, reference};
use super::datatypes::{Ident, codeable_concept, ei};
use super::numeric::decimal;
use super::segment::Seg;
use super::time::Timestamp;
use super::{Context, MapError, patient};
use serde_json::{Value, json};

/// The SIU events this interface takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// S12, S13, S14: the appointment as it now stands.
    Booked,
    /// S15.
    Cancelled,
    /// S17.
    Deleted,
    /// S26.
    NoShow,
}

impl Event {
    /// The event for an MSH-9-2 code.
    pub fn from_code(code: &str) -> Option<Event> {
        Some(match code {
            "S12" | "S13" | "S14" => Event::Booked,
            "S15" => Event::Cancelled,
            "S17" => Event::Deleted,
            "S26" => Event::NoShow,
            _ => return None,
        })
    }
}

/// Maps an SIU message of `event`.
///
/// # Errors
/// 101 without SCH, an appointment id, or any participant; 102/103 for malformed values.
pub(crate) fn map(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    event: Event,
) -> Result<(), MapError> {
    let message = context.message;
    let sch = Seg::first(message, "SCH")
        .ok_or_else(|| MapError::missing("SCH^1^2".to_owned(), "the SCH segment"))?;
    let local = context.local_system.as_deref();
    let placer = sch
        .parts(1)
        .and_then(|id| ei(&id, local))
        .map(|id| id.typed("PLAC"));
    let filler = sch
        .parts(2)
        .and_then(|id| ei(&id, local))
        .map(|id| id.typed("FILL"));
    let key: Ident = filler.clone().or_else(|| placer.clone()).ok_or_else(|| {
        MapError::missing(
            sch.location(2),
            "SCH-2 (filler appointment id) or SCH-1 (placer appointment id)",
        )
    })?;
    let services: Vec<Seg<'_>> = Seg::all(message, "AIS");
    let minutes = match duration(&sch, 9, 10)? {
        Some(minutes) => Some(minutes),
        None => services
            .iter()
            .find_map(|ais| duration(ais, 7, 8).transpose())
            .transpose()?,
    };
    let (start, end) = period(context, &sch, &services, minutes)?;
    let service_types: Vec<Value> = services
        .iter()
        .filter_map(|ais| ais.parts(3))
        .filter_map(|ce| codeable_concept(&ce, None))
        .collect();
    let participants = participants(context, builder)?;
    if participants.is_empty() {
        return Err(MapError::missing(
            "AIP^1^3".to_owned(),
            "a participant (PID, AIP-3 personnel or AIL-3 location)",
        ));
    }
    let appointment = json!({
        "resourceType": "Appointment",
        "identifier": [placer.map(|id| id.to_json()), filler.map(|id| id.to_json())],
        "status": status(&sch, event)?,
        "serviceType": service_types,
        "appointmentType": sch.parts(8).and_then(|ce| codeable_concept(&ce, Some("HL70277"))),
        "reasonCode": [sch.parts(7).and_then(|ce| codeable_concept(&ce, Some("HL70276")))],
        "start": start,
        "end": end,
        "minutesDuration": minutes,
        "participant": participants,
    });
    builder.update("Appointment", &key, appointment, || sch.location(2))?;
    Ok(())
}

/// The appointment's status (see the module documentation).
fn status(sch: &Seg<'_>, event: Event) -> Result<&'static str, MapError> {
    match event {
        Event::Cancelled => return Ok("cancelled"),
        Event::Deleted => return Ok("entered-in-error"),
        Event::NoShow => return Ok("noshow"),
        Event::Booked => {}
    }
    let Some(code) = sch.text(25) else {
        return Ok("booked");
    };
    Ok(match code.to_ascii_uppercase().as_str() {
        "BOOKED" | "OVERBOOK" | "BLOCKED" => "booked",
        "PENDING" => "pending",
        "WAITLIST" => "waitlist",
        "STARTED" => "arrived",
        "COMPLETE" => "fulfilled",
        "CANCELLED" | "DC" => "cancelled",
        "DELETED" => "entered-in-error",
        "NOSHOW" => "noshow",
        _ => {
            return Err(MapError::bad_code(
                sch.location(25),
                "SCH-25 (filler status code)",
                "0278",
            ));
        }
    })
}

/// Start and end as FHIR instants, both or neither.
fn period(
    context: &Context<'_, '_>,
    sch: &Seg<'_>,
    services: &[Seg<'_>],
    minutes: Option<u32>,
) -> Result<(Option<String>, Option<String>), MapError> {
    let what_start = "the appointment start date/time";
    let what_end = "the appointment end date/time";
    // SCH-11 is a TQ: component 4 the start, 5 the end, each a TS (time in sub-component 1).
    let quantity_timing = |component: usize| {
        sch.parts(11)
            .and_then(|tq| tq.nested(component))
            .and_then(|ts| ts.part(1))
    };
    let tq1 = Seg::first(context.message, "TQ1");
    let mut start = context.timestamp(
        quantity_timing(4),
        || sch.component_location(11, 1, 4),
        what_start,
    )?;
    let mut end = context.timestamp(
        quantity_timing(5),
        || sch.component_location(11, 1, 5),
        what_end,
    )?;
    if let Some(tq1) = tq1.as_ref().filter(|_| start.is_none()) {
        start = context.timestamp(tq1.text(7), || tq1.location(7), what_start)?;
        end = context.timestamp(tq1.text(8), || tq1.location(8), what_end)?;
    }
    if start.is_none() {
        start = match services.iter().find(|ais| ais.text(4).is_some()) {
            Some(ais) => context.timestamp(ais.text(4), || ais.location(4), what_start)?,
            None => None,
        };
    }
    if end.is_none() {
        end = start
            .as_ref()
            .zip(minutes)
            .and_then(|(start, minutes)| start.plus_minutes(i64::from(minutes)));
    }
    let instant = |ts: &Timestamp| ts.instant(context.default_offset);
    Ok(
        match (
            start.as_ref().and_then(instant),
            end.as_ref().and_then(instant),
        ) {
            (Some(start), Some(end)) => (Some(start), Some(end)),
            _ => (None, None),
        },
    )
}

/// A duration (NM in field `amount`, its unit as CE in field `unit`, minutes by default) in
/// whole minutes. `None` when there is none or its unit is not one of time.
fn duration(seg: &Seg<'_>, amount: usize, unit: usize) -> Result<Option<u32>, MapError> {
    let Some(text) = seg.text(amount) else {
        return Ok(None);
    };
    let number = decimal(&text)
        .and_then(|number| number.to_string().parse::<f64>().ok())
        .filter(|number| *number > 0.0)
        .ok_or_else(|| MapError::bad_type(seg.location(amount), "the appointment duration"))?;
    let per_unit = match seg
        .text(unit)
        .map(|unit| unit.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("MIN" | "M" | "MN" | "MINUTE" | "MINUTES") => 1.0,
        Some("H" | "HR" | "HRS" | "HOUR" | "HOURS") => 60.0,
        Some("D" | "DAY" | "DAYS") => 1440.0,
        Some("S" | "SEC" | "SECOND" | "SECONDS") => 1.0 / 60.0,
        Some(_) => return Ok(None),
    };
    let minutes = (number * per_unit).round();
    // Whole and within u32 by the rounding and the range check: the cast loses nothing.
    Ok((1.0..=f64::from(u32::MAX))
        .contains(&minutes)
        .then_some(minutes as u32))
}

/// Patients, personnel and locations, each accepted.
fn participants(context: &Context<'_, '_>, builder: &mut Builder) -> Result<Vec<Value>, MapError> {
    let message = context.message;
    let accepted = |actor: Value| json!({"actor": actor, "status": "accepted"});
    let mut participants = Vec::new();
    for pid in Seg::all(message, "PID") {
        let patient_url = patient::ensure(context, builder, &pid)?;
        participants.push(accepted(reference(&patient_url)));
    }
    for aip in Seg::all(message, "AIP") {
        for parts in aip.repetitions(3) {
            if let Some(person) = xcn(&parts, context.local_system.as_deref()) {
                participants.push(accepted(practitioner(builder, &person)));
            }
        }
    }
    for ail in Seg::all(message, "AIL") {
        if let Some(place) = ail.parts(3).and_then(|pl| location(context, builder, &pl)) {
            participants.push(accepted(place));
        }
    }
    Ok(participants)
}
