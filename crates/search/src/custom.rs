//! Search parameters defined at run time by SearchParameter resources.
//!
//! A SearchParameter resource written to the server does not change search by itself: the
//! engine reloads these definitions when a `$reindex` starts, and the reindex job then fills the
//! index for existing resources (new writes are indexed with the new definitions at once).

use crate::indexer::CompiledParam;
use medulla_model::{SearchParamComponent, SearchParamDef, SearchParamType, definitions};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

/// The run-time search parameters, compiled.
#[derive(Default)]
pub struct CustomParams {
    pub(crate) by_type: HashMap<String, Vec<Arc<CompiledParam>>>,
    count: usize,
}

impl std::fmt::Debug for CustomParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomParams")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

fn kind_of(text: &str) -> Option<SearchParamType> {
    Some(match text {
        "number" => SearchParamType::Number,
        "date" => SearchParamType::Date,
        "string" => SearchParamType::String,
        "token" => SearchParamType::Token,
        "reference" => SearchParamType::Reference,
        "composite" => SearchParamType::Composite,
        "quantity" => SearchParamType::Quantity,
        "uri" => SearchParamType::Uri,
        _ => return None,
    })
}

fn strings(value: Option<&Json>) -> Vec<String> {
    value
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads one SearchParameter resource; `Err` says why it cannot be used.
fn definition(resource: &Json) -> Result<SearchParamDef, String> {
    let field = |name: &str| resource.get(name).and_then(Json::as_str);
    let code = field("code").ok_or("it has no code")?.to_owned();
    let kind = field("type")
        .and_then(kind_of)
        .ok_or("its type is missing or not searchable")?;
    let expression = field("expression")
        .ok_or("it has no FHIRPath expression")?
        .to_owned();
    let base = strings(resource.get("base"));
    if base.is_empty() {
        return Err("it has no base".into());
    }
    if let Some(unknown) = base
        .iter()
        .find(|b| !definitions().is_resource_type(b) && *b != "Resource" && *b != "DomainResource")
    {
        return Err(format!("its base {unknown:?} is not a resource type"));
    }
    if matches!(field("status"), Some("retired")) {
        return Err("it is retired".into());
    }
    let components = resource
        .get("component")
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| {
                    Some(SearchParamComponent {
                        definition: c.get("definition")?.as_str()?.to_owned(),
                        expression: c.get("expression")?.as_str()?.to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(SearchParamDef {
        url: field("url").map_or_else(|| format!("urn:medulla:custom:{code}"), str::to_owned),
        code,
        kind,
        base,
        expression: Some(expression),
        target: strings(resource.get("target")),
        modifiers: strings(resource.get("modifier")),
        comparators: strings(resource.get("comparator")),
        multiple_or: resource.get("multipleOr").and_then(Json::as_bool),
        multiple_and: resource.get("multipleAnd").and_then(Json::as_bool),
        components,
    })
}

impl CustomParams {
    /// Compiles the usable SearchParameter resources. Returns the parameters and, for each
    /// resource that cannot be used, its id and why.
    pub fn from_resources(resources: &[Json]) -> (CustomParams, Vec<(String, String)>) {
        let mut params = CustomParams::default();
        let mut problems = Vec::new();
        for resource in resources {
            let id = resource
                .get("id")
                .and_then(Json::as_str)
                .unwrap_or("?")
                .to_owned();
            let def = match definition(resource) {
                Ok(def) => def,
                Err(reason) => {
                    problems.push((id, reason));
                    continue;
                }
            };
            let compiled = match CompiledParam::compile(def) {
                Ok(compiled) => Arc::new(compiled),
                Err(reason) => {
                    problems.push((id, reason));
                    continue;
                }
            };
            let types: Vec<String> = if compiled
                .def
                .base
                .iter()
                .any(|b| b == "Resource" || b == "DomainResource")
            {
                definitions().resource_types().map(str::to_owned).collect()
            } else {
                compiled.def.base.clone()
            };
            for resource_type in types {
                params
                    .by_type
                    .entry(resource_type)
                    .or_default()
                    .push(compiled.clone());
            }
            params.count += 1;
        }
        (params, problems)
    }

    /// The custom parameter `code` of `resource_type`, if one is defined.
    pub fn param(&self, resource_type: &str, code: &str) -> Option<&SearchParamDef> {
        self.by_type
            .get(resource_type)?
            .iter()
            .find(|p| p.def.code == code)
            .map(|p| &p.def)
    }

    /// Number of usable custom parameters.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when none is defined.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The resource types that have custom parameters.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(String::as_str)
    }
}
