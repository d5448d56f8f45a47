//! PV1 → Encounter: identifier PV1-19, class PV1-2, location PV1-3, participants PV1-7/8/17,
//! service PV1-10, admit source PV1-14, discharge disposition PV1-36, period PV1-44/45.
//! The status and end come from the caller, since they depend on the event.

use super::actors::{self, xcn};
use super::bundle::{Builder, reference};
use super::datatypes::{self, Ident};
use super::segment::Seg;
use super::{Context, MapError};
use serde_json::{Map, Value, json};

const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const NULL_FLAVOR: &str = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

/// True when PV1 says anything about a visit (a visit number, an admit time or a place):
/// `PV1|1|N` in an update of demographics names no encounter.
pub(crate) fn names_a_visit(pv1: &Seg<'_>) -> bool {
    [19, 44, 3].iter().any(|field| pv1.parts(*field).is_some())
}

/// PV1-19, the visit number.
pub(crate) fn visit_number(context: &Context<'_, '_>, pv1: &Seg<'_>) -> Option<Ident> {
    let cx = pv1.parts(19)?;
    datatypes::cx(&cx, context.local_system.as_deref()).map(|id| id.typed("VN"))
}

/// The identifier an ADT Encounter is found by: the visit number; without one, an identifier
/// made from the patient and the admit time (so the admit, update and discharge of one stay
/// meet), or from the message control id as a last resort.
pub(crate) fn key(context: &Context<'_, '_>, pv1: &Seg<'_>, patient: &Ident) -> Ident {
    if let Some(visit) = visit_number(context, pv1) {
        return visit;
    }
    let value = match pv1.text(44) {
        Some(admitted) => format!(
            "{}-{}",
            patient.value,
            admitted.replace(['+', '-', '.'], "")
        ),
        None => format!("msg-{}", context.message.control_id()),
    };
    Ident::new(context.local_system.clone(), value)
}

/// The Encounter a PV1 describes, with `status` and period end `end`.
///
/// # Errors
/// 102 when PV1-44 is not a date/time.
pub(crate) fn resource(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    pv1: &Seg<'_>,
    key: &Ident,
    patient_url: &str,
    status: &str,
    end: Option<String>,
) -> Result<Map<String, Value>, MapError> {
    let start = context.field_date_time(pv1, 44, "PV1-44 (admit date/time)")?;
    let location = pv1
        .parts(3)
        .and_then(|pl| actors::location(context, builder, &pl))
        .map(|location| json!({"location": location}));
    let code = |field: usize, table: &str| {
        pv1.parts(field)
            .and_then(|ce| datatypes::codeable_concept(&ce, Some(table)))
    };
    let mut encounter = Map::new();
    encounter.insert("resourceType".into(), json!("Encounter"));
    encounter.insert("identifier".into(), json!([key.to_json()]));
    encounter.insert("status".into(), json!(status));
    encounter.insert("class".into(), class(pv1));
    encounter.insert("serviceType".into(), json!(code(10, "HL70069")));
    encounter.insert("subject".into(), reference(patient_url));
    encounter.insert("participant".into(), participants(context, builder, pv1));
    encounter.insert("period".into(), json!({"start": start, "end": end}));
    encounter.insert(
        "hospitalization".into(),
        json!({"admitSource": code(14, "HL70023"), "dischargeDisposition": code(36, "HL70112")}),
    );
    encounter.insert("location".into(), json!([location]));
    Ok(encounter)
}

/// A Reference to the visit a non-ADT message (result, order…) is part of: a conditional
/// create by PV1-19, so the Encounter registration wrote is found and left alone. `None`
/// without a visit number: nothing else finds the right Encounter.
///
/// # Errors
/// As [`resource`].
pub(crate) fn ensure(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    pv1: Option<&Seg<'_>>,
    patient_url: &str,
) -> Result<Option<Value>, MapError> {
    let Some(pv1) = pv1 else {
        return Ok(None);
    };
    let Some(key) = visit_number(context, pv1) else {
        return Ok(None);
    };
    let encounter = resource(context, builder, pv1, &key, patient_url, "unknown", None)?;
    let full_url = builder.ensure("Encounter", &key, Value::Object(encounter));
    Ok(Some(reference(&full_url)))
}

/// PV1-2 (patient class, table 0004) as the v3 ActCode class FHIR R4 requires; a class the
/// table does not map is "unknown" rather than a guess.
fn class(pv1: &Seg<'_>) -> Value {
    let mapped = match pv1.text(2).map(|code| code.to_ascii_uppercase()).as_deref() {
        Some("I") => Some(("IMP", "inpatient encounter")),
        Some("O" | "R" | "B") => Some(("AMB", "ambulatory")),
        Some("E") => Some(("EMER", "emergency")),
        Some("P") => Some(("PRENC", "pre-admission")),
        _ => None,
    };
    match mapped {
        Some((code, display)) => json!({"system": ACT_CODE, "code": code, "display": display}),
        None => json!({"system": NULL_FLAVOR, "code": "UNK", "display": "unknown"}),
    }
}

/// Attending (PV1-7), referring (PV1-8) and admitting (PV1-17) doctors, every repetition.
fn participants(context: &Context<'_, '_>, builder: &mut Builder, pv1: &Seg<'_>) -> Value {
    let roles = [
        (7, "ATND", "attender"),
        (8, "REF", "referrer"),
        (17, "ADM", "admitter"),
    ];
    let mut participants = Vec::new();
    for (field, code, display) in roles {
        for parts in pv1.repetitions(field) {
            let Some(person) = xcn(&parts, context.local_system.as_deref()) else {
                continue;
            };
            participants.push(json!({
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": code, "display": display}]}],
                "individual": actors::practitioner(builder, &person),
            }));
        }
    }
    Value::Array(participants)
}
