//! PID → Patient, found by the first identifier of PID-3.

use super::bundle::Builder;
use super::datatypes::{self, Ident};
use super::segment::Seg;
use super::{Context, MapError};
use serde_json::{Map, Value, json};

const BIRTH_TIME: &str = "http://hl7.org/fhir/StructureDefinition/patient-birthTime";
const US_SSN: &str = "http://hl7.org/fhir/sid/us-ssn";

/// The identifier a patient is found by: the first PID-3 repetition that has a value.
///
/// # Errors
/// 101 at PID-3 when there is none.
pub(crate) fn key(context: &Context<'_, '_>, pid: &Seg<'_>) -> Result<Ident, MapError> {
    pid.repetitions(3)
        .iter()
        .find_map(|cx| datatypes::cx(cx, context.local_system.as_deref()))
        .ok_or_else(|| MapError::missing(pid.location(3), "PID-3 (patient identifier list)"))
}

/// The Patient a PID describes, and its key.
///
/// # Errors
/// 101 without PID-3, 102 for a malformed date, 103 for a sex or indicator outside its table.
pub(crate) fn resource(
    context: &Context<'_, '_>,
    pid: &Seg<'_>,
) -> Result<(Ident, Map<String, Value>), MapError> {
    let key = key(context, pid)?;
    let local = context.local_system.as_deref();
    let mut identifiers: Vec<Ident> = pid
        .repetitions(3)
        .iter()
        .filter_map(|cx| datatypes::cx(cx, local))
        .collect();
    // PID-19 (SSN) unless PID-3 already carries it.
    let ssn = pid
        .text(19)
        .filter(|ssn| identifiers.iter().all(|known| &known.value != ssn));
    if let Some(ssn) = ssn {
        identifiers.push(Ident::new(Some(US_SSN.to_owned()), ssn).typed("SS"));
    }
    let birth = context.timestamp(
        pid.text(7),
        || pid.location(7),
        "PID-7 (date/time of birth)",
    )?;
    let birth_time = birth
        .as_ref()
        .filter(|birth| birth.has_time())
        .map(|birth| json!({"extension": [{"url": BIRTH_TIME, "valueDateTime": birth.date_time(context.default_offset)}]}));
    let mut patient = Map::new();
    patient.insert("resourceType".into(), json!("Patient"));
    patient.insert(
        "identifier".into(),
        identifiers.iter().map(Ident::to_json).collect(),
    );
    patient.insert(
        "name".into(),
        pid.repetitions(5)
            .iter()
            .filter_map(datatypes::human_name)
            .collect(),
    );
    patient.insert("telecom".into(), telecom(pid));
    patient.insert("gender".into(), json!(gender(pid)?));
    patient.insert("birthDate".into(), json!(birth.map(|birth| birth.date())));
    patient.insert("_birthDate".into(), json!(birth_time));
    insert_deceased(context, pid, &mut patient)?;
    patient.insert(
        "address".into(),
        pid.repetitions(11)
            .iter()
            .filter_map(datatypes::address)
            .collect(),
    );
    let marital = pid
        .parts(16)
        .and_then(|ce| datatypes::codeable_concept(&ce, Some("HL70002")));
    patient.insert("maritalStatus".into(), json!(marital));
    insert_multiple_birth(pid, &mut patient)?;
    let language = pid
        .parts(15)
        .and_then(|ce| datatypes::codeable_concept(&ce, Some("HL70296")));
    patient.insert(
        "communication".into(),
        json!([language.map(|language| json!({"language": language, "preferred": true}))]),
    );
    Ok((key, patient))
}

/// Conditional update of the Patient from `pid`; returns its fullUrl.
pub(crate) fn update(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    pid: &Seg<'_>,
) -> Result<String, MapError> {
    let (key, patient) = resource(context, pid)?;
    builder.update("Patient", &key, Value::Object(patient), || pid.location(3))
}

/// Conditional create of the Patient from `pid`: for messages that are not about
/// demographics (results, orders, immunizations, appointments), so that their often sparse
/// PID never overwrites what registration sent. Returns its fullUrl.
pub(crate) fn ensure(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    pid: &Seg<'_>,
) -> Result<String, MapError> {
    let (key, patient) = resource(context, pid)?;
    Ok(builder.ensure("Patient", &key, Value::Object(patient)))
}

/// PID-13 (home) and PID-14 (business) numbers.
fn telecom(pid: &Seg<'_>) -> Value {
    let home = pid
        .repetitions(13)
        .into_iter()
        .filter_map(|xtn| datatypes::contact_point(&xtn, Some("home")));
    let work = pid
        .repetitions(14)
        .into_iter()
        .filter_map(|xtn| datatypes::contact_point(&xtn, Some("work")));
    home.chain(work).collect()
}

/// PID-8, HL7 table 0001, as FHIR administrative gender.
fn gender(pid: &Seg<'_>) -> Result<Option<&'static str>, MapError> {
    let Some(code) = pid.text(8) else {
        return Ok(None);
    };
    let gender = match code.to_ascii_uppercase().as_str() {
        "M" => "male",
        "F" => "female",
        "U" => "unknown",
        // Ambiguous, not applicable, other (and the X of later versions).
        "O" | "A" | "N" | "X" => "other",
        _ => {
            return Err(MapError::bad_code(
                pid.location(8),
                "PID-8 (administrative sex)",
                "0001",
            ));
        }
    };
    Ok(Some(gender))
}

/// PID-29 (date/time of death) or, without it, PID-30 (death indicator).
fn insert_deceased(
    context: &Context<'_, '_>,
    pid: &Seg<'_>,
    patient: &mut Map<String, Value>,
) -> Result<(), MapError> {
    if let Some(death) = context.field_date_time(pid, 29, "PID-29 (patient death date and time)")? {
        patient.insert("deceasedDateTime".into(), json!(death));
    } else if let Some(indicator) = yes_no(pid, 30, "PID-30 (patient death indicator)")? {
        patient.insert("deceasedBoolean".into(), json!(indicator));
    }
    Ok(())
}

/// PID-24 (multiple birth indicator) and PID-25 (birth order).
fn insert_multiple_birth(pid: &Seg<'_>, patient: &mut Map<String, Value>) -> Result<(), MapError> {
    let order = pid.text(25).and_then(|order| order.parse::<u32>().ok());
    match (yes_no(pid, 24, "PID-24 (multiple birth indicator)")?, order) {
        (Some(true), Some(order)) => patient.insert("multipleBirthInteger".into(), json!(order)),
        (Some(indicator), _) => patient.insert("multipleBirthBoolean".into(), json!(indicator)),
        (None, _) => None,
    };
    Ok(())
}

/// A Y/N field (HL7 table 0136).
fn yes_no(seg: &Seg<'_>, field: usize, what: &str) -> Result<Option<bool>, MapError> {
    match seg
        .text(field)
        .map(|code| code.to_ascii_uppercase())
        .as_deref()
    {
        None => Ok(None),
        Some("Y") => Ok(Some(true)),
        Some("N") => Ok(Some(false)),
        Some(_) => Err(MapError::bad_code(seg.location(field), what, "0136")),
    }
}
