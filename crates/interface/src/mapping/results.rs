//! ORU^R01 → for each ORDER_OBSERVATION a DiagnosticReport (OBR) with one Observation per
//! OBX, all conditional updates by identifier, so a corrected result (same identifiers)
//! replaces the earlier one instead of adding to it.
//!
//! The report is found by its filler order number (OBR-3, else ORC-3; the placer number when
//! there is no filler number). An Observation's identifier is that number, the OBX set id
//! (OBX-1; its position in the order when the sender leaves it empty) and the sub-id (OBX-4):
//! `F123-2`, `F123-3-1`.

use super::actors::{cnn, practitioner};
use super::bundle::{Builder, reference};
use super::datatypes::{self, Ident, codeable_concept};
use super::numeric::{self, StructuredNumeric, Unit, decimal, quantity};
use super::segment::{Parts, Seg};
use super::time::time_of_day;
use super::{Context, MapError, encounter, patient};
use medulla_hl7v2::groups::{self, Group};
use serde_json::{Map, Value, json};

const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// Maps an ORU^R01.
///
/// # Errors
/// 101 without an OBR, an order number, OBR-4 or OBX-3; 102 for values not of their type;
/// 103 for statuses outside their tables; 205 for a set id used twice in one order.
pub(crate) fn map(context: &Context<'_, '_>, builder: &mut Builder) -> Result<(), MapError> {
    let message = context.message;
    let no_order = || MapError::missing("OBR^1^4".to_owned(), "an OBR segment");
    let root = groups::group(message).ok_or_else(no_order)?;
    let mut orders = 0;
    for result in root.all("PATIENT_RESULT") {
        let patient_group = result.all("PATIENT").into_iter().next();
        let pid = patient_group.and_then(|group| first(context, group, "PID"));
        let visit = patient_group
            .and_then(|group| group.all("VISIT").into_iter().next())
            .and_then(|group| first(context, group, "PV1"));
        let subject = match &pid {
            Some(pid) => Some(patient::ensure(context, builder, pid)?),
            None => None,
        };
        let encounter = match &subject {
            Some(subject) => encounter::ensure(context, builder, visit.as_ref(), subject)?,
            None => None,
        };
        let about = About {
            subject: subject.as_deref().map(reference),
            encounter,
        };
        for order in result.all("ORDER_OBSERVATION") {
            orders += 1;
            map_order(context, builder, order, &about)?;
        }
    }
    if orders == 0 {
        return Err(no_order());
    }
    Ok(())
}

/// Whom and which visit the results are about.
struct About {
    subject: Option<Value>,
    encounter: Option<Value>,
}

/// The first of `group`'s own segments named `name`.
pub(crate) fn first<'m>(context: &Context<'m, '_>, group: &Group, name: &str) -> Option<Seg<'m>> {
    Seg::at_all(context.message, &group.segments(context.message, name))
        .into_iter()
        .next()
}

/// An order number (an EI): field `field` of `primary`, else the same field of `fallback`
/// (OBR-3 and ORC-3 are both the filler number, OBR-2 and ORC-2 both the placer number).
pub(crate) fn order_number(
    context: &Context<'_, '_>,
    primary: Option<&Seg<'_>>,
    fallback: Option<&Seg<'_>>,
    field: usize,
) -> Option<Ident> {
    let local = context.local_system.as_deref();
    [primary, fallback]
        .into_iter()
        .flatten()
        .find_map(|segment| datatypes::ei(&segment.parts(field)?, local))
}

fn map_order(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    order: &Group,
    about: &About,
) -> Result<(), MapError> {
    let no_obr = || MapError::missing("OBR^1^4".to_owned(), "an OBR segment");
    let obr = first(context, order, "OBR").ok_or_else(no_obr)?;
    let orc = first(context, order, "ORC");
    let filler = order_number(context, Some(&obr), orc.as_ref(), 3).map(|id| id.typed("FILL"));
    let placer = order_number(context, Some(&obr), orc.as_ref(), 2).map(|id| id.typed("PLAC"));
    let key = filler.clone().or_else(|| placer.clone()).ok_or_else(|| {
        MapError::missing(
            obr.location(3),
            "OBR-3 (filler order number) or OBR-2 (placer order number)",
        )
    })?;
    let code = obr
        .parts(4)
        .and_then(|ce| codeable_concept(&ce, None))
        .ok_or_else(|| {
            MapError::missing(obr.location(4), "OBR-4 (universal service identifier)")
        })?;
    let effective = context.field_date_time(&obr, 7, "OBR-7 (observation date/time)")?;
    let issued = context
        .timestamp(
            obr.text(22),
            || obr.location(22),
            "OBR-22 (results rpt/status chng - date/time)",
        )?
        .and_then(|issued| issued.instant(context.default_offset));
    let status = report_status(&obr)?;
    let category = obr
        .parts(24)
        .and_then(|id| codeable_concept(&id, Some("HL70074")));
    let performers: Vec<Value> = obr
        .repetitions(32)
        .iter()
        .filter_map(|ndl| cnn(&ndl.nested(1)?, context.local_system.as_deref()))
        .map(|person| practitioner(builder, &person))
        .collect();
    let mut results = Vec::new();
    for (position, observation) in order.all("OBSERVATION").into_iter().enumerate() {
        let Some(obx) = first(context, observation, "OBX") else {
            continue;
        };
        let notes = notes(context, observation);
        let full_url = map_observation(
            context,
            builder,
            &obx,
            position + 1,
            &key,
            about,
            effective.as_deref(),
            notes,
        )?;
        results.push(reference(&full_url));
    }
    let report = json!({
        "resourceType": "DiagnosticReport",
        "identifier": [filler.map(|id| id.to_json()), placer.map(|id| id.to_json())],
        "status": status,
        "category": [category],
        "code": code,
        "subject": about.subject,
        "encounter": about.encounter,
        "effectiveDateTime": effective,
        "issued": issued,
        "performer": performers,
        "result": results,
    });
    builder.update("DiagnosticReport", &key, report, || obr.location(3))?;
    Ok(())
}

/// NTE-3 comments of a group, as Annotations.
fn notes(context: &Context<'_, '_>, group: &Group) -> Vec<Value> {
    Seg::at_all(context.message, &group.segments(context.message, "NTE"))
        .iter()
        .map(|nte| nte.repetition_texts(3).join("\n"))
        .filter(|text| !text.is_empty())
        .map(|text| json!({"text": text}))
        .collect()
}

#[allow(clippy::too_many_arguments)] // one OBX and everything of its order it inherits
fn map_observation(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    obx: &Seg<'_>,
    position: usize,
    order_key: &Ident,
    about: &About,
    order_effective: Option<&str>,
    notes: Vec<Value>,
) -> Result<String, MapError> {
    let set_id = obx.text(1).unwrap_or_else(|| position.to_string());
    let value = match obx.text(4) {
        Some(sub_id) => format!("{}-{set_id}-{sub_id}", order_key.value),
        None => format!("{}-{set_id}", order_key.value),
    };
    let key = Ident::new(order_key.system.clone(), value);
    let code = obx
        .parts(3)
        .and_then(|ce| codeable_concept(&ce, None))
        .ok_or_else(|| MapError::missing(obx.location(3), "OBX-3 (observation identifier)"))?;
    let unit = Unit::from_ce(obx.parts(6).as_ref());
    let effective = context.field_date_time(obx, 14, "OBX-14 (date/time of the observation)")?;
    let reference_range = obx
        .parts(7)
        .and_then(|range| range.whole())
        .map(|text| numeric::reference_range(&text, &unit));
    let interpretation: Vec<Value> = obx
        .repetitions(8)
        .iter()
        .filter_map(|flag| flag.part(1))
        .map(|code| interpretation(&code))
        .collect();
    let mut observation = Map::new();
    observation.insert("resourceType".into(), json!("Observation"));
    observation.insert("identifier".into(), json!([key.to_json()]));
    observation.insert("status".into(), json!(observation_status(obx)?));
    observation.insert("code".into(), code);
    observation.insert("subject".into(), json!(about.subject));
    observation.insert("encounter".into(), json!(about.encounter));
    observation.insert(
        "effectiveDateTime".into(),
        json!(effective.as_deref().or(order_effective)),
    );
    if let Some((name, value)) = observation_value(context, obx, &unit)? {
        observation.insert(name.into(), value);
    }
    observation.insert("interpretation".into(), Value::Array(interpretation));
    observation.insert("note".into(), Value::Array(notes));
    observation.insert("referenceRange".into(), json!([reference_range]));
    builder.update("Observation", &key, Value::Object(observation), || {
        obx.location(1)
    })
}

/// OBX-5 read by its type OBX-2, as the Observation's `value[x]`. `None` without a value.
///
/// # Errors
/// 102 when the value is not of its type.
fn observation_value(
    context: &Context<'_, '_>,
    obx: &Seg<'_>,
    unit: &Unit,
) -> Result<Option<(&'static str, Value)>, MapError> {
    let Some(first) = obx.parts(5) else {
        return Ok(None);
    };
    let value_type = obx
        .text(2)
        .map(|kind| kind.to_ascii_uppercase())
        .unwrap_or_default();
    let malformed = || {
        MapError::bad_type(
            obx.location(5),
            &format!("OBX-5 (observation value) of type {value_type}"),
        )
    };
    let value = match value_type.as_str() {
        "NM" => {
            let number = first
                .part(1)
                .as_deref()
                .and_then(decimal)
                .ok_or_else(malformed)?;
            ("valueQuantity", quantity(number, unit, None))
        }
        "CE" | "CWE" | "CNE" | "CF" => match codeable_concept(&first, None) {
            Some(concept) => ("valueCodeableConcept", concept),
            None => return Ok(None),
        },
        "SN" => structured(&first, unit).ok_or_else(malformed)?,
        "DT" => match context.date(
            first.part(1),
            || obx.location(5),
            "OBX-5 (observation value) of type DT",
        )? {
            Some(date) => ("valueDateTime", json!(date)),
            None => return Ok(None),
        },
        "TS" | "DTM" => match context.date_time(
            first.part(1),
            || obx.location(5),
            "OBX-5 (observation value) of type DTM",
        )? {
            Some(date_time) => ("valueDateTime", json!(date_time)),
            None => return Ok(None),
        },
        "TM" => {
            let time = first
                .part(1)
                .as_deref()
                .and_then(time_of_day)
                .ok_or_else(malformed)?;
            ("valueTime", json!(time))
        }
        // ST, TX and FT, and whatever FHIR has no better type for: the text, one line per
        // repetition (FT's escapes, `\.br\` included, are already undone by the parser).
        _ => {
            let text = obx.repetition_texts(5).join("\n");
            if text.is_empty() {
                return Ok(None);
            }
            ("valueString", json!(text))
        }
    };
    Ok(Some(value))
}

/// An SN as Quantity (with comparator), Range, Ratio, or text.
fn structured(sn: &Parts<'_>, unit: &Unit) -> Option<(&'static str, Value)> {
    Some(match numeric::structured_numeric(sn)? {
        StructuredNumeric::Quantity { comparator, value } => {
            ("valueQuantity", quantity(value, unit, comparator))
        }
        StructuredNumeric::Range { low, high } => (
            "valueRange",
            json!({"low": quantity(low, unit, None), "high": quantity(high, unit, None)}),
        ),
        StructuredNumeric::Ratio {
            numerator,
            denominator,
        } => (
            "valueRatio",
            json!({"numerator": {"value": numerator}, "denominator": {"value": denominator}}),
        ),
        StructuredNumeric::Text(text) => ("valueString", json!(text)),
    })
}

/// An abnormal flag (OBX-8, table 0078) as a v3 ObservationInterpretation coding; the v2
/// codes are the v3 codes, so only unknown ones keep the v2 table as their system.
fn interpretation(code: &str) -> Value {
    const KNOWN: &[(&str, &str)] = &[
        ("<", "Off scale low"),
        (">", "Off scale high"),
        ("A", "Abnormal"),
        ("AA", "Critical abnormal"),
        ("B", "Better"),
        ("D", "Significant change down"),
        ("DET", "Detected"),
        ("H", "High"),
        ("HH", "Critical high"),
        ("HU", "Significantly high"),
        ("I", "Intermediate"),
        ("IND", "Indeterminate"),
        ("L", "Low"),
        ("LL", "Critical low"),
        ("LU", "Significantly low"),
        ("MS", "moderately susceptible"),
        ("N", "Normal"),
        ("ND", "Not detected"),
        ("NEG", "Negative"),
        ("NR", "Non-reactive"),
        ("POS", "Positive"),
        ("R", "Resistant"),
        ("RR", "Reactive"),
        ("S", "Susceptible"),
        ("U", "Significant change up"),
        ("VS", "very susceptible"),
        ("W", "Worse"),
        ("WR", "Weakly reactive"),
    ];
    let upper = code.to_ascii_uppercase();
    match KNOWN.iter().find(|(known, _)| *known == upper) {
        Some((known, display)) => {
            json!({"coding": [{"system": INTERPRETATION, "code": known, "display": display}]})
        }
        None => json!({"coding": [{"system": datatypes::coding_system("HL70078"), "code": code}]}),
    }
}

/// OBX-11 (table 0085) as an Observation status; "unknown" when the sender gives none.
fn observation_status(obx: &Seg<'_>) -> Result<&'static str, MapError> {
    let Some(code) = obx.text(11) else {
        return Ok("unknown");
    };
    Ok(match code.to_ascii_uppercase().as_str() {
        "F" | "U" => "final",
        "P" | "S" => "preliminary",
        "C" => "corrected",
        "A" => "amended",
        "X" | "N" => "cancelled",
        "D" | "W" => "entered-in-error",
        "R" | "I" | "O" => "registered",
        _ => {
            return Err(MapError::bad_code(
                obx.location(11),
                "OBX-11 (observation result status)",
                "0085",
            ));
        }
    })
}

/// OBR-25 (table 0123) as a DiagnosticReport status; "unknown" when the sender gives none.
fn report_status(obr: &Seg<'_>) -> Result<&'static str, MapError> {
    let Some(code) = obr.text(25) else {
        return Ok("unknown");
    };
    Ok(match code.to_ascii_uppercase().as_str() {
        "F" => "final",
        "P" => "preliminary",
        "C" => "corrected",
        "X" => "cancelled",
        "O" | "I" | "S" => "registered",
        "A" | "R" => "partial",
        "Y" | "Z" => "unknown",
        _ => {
            return Err(MapError::bad_code(
                obr.location(25),
                "OBR-25 (result status)",
                "0123",
            ));
        }
    })
}
