//! Value set definitions as FHIR writes them: [`ValueSet`], its [`Compose`] of [`ConceptSet`]s,
//! and compose [`Filter`]s. Evaluating them is [`crate::expand`]'s job.

use std::fmt;

/// A value set definition: which codes, from which code systems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSet {
    /// The canonical URL.
    pub url: String,
    /// The business version.
    pub version: Option<String>,
    /// Computer-friendly name.
    pub name: Option<String>,
    /// Human-friendly name.
    pub title: Option<String>,
    /// Publication status.
    pub status: Option<String>,
    /// The content logical definition; `None` for a value set given only as an expansion,
    /// which this crate cannot evaluate.
    pub compose: Option<Compose>,
}

impl ValueSet {
    /// A value set with this URL and compose, and no other metadata.
    pub fn new(url: impl Into<String>, compose: Compose) -> ValueSet {
        ValueSet {
            url: url.into(),
            version: None,
            name: None,
            title: None,
            status: None,
            compose: Some(compose),
        }
    }
}

/// `ValueSet.compose`: the union of the includes, minus the union of the excludes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compose {
    /// Whether inactive codes are in the value set; `None` leaves them in.
    pub inactive: Option<bool>,
    /// Sets of codes that are in the value set.
    pub include: Vec<ConceptSet>,
    /// Sets of codes taken out again.
    pub exclude: Vec<ConceptSet>,
}

/// `ValueSet.compose.include` (or `exclude`): codes of one system, narrowed by a concept list
/// or filters, intersected with the value sets named; or only the intersection of value sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConceptSet {
    /// The code system.
    pub system: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Exactly these codes (not together with filters).
    pub concepts: Vec<ConceptReference>,
    /// Codes meeting all these filters.
    pub filters: Vec<Filter>,
    /// Canonical URLs (with optional `|version`) of value sets the codes must also be in.
    pub value_sets: Vec<String>,
}

impl ConceptSet {
    /// All codes of `system`.
    pub fn system(system: impl Into<String>) -> ConceptSet {
        ConceptSet {
            system: Some(system.into()),
            ..ConceptSet::default()
        }
    }
}

/// `ValueSet.compose.include.concept`: one code listed, with an optional display for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptReference {
    /// The code.
    pub code: String,
    /// The display this value set uses for it.
    pub display: Option<String>,
}

/// `ValueSet.compose.include.filter`: `property op value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The property: `concept` (or `code`) for the code and hierarchy, `display`, `parent`,
    /// `child`, `inactive`, or a property the code system defines.
    pub property: String,
    /// The operator.
    pub op: FilterOperator,
    /// The value.
    pub value: String,
}

/// `ValueSet.compose.include.filter.op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterOperator {
    /// `=`: the property has this value.
    Equal,
    /// `is-a`: the concept and its descendants.
    IsA,
    /// `descendent-of`: the concept's descendants, without itself.
    DescendentOf,
    /// `is-not-a`: everything but the concept and its descendants.
    IsNotA,
    /// `regex`: the property matches the regular expression (whole value).
    Regex,
    /// `in`: the property has one of these comma-separated values.
    In,
    /// `not-in`: the property has none of these comma-separated values.
    NotIn,
    /// `generalizes`: the concept and its ancestors.
    Generalizes,
    /// `exists`: the property is present (`true`) or absent (`false`).
    Exists,
}

impl FilterOperator {
    /// The operator for a FHIR code (`is-a`); `None` for anything else.
    pub fn from_code(code: &str) -> Option<FilterOperator> {
        Some(match code {
            "=" => FilterOperator::Equal,
            "is-a" => FilterOperator::IsA,
            "descendent-of" => FilterOperator::DescendentOf,
            "is-not-a" => FilterOperator::IsNotA,
            "regex" => FilterOperator::Regex,
            "in" => FilterOperator::In,
            "not-in" => FilterOperator::NotIn,
            "generalizes" => FilterOperator::Generalizes,
            "exists" => FilterOperator::Exists,
            _ => return None,
        })
    }

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            FilterOperator::Equal => "=",
            FilterOperator::IsA => "is-a",
            FilterOperator::DescendentOf => "descendent-of",
            FilterOperator::IsNotA => "is-not-a",
            FilterOperator::Regex => "regex",
            FilterOperator::In => "in",
            FilterOperator::NotIn => "not-in",
            FilterOperator::Generalizes => "generalizes",
            FilterOperator::Exists => "exists",
        }
    }
}

impl fmt::Display for FilterOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Splits a canonical reference `url|version` into its URL and version.
///
/// An implicit ECL value set (`…?fhir_vs=ecl/<< 73211009 |Diabetes mellitus|`) may hold terms
/// between pipes, which come in pairs: there, only an odd pipe after the expression's last
/// term separates a version.
pub(crate) fn split_canonical(canonical: &str) -> (&str, Option<&str>) {
    // Most references have no pipe at all: one byte scan decides.
    let Some(first_pipe) = canonical.find('|') else {
        return (canonical, None);
    };
    let ecl_at = canonical
        .get(..first_pipe)
        .and_then(|head| head.find("?fhir_vs=ecl/"));
    if let Some(at) = ecl_at {
        let pipes = canonical
            .get(at..)
            .map_or(0, |ecl| ecl.matches('|').count());
        if pipes % 2 == 0 {
            return (canonical, None);
        }
        return match canonical.rsplit_once('|') {
            Some((url, version)) if !version.is_empty() => (url, Some(version)),
            Some((url, _)) => (url, None),
            None => (canonical, None),
        };
    }
    match canonical.split_once('|') {
        Some((url, version)) if !version.is_empty() => (url, Some(version)),
        Some((url, _)) => (url, None),
        None => (canonical, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_versions_are_split_off_but_ecl_terms_are_kept() {
        assert_eq!(
            split_canonical("http://example.org/vs|2.0"),
            ("http://example.org/vs", Some("2.0"))
        );
        assert_eq!(
            split_canonical("http://example.org/vs|"),
            ("http://example.org/vs", None)
        );
        let ecl = "http://snomed.info/sct?fhir_vs=ecl/<< 73211009 |Diabetes mellitus|";
        assert_eq!(split_canonical(ecl), (ecl, None));
        assert_eq!(
            split_canonical(&format!("{ecl}|20240101")),
            (ecl, Some("20240101"))
        );
    }

    #[test]
    fn operators_round_trip() {
        for op in [
            FilterOperator::Equal,
            FilterOperator::IsA,
            FilterOperator::DescendentOf,
            FilterOperator::IsNotA,
            FilterOperator::Regex,
            FilterOperator::In,
            FilterOperator::NotIn,
            FilterOperator::Generalizes,
            FilterOperator::Exists,
        ] {
            assert_eq!(FilterOperator::from_code(op.code()), Some(op));
        }
        assert_eq!(FilterOperator::from_code("descendant-of"), None);
    }

    #[test]
    fn canonical_references_split_at_the_bar() {
        assert_eq!(
            split_canonical("http://a/vs|2.0"),
            ("http://a/vs", Some("2.0"))
        );
        assert_eq!(split_canonical("http://a/vs|"), ("http://a/vs", None));
        assert_eq!(split_canonical("http://a/vs"), ("http://a/vs", None));
    }
}
