//! Search parameter definitions: [`SearchParamDef`], [`SearchParamType`].

use std::fmt;

/// The type of a search parameter (`SearchParameter.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchParamType {
    /// `number`
    Number,
    /// `date`
    Date,
    /// `string`
    String,
    /// `token`
    Token,
    /// `reference`
    Reference,
    /// `composite`
    Composite,
    /// `quantity`
    Quantity,
    /// `uri`
    Uri,
    /// `special`
    Special,
}

impl SearchParamType {
    /// Parses the FHIR code (`token`, `reference`, …).
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "number" => Self::Number,
            "date" => Self::Date,
            "string" => Self::String,
            "token" => Self::Token,
            "reference" => Self::Reference,
            "composite" => Self::Composite,
            "quantity" => Self::Quantity,
            "uri" => Self::Uri,
            "special" => Self::Special,
            _ => return None,
        })
    }

    /// The FHIR code of this type.
    pub fn as_code(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Date => "date",
            Self::String => "string",
            Self::Token => "token",
            Self::Reference => "reference",
            Self::Composite => "composite",
            Self::Quantity => "quantity",
            Self::Uri => "uri",
            Self::Special => "special",
        }
    }
}

impl fmt::Display for SearchParamType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_code())
    }
}

/// One component of a composite search parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParamComponent {
    /// Canonical URL of the component's search parameter.
    pub definition: String,
    /// FHIRPath expression, relative to the composite's own expression.
    pub expression: String,
}

/// One R4 search parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParamDef {
    /// The code used in URLs: `code`, `subject`, `_lastUpdated`.
    pub code: String,
    /// Canonical URL: `http://hl7.org/fhir/SearchParameter/clinical-code`.
    pub url: String,
    /// Parameter type.
    pub kind: SearchParamType,
    /// Resource types it applies to (`Resource` and `DomainResource` mean all of those).
    pub base: Vec<String>,
    /// FHIRPath expression; `None` for `_text`, `_content`, `_query` and other special ones.
    pub expression: Option<String>,
    /// For reference parameters, the resource types they may point to.
    pub target: Vec<String>,
    /// Modifiers listed in the definition; R4's own definitions list none.
    pub modifiers: Vec<String>,
    /// Comparators listed in the definition (`eq`, `gt`, …).
    pub comparators: Vec<String>,
    /// `multipleOr` when stated.
    pub multiple_or: Option<bool>,
    /// `multipleAnd` when stated.
    pub multiple_and: Option<bool>,
    /// Components of a composite parameter.
    pub components: Vec<SearchParamComponent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [
            "number",
            "date",
            "string",
            "token",
            "reference",
            "composite",
            "quantity",
            "uri",
            "special",
        ] {
            let kind = SearchParamType::from_code(code);
            assert_eq!(kind.map(SearchParamType::as_code), Some(code));
        }
        assert_eq!(SearchParamType::from_code("Token"), None);
        assert_eq!(SearchParamType::Quantity.to_string(), "quantity");
    }
}
