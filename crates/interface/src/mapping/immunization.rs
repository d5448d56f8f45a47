//! VXU^V04 → one Immunization per RXA (with its ORC and RXR), a conditional update by the
//! filler order number ORC-3, or, without one, by an identifier made from the patient, the
//! vaccine and the administration time (so that a re-sent record updates itself).
//!
//! Status from RXA-20 (table 0322): CP completed, PA completed but subpotent, RE (refused) and
//! NA (not administered) not-done with the reason RXA-18; RXA-21 D (deleted) makes it
//! entered-in-error.

use super::actors::{practitioner, xcn};
use super::bundle::{Builder, reference};
use super::datatypes::{Ident, codeable_concept};
use super::numeric::{Unit, decimal, quantity};
use super::results::order_number;
use super::segment::Seg;
use super::{Context, MapError, encounter, patient};
use serde_json::{Value, json};

/// HL7 table 0443 (provider role): AP, administering provider.
const PROVIDER_ROLE: &str = "http://terminology.hl7.org/CodeSystem/v2-0443";

/// RXA-6 999: the amount given is not known.
const UNKNOWN_AMOUNT: &str = "999";

/// ORC-3 of records that have no filler number (refusals, histories): CDC's placeholder.
const NO_FILLER_NUMBER: &str = "9999";

/// Maps a VXU^V04.
///
/// # Errors
/// 101 without PID, RXA-3 or RXA-5; 102/103 for malformed values.
pub(crate) fn map(context: &Context<'_, '_>, builder: &mut Builder) -> Result<(), MapError> {
    let message = context.message;
    let pid = Seg::first(message, "PID")
        .ok_or_else(|| MapError::missing("PID^1^3".to_owned(), "the PID segment"))?;
    let patient_key = patient::key(context, &pid)?;
    let patient_url = patient::ensure(context, builder, &pid)?;
    let visit = Seg::first(message, "PV1");
    let encounter = encounter::ensure(context, builder, visit.as_ref(), &patient_url)?;
    let administrations = administrations(context);
    if administrations.is_empty() {
        return Err(MapError::missing("RXA^1^5".to_owned(), "an RXA segment"));
    }
    let about = About {
        patient_key,
        patient_url,
        encounter,
    };
    for administration in &administrations {
        map_administration(context, builder, administration, &about)?;
    }
    Ok(())
}

/// The patient and visit every administration in the message belongs to.
struct About {
    patient_key: Ident,
    patient_url: String,
    encounter: Option<Value>,
}

/// One RXA with the ORC before it and the RXR after it.
struct Administration<'m> {
    orc: Option<Seg<'m>>,
    rxa: Seg<'m>,
    rxr: Option<Seg<'m>>,
}

/// The RXAs in message order, each with its ORC and RXR. Read from the segment order rather
/// than the ORDER groups, because VXUs of v2.3.1 senders often have RXAs without an ORC.
fn administrations<'m>(context: &Context<'m, '_>) -> Vec<Administration<'m>> {
    let message = context.message;
    let mut found: Vec<Administration<'m>> = Vec::new();
    let mut orc = None;
    for index in 0..message.len() {
        let Some(segment) = Seg::at(message, index) else {
            continue;
        };
        match segment.name() {
            "ORC" => orc = Some(segment),
            "RXA" => found.push(Administration {
                orc: orc.take(),
                rxa: segment,
                rxr: None,
            }),
            "RXR" => {
                if let Some(last) = found.last_mut().filter(|last| last.rxr.is_none()) {
                    last.rxr = Some(segment);
                }
            }
            _ => {}
        }
    }
    found
}

fn map_administration(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    administration: &Administration<'_>,
    about: &About,
) -> Result<(), MapError> {
    let Administration { orc, rxa, rxr } = administration;
    let vaccine_parts = rxa
        .parts(5)
        .ok_or_else(|| MapError::missing(rxa.location(5), "RXA-5 (administered code)"))?;
    let vaccine = codeable_concept(&vaccine_parts, Some("CVX"))
        .ok_or_else(|| MapError::missing(rxa.location(5), "RXA-5 (administered code)"))?;
    let given_text = rxa.text(3);
    let given_at = context
        .date_time(
            given_text.clone(),
            || rxa.location(3),
            "RXA-3 (date/time start of administration)",
        )?
        .ok_or_else(|| {
            MapError::missing(rxa.location(3), "RXA-3 (date/time start of administration)")
        })?;
    let filler =
        order_number(context, orc.as_ref(), None, 3).filter(|id| id.value != NO_FILLER_NUMBER);
    let key = match filler {
        Some(filler) => filler.typed("FILL"),
        None => {
            let vaccine_code = vaccine_parts
                .part(1)
                .or_else(|| vaccine_parts.part(2))
                .unwrap_or_default();
            let value = format!(
                "{}-{vaccine_code}-{}",
                about.patient_key.value,
                given_text.unwrap_or_default()
            );
            Ident::new(context.local_system.clone(), value)
        }
    };
    let (status, subpotent) = status(rxa)?;
    let reason = (status == "not-done")
        .then(|| {
            rxa.parts(18)
                .and_then(|ce| codeable_concept(&ce, Some("NIP002")))
        })
        .flatten();
    let dose = match rxa.text(6).filter(|amount| amount != UNKNOWN_AMOUNT) {
        Some(amount) => {
            let amount = decimal(&amount).ok_or_else(|| {
                MapError::bad_type(rxa.location(6), "RXA-6 (administered amount)")
            })?;
            Some(quantity(
                amount,
                &Unit::from_ce(rxa.parts(7).as_ref()),
                None,
            ))
        }
        None => None,
    };
    let expiration = context.date(
        rxa.text(16),
        || rxa.location(16),
        "RXA-16 (substance expiration date)",
    )?;
    let manufacturer = rxa
        .parts(17)
        .and_then(|mvx| mvx.part(2).or_else(|| mvx.part(1)))
        .map(|name| json!({"display": name}));
    let performer: Vec<Value> = rxa
        .repetitions(10)
        .iter()
        .filter_map(|parts| xcn(parts, context.local_system.as_deref()))
        .map(|person| {
            json!({
                "function": {"coding": [{"system": PROVIDER_ROLE, "code": "AP", "display": "Administering Provider"}]},
                "actor": practitioner(builder, &person),
            })
        })
        .collect();
    let route = rxr
        .as_ref()
        .and_then(|rxr| rxr.parts(1))
        .and_then(|ce| codeable_concept(&ce, Some("HL70162")));
    let site = rxr
        .as_ref()
        .and_then(|rxr| rxr.parts(2))
        .and_then(|ce| codeable_concept(&ce, Some("HL70163")));
    let immunization = json!({
        "resourceType": "Immunization",
        "identifier": [key.to_json()],
        "status": status,
        "statusReason": reason,
        "vaccineCode": vaccine,
        "patient": reference(&about.patient_url),
        "encounter": about.encounter,
        "occurrenceDateTime": given_at,
        "primarySource": primary_source(rxa),
        "manufacturer": manufacturer,
        "lotNumber": rxa.text(15),
        "expirationDate": expiration,
        "site": site,
        "route": route,
        "doseQuantity": dose,
        "performer": performer,
        "isSubpotent": subpotent.then_some(true),
    });
    let location = || {
        orc.as_ref()
            .map_or_else(|| rxa.location(5), |orc| orc.location(3))
    };
    builder.update("Immunization", &key, immunization, location)?;
    Ok(())
}

/// RXA-21 D, else RXA-20 (table 0322), as the status and whether the dose was subpotent.
fn status(rxa: &Seg<'_>) -> Result<(&'static str, bool), MapError> {
    if rxa
        .text(21)
        .is_some_and(|action| action.eq_ignore_ascii_case("D"))
    {
        return Ok(("entered-in-error", false));
    }
    match rxa
        .text(20)
        .map(|code| code.to_ascii_uppercase())
        .as_deref()
    {
        // RXA-20 empty means complete (v2.5.1 and the CDC guide agree).
        None | Some("CP") => Ok(("completed", false)),
        Some("PA") => Ok(("completed", true)),
        Some("RE" | "NA") => Ok(("not-done", false)),
        Some(_) => Err(MapError::bad_code(
            rxa.location(20),
            "RXA-20 (completion status)",
            "0322",
        )),
    }
}

/// RXA-9 (administration notes, NIP001): 00 is a new record from the giver (a primary
/// source), 01..08 are historical records from elsewhere.
fn primary_source(rxa: &Seg<'_>) -> Option<bool> {
    let code = rxa.component(9, 1)?;
    match code.as_str() {
        "00" => Some(true),
        "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" => Some(false),
        _ => None,
    }
}
