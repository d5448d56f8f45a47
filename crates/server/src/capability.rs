//! The CapabilityStatement, generated from what this server implements and the R4 definitions.

use medulla_model::definitions;
use serde_json::{Value, json};

/// Builds the CapabilityStatement for `base_url`.
pub fn capability_statement(base_url: &str, allow_multiple_delete: bool) -> Value {
    let defs = definitions();
    let resources: Vec<Value> = defs
        .resource_types()
        .map(|resource_type| {
            let mut search_params = vec![
                json!({"name": "_id", "type": "token", "definition": "http://hl7.org/fhir/SearchParameter/Resource-id"}),
                json!({"name": "_lastUpdated", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated"}),
            ];
            let identifier = medulla_engine::index::has_identifier(resource_type)
                .then(|| defs.search_param(resource_type, "identifier"))
                .flatten();
            if let Some(param) = identifier {
                search_params.push(json!({"name": "identifier", "type": "token", "definition": param.url}));
            }
            let interactions: Vec<Value> = [
                "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
            ]
            .iter()
            .map(|code| json!({"code": code}))
            .collect();
            json!({
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
                "searchParam": search_params,
            })
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
                {"code": "history-system"}
            ],
        }],
    })
}
