//! Request parameters → a typed [`SearchQuery`], driven by the R4 SearchParameter definitions.

use crate::{Error, cursor, text, time, ucum};
use medulla_model::{SearchParamDef, SearchParamType, definitions};
use medulla_store::{
    Clause, CodesOfSystem, CompositeMatch, Include, IndexKind, Predicate, Prefix, QuantityUnit,
    SearchQuery, SortKey, SortKind, StringMatch, Timestamp, TokenSystem, UriMatch,
};

/// Default page size.
pub const DEFAULT_COUNT: usize = 50;
/// Largest page size a client may ask for.
pub const MAX_COUNT: usize = 1000;
/// Deepest chain (`a.b.c…`) or `_has` nesting accepted.
const MAX_DEPTH: usize = 4;

/// How unknown parameters are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    /// Ignore and report them (the default).
    #[default]
    Lenient,
    /// Reject them with 400 (`Prefer: handling=strict`, and always for conditional
    /// interactions, where ignoring a criterion would widen what is changed).
    Strict,
}

/// What the parser needs to know about the server.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions<'a> {
    /// The server's base URL: absolute references under it are local.
    pub base_url: &'a str,
    /// Unknown-parameter handling.
    pub handling: Handling,
    /// Key that signs paging cursors.
    pub cursor_key: &'a [u8],
    /// Search parameters defined by SearchParameter resources.
    pub custom: &'a crate::CustomParams,
    /// The terminology behind `:in`, `:not-in`, `:below` and `:above` on token parameters;
    /// without it those modifiers are refused.
    pub code_sets: Option<&'a dyn CodeSets>,
}

/// Most codes the `:in`, `:not-in`, `:below` and `:above` values of one search may stand for
/// together: each is a bound parameter of the query (SQLite takes at most 32,766).
pub const MAX_MODIFIER_CODES: usize = 10_000;

/// What the terminology modifiers of token search need: value sets and hierarchies, expanded
/// to codes. Implemented over the terminology service by the engine; errors are messages for
/// the client (an unknown value set, a code system that is not loaded).
pub trait CodeSets: Send + Sync + std::fmt::Debug {
    /// The codes of value set `url` (`url|version` allowed), at most `limit` of them.
    ///
    /// # Errors
    /// A message when the value set is unknown, cannot be expanded or is larger than `limit`.
    fn value_set(&self, url: &str, limit: usize) -> Result<Vec<CodesOfSystem>, String>;

    /// `code` and what it subsumes (`below`) or what subsumes it (`above`) in `system`.
    ///
    /// # Errors
    /// A message when the code system or the code is unknown, or the set is larger than
    /// `limit`.
    fn hierarchy(
        &self,
        system: &str,
        code: &str,
        below: bool,
        limit: usize,
    ) -> Result<Vec<CodesOfSystem>, String>;
}

/// An `_include` or `_revinclude`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeDirective {
    /// What to follow.
    pub include: Include,
    /// `_revinclude` rather than `_include`.
    pub reverse: bool,
    /// `:iterate` (also `:recurse`): apply to included resources too.
    pub iterate: bool,
}

/// A parsed search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The store query.
    pub query: SearchQuery,
    /// `_include` and `_revinclude` directives.
    pub includes: Vec<IncludeDirective>,
    /// Parameters that were not understood and were ignored.
    pub ignored: Vec<String>,
    /// The request's parameters without `_cursor`, which paging links repeat.
    pub fingerprint: String,
}

/// Parameters that shape the response rather than select; the caller handles them.
const RESULT_PARAMETERS: &[&str] = &["_format", "_pretty", "_summary", "_elements", "_type"];

fn invalid(param: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        param: param.to_owned(),
        message: message.into(),
    }
}

/// Splits on commas not escaped with a backslash, unescaping `\,`, `\|`, `\$`, `\\`.
pub fn split_or(value: &str) -> Vec<String> {
    split_escaped(value, ',')
}

fn split_escaped(value: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(last) = parts.last_mut() {
                match chars.next() {
                    Some(next) if next == separator => last.push(next),
                    Some(next) => {
                        last.push('\\');
                        last.push(next);
                    }
                    // A trailing backslash escapes nothing: it is a literal backslash.
                    None => last.push('\\'),
                }
            }
        } else if c == separator {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// Unescapes `\|`, `\$`, `\,` and `\\` in one value part. Any other backslash is a literal
/// character (FHIR defines no other escapes), so `a\x` stays `a\x`.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some(&next @ ('\\' | '|' | '$' | ',')) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits `system|code` at the first unescaped bar.
fn split_bar(value: &str) -> (Option<String>, String) {
    let parts = split_escaped(value, '|');
    match parts.as_slice() {
        [only] => (None, unescape(only)),
        [system, rest @ ..] => (Some(unescape(system)), unescape(&rest.join("|"))),
        [] => (None, String::new()),
    }
}

fn index_kind(kind: SearchParamType) -> Option<IndexKind> {
    Some(match kind {
        SearchParamType::String => IndexKind::String,
        SearchParamType::Token => IndexKind::Token,
        SearchParamType::Date => IndexKind::Date,
        SearchParamType::Number => IndexKind::Number,
        SearchParamType::Quantity => IndexKind::Quantity,
        SearchParamType::Reference => IndexKind::Reference,
        SearchParamType::Uri => IndexKind::Uri,
        SearchParamType::Composite => IndexKind::Composite,
        _ => return None,
    })
}

/// The definition of `code` shared by all `types` (the same type of parameter on each): a
/// custom parameter first, else the R4 one.
fn param_def<'a>(
    custom: &'a crate::CustomParams,
    types: &[String],
    code: &str,
) -> Option<&'a SearchParamDef> {
    let defs = definitions();
    let mut found: Option<&'a SearchParamDef> = None;
    if types.is_empty() {
        return defs
            .all_search_params()
            .iter()
            .find(|p| p.code == code && p.base.iter().any(|b| b == "Resource"));
    }
    for resource_type in types {
        let def = custom
            .param(resource_type, code)
            .or_else(|| defs.search_param(resource_type, code))?;
        match found {
            Some(previous) if previous.kind != def.kind => return None,
            _ => found = Some(def),
        }
    }
    found
}

fn split_prefix(value: &str) -> (Prefix, &str) {
    let prefix = match value.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (Prefix::Eq, value),
    };
    (prefix, &value[2..])
}

/// A date search value as a range, widened for `ap` (10% of the distance to now, at least the
/// value's own precision).
fn date_range(param: &str, value: &str) -> Result<(Prefix, i64, i64), Error> {
    let (prefix, text) = split_prefix(value);
    let (low, high) = time::parse_range(text).ok_or_else(|| {
        invalid(
            param,
            format!("invalid date {value:?} for parameter {param:?}"),
        )
    })?;
    if prefix == Prefix::Ap {
        let now = Timestamp::now().0;
        let slack = ((now - low.0).abs() / 10).max(high.0 - low.0);
        return Ok((
            prefix,
            low.0.saturating_sub(slack),
            high.0.saturating_add(slack),
        ));
    }
    Ok((prefix, low.0, high.0))
}

/// A number with its implicit precision range: `100` covers [99.5, 100.5).
fn number_range(param: &str, text: &str) -> Result<(f64, f64, f64), Error> {
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            invalid(
                param,
                format!("invalid number {text:?} for parameter {param:?}"),
            )
        })?;
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let exponent: i32 = text
        .split(['e', 'E'])
        .nth(1)
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let decimals = mantissa
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    let decimals = i32::try_from(decimals).unwrap_or(0);
    let half = 0.5 * 10f64.powi(exponent - decimals);
    Ok((value, value - half, value + half))
}

fn widen_approximately(prefix: Prefix, value: f64, low: f64, high: f64) -> (f64, f64) {
    if prefix == Prefix::Ap {
        let slack = (value.abs() * 0.1).max(high - low);
        (value - slack, value + slack)
    } else {
        (low, high)
    }
}

fn token_system(system: Option<String>) -> TokenSystem {
    match system {
        None => TokenSystem::Any,
        Some(system) if system.is_empty() => TokenSystem::None,
        Some(system) => TokenSystem::Is(system),
    }
}

fn token_value(value: &str) -> (TokenSystem, Option<String>) {
    let (system, code) = split_bar(value);
    let code = (!code.is_empty()).then_some(code);
    (token_system(system), code)
}

fn quantity_value(
    param: &str,
    value: &str,
) -> Result<(Prefix, f64, f64, f64, QuantityUnit), Error> {
    let (prefix, rest) = split_prefix(value);
    let parts = split_escaped(rest, '|');
    let number = parts.first().map(String::as_str).unwrap_or("");
    let (mut value, mut low, mut high) = number_range(param, number)?;
    let system = parts.get(1).filter(|s| !s.is_empty()).cloned();
    let code = parts.get(2).filter(|s| !s.is_empty()).cloned();
    let unit = match code {
        None => QuantityUnit::Any,
        Some(code) => {
            let is_ucum = system.as_deref().is_none_or(|s| s == ucum::UCUM);
            match (is_ucum, ucum::canonical(1.0, &code)) {
                (true, Some((factor, canonical))) => {
                    value *= factor;
                    low *= factor;
                    high *= factor;
                    QuantityUnit::Canonical(canonical.to_owned())
                }
                _ => QuantityUnit::Written { system, code },
            }
        }
    };
    let (low, high) = widen_approximately(prefix, value, low, high);
    Ok((prefix, value, low, high, unit))
}

struct Context<'a> {
    options: &'a SearchOptions<'a>,
    /// Codes the terminology modifiers of this request have used so far: together they may
    /// bind at most [`MAX_MODIFIER_CODES`] values, whatever the number of parameters.
    modifier_codes: std::cell::Cell<usize>,
}

impl Context<'_> {
    /// `:in`/`:not-in` (a value set's codes) and `:below`/`:above` (a code and its descendants
    /// or ancestors) on a token parameter, as a set of codes.
    fn terminology_predicate(
        &self,
        name: &str,
        param: String,
        modifier: &str,
        value: &str,
    ) -> Result<Predicate, Error> {
        let code_sets = self.options.code_sets.ok_or_else(|| {
            invalid(
                name,
                format!(":{modifier} needs a terminology service, and this search has none"),
            )
        })?;
        let used = self.modifier_codes.get();
        let remaining = MAX_MODIFIER_CODES.saturating_sub(used);
        if remaining == 0 {
            return Err(too_many_codes(name));
        }
        let systems = match modifier {
            "in" | "not-in" => code_sets
                .value_set(&unescape(value), remaining)
                .map_err(|message| invalid(name, message))?,
            _ => {
                let (system, code) = split_bar(value);
                let system = system.filter(|system| !system.is_empty()).ok_or_else(|| {
                    invalid(
                        name,
                        format!(":{modifier} takes system|code: the code system is needed to know the hierarchy"),
                    )
                })?;
                code_sets
                    .hierarchy(&system, &code, modifier == "below", remaining)
                    .map_err(|message| invalid(name, message))?
            }
        };
        let count: usize = systems.iter().map(|codes| codes.codes.len()).sum();
        if count > remaining {
            return Err(too_many_codes(name));
        }
        self.modifier_codes.set(used + count);
        let predicate = Predicate::TokenIn { param, systems };
        Ok(if modifier == "not-in" {
            Predicate::Not(Box::new(predicate))
        } else {
            predicate
        })
    }

    /// The predicate for one value of a (non-chained) parameter.
    fn predicate(
        &self,
        types: &[String],
        name: &str,
        def: &SearchParamDef,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<Predicate, Error> {
        let code = def.code.clone();
        if modifier == Some("missing") {
            let missing = match value {
                "true" => true,
                "false" => false,
                other => {
                    return Err(invalid(
                        name,
                        format!(":missing takes true or false, not {other:?}"),
                    ));
                }
            };
            let kind = index_kind(def.kind)
                .ok_or_else(|| invalid(name, "this parameter does not support :missing"))?;
            return Ok(Predicate::Missing {
                param: code,
                kind,
                missing,
            });
        }
        if value.is_empty() {
            return Err(invalid(
                name,
                format!("parameter {name:?} has an empty value"),
            ));
        }
        match def.kind {
            SearchParamType::String => {
                let (mode, value) = match modifier {
                    None => (StringMatch::Prefix, text::normalize(&unescape(value))),
                    Some("exact") => (StringMatch::Exact, unescape(value)),
                    Some("contains") => (StringMatch::Contains, text::normalize(&unescape(value))),
                    Some(other) => return Err(unsupported_modifier(name, other)),
                };
                Ok(Predicate::String {
                    param: code,
                    value,
                    mode,
                })
            }
            SearchParamType::Token => match modifier {
                None => {
                    let (system, code_value) = token_value(value);
                    Ok(Predicate::Token {
                        param: code,
                        system,
                        code: code_value,
                    })
                }
                Some("not") => {
                    let (system, code_value) = token_value(value);
                    Ok(Predicate::Not(Box::new(Predicate::Token {
                        param: code,
                        system,
                        code: code_value,
                    })))
                }
                Some("text") => Ok(Predicate::TokenText {
                    param: code,
                    text: text::normalize(&unescape(value)),
                }),
                Some("of-type") => {
                    let parts = split_escaped(value, '|');
                    let [system, type_code, identifier] = parts.as_slice() else {
                        return Err(invalid(name, ":of-type takes system|code|value"));
                    };
                    Ok(Predicate::Token {
                        param: format!("{code}:of-type"),
                        system: token_system(Some(unescape(system))),
                        code: Some(format!("{}|{}", unescape(type_code), unescape(identifier))),
                    })
                }
                Some(modifier @ ("in" | "not-in" | "above" | "below")) => {
                    self.terminology_predicate(name, code, modifier, value)
                }
                Some(other) => Err(unsupported_modifier(name, other)),
            },
            SearchParamType::Date => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                let (prefix, low, high) = date_range(name, value)?;
                Ok(Predicate::Date {
                    param: code,
                    prefix,
                    low,
                    high,
                })
            }
            SearchParamType::Number => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                let (prefix, text) = split_prefix(value);
                let (value, low, high) = number_range(name, text)?;
                let (low, high) = widen_approximately(prefix, value, low, high);
                Ok(Predicate::Number {
                    param: code,
                    prefix,
                    value,
                    low,
                    high,
                })
            }
            SearchParamType::Quantity => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                let (prefix, value, low, high, unit) = quantity_value(name, value)?;
                Ok(Predicate::Quantity {
                    param: code,
                    prefix,
                    value,
                    low,
                    high,
                    unit,
                })
            }
            SearchParamType::Reference => self.reference(types, name, def, modifier, value),
            SearchParamType::Uri => {
                let mode = match modifier {
                    None => UriMatch::Exact,
                    Some("above") => UriMatch::Above,
                    Some("below") => UriMatch::Below,
                    Some(other) => return Err(unsupported_modifier(name, other)),
                };
                Ok(Predicate::Uri {
                    param: code,
                    value: unescape(value),
                    mode,
                })
            }
            SearchParamType::Composite => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                self.composite(types, name, def, value)
            }
            _ => Err(invalid(
                name,
                format!("parameter {name:?} cannot be searched this way"),
            )),
        }
    }

    fn reference(
        &self,
        _types: &[String],
        name: &str,
        def: &SearchParamDef,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<Predicate, Error> {
        let code = def.code.clone();
        let mut target_type = None;
        match modifier {
            None => {}
            Some("identifier") => {
                let (system, code_value) = token_value(value);
                return Ok(Predicate::Token {
                    param: format!("{code}:identifier"),
                    system,
                    code: code_value,
                });
            }
            Some(type_modifier) if definitions().is_resource_type(type_modifier) => {
                if !def.target.is_empty() && !def.target.iter().any(|t| t == type_modifier) {
                    return Err(invalid(
                        name,
                        format!("{type_modifier} is not a target type of {:?}", def.code),
                    ));
                }
                target_type = Some(type_modifier.to_owned());
            }
            Some(other) => return Err(unsupported_modifier(name, other)),
        }
        let value = unescape(value);
        let base = self.options.base_url.trim_end_matches('/');
        let local = value
            .strip_prefix(base)
            .map(|rest| rest.trim_start_matches('/').to_owned());
        let relative = local.as_deref().unwrap_or(&value);
        let is_absolute = local.is_none() && (value.contains("://") || value.starts_with("urn:"));
        if is_absolute {
            let (url, _version) = value
                .split_once('|')
                .map_or((value.as_str(), None), |(u, v)| (u, Some(v)));
            return Ok(Predicate::Reference {
                param: code,
                target_type,
                target_id: None,
                target_version: None,
                url: Some(url.to_owned()),
            });
        }
        let parts: Vec<&str> = relative.split('/').collect();
        let (found_type, id, version) = match parts.as_slice() {
            [id] => (None, (*id).to_owned(), None),
            [resource_type, id] => (Some((*resource_type).to_owned()), (*id).to_owned(), None),
            [resource_type, id, "_history", version] => (
                Some((*resource_type).to_owned()),
                (*id).to_owned(),
                Some((*version).to_owned()),
            ),
            _ => {
                return Err(invalid(
                    name,
                    format!("cannot understand reference {value:?}"),
                ));
            }
        };
        if let Some(found) = &found_type {
            if !definitions().is_resource_type(found) {
                return Err(invalid(
                    name,
                    format!("unknown resource type {found:?} in reference {value:?}"),
                ));
            }
            if target_type.as_ref().is_some_and(|t| t != found) {
                return Err(invalid(
                    name,
                    format!(
                        "reference {value:?} contradicts the :{} modifier",
                        target_type.unwrap_or_default()
                    ),
                ));
            }
            target_type = Some(found.clone());
        }
        if id.is_empty() {
            return Err(invalid(name, format!("reference {value:?} has no id")));
        }
        Ok(Predicate::Reference {
            param: code,
            target_type,
            target_id: Some(id),
            target_version: version,
            url: None,
        })
    }

    fn composite(
        &self,
        types: &[String],
        name: &str,
        def: &SearchParamDef,
        value: &str,
    ) -> Result<Predicate, Error> {
        let parts = split_escaped(value, '$');
        let [first, second] = parts.as_slice() else {
            return Err(invalid(
                name,
                format!("composite parameter {name:?} takes two values joined by $"),
            ));
        };
        let component_def = |index: usize| -> Option<&'static SearchParamDef> {
            let url = &def.components.get(index)?.definition;
            definitions()
                .all_search_params()
                .iter()
                .find(|p| &p.url == url)
        };
        let (Some(first_def), Some(second_def)) = (component_def(0), component_def(1)) else {
            return Err(invalid(
                name,
                format!("composite parameter {name:?} is not supported"),
            ));
        };
        if first_def.kind != SearchParamType::Token {
            return Err(invalid(
                name,
                format!(
                    "composite parameter {name:?} is not supported (its first component is not a token)"
                ),
            ));
        }
        let _ = types;
        let (system, code) = token_value(first);
        let value = match second_def.kind {
            SearchParamType::Token => {
                let (system, code) = token_value(second);
                CompositeMatch::Token { system, code }
            }
            SearchParamType::Quantity => {
                let (prefix, _value, low, high, unit) = quantity_value(name, second)?;
                CompositeMatch::Quantity {
                    prefix,
                    low,
                    high,
                    unit,
                }
            }
            SearchParamType::Date => {
                let (prefix, low, high) = date_range(name, second)?;
                CompositeMatch::Date { prefix, low, high }
            }
            SearchParamType::String => CompositeMatch::String(text::normalize(&unescape(second))),
            _ => {
                return Err(invalid(
                    name,
                    format!("composite parameter {name:?} is not supported"),
                ));
            }
        };
        Ok(Predicate::Composite {
            param: def.code.clone(),
            system,
            code,
            value,
        })
    }

    /// A clause for `name=value` on `types`, including chains; `None` when the parameter is
    /// unknown.
    fn clause(
        &self,
        types: &[String],
        name: &str,
        value: &str,
        depth: usize,
    ) -> Result<Option<Clause>, Error> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                name,
                format!("chains deeper than {MAX_DEPTH} are not supported"),
            ));
        }
        if let Some(rest) = name.strip_prefix("_has:") {
            return self.has(types, name, rest, value, depth).map(Some);
        }
        if let Some((head, tail)) = name.split_once('.') {
            return self.chain(types, name, head, tail, value, depth);
        }
        let (code, modifier) = match name.split_once(':') {
            Some((code, modifier)) => (code, Some(modifier)),
            None => (name, None),
        };
        match code {
            "_id" => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                return Ok(Some(Clause(
                    split_or(value)
                        .into_iter()
                        .map(|id| Predicate::Id(unescape(&id)))
                        .collect(),
                )));
            }
            "_lastUpdated" => {
                if let Some(other) = modifier {
                    return Err(unsupported_modifier(name, other));
                }
                let predicates = split_or(value)
                    .iter()
                    .map(|v| {
                        let (prefix, low, high) = date_range(name, v)?;
                        Ok(Predicate::LastUpdated {
                            prefix,
                            low: Timestamp(low),
                            high: Timestamp(high),
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                return Ok(Some(Clause(predicates)));
            }
            "_text" | "_content" => {
                // Words as the full-text index cuts them: runs of letters and digits.
                let words: Vec<String> = text::normalize(value)
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|word| !word.is_empty())
                    .map(str::to_owned)
                    .collect();
                if words.is_empty() {
                    return Err(invalid(name, format!("{code} needs at least one word")));
                }
                return Ok(Some(Clause(vec![Predicate::FullText {
                    content: code == "_content",
                    words,
                }])));
            }
            "_list" => {
                return Ok(Some(Clause(
                    split_or(value)
                        .into_iter()
                        .map(|id| Predicate::InList(unescape(&id)))
                        .collect(),
                )));
            }
            _ => {}
        }
        let Some(def) = param_def(self.options.custom, types, code) else {
            return Ok(None);
        };
        let predicates = split_or(value)
            .iter()
            .map(|v| self.predicate(types, name, def, modifier, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Clause(predicates)))
    }

    fn chain(
        &self,
        types: &[String],
        name: &str,
        head: &str,
        tail: &str,
        value: &str,
        depth: usize,
    ) -> Result<Option<Clause>, Error> {
        let (code, type_modifier) = match head.split_once(':') {
            Some((code, modifier)) => (code, Some(modifier)),
            None => (head, None),
        };
        let Some(def) = param_def(self.options.custom, types, code) else {
            return Ok(None);
        };
        if def.kind != SearchParamType::Reference {
            return Err(invalid(
                name,
                format!("{code:?} is not a reference parameter, so it cannot be chained"),
            ));
        }
        let mut targets: Vec<String> = match type_modifier {
            Some(target) => {
                if !definitions().is_resource_type(target) {
                    return Err(invalid(
                        name,
                        format!("unknown resource type {target:?} in chain"),
                    ));
                }
                vec![target.to_owned()]
            }
            None => def.target.clone(),
        };
        let inner_code = tail.split(['.', ':']).next().unwrap_or(tail);
        if !inner_code.starts_with('_') {
            targets.retain(|target| {
                param_def(
                    self.options.custom,
                    std::slice::from_ref(target),
                    inner_code,
                )
                .is_some()
            });
        }
        if targets.is_empty() {
            return Err(invalid(
                name,
                format!("no target type of {code:?} has a parameter {inner_code:?}"),
            ));
        }
        // Different target types may give the inner parameter different types: search each.
        let mut predicates = Vec::new();
        let groups: Vec<Vec<String>> = if param_def(self.options.custom, &targets, inner_code)
            .is_some()
            || inner_code.starts_with('_')
        {
            vec![targets]
        } else {
            targets.into_iter().map(|t| vec![t]).collect()
        };
        for group in groups {
            let Some(inner) = self.clause(&group, tail, value, depth + 1)? else {
                return Ok(None);
            };
            let query = SearchQuery {
                resource_types: group,
                clauses: vec![inner],
                ..SearchQuery::default()
            };
            predicates.push(Predicate::Chain {
                param: code.to_owned(),
                query: Box::new(query),
            });
        }
        Ok(Some(Clause(predicates)))
    }

    fn has(
        &self,
        types: &[String],
        name: &str,
        rest: &str,
        value: &str,
        depth: usize,
    ) -> Result<Clause, Error> {
        // _has:Type:param:inner-name=value
        let mut parts = rest.splitn(3, ':');
        let (Some(referring), Some(param), Some(inner_name)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                name,
                "_has takes _has:Type:reference-parameter:parameter=value",
            ));
        };
        if !definitions().is_resource_type(referring) {
            return Err(invalid(
                name,
                format!("unknown resource type {referring:?} in _has"),
            ));
        }
        let referring_types = vec![referring.to_owned()];
        let Some(def) = param_def(self.options.custom, &referring_types, param) else {
            return Err(invalid(
                name,
                format!("{referring} has no search parameter {param:?}"),
            ));
        };
        if def.kind != SearchParamType::Reference {
            return Err(invalid(
                name,
                format!("{referring}.{param} is not a reference parameter"),
            ));
        }
        if !types.is_empty()
            && !def.target.is_empty()
            && !types.iter().any(|t| def.target.contains(t))
        {
            return Err(invalid(
                name,
                format!("{referring}.{param} never refers to {}", types.join(", ")),
            ));
        }
        let Some(inner) = self.clause(&referring_types, inner_name, value, depth + 1)? else {
            return Err(invalid(
                name,
                format!("{referring} has no search parameter {inner_name:?}"),
            ));
        };
        let query = SearchQuery {
            resource_types: referring_types,
            clauses: vec![inner],
            ..SearchQuery::default()
        };
        Ok(Clause(vec![Predicate::Has {
            param: param.to_owned(),
            query: Box::new(query),
        }]))
    }

    fn sort(&self, types: &[String], value: &str) -> Result<Vec<SortKey>, Error> {
        value
            .split(',')
            .filter(|key| !key.is_empty())
            .map(|key| {
                let (descending, code) = match key.strip_prefix('-') {
                    Some(code) => (true, code),
                    None => (false, key),
                };
                let kind = match code {
                    "_id" => SortKind::Id,
                    "_lastUpdated" => SortKind::LastUpdated,
                    _ => {
                        let def = param_def(self.options.custom, types, code).ok_or_else(|| {
                            invalid(
                                "_sort",
                                format!("cannot sort by unknown parameter {code:?}"),
                            )
                        })?;
                        SortKind::Index(
                            index_kind(def.kind).ok_or_else(|| {
                                invalid("_sort", format!("cannot sort by {code:?}"))
                            })?,
                        )
                    }
                };
                Ok(SortKey {
                    param: code.to_owned(),
                    kind,
                    descending,
                })
            })
            .collect()
    }

    fn include(
        &self,
        name: &str,
        value: &str,
        reverse: bool,
        iterate: bool,
    ) -> Result<IncludeDirective, Error> {
        let parts: Vec<&str> = value.split(':').collect();
        let (source_type, param, target_type) = match parts.as_slice() {
            [source, param] => (*source, *param, None),
            [source, param, target] => (*source, *param, Some((*target).to_owned())),
            _ => {
                return Err(invalid(
                    name,
                    format!("{name} takes Type:parameter[:targetType], not {value:?}"),
                ));
            }
        };
        if !definitions().is_resource_type(source_type) {
            return Err(invalid(
                name,
                format!("unknown resource type {source_type:?}"),
            ));
        }
        let param = if param == "*" {
            None
        } else {
            let def = definitions()
                .search_param(source_type, param)
                .ok_or_else(|| {
                    invalid(
                        name,
                        format!("{source_type} has no search parameter {param:?}"),
                    )
                })?;
            if def.kind != SearchParamType::Reference {
                return Err(invalid(
                    name,
                    format!("{source_type}:{param} is not a reference parameter"),
                ));
            }
            Some(param.to_owned())
        };
        if let Some(target) = &target_type
            && !definitions().is_resource_type(target)
        {
            return Err(invalid(name, format!("unknown resource type {target:?}")));
        }
        // A derived reference parameter (`Observation:patient`) follows its member's rows
        // (`subject`), restricted to the member's target type.
        let (param, target_type) = match param.as_deref().and_then(|code| {
            crate::param_aliases()
                .members(source_type, code)
                .and_then(|members| members.first())
        }) {
            Some(member) if target_type.is_none() || target_type == member.target_type => (
                Some(member.code.clone()),
                member.target_type.clone().or(target_type),
            ),
            _ => (param, target_type),
        };
        Ok(IncludeDirective {
            include: Include {
                source_type: source_type.to_owned(),
                param,
                target_type,
            },
            reverse,
            iterate,
        })
    }
}

fn too_many_codes(name: &str) -> Error {
    invalid(
        name,
        format!(
            "the terminology modifiers of this search stand for more than {MAX_MODIFIER_CODES} codes in all; narrow them"
        ),
    )
}

fn unsupported_modifier(name: &str, modifier: &str) -> Error {
    invalid(
        name,
        format!("modifier :{modifier} is not supported on parameter {name:?}"),
    )
}

/// Parses search parameters for `types` (one type for type-level search, several for
/// `_type`, none for every type).
///
/// # Errors
/// [`Error::Invalid`] for malformed values, unsupported modifiers, forged cursors, and unknown
/// parameters under strict handling.
pub fn parse_search(
    types: &[String],
    params: &[(String, String)],
    options: &SearchOptions<'_>,
) -> Result<SearchRequest, Error> {
    let context = Context {
        options,
        modifier_codes: std::cell::Cell::new(0),
    };
    let mut query = SearchQuery {
        resource_types: types.to_vec(),
        count: DEFAULT_COUNT,
        ..SearchQuery::default()
    };
    let mut includes = Vec::new();
    let mut ignored = Vec::new();
    let mut cursor_text = None;
    for (name, value) in params {
        let (code, modifier) = match name.split_once(':') {
            Some((code, modifier)) => (code, Some(modifier)),
            None => (name.as_str(), None),
        };
        match code {
            "_count" => {
                query.count = value
                    .parse::<usize>()
                    .map(|count| count.min(MAX_COUNT))
                    .map_err(|_| {
                        invalid(
                            "_count",
                            format!("_count must be a non-negative integer, not {value:?}"),
                        )
                    })?;
            }
            "_total" => {
                query.total = match value.as_str() {
                    "accurate" | "estimate" => true,
                    "none" => false,
                    other => {
                        return Err(invalid(
                            "_total",
                            format!("_total must be none, estimate or accurate, not {other:?}"),
                        ));
                    }
                }
            }
            "_sort" => query.sort = context.sort(types, value)?,
            "_cursor" => cursor_text = Some(value.clone()),
            "_include" | "_revinclude" => {
                let iterate = match modifier {
                    None => false,
                    Some("iterate" | "recurse") => true,
                    Some(other) => return Err(unsupported_modifier(name, other)),
                };
                for one in split_or(value) {
                    includes.push(context.include(name, &one, code == "_revinclude", iterate)?);
                }
            }
            known if RESULT_PARAMETERS.contains(&known) => {}
            _ => match context.clause(types, name, value, 0)? {
                Some(clause) => query.clauses.push(clause),
                None => match options.handling {
                    Handling::Strict => {
                        let scope = if types.is_empty() {
                            "all resource types".to_owned()
                        } else {
                            types.join(", ")
                        };
                        return Err(invalid(
                            name,
                            format!("unknown search parameter {name:?} for {scope}"),
                        ));
                    }
                    Handling::Lenient => ignored.push(name.clone()),
                },
            },
        }
    }
    let fingerprint = cursor::query_fingerprint(params);
    if let Some(text) = cursor_text {
        query.after = Some(
            cursor::decode(options.cursor_key, &text, &fingerprint).ok_or_else(|| {
                invalid(
                    "_cursor",
                    "the paging cursor is invalid or belongs to a different search",
                )
            })?,
        );
    }
    Ok(SearchRequest {
        query,
        includes,
        ignored,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(resource_type: &str, params: &[(&str, &str)]) -> Result<SearchRequest, Error> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let custom = crate::CustomParams::default();
        let options = SearchOptions {
            base_url: "http://h/fhir",
            handling: Handling::Strict,
            cursor_key: b"k",
            custom: &custom,
            code_sets: None,
        };
        parse_search(&[resource_type.to_owned()], &params, &options)
    }

    fn predicates(resource_type: &str, name: &str, value: &str) -> Vec<Predicate> {
        let request = parse(resource_type, &[(name, value)]).unwrap();
        request
            .query
            .clauses
            .into_iter()
            .flat_map(|Clause(predicates)| predicates)
            .collect()
    }

    #[test]
    fn escapes() {
        assert_eq!(split_or(r"a\,b,c"), vec!["a,b", "c"]);
        assert_eq!(split_or(r"a\\,b"), vec![r"a\\", "b"]);
        assert_eq!(unescape(r"a\\"), r"a\");
        assert_eq!(unescape(r"a\|b\$c\,d"), "a|b$c,d");
        // Only FHIR's four escapes are escapes; any other backslash is literal.
        assert_eq!(unescape(r"a\xb"), r"a\xb");
        assert_eq!(unescape(r"a\"), r"a\");
        assert_eq!(split_or(r"a\"), vec![r"a\"]);
        assert_eq!(
            split_bar(r"urn:a\|b|c\|d"),
            (Some("urn:a|b".to_owned()), "c|d".to_owned())
        );
        assert_eq!(
            predicates("Patient", "family:exact", r"O\Brien\,Jr"),
            vec![Predicate::String {
                param: "family".into(),
                value: r"O\Brien,Jr".into(),
                mode: StringMatch::Exact,
            }]
        );
    }

    #[test]
    fn numbers_carry_their_precision() {
        let range = |text: &str| number_range("n", text).unwrap();
        assert_eq!(range("100"), (100.0, 99.5, 100.5));
        assert_eq!(range("0.3"), (0.3, 0.25, 0.35));
        assert_eq!(range("1e2"), (100.0, 50.0, 150.0));
        assert_eq!(range("1.00e2"), (100.0, 99.5, 100.5));
        assert!(number_range("n", "NaN").is_err());
        assert!(number_range("n", "inf").is_err());
        assert!(number_range("n", "1e999").is_err());
    }

    #[test]
    fn full_text_words_are_what_the_index_holds() {
        assert_eq!(
            predicates("Patient", "_content", "O'Brien\0zoë  x"),
            vec![Predicate::FullText {
                content: true,
                words: vec!["o".into(), "brien".into(), "zoe".into(), "x".into()],
            }]
        );
        assert!(parse("Patient", &[("_text", "'\"*")]).is_err());
    }

    #[test]
    fn references_under_the_base_are_local() {
        let local = Predicate::Reference {
            param: "subject".into(),
            target_type: Some("Patient".into()),
            target_id: Some("1".into()),
            target_version: None,
            url: None,
        };
        assert_eq!(
            predicates("Observation", "subject", "http://h/fhir/Patient/1"),
            vec![local.clone()]
        );
        assert_eq!(
            predicates("Observation", "subject", "Patient/1"),
            vec![local.clone()]
        );
        assert_eq!(
            predicates("Observation", "subject:Patient", "1"),
            vec![local]
        );
        assert_eq!(
            predicates("Observation", "subject", "http://other/fhir/Patient/1"),
            vec![Predicate::Reference {
                param: "subject".into(),
                target_type: None,
                target_id: None,
                target_version: None,
                url: Some("http://other/fhir/Patient/1".into()),
            }]
        );
    }

    #[test]
    fn strict_handling_names_unknown_parameters() {
        let Err(Error::Invalid { param, message }) = parse("Patient", &[("colour", "x")]) else {
            panic!("strict handling accepted an unknown parameter");
        };
        assert_eq!(param, "colour");
        assert!(message.contains("colour"), "{message}");
    }
}
