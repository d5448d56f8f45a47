//! Index rows from resources: every applicable R4 search parameter's FHIRPath expression is
//! run on the resource and each result is turned into rows of the parameter's type.

use crate::{CustomParams, text, time, ucum};
use medulla_fhirpath::{Environment, FhirPath, Node, ResourceResolver, Value};
use medulla_model::{SearchParamDef, SearchParamType, definitions};
use medulla_store::{
    CompositeRow, CompositeValue, DateRow, IndexRows, NumberRow, QuantityRow, ReferenceRow,
    StringRow, TokenRow, UriRow,
};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Parameters that are columns or special searches, not index rows.
const NOT_INDEXED: &[&str] = &[
    "_id",
    "_lastUpdated",
    "_text",
    "_content",
    "_query",
    "_list",
    "_has",
    "_type",
];

/// Upper bound on the `_content` text kept per resource, in bytes.
const MAX_CONTENT: usize = 64 * 1024;

pub(crate) struct CompiledParam {
    pub(crate) def: SearchParamDef,
    path: FhirPath,
    components: Vec<FhirPath>,
    /// The type of each component's parameter, looked up once here rather than per value.
    component_kinds: Vec<Option<SearchParamType>>,
}

/// The type of the parameter each of `def`'s components names (by canonical URL).
fn component_kinds(def: &SearchParamDef) -> Vec<Option<SearchParamType>> {
    let all = definitions().all_search_params();
    def.components
        .iter()
        .map(|component| {
            all.iter()
                .find(|p| p.url == component.definition)
                .map(|p| p.kind)
        })
        .collect()
}

impl CompiledParam {
    /// Compiles a definition's expressions.
    pub(crate) fn compile(def: SearchParamDef) -> Result<CompiledParam, String> {
        let expression = def.expression.clone().ok_or("it has no expression")?;
        let path = FhirPath::compile(&expression)
            .map_err(|error| format!("its expression does not compile: {error}"))?;
        let components = def
            .components
            .iter()
            .map(|component| FhirPath::compile(&component.expression))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("a component expression does not compile: {error}"))?;
        Ok(CompiledParam {
            component_kinds: component_kinds(&def),
            def,
            path,
            components,
        })
    }
}

/// Every search parameter's compiled expression, per resource type.
struct Compiled {
    by_type: HashMap<&'static str, Vec<std::sync::Arc<CompiledParam>>>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let defs = definitions();
    let mut by_url: HashMap<&str, std::sync::Arc<CompiledParam>> = HashMap::new();
    let mut by_type: HashMap<&'static str, Vec<std::sync::Arc<CompiledParam>>> = HashMap::new();
    for resource_type in defs.resource_types() {
        let mut params = Vec::new();
        for def in defs.search_params(resource_type) {
            if NOT_INDEXED.contains(&def.code.as_str())
                || crate::derived::is_derived(resource_type, &def.code)
            {
                continue;
            }
            let Some(expression) = &def.expression else {
                continue;
            };
            let compiled = by_url.entry(def.url.as_str()).or_insert_with(|| {
                let components = def
                    .components
                    .iter()
                    .filter_map(|component| FhirPath::compile(&component.expression).ok())
                    .collect();
                std::sync::Arc::new(CompiledParam {
                    component_kinds: component_kinds(def),
                    def: def.clone(),
                    path: FhirPath::compile(expression).unwrap_or_else(|_| {
                        // An expression our engine cannot compile indexes nothing rather than
                        // failing every write; the parameter then simply matches nothing.
                        FhirPath::compile("{}").expect("the empty collection compiles")
                    }),
                    components,
                })
            });
            params.push(compiled.clone());
        }
        by_type.insert(resource_type, params);
    }
    Compiled { by_type }
});

/// `resolve()` during indexing knows only the type a reference names: enough for the
/// `where(resolve() is Patient)` filters of the R4 expressions.
///
/// Placeholders (`urn:uuid:…` fullUrls of a transaction) and conditional references
/// (`Organization?identifier=…`) are typed too, so rows can be computed before a transaction
/// assigns ids; [`rewrite_references`] then points them at the assigned ids.
struct TypeOnlyResolver<'p> {
    placeholders: Option<&'p HashMap<String, String>>,
}

static TYPE_STUBS: LazyLock<HashMap<&'static str, Json>> = LazyLock::new(|| {
    definitions()
        .resource_types()
        .map(|name| (name, serde_json::json!({ "resourceType": name })))
        .collect()
});

impl ResourceResolver for TypeOnlyResolver<'_> {
    fn resolve(&self, reference: &str) -> Option<&Json> {
        if let Some(resource_type) = self.placeholders.and_then(|p| p.get(reference)) {
            return TYPE_STUBS.get(resource_type.as_str());
        }
        if let Some((resource_type, _)) = reference.split_once('?') {
            return TYPE_STUBS.get(resource_type);
        }
        let (resource_type, _) = reference_type_id(reference)?;
        TYPE_STUBS.get(resource_type)
    }
}

/// Computes the index rows of a resource in a transaction whose placeholders (`fullUrl` →
/// resource type) are not yet resolved.
pub fn index_resource_with_placeholders(
    resource: &Json,
    placeholders: &HashMap<String, String>,
    custom: &CustomParams,
) -> IndexRows {
    index_with(
        resource,
        &TypeOnlyResolver {
            placeholders: Some(placeholders),
        },
        custom,
    )
}

/// Turns reference rows whose URL lies under `base_url` (this server's own absolute URLs)
/// into local `Type/id` rows; references to other servers stay URLs.
pub fn localize_references(rows: &mut IndexRows, base_url: &str) {
    let base = base_url.trim_end_matches('/');
    if base.is_empty() {
        return;
    }
    for row in &mut rows.references {
        let Some(rest) = row
            .url
            .as_deref()
            .and_then(|url| url.strip_prefix(base))
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        if let Some((resource_type, id)) = reference_type_id(rest) {
            let version = rest.split_once("/_history/").map(|(_, v)| v.to_owned());
            row.target_type = Some(resource_type.to_owned());
            row.target_id = Some(id.to_owned());
            row.target_version = version;
            row.url = None;
        }
    }
}

/// Points reference and uri rows that hold a placeholder or conditional reference at the
/// resource it was resolved to (`resolved` maps the reference text to `Type/id`).
pub fn rewrite_references(rows: &mut IndexRows, resolved: &HashMap<String, String>) {
    for row in &mut rows.references {
        let Some(target) = row.url.as_ref().and_then(|url| resolved.get(url)) else {
            continue;
        };
        if let Some((resource_type, id)) = target.split_once('/') {
            row.target_type = Some(resource_type.to_owned());
            row.target_id = Some(id.to_owned());
            row.url = None;
        }
    }
    for row in &mut rows.uris {
        if let Some(target) = resolved.get(&row.uri) {
            row.uri = target.clone();
        }
    }
}

/// `Type/id` (or `…/Type/id[/_history/v]` of an absolute URL) → (type, id).
fn reference_type_id(reference: &str) -> Option<(&str, &str)> {
    let without_version = match reference.find("/_history/") {
        Some(position) => &reference[..position],
        None => reference,
    };
    let mut parts = without_version.rsplitn(3, '/');
    let id = parts.next()?;
    let resource_type = parts.next()?;
    definitions()
        .is_resource_type(resource_type)
        .then_some((resource_type, id))
}

/// Loads and compiles every search parameter expression now rather than on the first write.
pub fn warm_up() -> usize {
    COMPILED.by_type.values().map(Vec::len).sum()
}

/// Computes the index rows of a resource.
pub fn index_resource(resource: &Json, custom: &CustomParams) -> IndexRows {
    index_with(resource, &TypeOnlyResolver { placeholders: None }, custom)
}

fn index_with(
    resource: &Json,
    resolver: &TypeOnlyResolver<'_>,
    custom: &CustomParams,
) -> IndexRows {
    let mut rows = IndexRows::default();
    let Some(resource_type) = resource.get("resourceType").and_then(Json::as_str) else {
        return rows;
    };
    let Some(params) = COMPILED.by_type.get(resource_type) else {
        return rows;
    };
    let custom_params = custom.by_type.get(resource_type).into_iter().flatten();
    let environment = Environment::new().with_resolver(resolver);
    for param in params.iter().chain(custom_params) {
        let Ok(values) = param.path.evaluate(Some(resource), &environment) else {
            continue;
        };
        let code = &param.def.code;
        match param.def.kind {
            SearchParamType::Composite => composite_rows(param, &values, &environment, &mut rows),
            kind => {
                for value in &values {
                    add_value(code, kind, value, &mut rows);
                }
            }
        }
    }
    rows.text = narrative_text(resource);
    rows.content = Some(content_text(resource)).filter(|content| !content.is_empty());
    rows
}

fn node_of<'a>(value: &Value<'a>) -> Option<(&'a Json, &'static str)> {
    match value {
        Value::Node(node) => Some((node.json(), node.type_name().unwrap_or(""))),
        _ => None,
    }
}

fn as_text(json: &Json) -> Option<String> {
    match json {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn str_field(json: &Json, name: &str) -> Option<String> {
    json.get(name).and_then(Json::as_str).map(str::to_owned)
}

fn add_value(code: &str, kind: SearchParamType, value: &Value<'_>, rows: &mut IndexRows) {
    match kind {
        SearchParamType::String => string_rows(code, value, rows),
        SearchParamType::Token => token_rows(code, value, rows),
        SearchParamType::Date => {
            if let Some((low, high)) = date_range(value) {
                rows.dates.push(DateRow {
                    param: code.to_owned(),
                    low,
                    high,
                });
            }
        }
        SearchParamType::Number => {
            let number = match value {
                Value::Integer(n) => Some(*n as f64),
                Value::Node(node) => node.json().as_f64(),
                _ => None,
            };
            if let Some(value) = number {
                rows.numbers.push(NumberRow {
                    param: code.to_owned(),
                    value,
                });
            }
        }
        SearchParamType::Quantity => {
            if let Some(row) = value
                .clone()
                .into_node()
                .and_then(|node| quantity_row(code, node.json()))
            {
                rows.quantities.push(row);
            }
        }
        SearchParamType::Reference => reference_rows(code, value, rows),
        SearchParamType::Uri => {
            let uri = match value {
                Value::String(text) => Some(text.to_string()),
                Value::Node(node) => node.json().as_str().map(str::to_owned),
                _ => None,
            };
            if let Some(uri) = uri {
                rows.uris.push(UriRow {
                    param: code.to_owned(),
                    uri,
                });
            }
        }
        _ => {}
    }
}

trait IntoNode<'a> {
    fn into_node(self) -> Option<Node<'a>>;
}

impl<'a> IntoNode<'a> for Value<'a> {
    fn into_node(self) -> Option<Node<'a>> {
        match self {
            Value::Node(node) => Some(node),
            _ => None,
        }
    }
}

fn push_string(code: &str, text: &str, rows: &mut IndexRows) {
    if text.is_empty() {
        return;
    }
    rows.strings.push(StringRow {
        param: code.to_owned(),
        normalized: text::normalize(text),
        exact: text.to_owned(),
    });
}

fn string_rows(code: &str, value: &Value<'_>, rows: &mut IndexRows) {
    let Some((json, type_name)) = node_of(value) else {
        if let Value::String(text) = value {
            push_string(code, text, rows);
        }
        return;
    };
    match type_name {
        "HumanName" => {
            for field in ["family", "text"] {
                if let Some(text) = json.get(field).and_then(Json::as_str) {
                    push_string(code, text, rows);
                }
            }
            for field in ["given", "prefix", "suffix"] {
                for text in json
                    .get(field)
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                {
                    push_string(code, text, rows);
                }
            }
        }
        "Address" => {
            for field in ["text", "city", "district", "state", "postalCode", "country"] {
                if let Some(text) = json.get(field).and_then(Json::as_str) {
                    push_string(code, text, rows);
                }
            }
            for text in json
                .get("line")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
            {
                push_string(code, text, rows);
            }
        }
        _ => {
            if let Some(text) = as_text(json) {
                push_string(code, &text, rows);
            }
        }
    }
}

fn push_token(
    code: &str,
    system: Option<String>,
    value: Option<String>,
    display: Option<&str>,
    rows: &mut IndexRows,
) {
    if value.is_none() && display.is_none() {
        return;
    }
    rows.tokens.push(TokenRow {
        param: code.to_owned(),
        system,
        code: value,
        text: display.map(text::normalize),
    });
}

fn token_rows(code: &str, value: &Value<'_>, rows: &mut IndexRows) {
    let Some((json, type_name)) = node_of(value) else {
        match value {
            Value::String(text) => push_token(code, None, Some(text.to_string()), None, rows),
            Value::Boolean(flag) => push_token(code, None, Some(flag.to_string()), None, rows),
            _ => {}
        }
        return;
    };
    match type_name {
        "Coding" => push_token(
            code,
            str_field(json, "system"),
            str_field(json, "code"),
            json.get("display").and_then(Json::as_str),
            rows,
        ),
        "CodeableConcept" => {
            for coding in json
                .get("coding")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                push_token(
                    code,
                    str_field(coding, "system"),
                    str_field(coding, "code"),
                    coding.get("display").and_then(Json::as_str),
                    rows,
                );
            }
            if let Some(text) = json.get("text").and_then(Json::as_str) {
                push_token(code, None, None, Some(text), rows);
            }
        }
        "Identifier" => {
            let value_text = str_field(json, "value");
            push_token(
                code,
                str_field(json, "system"),
                value_text.clone(),
                json.pointer("/type/text").and_then(Json::as_str),
                rows,
            );
            if let Some(identifier) = &value_text {
                for coding in json
                    .pointer("/type/coding")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(type_code) = coding.get("code").and_then(Json::as_str) {
                        push_token(
                            &format!("{code}:of-type"),
                            str_field(coding, "system"),
                            Some(format!("{type_code}|{identifier}")),
                            None,
                            rows,
                        );
                    }
                }
            }
        }
        "ContactPoint" => push_token(code, None, str_field(json, "value"), None, rows),
        _ => {
            if let Some(text) = as_text(json) {
                push_token(code, None, Some(text), None, rows);
            }
        }
    }
}

fn date_range(value: &Value<'_>) -> Option<(i64, i64)> {
    let (json, type_name) = match value {
        Value::Node(node) => (node.json(), node.type_name().unwrap_or("")),
        Value::String(text) => return time::parse_range(text).map(|(l, h)| (l.0, h.0)),
        _ => return None,
    };
    match type_name {
        "Period" => {
            let low = json
                .get("start")
                .and_then(Json::as_str)
                .and_then(time::parse_range)
                .map_or(i64::MIN, |(l, _)| l.0);
            let high = json
                .get("end")
                .and_then(Json::as_str)
                .and_then(time::parse_range)
                .map_or(i64::MAX, |(_, h)| h.0);
            (json.get("start").is_some() || json.get("end").is_some()).then_some((low, high))
        }
        "Timing" => {
            let events: Vec<(i64, i64)> = json
                .get("event")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .filter_map(time::parse_range)
                .map(|(l, h)| (l.0, h.0))
                .collect();
            let bounds = json.pointer("/repeat/boundsPeriod");
            if let Some(bounds) = bounds {
                let low = bounds
                    .get("start")
                    .and_then(Json::as_str)
                    .and_then(time::parse_range)
                    .map_or(i64::MIN, |(l, _)| l.0);
                let high = bounds
                    .get("end")
                    .and_then(Json::as_str)
                    .and_then(time::parse_range)
                    .map_or(i64::MAX, |(_, h)| h.0);
                return Some((low, high));
            }
            let low = events.iter().map(|e| e.0).min()?;
            let high = events.iter().map(|e| e.1).max()?;
            Some((low, high))
        }
        _ => json
            .as_str()
            .and_then(time::parse_range)
            .map(|(l, h)| (l.0, h.0)),
    }
}

fn quantity_row(code: &str, json: &Json) -> Option<QuantityRow> {
    let value = json.get("value")?.as_f64()?;
    let system = str_field(json, "system").or_else(|| {
        json.get("currency")
            .map(|_| "urn:iso:std:iso:4217".to_owned())
    });
    let unit_code = str_field(json, "code")
        .or_else(|| str_field(json, "currency"))
        .or_else(|| str_field(json, "unit"));
    let canonical = match (&system, &unit_code) {
        (Some(system), Some(unit)) if system == ucum::UCUM => ucum::canonical(value, unit),
        _ => None,
    };
    Some(QuantityRow {
        param: code.to_owned(),
        value,
        system,
        code: unit_code,
        canonical_value: canonical.map(|c| c.0),
        canonical_code: canonical.map(|c| c.1.to_owned()),
    })
}

fn reference_rows(code: &str, value: &Value<'_>, rows: &mut IndexRows) {
    let Some((json, type_name)) = node_of(value) else {
        if let Value::String(text) = value {
            push_reference(code, text, None, rows);
        }
        return;
    };
    match type_name {
        "Reference" => {
            if let Some(reference) = json.get("reference").and_then(Json::as_str) {
                push_reference(
                    code,
                    reference,
                    json.get("type").and_then(Json::as_str),
                    rows,
                );
            }
            if let Some(identifier) = json.get("identifier") {
                push_token(
                    &format!("{code}:identifier"),
                    str_field(identifier, "system"),
                    str_field(identifier, "value"),
                    None,
                    rows,
                );
            }
        }
        _ => {
            if let Some(text) = json.as_str() {
                push_reference(code, text, None, rows);
            }
        }
    }
}

fn push_reference(code: &str, reference: &str, declared_type: Option<&str>, rows: &mut IndexRows) {
    if reference.starts_with('#') {
        return;
    }
    let absolute = reference.contains("://") || reference.starts_with("urn:");
    let local = reference_type_id(reference);
    let version = reference
        .split_once("/_history/")
        .map(|(_, v)| v.to_owned());
    // `url|version` canonicals are matched by url; a conditional reference
    // (`Type?identifier=system|value`) keeps its bar, since it is rewritten whole.
    let canonical = if reference.contains('?') {
        reference
    } else {
        reference.split('|').next().unwrap_or(reference)
    };
    rows.references.push(ReferenceRow {
        param: code.to_owned(),
        target_type: local
            .map(|(t, _)| t.to_owned())
            .or_else(|| declared_type.map(str::to_owned)),
        target_id: if absolute {
            None
        } else {
            local.map(|(_, id)| id.to_owned())
        },
        target_version: version,
        url: absolute.then(|| canonical.to_owned()),
    });
}

fn composite_rows(
    param: &CompiledParam,
    values: &[Value<'_>],
    environment: &Environment<'_>,
    rows: &mut IndexRows,
) {
    let [first_path, second_path] = param.components.as_slice() else {
        return;
    };
    let component_kind = |index: usize| param.component_kinds.get(index).copied().flatten();
    let (Some(SearchParamType::Token), Some(second_kind)) = (component_kind(0), component_kind(1))
    else {
        return;
    };
    for value in values {
        let context = std::slice::from_ref(value);
        let (Ok(firsts), Ok(seconds)) = (
            first_path.evaluate_collection(context, environment),
            second_path.evaluate_collection(context, environment),
        ) else {
            continue;
        };
        let mut first_rows = IndexRows::default();
        for first in &firsts {
            token_rows("", first, &mut first_rows);
        }
        let mut second_values = Vec::new();
        for second in &seconds {
            let mut scratch = IndexRows::default();
            match second_kind {
                SearchParamType::Token => {
                    token_rows("", second, &mut scratch);
                    second_values.extend(scratch.tokens.into_iter().map(|t| {
                        CompositeValue::Token {
                            system: t.system,
                            code: t.code,
                        }
                    }));
                }
                SearchParamType::Quantity => {
                    if let Some(row) = second
                        .clone()
                        .into_node()
                        .and_then(|node| quantity_row("", node.json()))
                    {
                        second_values.push(CompositeValue::Quantity(row));
                    }
                }
                SearchParamType::Date => {
                    if let Some((low, high)) = date_range(second) {
                        second_values.push(CompositeValue::Date { low, high });
                    }
                }
                SearchParamType::String => {
                    string_rows("", second, &mut scratch);
                    second_values.extend(
                        scratch
                            .strings
                            .into_iter()
                            .map(|s| CompositeValue::String(s.normalized)),
                    );
                }
                _ => {}
            }
        }
        for token in first_rows.tokens.iter().filter(|t| t.code.is_some()) {
            for second in &second_values {
                rows.composites.push(CompositeRow {
                    param: param.def.code.clone(),
                    system: token.system.clone(),
                    code: token.code.clone(),
                    value: second.clone(),
                });
            }
        }
    }
}

/// The narrative's text without markup, for `_text`.
fn narrative_text(resource: &Json) -> Option<String> {
    let div = resource.pointer("/text/div")?.as_str()?;
    let mut out = String::with_capacity(div.len());
    let mut in_tag = false;
    for c in div.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// Every string value of the resource (outside the narrative), for `_content`.
fn content_text(resource: &Json) -> String {
    fn walk(json: &Json, out: &mut String) {
        if out.len() >= MAX_CONTENT {
            return;
        }
        match json {
            Json::String(text) if !text.starts_with("urn:") && !text.contains("://") => {
                out.push_str(text);
                out.push(' ');
            }
            Json::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Json::Object(fields) => {
                for (name, child) in fields {
                    if !matches!(
                        name.as_str(),
                        "text"
                            | "resourceType"
                            | "id"
                            | "meta"
                            | "reference"
                            | "system"
                            | "url"
                            | "data"
                    ) {
                        walk(child, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(resource, &mut out);
    out.truncate(floor_char_boundary(&out, MAX_CONTENT));
    out
}

fn floor_char_boundary(text: &str, limit: usize) -> usize {
    if limit >= text.len() {
        return text.len();
    }
    (0..=limit)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// The local `(type, id)` targets of `resource`'s reference parameters `codes` (derived ones
/// expanded into their members), for compartment checks. References under `base_url` count
/// as local.
pub fn reference_targets(
    resource: &Json,
    codes: &[String],
    base_url: &str,
) -> Vec<(String, String)> {
    let Some(resource_type) = resource.get("resourceType").and_then(Json::as_str) else {
        return Vec::new();
    };
    let Some(params) = COMPILED.by_type.get(resource_type) else {
        return Vec::new();
    };
    let mut wanted: Vec<&str> = Vec::new();
    for code in codes {
        match crate::derived::param_aliases().members(resource_type, code) {
            Some(members) => wanted.extend(members.iter().map(|m| m.code.as_str())),
            None => wanted.push(code),
        }
    }
    let resolver = TypeOnlyResolver { placeholders: None };
    let environment = Environment::new().with_resolver(&resolver);
    let mut rows = IndexRows::default();
    for param in params.iter().filter(|p| {
        p.def.kind == SearchParamType::Reference && wanted.contains(&p.def.code.as_str())
    }) {
        if let Ok(values) = param.path.evaluate(Some(resource), &environment) {
            for value in &values {
                add_value(
                    &param.def.code,
                    SearchParamType::Reference,
                    value,
                    &mut rows,
                );
            }
        }
    }
    localize_references(&mut rows, base_url);
    rows.references
        .into_iter()
        .filter_map(|row| Some((row.target_type?, row.target_id?)))
        .collect()
}
