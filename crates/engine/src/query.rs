//! Parsing of search parameters into a store query: `_id`, `_lastUpdated`, `identifier`, and the
//! result parameters `_count`, `_total`, `_cursor`. The complete search engine replaces this.

use crate::{Error, fhir_time, index};
use medulla_store::{Clause, SearchQuery, TimeBound, TokenMatch, TokenSystem};

/// Default page size of searches and history.
pub const DEFAULT_COUNT: usize = 50;
/// Largest page size a client may ask for.
pub const MAX_COUNT: usize = 1000;

/// Parameters that shape the response rather than select resources; the server handles them.
const RESULT_PARAMETERS: &[&str] = &["_format", "_pretty", "_summary", "_elements"];

/// What a search request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSearch {
    /// The store query.
    pub query: SearchQuery,
    /// Parameters that were not understood and were ignored (non-strict handling only).
    pub ignored: Vec<String>,
}

/// How unknown parameters are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Ignore and report them (the default).
    Lenient,
    /// Reject them with 400 (`Prefer: handling=strict`, and always for conditional interactions,
    /// where ignoring a criterion would widen what is changed or deleted).
    Strict,
}

/// Splits `a=1&b=2` into decoded pairs.
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let plus_as_space = text.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits on commas that are not escaped with a backslash, unescaping `\,`, `\|`, `\$`, `\\`.
fn split_or(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), parts.last_mut()) {
                    last.push(next);
                }
            }
            ',' => parts.push(String::new()),
            other => {
                if let Some(last) = parts.last_mut() {
                    last.push(other);
                }
            }
        }
    }
    parts
}

fn time_bound(param: &str, value: &str) -> Result<TimeBound, Error> {
    let prefixes = ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"];
    let (prefix, text) = match value.get(..2) {
        Some(p) if prefixes.contains(&p) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let Some((start, end)) = fhir_time::parse_range(text) else {
        return Err(Error::invalid(
            Some(param),
            format!("invalid date {value:?} for parameter {param:?}"),
        ));
    };
    let bound = |min, max_exclusive, negate| TimeBound {
        min,
        max_exclusive,
        negate,
    };
    Ok(match prefix {
        "ne" => bound(Some(start), Some(end), true),
        "gt" | "sa" => bound(Some(end), None, false),
        "lt" | "eb" => bound(None, Some(start), false),
        "ge" => bound(Some(start), None, false),
        "le" => bound(None, Some(end), false),
        // `ap`: within 10% of the distance to now, at least the value's own precision.
        "ap" => {
            let now = medulla_store::Timestamp::now().0;
            let slack = ((now - start.0).abs() / 10).max(end.0 - start.0);
            bound(
                Some(medulla_store::Timestamp(start.0.saturating_sub(slack))),
                Some(medulla_store::Timestamp(end.0.saturating_add(slack))),
                false,
            )
        }
        _ => bound(Some(start), Some(end), false),
    })
}

fn token(value: &str) -> TokenMatch {
    match value.split_once('|') {
        None => TokenMatch {
            system: TokenSystem::Any,
            code: Some(value.to_owned()),
        },
        Some(("", code)) => TokenMatch {
            system: TokenSystem::None,
            code: Some(code.to_owned()),
        },
        Some((system, "")) => TokenMatch {
            system: TokenSystem::Is(system.to_owned()),
            code: None,
        },
        Some((system, code)) => TokenMatch {
            system: TokenSystem::Is(system.to_owned()),
            code: Some(code.to_owned()),
        },
    }
}

fn parse_count(value: &str) -> Result<usize, Error> {
    value
        .parse::<usize>()
        .map(|count| count.min(MAX_COUNT))
        .map_err(|_| {
            Error::invalid(
                Some("_count"),
                format!("_count must be a non-negative integer, not {value:?}"),
            )
        })
}

/// Parses search parameters for `resource_type`.
///
/// # Errors
/// [`Error::Invalid`] for malformed values, and for unknown parameters under strict handling.
pub fn parse_search(
    resource_type: &str,
    params: &[(String, String)],
    handling: Handling,
) -> Result<ParsedSearch, Error> {
    let mut query = SearchQuery {
        resource_type: resource_type.to_owned(),
        clauses: Vec::new(),
        count: DEFAULT_COUNT,
        after_key: None,
        total: false,
    };
    let mut ignored = Vec::new();
    for (name, value) in params {
        let (code, modifier) = match name.split_once(':') {
            Some((code, modifier)) => (code, Some(modifier)),
            None => (name.as_str(), None),
        };
        let unsupported_modifier = modifier.filter(|_| {
            matches!(
                code,
                "_id" | "_lastUpdated" | "identifier" | "_count" | "_total" | "_cursor"
            )
        });
        if let Some(modifier) = unsupported_modifier {
            return Err(Error::invalid(
                Some(name),
                format!("modifier {modifier:?} is not supported on parameter {code:?}"),
            ));
        }
        match code {
            "_id" => query.clauses.push(Clause::Ids(split_or(value))),
            "_lastUpdated" => {
                let bounds = split_or(value)
                    .iter()
                    .map(|v| time_bound(name, v))
                    .collect::<Result<Vec<_>, _>>()?;
                query.clauses.push(Clause::LastUpdated(bounds));
            }
            "identifier" if index::has_identifier(resource_type) => {
                query.clauses.push(Clause::Token {
                    param: "identifier".to_owned(),
                    values: split_or(value).iter().map(|v| token(v)).collect(),
                });
            }
            "_count" => query.count = parse_count(value)?,
            "_total" => match value.as_str() {
                "accurate" | "estimate" => query.total = true,
                "none" => query.total = false,
                other => {
                    return Err(Error::invalid(
                        Some("_total"),
                        format!("_total must be none, estimate or accurate, not {other:?}"),
                    ));
                }
            },
            "_cursor" => {
                let key = value.parse::<i64>().map_err(|_| {
                    Error::invalid(Some("_cursor"), format!("invalid paging cursor {value:?}"))
                })?;
                query.after_key = Some(key);
            }
            known if RESULT_PARAMETERS.contains(&known) => {}
            _ => match handling {
                Handling::Strict => {
                    return Err(Error::invalid(
                        Some(name),
                        format!("search parameter {name:?} is not supported for {resource_type}"),
                    ));
                }
                Handling::Lenient => ignored.push(name.clone()),
            },
        }
    }
    Ok(ParsedSearch { query, ignored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        parse_query_string(query)
    }

    #[test]
    fn identifier_and_id_become_clauses() {
        let parsed = parse_search(
            "Patient",
            &pairs("identifier=urn:a%7Cx,%7Cy&_id=1,2&_count=5"),
            Handling::Strict,
        )
        .expect("valid");
        assert_eq!(parsed.query.count, 5);
        assert_eq!(
            parsed.query.clauses,
            vec![
                Clause::Token {
                    param: "identifier".into(),
                    values: vec![
                        TokenMatch {
                            system: TokenSystem::Is("urn:a".into()),
                            code: Some("x".into())
                        },
                        TokenMatch {
                            system: TokenSystem::None,
                            code: Some("y".into())
                        },
                    ],
                },
                Clause::Ids(vec!["1".into(), "2".into()]),
            ]
        );
    }

    #[test]
    fn unknown_parameters_depend_on_handling() {
        let lenient =
            parse_search("Patient", &pairs("name=smith"), Handling::Lenient).expect("lenient");
        assert_eq!(lenient.ignored, vec!["name".to_owned()]);
        let strict = parse_search("Patient", &pairs("name=smith"), Handling::Strict).unwrap_err();
        assert_eq!(strict.status(), 400);
        let bad_date = parse_search(
            "Patient",
            &pairs("_lastUpdated=gt2020-99"),
            Handling::Lenient,
        )
        .unwrap_err();
        assert!(bad_date.to_string().contains("2020-99"), "{bad_date}");
    }
}
