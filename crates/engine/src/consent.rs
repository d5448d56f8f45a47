//! Patient consent: active Consent resources whose provisions `deny` access are enforced on
//! reads and searches, unless the caller asserts break-glass (`BTG`), which the server audits.
//!
//! A deny provision (the root one or any nested one) applies when every condition it states
//! holds: the caller is one of its `actor`s (by `fhirUser`; no actor: everyone), the request's
//! purpose of use is one of its `purpose`s (none: any purpose), the resource type is one of its
//! `class`es (`http://hl7.org/fhir/resource-types`; none: every type), and now is inside its
//! `period` (or its parent's). The patient never loses access to their own data by their own
//! consent.
//!
//! The rules are read from the store and kept for [`MAX_AGE`]; writes of Consent through the
//! guarded engine reload them at once.

use crate::{Engine, Handling};
use medulla_access::Access;
use medulla_store::{StoredResource, Timestamp};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Longest time a change made outside the guarded API (import, HL7 v2) takes to apply.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub(crate) struct DenyRule {
    actors: Vec<String>,
    purposes: Vec<String>,
    classes: Vec<String>,
    period: Option<(i64, i64)>,
}

#[derive(Default)]
struct Loaded {
    by_patient: HashMap<String, Vec<DenyRule>>,
    at: Option<Instant>,
}

/// The deny rules of active consents, by patient id.
#[derive(Default, Clone)]
pub(crate) struct Consents {
    loaded: Arc<RwLock<Loaded>>,
}

fn codes(provision: &Value, field: &str) -> Vec<String> {
    provision
        .get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get("code").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn period(provision: &Value) -> Option<(i64, i64)> {
    let period = provision.get("period")?;
    let bound = |name: &str, high: bool| {
        period
            .get(name)
            .and_then(Value::as_str)
            .and_then(crate::fhir_time::parse_range)
            .map(|(low, upper)| if high { upper.0 } else { low.0 })
    };
    Some((
        bound("start", false).unwrap_or(i64::MIN),
        bound("end", true).unwrap_or(i64::MAX),
    ))
}

fn collect(provision: &Value, inherited: Option<(i64, i64)>, rules: &mut Vec<DenyRule>) {
    let own_period = period(provision).or(inherited);
    if provision.get("type").and_then(Value::as_str) == Some("deny") {
        rules.push(DenyRule {
            actors: provision
                .get("actor")
                .and_then(Value::as_array)
                .map(|actors| {
                    actors
                        .iter()
                        .filter_map(|a| a.pointer("/reference/reference").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            purposes: codes(provision, "purpose"),
            classes: codes(provision, "class"),
            period: own_period,
        });
    }
    if let Some(nested) = provision.get("provision").and_then(Value::as_array) {
        for child in nested {
            collect(child, own_period, rules);
        }
    }
}

/// The patient id and deny rules of one Consent resource, if it is active and denies anything.
pub(crate) fn rules_of(consent: &Value) -> Option<(String, Vec<DenyRule>)> {
    if consent.get("status").and_then(Value::as_str) != Some("active") {
        return None;
    }
    let patient = consent
        .pointer("/patient/reference")
        .and_then(Value::as_str)?
        .rsplit_once("Patient/")
        .map(|(_, id)| id.to_owned())?;
    let mut rules = Vec::new();
    collect(consent.get("provision")?, None, &mut rules);
    (!rules.is_empty()).then_some((patient, rules))
}

impl DenyRule {
    fn applies(&self, access: &Access, resource_type: &str, now: i64) -> bool {
        let actor = self.actors.is_empty()
            || access.fhir_user.as_deref().is_some_and(|me| {
                self.actors
                    .iter()
                    .any(|a| a == me || a.ends_with(&format!("/{me}")))
            });
        let purpose = self.purposes.is_empty()
            || access
                .purpose_of_use
                .iter()
                .any(|p| self.purposes.contains(p));
        let class = self.classes.is_empty() || self.classes.iter().any(|c| c == resource_type);
        let period = self
            .period
            .is_none_or(|(low, high)| low <= now && now <= high);
        actor && purpose && class && period
    }
}

impl Consents {
    /// Forgets the rules: the next check reloads them.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut loaded) = self.loaded.write() {
            loaded.at = None;
        }
    }

    /// Reloads the rules when they are older than [`MAX_AGE`]; `false` when they could not be
    /// loaded (then nothing can be shown safely).
    fn ensure_fresh(&self, engine: &Engine) -> bool {
        let fresh = self
            .loaded
            .read()
            .ok()
            .and_then(|loaded| loaded.at)
            .is_some_and(|at| at.elapsed() < MAX_AGE);
        if fresh {
            return true;
        }
        match self.reload(engine) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "cannot load consents; denying access");
                false
            }
        }
    }

    fn reload(&self, engine: &Engine) -> Result<(), crate::Error> {
        let mut by_patient: HashMap<String, Vec<DenyRule>> = HashMap::new();
        let params = vec![
            ("status".to_owned(), "active".to_owned()),
            ("_count".to_owned(), "1000".to_owned()),
        ];
        let mut request =
            engine.parse_search(&["Consent".to_owned()], &params, Handling::Strict)?;
        loop {
            let page = engine.store().search(&request.query)?;
            for found in &page.resources {
                let Some(body) = found
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                else {
                    continue;
                };
                if let Some((patient, rules)) = rules_of(&body) {
                    by_patient.entry(patient).or_default().extend(rules);
                }
            }
            match page.next {
                Some(next) => request.query.after = Some(next),
                None => break,
            }
        }
        if let Ok(mut loaded) = self.loaded.write() {
            loaded.by_patient = by_patient;
            loaded.at = Some(Instant::now());
        }
        Ok(())
    }

    /// Whether any consent denies `access` to `resource`, whose patients are `patients`.
    /// Break-glass overrides (the caller audits it).
    pub(crate) fn denies(
        &self,
        engine: &Engine,
        access: &Access,
        resource: &StoredResource,
        patients: impl FnOnce() -> Vec<String>,
    ) -> bool {
        if access.is_break_glass() {
            return false;
        }
        if !self.ensure_fresh(engine) {
            return true;
        }
        let Ok(loaded) = self.loaded.read() else {
            return true;
        };
        if loaded.by_patient.is_empty() {
            return false;
        }
        let now = Timestamp::now().0;
        patients().iter().any(|patient| {
            let own = access.fhir_user.as_deref() == Some(&format!("Patient/{patient}"));
            !own && loaded.by_patient.get(patient).is_some_and(|rules| {
                rules
                    .iter()
                    .any(|rule| rule.applies(access, &resource.resource_type, now))
            })
        })
    }

    /// Whether any active consent denies anything at all (cheap: lets searches skip the
    /// per-resource check).
    pub(crate) fn any(&self, engine: &Engine) -> bool {
        if !self.ensure_fresh(engine) {
            return true;
        }
        self.loaded
            .read()
            .map(|loaded| !loaded.by_patient.is_empty())
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deny_provisions_become_rules() {
        let consent = json!({"resourceType": "Consent", "status": "active",
        "patient": {"reference": "Patient/p1"},
        "provision": {"type": "permit", "period": {"start": "2020-01-01", "end": "2030-12-31"},
            "provision": [
                {"type": "deny", "actor": [{"reference": {"reference": "Practitioner/doc"}}],
                 "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}]},
                {"type": "deny", "purpose": [{"code": "HMARKT"}]}
            ]}});
        let (patient, rules) = rules_of(&consent).expect("rules");
        assert_eq!(patient, "p1");
        assert_eq!(rules.len(), 2);
        let doc = Access {
            fhir_user: Some("Practitioner/doc".into()),
            subject: medulla_access::Subject::User("doc".into()),
            ..Access::anonymous()
        };
        let now = crate::fhir_time::parse_range("2025-06-01")
            .expect("date")
            .0
            .0;
        assert!(rules[0].applies(&doc, "Observation", now));
        assert!(!rules[0].applies(&doc, "Condition", now));
        let later = crate::fhir_time::parse_range("2031-06-01")
            .expect("date")
            .0
            .0;
        assert!(
            !rules[0].applies(&doc, "Observation", later),
            "outside the period"
        );
        let other = Access {
            fhir_user: Some("Practitioner/other".into()),
            ..doc.clone()
        };
        assert!(!rules[0].applies(&other, "Observation", now));
        let marketing = Access {
            purpose_of_use: vec!["HMARKT".into()],
            ..other
        };
        assert!(rules[1].applies(&marketing, "Condition", now));
        let mut inactive = consent.clone();
        inactive["status"] = json!("inactive");
        assert!(rules_of(&inactive).is_none());
    }
}
