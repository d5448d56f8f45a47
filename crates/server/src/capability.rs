//! The CapabilityStatement, generated from what this server implements and the R4 definitions.

use medulla_model::definitions;
use serde_json::{Value, json};

/// The terminology operations, by resource type, as the CapabilityStatement lists them.
const TERMINOLOGY_OPERATIONS: &[(&str, &str)] = &[
    ("CodeSystem", "lookup"),
    ("CodeSystem", "validate-code"),
    ("CodeSystem", "subsumes"),
    ("ValueSet", "expand"),
    ("ValueSet", "validate-code"),
    ("ConceptMap", "translate"),
];

/// Builds the CapabilityStatement for `base_url`.
pub fn capability_statement(base_url: &str, allow_multiple_delete: bool) -> Value {
    let defs = definitions();
    let resources: Vec<Value> = defs
        .resource_types()
        .map(|resource_type| {
            let search_params: Vec<Value> = defs
                .search_params(resource_type)
                .filter(|param| !matches!(param.code.as_str(), "_query" | "_type"))
                .map(|param| {
                    json!({
                        "name": param.code,
                        "type": format!("{:?}", param.kind).to_lowercase(),
                        "definition": param.url,
                    })
                })
                .collect();
            let includes: Vec<String> = defs
                .search_params(resource_type)
                .filter(|param| param.kind == medulla_model::SearchParamType::Reference)
                .map(|param| format!("{resource_type}:{}", param.code))
                .chain(std::iter::once("*".to_owned()))
                .collect();
            let interactions: Vec<Value> = [
                "read",
                "vread",
                "update",
                "patch",
                "delete",
                "history-instance",
                "history-type",
                "create",
                "search-type",
            ]
            .iter()
            .map(|code| json!({"code": code}))
            .collect();
            let operations: Vec<Value> = TERMINOLOGY_OPERATIONS
                .iter()
                .filter(|(owner, _)| **owner == *resource_type)
                .map(|(_, name)| {
                    json!({
                        "name": name,
                        "definition": format!("http://hl7.org/fhir/OperationDefinition/{resource_type}-{name}"),
                    })
                })
                .collect();
            let mut resource = json!({
                "type": resource_type,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{resource_type}"),
                "interaction": interactions,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "full-support",
                "conditionalUpdate": true,
                "conditionalDelete": if allow_multiple_delete { "multiple" } else { "single" },
                "searchInclude": includes,
                "searchParam": search_params,
            });
            if !operations.is_empty() {
                resource["operation"] = Value::Array(operations);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        // When this server started: the statement describes this running instance.
        "date": medulla_engine::fhir_time::format_instant(medulla_store::Timestamp::now()),
        "publisher": "Medulla",
        "kind": "instance",
        "software": {"name": "Medulla", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Medulla FHIR R4 server", "url": base_url},
        "fhirVersion": defs.version(),
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "resource": resources,
            "interaction": [
                {"code": "transaction"},
                {"code": "batch"},
                {"code": "history-system"},
                {"code": "search-system"}
            ],
            "operation": [{
                "name": "validate",
                "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"
            }],
        }],
    })
}

/// Adds SMART's `rest.security`: the service coding and the OAuth endpoints extension.
pub(crate) fn with_smart_security(
    mut statement: serde_json::Value,
    auth: &medulla_auth::AuthConfig,
) -> serde_json::Value {
    let issuer = &auth.issuer;
    let security = serde_json::json!({
        "cors": true,
        "service": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "SMART-on-FHIR"
            }],
            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"
        }],
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                {"url": "token", "valueUri": auth.token_endpoint()},
                {"url": "authorize", "valueUri": format!("{issuer}/auth/authorize")},
                {"url": "introspect", "valueUri": format!("{issuer}/auth/introspect")},
                {"url": "revoke", "valueUri": format!("{issuer}/auth/revoke")}
            ]
        }]
    });
    if let Some(rest) = statement
        .get_mut("rest")
        .and_then(|rest| rest.get_mut(0))
        .and_then(serde_json::Value::as_object_mut)
    {
        rest.insert("security".to_owned(), security);
    }
    statement
}
