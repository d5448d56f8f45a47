//! ADT A40 (merge patient, structure ADT_A39): for each PID with its MRG, the surviving
//! Patient (PID) gets `link: replaces` the merged one (MRG-1), and the merged Patient
//! `active: false` and `link: replaced-by` the survivor. Both are conditional updates by their
//! identifiers. Moving other resources' references from the merged to the surviving Patient
//! is the caller's job; [`merges`] tells it which patients.

use super::bundle::{Builder, reference};
use super::datatypes::{self, Ident};
use super::patient;
use super::segment::Seg;
use super::{Context, MapError};
use medulla_hl7v2::Message;
use serde_json::{Value, json};

/// The (system, value) of the surviving and of the merged patient's identifier, for each
/// merge an ADT A40 message asks for, exactly as [`super::to_bundle`] finds those patients.
/// An empty system means the identifier has none. Empty for any other message, and without
/// the pairs whose identifiers are missing (the mapping refuses those).
pub fn merges(message: &Message<'_>) -> Vec<((String, String), (String, String))> {
    if message.message_type().0 != "ADT" || message.message_type().1 != "A40" {
        return Vec::new();
    }
    let context = Context::new(message);
    pairs(message)
        .iter()
        .filter_map(|(pid, mrg)| {
            let survivor = patient::key(&context, pid).ok()?;
            let merged = merged_key(&context, mrg).ok()?;
            Some((as_pair(survivor), as_pair(merged)))
        })
        .collect()
}

fn as_pair(id: Ident) -> (String, String) {
    (id.system.unwrap_or_default(), id.value)
}

/// Maps an A40.
///
/// # Errors
/// 101 without PID/MRG or their identifiers; 205 when MRG-1 names the survivor itself.
pub(crate) fn map(context: &Context<'_, '_>, builder: &mut Builder) -> Result<(), MapError> {
    let pairs = pairs(context.message);
    if pairs.is_empty() {
        return Err(MapError::missing(
            "MRG^1^1".to_owned(),
            "a PID segment followed by its MRG segment",
        ));
    }
    for (pid, mrg) in &pairs {
        let (survivor_key, mut survivor) = patient::resource(context, pid)?;
        let merged_key = merged_key(context, mrg)?;
        if (&merged_key.system, &merged_key.value) == (&survivor_key.system, &survivor_key.value) {
            return Err(MapError::duplicate(
                mrg.location(1),
                "MRG-1 (prior patient identifier list)",
            ));
        }
        let survivor_url = builder.full_url("Patient", &survivor_key);
        let merged_url = builder.full_url("Patient", &merged_key);
        survivor.insert(
            "link".into(),
            json!([{"other": reference(&merged_url), "type": "replaces"}]),
        );
        builder.update("Patient", &survivor_key, Value::Object(survivor), || {
            pid.location(3)
        })?;
        let merged = merged_patient(context, mrg, &survivor_url);
        builder.update("Patient", &merged_key, merged, || mrg.location(1))?;
    }
    Ok(())
}

/// The merged Patient: its identifiers (MRG-1), its name then (MRG-7), inactive, replaced by
/// the survivor. The message says nothing else about it.
fn merged_patient(context: &Context<'_, '_>, mrg: &Seg<'_>, survivor_url: &str) -> Value {
    let local = context.local_system.as_deref();
    let identifiers: Vec<Value> = mrg
        .repetitions(1)
        .iter()
        .filter_map(|cx| datatypes::cx(cx, local))
        .map(|id| id.to_json())
        .collect();
    let names: Vec<Value> = mrg
        .repetitions(7)
        .iter()
        .filter_map(datatypes::human_name)
        .collect();
    json!({
        "resourceType": "Patient",
        "identifier": identifiers,
        "active": false,
        "name": names,
        "link": [{"other": reference(survivor_url), "type": "replaced-by"}],
    })
}

/// The identifier the merged patient is found by: the first MRG-1 repetition with a value.
fn merged_key(context: &Context<'_, '_>, mrg: &Seg<'_>) -> Result<Ident, MapError> {
    mrg.repetitions(1)
        .iter()
        .find_map(|cx| datatypes::cx(cx, context.local_system.as_deref()))
        .ok_or_else(|| MapError::missing(mrg.location(1), "MRG-1 (prior patient identifier list)"))
}

/// Each MRG with the PID before it (a PATIENT group of ADT_A39).
fn pairs<'m>(message: &'m Message<'_>) -> Vec<(Seg<'m>, Seg<'m>)> {
    let mut pairs = Vec::new();
    let mut pid = None;
    for index in 0..message.len() {
        let Some(segment) = Seg::at(message, index) else {
            continue;
        };
        match segment.name() {
            "PID" => pid = Some(segment),
            "MRG" => {
                if let Some(pid) = pid.take() {
                    pairs.push((pid, segment));
                }
            }
            _ => {}
        }
    }
    pairs
}
