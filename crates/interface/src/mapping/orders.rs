//! ORM^O01 and OML^O21 → one ServiceRequest per ORDER (ORC with its OBR), a conditional
//! update by the placer order number (ORC-2, else OBR-2; the filler number ORC-3/OBR-3 when
//! there is no placer number).
//!
//! Status: ORC-5 (order status, table 0038) when sent, else what ORC-1 (order control, table
//! 0119) implies. Priority: TQ1-9, else OBR-27 (TQ) component 6, else ORC-7 component 6.

use super::actors::{practitioner, xcn};
use super::bundle::{Builder, reference};
use super::datatypes::codeable_concept;
use super::results::{first, order_number};
use super::segment::Seg;
use super::{Context, MapError, encounter, patient};
use medulla_hl7v2::groups::{self, Group};
use serde_json::{Value, json};

/// Maps an ORM^O01 or OML^O21.
///
/// # Errors
/// 101 without PID (a ServiceRequest must have a subject), without an ORC, or without an
/// order number; 102/103 for malformed values.
pub(crate) fn map(context: &Context<'_, '_>, builder: &mut Builder) -> Result<(), MapError> {
    let message = context.message;
    let no_order = || MapError::missing("ORC^1^1".to_owned(), "an ORC segment");
    let root = groups::group(message).ok_or_else(no_order)?;
    let pid = Seg::first(message, "PID")
        .ok_or_else(|| MapError::missing("PID^1^3".to_owned(), "the PID segment"))?;
    let subject = patient::ensure(context, builder, &pid)?;
    let visit = root
        .all("PATIENT_VISIT")
        .into_iter()
        .next()
        .and_then(|group| first(context, group, "PV1"));
    let encounter = encounter::ensure(context, builder, visit.as_ref(), &subject)?;
    let orders = root.all("ORDER");
    if orders.is_empty() {
        return Err(no_order());
    }
    for order in orders {
        map_order(context, builder, order, &subject, encounter.as_ref())?;
    }
    Ok(())
}

fn map_order(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    order: &Group,
    subject: &str,
    encounter: Option<&Value>,
) -> Result<(), MapError> {
    let orc = first(context, order, "ORC")
        .ok_or_else(|| MapError::missing("ORC^1^1".to_owned(), "an ORC segment"))?;
    // ORM_O01 calls the OBR's group ORDER_DETAIL, OML_O21 OBSERVATION_REQUEST.
    let obr = ["ORDER_DETAIL", "OBSERVATION_REQUEST"]
        .iter()
        .find_map(|name| order.all(name).into_iter().next())
        .and_then(|detail| first(context, detail, "OBR"));
    let tq1 = order
        .all("TIMING")
        .into_iter()
        .next()
        .and_then(|timing| first(context, timing, "TQ1"));
    // ORC first: in an order message the common order segment is where the numbers live.
    let placer = order_number(context, Some(&orc), obr.as_ref(), 2).map(|id| id.typed("PLAC"));
    let filler = order_number(context, Some(&orc), obr.as_ref(), 3).map(|id| id.typed("FILL"));
    let key = placer.clone().or_else(|| filler.clone()).ok_or_else(|| {
        MapError::missing(
            orc.location(2),
            "ORC-2 (placer order number) or ORC-3 (filler order number)",
        )
    })?;
    let code = obr
        .as_ref()
        .and_then(|obr| obr.parts(4))
        .and_then(|ce| codeable_concept(&ce, None));
    let authored = context.field_date_time(&orc, 9, "ORC-9 (date/time of transaction)")?;
    let requester = orc
        .parts(12)
        .or_else(|| obr.as_ref().and_then(|obr| obr.parts(16)))
        .and_then(|parts| xcn(&parts, context.local_system.as_deref()))
        .map(|person| practitioner(builder, &person));
    let request = json!({
        "resourceType": "ServiceRequest",
        "identifier": [placer.map(|id| id.to_json()), filler.map(|id| id.to_json())],
        "status": status(&orc)?,
        "intent": "order",
        "priority": priority(tq1.as_ref(), obr.as_ref(), &orc),
        "code": code,
        "subject": reference(subject),
        "encounter": encounter,
        "authoredOn": authored,
        "requester": requester,
    });
    builder.update("ServiceRequest", &key, request, || orc.location(2))?;
    Ok(())
}

/// ORC-5 (table 0038), else ORC-1 (table 0119), as a ServiceRequest status.
fn status(orc: &Seg<'_>) -> Result<&'static str, MapError> {
    if let Some(code) = orc.text(5) {
        return Ok(match code.to_ascii_uppercase().as_str() {
            "A" | "IP" | "SC" => "active",
            "CM" => "completed",
            "CA" | "DC" | "RP" => "revoked",
            "HD" => "on-hold",
            "ER" => "entered-in-error",
            _ => {
                return Err(MapError::bad_code(
                    orc.location(5),
                    "ORC-5 (order status)",
                    "0038",
                ));
            }
        });
    }
    let Some(control) = orc.text(1) else {
        return Err(MapError::missing(orc.location(1), "ORC-1 (order control)"));
    };
    Ok(match control.to_ascii_uppercase().as_str() {
        "NW" | "OK" | "SC" | "XO" | "XX" | "RL" | "RO" | "RP" | "RU" | "SN" | "OR" => "active",
        "CA" | "CR" | "OC" | "DC" | "DR" | "OD" => "revoked",
        "HD" | "HR" | "OH" => "on-hold",
        _ => "unknown",
    })
}

/// The order's priority: S stat, A asap, R routine (TQ1-9, OBR-27-6, ORC-7-6).
fn priority(tq1: Option<&Seg<'_>>, obr: Option<&Seg<'_>>, orc: &Seg<'_>) -> Option<&'static str> {
    let code = tq1
        .and_then(|tq1| tq1.text(9))
        .or_else(|| obr.and_then(|obr| obr.component(27, 6)))
        .or_else(|| orc.component(7, 6))?;
    match code.to_ascii_uppercase().as_str() {
        "S" => Some("stat"),
        "A" => Some("asap"),
        "R" => Some("routine"),
        _ => None,
    }
}
