//! Search-index rows for a resource. For now the `identifier` token of every type that has one
//! (what conditional interactions and Synthea's conditional references need); the full,
//! FHIRPath-driven indexer replaces this.

use medulla_model::definitions;
use medulla_store::{IndexRows, TokenRow};
use serde_json::Value;

/// Whether `identifier` is a searchable token of this type.
pub fn has_identifier(resource_type: &str) -> bool {
    definitions()
        .search_param(resource_type, "identifier")
        .is_some_and(|param| param.kind == medulla_model::SearchParamType::Token)
        && definitions()
            .type_def(resource_type)
            .is_some_and(|def| def.element_for_json_name("identifier").is_some())
}

/// Extracts the index rows of a resource.
pub fn index_rows(resource_type: &str, resource: &Value) -> IndexRows {
    let mut rows = IndexRows::default();
    if !has_identifier(resource_type) {
        return rows;
    }
    let identifiers: Vec<&Value> = match resource.get("identifier") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    };
    for identifier in identifiers {
        if let Some(code) = identifier.get("value").and_then(Value::as_str) {
            rows.tokens.push(TokenRow {
                param: "identifier".to_owned(),
                system: identifier
                    .get("system")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                code: code.to_owned(),
            });
        }
    }
    rows
}
