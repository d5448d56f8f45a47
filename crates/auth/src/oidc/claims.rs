//! The verified claims of an external token → the [`Access`] a request runs with.

use super::config::ClaimMapping;
use crate::directory::is_resource_type;
use crate::error::TokenError;
use medulla_access::{Access, ScopeSet, Subject};
use serde_json::{Map, Value};

/// Maps verified claims through `mapping`.
///
/// # Errors
/// [`TokenError::Invalid`] when the subject claim is missing or not a non-empty string.
pub(crate) fn to_access(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<Access, TokenError> {
    let subject = lookup(claims, &mapping.subject)
        .and_then(Value::as_str)
        .filter(|subject| !subject.is_empty())
        .ok_or(TokenError::Invalid)?;
    let client_id = mapping
        .client_id
        .iter()
        .find_map(|name| lookup(claims, name).and_then(Value::as_str))
        .filter(|client| !client.is_empty())
        .map(str::to_owned);
    let roles = strings(lookup(claims, &mapping.roles));

    let mut scope_words = Vec::new();
    for name in &mapping.scope {
        scope_words.extend(strings(lookup(claims, name)));
    }
    for role in &roles {
        if let Some(scopes) = mapping.role_scopes.get(role) {
            scope_words.push(scopes.clone());
        }
    }
    let (scopes, _ignored) = ScopeSet::parse_lenient(&scope_words.join(" "), &is_resource_type);

    Ok(Access {
        subject: if is_client_token(claims, mapping, subject, client_id.as_deref()) {
            // Audit trails name the client by its client id, not by an opaque service-account id.
            Subject::Client(client_id.clone().unwrap_or_else(|| subject.to_owned()))
        } else {
            Subject::User(subject.to_owned())
        },
        client_id,
        scopes,
        patient: string(claims, &mapping.patient).and_then(|id| reference_id(id, "Patient")),
        encounter: string(claims, &mapping.encounter).and_then(|id| reference_id(id, "Encounter")),
        fhir_user: string(claims, &mapping.fhir_user).and_then(reference_tail),
        roles,
        purpose_of_use: Vec::new(),
        token_id: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
    })
}

/// A token of client credentials: the kind claim says so, or (without one) the client id
/// equals the subject.
fn is_client_token(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
    subject: &str,
    client_id: Option<&str>,
) -> bool {
    match &mapping.kind_claim {
        Some(name) => lookup(claims, name)
            .and_then(Value::as_str)
            .is_some_and(|kind| mapping.client_kinds.iter().any(|k| k == kind)),
        None => client_id == Some(subject),
    }
}

/// The claim at `path`: a top-level claim of exactly that name, else a dotted path into
/// nested objects, where each step again prefers the longest name that exists (so
/// `resource_access.my.client.roles` finds the client `my.client`).
pub(crate) fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    path.rmatch_indices('.').find_map(|(dot, _)| {
        let (head, rest) = (path.get(..dot)?, path.get(dot + 1..)?);
        lookup(object.get(head)?.as_object()?, rest)
    })
}

/// A string claim, or the words of a space-separated string, or the strings of an array
/// (other values are ignored).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => text.split_ascii_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_ascii_whitespace)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn string<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    lookup(claims, path).and_then(Value::as_str)
}

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`).
fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The id of a launch-context claim: `123`, `Patient/123` or `https://…/Patient/123`. Anything
/// else is dropped, so `patient/` scopes allow nothing rather than something unintended.
fn reference_id(value: &str, resource_type: &str) -> Option<String> {
    if is_id(value) {
        return Some(value.to_owned());
    }
    let (head, id) = value.rsplit_once('/')?;
    let type_name = head.rsplit('/').next()?;
    (type_name == resource_type && is_id(id)).then(|| id.to_owned())
}

/// `Practitioner/123` from `Practitioner/123`, `https://…/fhir/Practitioner/123` or
/// `…/Practitioner/123/_history/2`.
fn reference_tail(value: &str) -> Option<String> {
    let segments: Vec<&str> = value
        .split(['?', '#'])
        .next()?
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    segments.windows(2).rev().find_map(|pair| match pair {
        [type_name, id] if is_resource_type(type_name) && is_id(id) => {
            Some(format!("{type_name}/{id}"))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn lookup_follows_dotted_paths_and_prefers_literal_names() {
        let claims = object(json!({
            "realm_access": {"roles": ["a"]},
            "resource_access": {"my.client": {"roles": ["b"]}},
            "https://example.org/roles": ["c"],
        }));
        assert_eq!(lookup(&claims, "realm_access.roles"), Some(&json!(["a"])));
        assert_eq!(
            lookup(&claims, "resource_access.my.client.roles"),
            Some(&json!(["b"]))
        );
        assert_eq!(
            lookup(&claims, "https://example.org/roles"),
            Some(&json!(["c"]))
        );
        assert_eq!(lookup(&claims, "realm_access.missing"), None);
        assert_eq!(lookup(&claims, ""), None);
    }

    #[test]
    fn references_keep_type_and_id() {
        assert_eq!(
            reference_tail("https://fhir.example/fhir/Practitioner/pr-1"),
            Some("Practitioner/pr-1".to_owned())
        );
        assert_eq!(
            reference_tail("Practitioner/pr-1/_history/3"),
            Some("Practitioner/pr-1".to_owned())
        );
        assert_eq!(
            reference_tail("https://fhir.example/fhir/NoSuchType/1"),
            None
        );
        assert_eq!(reference_id("p1", "Patient"), Some("p1".to_owned()));
        assert_eq!(
            reference_id("https://fhir.example/fhir/Patient/p1", "Patient"),
            Some("p1".to_owned())
        );
        assert_eq!(reference_id("Group/g1", "Patient"), None);
        assert_eq!(reference_id("p 1", "Patient"), None);
    }

    #[test]
    fn scopes_come_from_every_scope_claim_and_from_roles() {
        let mut mapping = ClaimMapping::default();
        mapping
            .role_scopes
            .insert("clinician".into(), "user/*.rs".into());
        let claims = object(json!({
            "sub": "u1",
            "scope": "openid email patient/Observation.rs",
            "scp": ["patient/Patient.r", "patient/Observation.rs"],
            "realm_access": {"roles": ["clinician", "other"]},
        }));
        let access = to_access(&claims, &mapping).expect("valid claims");
        assert_eq!(
            access.scopes.to_string(),
            "openid patient/Observation.rs patient/Patient.r user/*.rs"
        );
        assert_eq!(
            access.roles,
            vec!["clinician".to_owned(), "other".to_owned()]
        );
        assert_eq!(access.subject, Subject::User("u1".into()));
    }

    #[test]
    fn a_kind_claim_marks_client_tokens() {
        let mapping = ClaimMapping {
            kind_claim: Some("idtyp".into()),
            ..ClaimMapping::default()
        };
        let claims = object(json!({"sub": "sp-object-id", "azp": "backend", "idtyp": "app"}));
        let access = to_access(&claims, &mapping).expect("valid claims");
        assert_eq!(access.subject, Subject::Client("backend".into()));
        let claims = object(json!({"sub": "sp-object-id", "azp": "backend", "idtyp": "user"}));
        let access = to_access(&claims, &mapping).expect("valid claims");
        assert_eq!(access.subject, Subject::User("sp-object-id".into()));
    }

    #[test]
    fn a_missing_or_empty_subject_is_invalid() {
        let mapping = ClaimMapping::default();
        for claims in [json!({}), json!({"sub": ""}), json!({"sub": 7})] {
            let result = to_access(&object(claims), &mapping).map(|a| a.subject);
            assert_eq!(result, Err(TokenError::Invalid));
        }
    }
}
