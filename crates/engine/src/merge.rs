//! Patient merges: after one patient record is merged into another (HL7 v2 `ADT^A40`), every
//! resource that referred to the merged patient is made to refer to the surviving one.

use crate::interactions::{self, Prepared};
use crate::{Engine, Error};
use medulla_model::definitions;
use medulla_store::{Method, SearchQuery, WriteTx};
use serde_json::Value;
use std::collections::BTreeSet;

impl Engine {
    /// Inside a write job: finds the surviving and the merged Patient by search criteria
    /// (`identifier=sys|value`), then writes a new version of every current resource of the
    /// Patient compartment (Patients themselves excepted: their links say who replaced whom)
    /// whose references to the merged patient now point at the survivor. Returns the
    /// `Type/id/_history/version` of each resource written.
    ///
    /// # Errors
    /// When either patient is not found exactly once, or a write fails.
    pub fn merge_patient_references(
        &self,
        tx: &mut dyn WriteTx,
        survivor: &str,
        merged: &str,
    ) -> Result<Vec<String>, Error> {
        let find_one = |tx: &mut dyn WriteTx, criteria: &str| -> Result<String, Error> {
            let mut found = interactions::find(tx, "Patient", criteria, 2)?;
            match (found.pop(), found.is_empty()) {
                (Some(patient), true) => Ok(patient.id),
                (None, _) => Err(Error::invalid(
                    None,
                    format!("merge: no Patient matches {criteria:?}"),
                )),
                (Some(_), false) => Err(Error::PreconditionFailed(format!(
                    "merge: more than one Patient matches {criteria:?}"
                ))),
            }
        };
        let to = find_one(tx, survivor)?;
        let from = find_one(tx, merged)?;
        if to == from {
            return Ok(Vec::new());
        }
        let custom = self.custom();
        let mut written = Vec::new();
        for resource_type in definitions().resource_types() {
            if resource_type == "Patient" {
                continue;
            }
            let Some(params) = definitions().patient_compartment_params(resource_type) else {
                continue;
            };
            let params: BTreeSet<String> = params
                .iter()
                .filter(|p| !p.starts_with('{'))
                .cloned()
                .collect();
            if params.is_empty() {
                continue;
            }
            let mut query = SearchQuery {
                resource_types: vec![resource_type.to_owned()],
                clauses: vec![Self::compartment_clause(&from, &params)],
                count: 500,
                ..SearchQuery::default()
            };
            loop {
                let page = tx.search(&query)?;
                for stored in &page.resources {
                    let Some(body) = stored.body.as_deref() else {
                        continue;
                    };
                    let Ok(mut body) = serde_json::from_slice::<Value>(body) else {
                        continue;
                    };
                    if !repoint(&mut body, &from, &to, &self.options.base_url) {
                        continue;
                    }
                    let prepared = Prepared::new(body, &self.options.base_url, &custom);
                    let version = stored.version + 1;
                    interactions::store_version(
                        tx,
                        resource_type,
                        &stored.id,
                        version,
                        Method::Put,
                        prepared,
                    )?;
                    written.push(format!("{resource_type}/{}/_history/{version}", stored.id));
                }
                match page.next {
                    Some(next) => query.after = Some(next),
                    None => break,
                }
            }
        }
        Ok(written)
    }
}

/// Rewrites every `reference` to Patient `from` (relative, versioned, or absolute under
/// `base_url`) into `Patient/{to}`. True when something changed.
fn repoint(value: &mut Value, from: &str, to: &str, base_url: &str) -> bool {
    match value {
        Value::Object(object) => {
            let mut changed = false;
            for (name, member) in object.iter_mut() {
                if name == "reference"
                    && let Value::String(reference) = member
                    && refers_to(reference, from, base_url)
                {
                    *reference = format!("Patient/{to}");
                    changed = true;
                    continue;
                }
                changed |= repoint(member, from, to, base_url);
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            repoint(item, from, to, base_url) | changed
        }),
        _ => false,
    }
}

fn refers_to(reference: &str, id: &str, base_url: &str) -> bool {
    let base = base_url.trim_end_matches('/');
    let local = if base.is_empty() {
        reference
    } else {
        reference
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(reference)
    };
    let Some(rest) = local.strip_prefix("Patient/") else {
        return false;
    };
    let own_id = rest.split("/_history/").next().unwrap_or(rest);
    own_id == id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_to_the_merged_patient_move() {
        let mut body = json!({
            "resourceType": "Observation",
            "subject": {"reference": "Patient/old"},
            "performer": [{"reference": "http://h/fhir/Patient/old/_history/2"}, {"reference": "Patient/older"}],
            "note": [{"text": "Patient/old"}]
        });
        assert!(repoint(&mut body, "old", "new", "http://h/fhir"));
        assert_eq!(body["subject"]["reference"], "Patient/new");
        assert_eq!(body["performer"][0]["reference"], "Patient/new");
        assert_eq!(body["performer"][1]["reference"], "Patient/older");
        assert_eq!(body["note"][0]["text"], "Patient/old");
        assert!(!repoint(&mut body, "old", "new", "http://h/fhir"));
    }
}
