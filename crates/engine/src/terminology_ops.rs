//! The FHIR R4 terminology operations: `CodeSystem/$lookup`, `CodeSystem/$validate-code`,
//! `CodeSystem/$subsumes`, `ValueSet/$expand`, `ValueSet/$validate-code`,
//! `ConceptMap/$translate` (type and instance level), from an [`OperationInput`] (query string or Parameters resource) to the R4 output
//! (a Parameters resource, or a ValueSet for `$expand`).
//!
//! The meaning of each operation lives in `medulla_terminology`; this module reads the
//! parameters the way the R4 OperationDefinitions name them, checks their combinations, and
//! renders results. Unknown code systems and value sets answer 404 (OperationOutcome
//! `not-found`); missing or contradictory parameters 400.

use medulla_terminology::{
    CodeValidation, ConceptDetails, ConceptMap, ExpandOptions, Expansion, ExpansionContains,
    MapDependency, PropertyValue, Terminology, TranslateRequest, ValueSet,
};
use serde_json::{Map, Value, json};

use crate::Error;

/// Most codes an expansion answers without `count`; larger value sets must be paged.
const EXPANSION_LIMIT: usize = 10_000;

/// Most codes one `count` may ask for.
const MAX_COUNT: usize = 10_000;

/// The input parameters of an operation, by name, in the order given. Query-string values are
/// strings; Parameters values keep their JSON type (`valueCoding` is an object).
#[derive(Debug, Clone, Default)]
pub struct OperationInput {
    params: Vec<(String, Value)>,
}

/// A code with its system (and optionally version and display), from `code`+`system`, a
/// `coding` or one Coding of a `codeableConcept`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CodingInput {
    system: Option<String>,
    version: Option<String>,
    code: String,
    display: Option<String>,
}

impl OperationInput {
    /// Parameters from a query string's pairs (`GET /ValueSet/$expand?url=…&filter=…`).
    pub fn from_query(pairs: &[(String, String)]) -> OperationInput {
        OperationInput {
            params: pairs
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "_format" | "_pretty"))
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect(),
        }
    }

    /// Parameters from a request body: a Parameters resource, or any other resource, which
    /// becomes the parameter `resource` (`POST /Patient/$validate` with the Patient as body).
    ///
    /// # Errors
    /// As [`OperationInput::from_parameters`].
    pub fn from_body(body: Value, query: &[(String, String)]) -> Result<OperationInput, Error> {
        if body.get("resourceType").and_then(Value::as_str) == Some("Parameters") {
            return OperationInput::from_parameters(&body, query);
        }
        let mut input = OperationInput::from_query(query);
        input.params.push(("resource".to_owned(), body));
        Ok(input)
    }

    /// Parameters from a Parameters resource (the body of `POST /ValueSet/$expand`), with the
    /// query string's pairs added (R4 allows both).
    ///
    /// # Errors
    /// 400 when the body is not a Parameters resource or a parameter has no name or value.
    pub fn from_parameters(
        body: &Value,
        query: &[(String, String)],
    ) -> Result<OperationInput, Error> {
        if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
            return Err(Error::invalid(
                None,
                "the body of a terminology operation must be a Parameters resource",
            ));
        }
        let mut input = OperationInput::from_query(query);
        for (index, parameter) in body
            .get("parameter")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let location = format!("Parameters.parameter[{index}]");
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid(Some(&location), "the parameter has no name"))?;
            let value = parameter
                .as_object()
                .and_then(|fields| {
                    fields
                        .iter()
                        .find(|(key, _)| {
                            key.starts_with("value") || *key == "resource" || *key == "part"
                        })
                        .map(|(_, value)| value.clone())
                })
                .ok_or_else(|| {
                    Error::invalid(
                        Some(&location),
                        format!("parameter {name:?} has no value[x], resource or part"),
                    )
                })?;
            input.params.push((name.to_owned(), value));
        }
        Ok(input)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.params
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value)
    }

    pub(crate) fn all(&self, name: &str) -> impl Iterator<Item = &Value> {
        self.params
            .iter()
            .filter(move |(known, _)| known == name)
            .map(|(_, value)| value)
    }

    /// A primitive parameter as text (`valueString`, `valueCode`, `valueUri` … or a query value).
    pub(crate) fn text(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str())),
            Some(_) => Err(Error::invalid(
                Some(name),
                format!("parameter {name:?} must be a primitive value"),
            )),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(Value::String(text)) if text == "true" => Ok(Some(true)),
            Some(Value::String(text)) if text == "false" => Ok(Some(false)),
            Some(other) => Err(Error::invalid(
                Some(name),
                format!("parameter {name:?} must be true or false, not {other}"),
            )),
        }
    }

    fn count(&self, name: &str) -> Result<Option<usize>, Error> {
        let parsed = match self.get(name) {
            None => return Ok(None),
            Some(Value::Number(number)) => number.as_u64().and_then(|n| usize::try_from(n).ok()),
            Some(Value::String(text)) => text.parse::<usize>().ok(),
            Some(_) => None,
        };
        parsed.map(Some).ok_or_else(|| {
            Error::invalid(
                Some(name),
                format!("parameter {name:?} must be a non-negative integer"),
            )
        })
    }

    pub(crate) fn resource(&self, name: &str) -> Result<Option<&Value>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(value)),
            Some(_) => Err(Error::invalid(
                Some(name),
                format!("parameter {name:?} must be a resource (only in a Parameters body)"),
            )),
        }
    }

    fn coding(&self, name: &str) -> Result<Option<CodingInput>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(coding @ Value::Object(_)) => coding_of(coding, name).map(Some),
            // A query string cannot carry a Coding; `system|code` is the usual shorthand.
            Some(Value::String(text)) => {
                let (system, code) = match text.split_once('|') {
                    Some((system, code)) => (Some(system.to_owned()), code.to_owned()),
                    None => (None, text.clone()),
                };
                Ok(Some(CodingInput {
                    system,
                    version: None,
                    code,
                    display: None,
                }))
            }
            Some(_) => Err(Error::invalid(
                Some(name),
                format!("parameter {name:?} must be a Coding"),
            )),
        }
    }

    fn codeable_concept(&self, name: &str) -> Result<Option<Vec<CodingInput>>, Error> {
        let Some(concept) = self.get(name) else {
            return Ok(None);
        };
        let codings = concept
            .get("coding")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::invalid(
                    Some(name),
                    format!("parameter {name:?} must be a CodeableConcept with codings"),
                )
            })?;
        codings
            .iter()
            .map(|coding| coding_of(coding, name))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The codes to check: `code` (+ `system`, `version`/`systemVersion`, `display`), or
    /// `coding`, or the codings of `codeableConcept`.
    fn codes_to_check(&self, version_param: &str) -> Result<Vec<CodingInput>, Error> {
        if let Some(code) = self.text("code")? {
            return Ok(vec![CodingInput {
                system: self.text("system")?.map(str::to_owned),
                version: self.text(version_param)?.map(str::to_owned),
                code: code.to_owned(),
                display: self.text("display")?.map(str::to_owned),
            }]);
        }
        if let Some(mut coding) = self.coding("coding")? {
            if coding.display.is_none() {
                coding.display = self.text("display")?.map(str::to_owned);
            }
            return Ok(vec![coding]);
        }
        if let Some(codings) = self.codeable_concept("codeableConcept")? {
            return Ok(codings);
        }
        Err(Error::invalid(
            None,
            "give the code to check: code (with system), coding, or codeableConcept",
        ))
    }
}

fn coding_of(coding: &Value, name: &str) -> Result<CodingInput, Error> {
    let field = |key: &str| coding.get(key).and_then(Value::as_str).map(str::to_owned);
    let code = field("code")
        .ok_or_else(|| Error::invalid(Some(name), format!("the Coding in {name:?} has no code")))?;
    Ok(CodingInput {
        system: field("system"),
        version: field("version"),
        code,
        display: field("display"),
    })
}

/// `url|version`, or `url`.
fn canonical(url: &str, version: Option<&str>) -> String {
    match version {
        Some(version) if !version.is_empty() => format!("{url}|{version}"),
        _ => url.to_owned(),
    }
}

fn instance_url(instance: Option<&Value>) -> Result<Option<(String, Option<String>)>, Error> {
    let Some(instance) = instance else {
        return Ok(None);
    };
    let url = instance.get("url").and_then(Value::as_str).ok_or_else(|| {
        Error::invalid(
            None,
            "this resource has no url, so no operation can name it",
        )
    })?;
    let version = instance
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Some((url.to_owned(), version)))
}

fn parameters(parameters: Vec<Value>) -> Value {
    json!({ "resourceType": "Parameters", "parameter": parameters })
}

fn param(name: &str, kind: &str, value: impl Into<Value>) -> Value {
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::String(name.to_owned()));
    object.insert(format!("value{kind}"), value.into());
    Value::Object(object)
}

fn part(name: &str, parts: Vec<Value>) -> Value {
    json!({ "name": name, "part": parts })
}

fn coding_json(system: Option<&str>, code: &str, display: Option<&str>) -> Value {
    let mut coding = Map::new();
    if let Some(system) = system {
        coding.insert("system".to_owned(), Value::String(system.to_owned()));
    }
    coding.insert("code".to_owned(), Value::String(code.to_owned()));
    if let Some(display) = display {
        coding.insert("display".to_owned(), Value::String(display.to_owned()));
    }
    Value::Object(coding)
}

fn property_value(value: &PropertyValue) -> (&'static str, Value) {
    match value {
        PropertyValue::Code(code) => ("Code", Value::String(code.clone())),
        PropertyValue::Coding(coding) => (
            "Coding",
            coding_json(
                coding.system.as_deref(),
                &coding.code,
                coding.display.as_deref(),
            ),
        ),
        PropertyValue::String(text) => ("String", Value::String(text.clone())),
        PropertyValue::Integer(number) => ("Integer", json!(number)),
        PropertyValue::Boolean(flag) => ("Boolean", json!(flag)),
        PropertyValue::DateTime(text) => ("DateTime", Value::String(text.clone())),
        // A decimal keeps its written precision: it is written as a JSON number from its text.
        PropertyValue::Decimal(text) => (
            "Decimal",
            text.parse::<serde_json::Number>()
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(text.clone())),
        ),
    }
}

/// `CodeSystem/$lookup`.
pub(crate) fn lookup(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    let coding = match input.text("code")? {
        Some(code) => CodingInput {
            system: input.text("system")?.map(str::to_owned),
            version: input.text("version")?.map(str::to_owned),
            code: code.to_owned(),
            display: None,
        },
        None => input
            .coding("coding")?
            .ok_or_else(|| Error::invalid(None, "$lookup needs code and system, or coding"))?,
    };
    let (system, version) = match (instance_url(instance)?, &coding.system) {
        (Some((url, version)), _) => (url, version),
        (None, Some(system)) => (system.clone(), coding.version.clone()),
        (None, None) => {
            return Err(Error::invalid(
                Some("system"),
                "$lookup needs the code system: system (or a coding with one)",
            ));
        }
    };
    let details = terminology.lookup(&canonical(&system, version.as_deref()), &coding.code)?;
    let wanted: Vec<&str> = input.all("property").filter_map(Value::as_str).collect();
    Ok(parameters(lookup_output(&details, &wanted)))
}

fn lookup_output(details: &ConceptDetails, wanted: &[&str]) -> Vec<Value> {
    let shown = |code: &str| wanted.is_empty() || wanted.contains(&code);
    let mut out = vec![param(
        "name",
        "String",
        details
            .name
            .clone()
            .unwrap_or_else(|| details.system.clone()),
    )];
    if let Some(version) = &details.version {
        out.push(param("version", "String", version.clone()));
    }
    if let Some(display) = &details.display {
        out.push(param("display", "String", display.clone()));
    }
    if shown("designation") {
        for designation in &details.designations {
            let mut parts = Vec::new();
            if let Some(language) = &designation.language {
                parts.push(param("language", "Code", language.clone()));
            }
            if let Some(usage) = &designation.usage {
                parts.push(param(
                    "use",
                    "Coding",
                    coding_json(
                        usage.system.as_deref(),
                        &usage.code,
                        usage.display.as_deref(),
                    ),
                ));
            }
            parts.push(param("value", "String", designation.value.clone()));
            out.push(part("designation", parts));
        }
    }
    let property = |code: &str, kind: &str, value: Value| {
        part(
            "property",
            vec![
                param("code", "Code", code.to_owned()),
                param("value", kind, value),
            ],
        )
    };
    if shown("definition")
        && let Some(definition) = &details.definition
    {
        out.push(property(
            "definition",
            "String",
            Value::String(definition.clone()),
        ));
    }
    if shown("inactive") {
        out.push(property("inactive", "Boolean", json!(details.inactive)));
    }
    if details.is_abstract && shown("notSelectable") {
        out.push(property("notSelectable", "Boolean", json!(true)));
    }
    for concept_property in &details.properties {
        if shown(&concept_property.code) {
            let (kind, value) = property_value(&concept_property.value);
            out.push(property(&concept_property.code, kind, value));
        }
    }
    if shown("parent") {
        for parent in &details.parents {
            out.push(property(
                "parent",
                "Code",
                Value::String(parent.code.clone()),
            ));
        }
    }
    if shown("child") {
        for child in &details.children {
            out.push(property("child", "Code", Value::String(child.code.clone())));
        }
    }
    out
}

fn validation_output(validation: &CodeValidation) -> Value {
    let mut out = vec![param("result", "Boolean", validation.result)];
    if let Some(message) = &validation.message {
        out.push(param("message", "String", message.clone()));
    }
    if let Some(display) = &validation.display {
        out.push(param("display", "String", display.clone()));
    }
    if validation.inactive {
        out.push(param("inactive", "Boolean", true));
    }
    parameters(out)
}

/// Of several codings (a CodeableConcept), the first valid one's answer, else the first's.
fn first_valid(
    codings: Vec<CodingInput>,
    mut check: impl FnMut(&CodingInput) -> Result<CodeValidation, Error>,
) -> Result<CodeValidation, Error> {
    let mut first = None;
    for coding in &codings {
        let validation = check(coding)?;
        if validation.result {
            return Ok(validation);
        }
        first.get_or_insert(validation);
    }
    first
        .ok_or_else(|| Error::invalid(Some("codeableConcept"), "the CodeableConcept has no coding"))
}

/// `CodeSystem/$validate-code`.
pub(crate) fn validate_code_in_system(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    let named = match instance_url(instance)? {
        Some((url, version)) => Some(canonical(&url, version.as_deref())),
        None => input
            .text("url")?
            .map(|url| canonical(url, input.text("version").ok().flatten())),
    };
    let codings = input.codes_to_check("version")?;
    let validation = first_valid(codings, |coding| {
        let system = match (&named, &coding.system) {
            (Some(named), _) => named.clone(),
            (None, Some(system)) => canonical(system, coding.version.as_deref()),
            (None, None) => {
                return Err(Error::invalid(
                    Some("url"),
                    "CodeSystem/$validate-code needs the code system: url (or a coding with a system)",
                ));
            }
        };
        match terminology.validate_code_in_system(&system, &coding.code, coding.display.as_deref())
        {
            Ok(validation) => Ok(validation),
            Err(error @ medulla_terminology::Error::UnknownCode { .. }) => Ok(CodeValidation {
                result: false,
                display: None,
                inactive: false,
                message: Some(error.to_string()),
            }),
            Err(error) => Err(error.into()),
        }
    })?;
    Ok(validation_output(&validation))
}

/// `ValueSet/$validate-code`.
pub(crate) fn validate_code_in_value_set(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    // An instance is checked against its own definition.
    let inline = match instance.map_or_else(|| input.resource("valueSet"), |i| Ok(Some(i)))? {
        Some(resource) => Some(ValueSet::from_json(resource)?),
        None => None,
    };
    let named = match (&inline, input.text("url")?) {
        (None, Some(url)) => Some(canonical(url, input.text("valueSetVersion").ok().flatten())),
        _ => None,
    };
    if named.is_none() && inline.is_none() {
        return Err(Error::invalid(
            Some("url"),
            "ValueSet/$validate-code needs the value set: url or valueSet",
        ));
    }
    let codings = input.codes_to_check("systemVersion")?;
    let validation = first_valid(codings, |coding| {
        let system = coding.system.as_deref().ok_or_else(|| {
            Error::invalid(
                Some("system"),
                format!("the code {:?} needs its system", coding.code),
            )
        })?;
        let system = canonical(system, coding.version.as_deref());
        match (&named, &inline) {
            (Some(url), _) => Ok(terminology.validate_code(
                url,
                &system,
                &coding.code,
                coding.display.as_deref(),
            )?),
            (None, Some(definition)) => {
                validate_in_definition(terminology, definition, &system, coding)
            }
            (None, None) => Err(Error::invalid(Some("url"), "no value set given")),
        }
    })?;
    Ok(validation_output(&validation))
}

/// Validation against a value set given inline: its expansion, searched.
fn validate_in_definition(
    terminology: &Terminology,
    definition: &ValueSet,
    system: &str,
    coding: &CodingInput,
) -> Result<CodeValidation, Error> {
    let options = ExpandOptions {
        limit: EXPANSION_LIMIT,
        ..ExpandOptions::default()
    };
    let expansion = terminology.expand_definition(definition, &options)?;
    let url = system.split('|').next().unwrap_or(system);
    let found = find_in(&expansion.contains, url, &coding.code);
    Ok(match found {
        None => CodeValidation {
            result: false,
            display: None,
            inactive: false,
            message: Some(format!(
                "the code '{url}#{}' is not in the value set",
                coding.code
            )),
        },
        Some(item) => {
            let display_ok = coding.display.as_deref().is_none_or(|given| {
                item.display
                    .as_deref()
                    .is_some_and(|known| known.eq_ignore_ascii_case(given.trim()))
            });
            CodeValidation {
                result: display_ok,
                display: item.display.clone(),
                inactive: item.inactive,
                message: (!display_ok).then(|| {
                    format!(
                        "wrong display '{}' for '{url}#{}'",
                        coding.display.as_deref().unwrap_or(""),
                        coding.code
                    )
                }),
            }
        }
    })
}

fn find_in<'a>(
    contains: &'a [ExpansionContains],
    system: &str,
    code: &str,
) -> Option<&'a ExpansionContains> {
    contains.iter().find_map(|item| {
        if item.system == system && item.code == code {
            Some(item)
        } else {
            find_in(&item.contains, system, code)
        }
    })
}

/// `CodeSystem/$subsumes`.
pub(crate) fn subsumes(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    let side = |code_param: &str, coding_param: &str| -> Result<CodingInput, Error> {
        if let Some(code) = input.text(code_param)? {
            return Ok(CodingInput {
                system: None,
                version: None,
                code: code.to_owned(),
                display: None,
            });
        }
        input.coding(coding_param)?.ok_or_else(|| {
            Error::invalid(
                None,
                format!("$subsumes needs {code_param} or {coding_param}"),
            )
        })
    };
    let (a, b) = (side("codeA", "codingA")?, side("codeB", "codingB")?);
    let named = match instance_url(instance)? {
        Some((url, version)) => Some((url, version)),
        None => input.text("system")?.map(|system| {
            (
                system.to_owned(),
                input.text("version").ok().flatten().map(str::to_owned),
            )
        }),
    };
    let (system, version) = match named {
        Some(named) => named,
        None => match (&a.system, &b.system) {
            (Some(system), _) => (system.clone(), a.version.clone()),
            (None, Some(system)) => (system.clone(), b.version.clone()),
            (None, None) => {
                return Err(Error::invalid(
                    Some("system"),
                    "$subsumes needs the code system: system, or codings with one",
                ));
            }
        },
    };
    for coding in [&a, &b] {
        if let Some(other) = &coding.system
            && *other != system
        {
            return Err(Error::invalid(
                Some("system"),
                format!("both codes must be in {system}, not {other}"),
            ));
        }
    }
    let outcome =
        terminology.subsumes(&canonical(&system, version.as_deref()), &a.code, &b.code)?;
    Ok(parameters(vec![param("outcome", "Code", outcome.code())]))
}

/// `ValueSet/$expand`: the value set with its `expansion`.
pub(crate) fn expand(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    let count = input.count("count")?;
    if count.is_some_and(|count| count > MAX_COUNT) {
        return Err(Error::invalid(
            Some("count"),
            format!("count may be at most {MAX_COUNT}"),
        ));
    }
    let options = ExpandOptions {
        filter: input
            .text("filter")?
            .filter(|text| !text.trim().is_empty())
            .map(str::to_owned),
        offset: input.count("offset")?.unwrap_or(0),
        count,
        active_only: input.boolean("activeOnly")?.unwrap_or(false),
        include_designations: input.boolean("includeDesignations")?.unwrap_or(false),
        hierarchical: input.boolean("excludeNested")? == Some(false),
        limit: EXPANSION_LIMIT,
    };
    // An instance is expanded from its own definition, not from whatever the registry holds
    // under its url.
    let given = match instance {
        Some(instance) => Some(instance),
        None => input.resource("valueSet")?,
    };
    let (expansion, metadata) = if let Some(resource) = given {
        let definition = ValueSet::from_json(resource)?;
        let expansion = terminology.expand_definition(&definition, &options)?;
        (expansion, resource.clone())
    } else {
        let (url, version) = match instance_url(instance)? {
            Some(named) => named,
            None => {
                let url = input.text("url")?.ok_or_else(|| {
                    Error::invalid(Some("url"), "$expand needs the value set: url or valueSet")
                })?;
                (
                    url.to_owned(),
                    input.text("valueSetVersion")?.map(str::to_owned),
                )
            }
        };
        let named = canonical(&url, version.as_deref());
        let expansion = terminology.expand(&named, &options)?;
        let metadata = match instance {
            Some(instance) => instance.clone(),
            None => value_set_metadata(terminology, &named, &url),
        };
        (expansion, metadata)
    };
    Ok(render_expansion(metadata, &expansion))
}

/// The metadata of a value set known to the service, as a ValueSet resource without compose.
fn value_set_metadata(terminology: &Terminology, named: &str, url: &str) -> Value {
    let mut resource = Map::new();
    resource.insert("resourceType".to_owned(), json!("ValueSet"));
    resource.insert("url".to_owned(), json!(url));
    if let Ok(definition) = terminology.value_set(named) {
        let fields = [
            ("version", &definition.version),
            ("name", &definition.name),
            ("title", &definition.title),
            ("status", &definition.status),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                resource.insert(field.to_owned(), json!(value));
            }
        }
    }
    resource
        .entry("status".to_owned())
        .or_insert_with(|| json!("active"));
    Value::Object(resource)
}

fn render_expansion(metadata: Value, expansion: &Expansion) -> Value {
    let mut resource = match metadata {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    // The stored definition's narrative and meta describe the definition, not this answer.
    for field in ["id", "meta", "text", "expansion"] {
        resource.remove(field);
    }
    let parameters: Vec<Value> = expansion
        .parameters
        .iter()
        .map(|parameter| expansion_parameter(&parameter.name, &parameter.value))
        .collect();
    let mut rendered = Map::new();
    rendered.insert(
        "identifier".to_owned(),
        json!(format!("urn:uuid:{}", uuid::Uuid::new_v4())),
    );
    rendered.insert(
        "timestamp".to_owned(),
        json!(
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ),
    );
    rendered.insert("total".to_owned(), json!(expansion.total));
    rendered.insert("offset".to_owned(), json!(expansion.offset));
    if !parameters.is_empty() {
        rendered.insert("parameter".to_owned(), Value::Array(parameters));
    }
    if !expansion.contains.is_empty() {
        rendered.insert(
            "contains".to_owned(),
            Value::Array(expansion.contains.iter().map(contains_json).collect()),
        );
    }
    resource.insert("expansion".to_owned(), Value::Object(rendered));
    Value::Object(resource)
}

/// One `expansion.parameter`: booleans and integers keep their types.
fn expansion_parameter(name: &str, value: &str) -> Value {
    let mut object = Map::new();
    object.insert("name".to_owned(), json!(name));
    match (name, value) {
        (_, "true") => object.insert("valueBoolean".to_owned(), json!(true)),
        (_, "false") => object.insert("valueBoolean".to_owned(), json!(false)),
        ("offset" | "count", number) if number.parse::<u64>().is_ok() => object.insert(
            "valueInteger".to_owned(),
            json!(number.parse::<u64>().unwrap_or(0)),
        ),
        ("used-codesystem" | "version", text) => object.insert("valueUri".to_owned(), json!(text)),
        (_, text) => object.insert("valueString".to_owned(), json!(text)),
    };
    Value::Object(object)
}

fn contains_json(item: &ExpansionContains) -> Value {
    let mut object = Map::new();
    object.insert("system".to_owned(), json!(item.system));
    if let Some(version) = &item.version {
        object.insert("version".to_owned(), json!(version));
    }
    if item.is_abstract {
        object.insert("abstract".to_owned(), json!(true));
    }
    if item.inactive {
        object.insert("inactive".to_owned(), json!(true));
    }
    object.insert("code".to_owned(), json!(item.code));
    if let Some(display) = &item.display {
        object.insert("display".to_owned(), json!(display));
    }
    if !item.designations.is_empty() {
        let designations: Vec<Value> = item
            .designations
            .iter()
            .map(|designation| {
                let mut rendered = Map::new();
                if let Some(language) = &designation.language {
                    rendered.insert("language".to_owned(), json!(language));
                }
                if let Some(usage) = &designation.usage {
                    rendered.insert(
                        "use".to_owned(),
                        coding_json(
                            usage.system.as_deref(),
                            &usage.code,
                            usage.display.as_deref(),
                        ),
                    );
                }
                rendered.insert("value".to_owned(), json!(designation.value));
                Value::Object(rendered)
            })
            .collect();
        object.insert("designation".to_owned(), Value::Array(designations));
    }
    if !item.contains.is_empty() {
        object.insert(
            "contains".to_owned(),
            Value::Array(item.contains.iter().map(contains_json).collect()),
        );
    }
    Value::Object(object)
}

/// `ConceptMap/$translate`.
pub(crate) fn translate(
    terminology: &Terminology,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    let codings = if let Some(code) = input.text("code")? {
        let system = input.text("system")?.ok_or_else(|| {
            Error::invalid(Some("system"), "$translate needs the system of the code")
        })?;
        vec![medulla_terminology::Coding::new(system, code)]
    } else if let Some(coding) = input.coding("coding")? {
        vec![to_coding(coding)]
    } else if let Some(codings) = input.codeable_concept("codeableConcept")? {
        codings.into_iter().map(to_coding).collect()
    } else {
        return Err(Error::invalid(
            None,
            "$translate needs the code: code and system, coding, or codeableConcept",
        ));
    };
    // An instance translates with its own groups.
    let (url, concept_map_version) = match instance {
        Some(_) => (None, None),
        None => (
            input.text("url")?.map(str::to_owned),
            input.text("conceptMapVersion")?.map(str::to_owned),
        ),
    };
    let concept_map =
        match instance.map_or_else(|| input.resource("conceptMap"), |i| Ok(Some(i)))? {
            Some(resource) => Some(ConceptMap::from_json(resource)?),
            None => None,
        };
    let request = TranslateRequest {
        url,
        concept_map_version,
        concept_map,
        source: input.text("source")?.map(str::to_owned),
        target: input.text("target")?.map(str::to_owned),
        target_system: input.text("targetsystem")?.map(str::to_owned),
        codings,
        system_version: input.text("version")?.map(str::to_owned),
        reverse: input.boolean("reverse")?.unwrap_or(false),
    };
    let translation = terminology.translate(&request)?;
    let mut out = vec![param("result", "Boolean", translation.result)];
    if let Some(message) = &translation.message {
        out.push(param("message", "String", message.clone()));
    }
    for found in &translation.matches {
        let mut parts = vec![param("equivalence", "Code", found.equivalence.code())];
        if let Some(concept) = &found.concept {
            parts.push(param(
                "concept",
                "Coding",
                coding_json(
                    concept.system.as_deref(),
                    &concept.code,
                    concept.display.as_deref(),
                ),
            ));
        }
        for product in &found.products {
            parts.push(part("product", dependency_parts(product)));
        }
        parts.push(param("source", "Uri", found.source.clone()));
        out.push(part("match", parts));
    }
    Ok(parameters(out))
}

fn to_coding(coding: CodingInput) -> medulla_terminology::Coding {
    medulla_terminology::Coding {
        system: coding.system,
        code: coding.code,
        display: coding.display,
    }
}

/// A `product` of a `$translate` match: `element` and `concept`.
fn dependency_parts(dependency: &MapDependency) -> Vec<Value> {
    vec![
        param("element", "Uri", dependency.property.clone()),
        param(
            "concept",
            "Coding",
            coding_json(
                dependency.system.as_deref(),
                &dependency.value,
                dependency.display.as_deref(),
            ),
        ),
    ]
}

/// Runs `operation` (without `$`) on `resource_type`, for the resource `instance` when the
/// operation was called on one.
pub(crate) fn run(
    terminology: &Terminology,
    resource_type: &str,
    operation: &str,
    input: &OperationInput,
    instance: Option<&Value>,
) -> Result<Value, Error> {
    match (resource_type, operation) {
        ("CodeSystem", "lookup") => lookup(terminology, input, instance),
        ("CodeSystem", "validate-code") => validate_code_in_system(terminology, input, instance),
        ("CodeSystem", "subsumes") => subsumes(terminology, input, instance),
        ("ValueSet", "expand") => expand(terminology, input, instance),
        ("ValueSet", "validate-code") => validate_code_in_value_set(terminology, input, instance),
        ("ConceptMap", "translate") => translate(terminology, input, instance),
        _ => Err(Error::NotFound(format!(
            "operation ${operation} on {resource_type}"
        ))),
    }
}

/// Whether `resource_type` has the terminology operation `operation` (without `$`).
pub fn is_terminology_operation(resource_type: &str, operation: &str) -> bool {
    matches!(
        (resource_type, operation),
        ("CodeSystem", "lookup" | "validate-code" | "subsumes")
            | ("ValueSet", "expand" | "validate-code")
            | ("ConceptMap", "translate")
    )
}
