//! The plain data of code systems and concepts, as FHIR names them: [`CodeSystemInfo`],
//! [`Designation`], [`PropertyValue`] and the enums of their coded elements.

use std::fmt;

/// `CodeSystem.content`: how much of the code system the definition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeSystemContent {
    /// `not-present`: no concepts are in the definition.
    NotPresent,
    /// `example`: a few concepts, for illustration.
    Example,
    /// `fragment`: a subset of the concepts.
    Fragment,
    /// `complete`: every concept.
    Complete,
    /// `supplement`: designations and properties for another code system's concepts.
    Supplement,
}

impl CodeSystemContent {
    /// The value for a FHIR code (`complete`); `None` for anything else.
    pub fn from_code(code: &str) -> Option<CodeSystemContent> {
        Some(match code {
            "not-present" => CodeSystemContent::NotPresent,
            "example" => CodeSystemContent::Example,
            "fragment" => CodeSystemContent::Fragment,
            "complete" => CodeSystemContent::Complete,
            "supplement" => CodeSystemContent::Supplement,
            _ => return None,
        })
    }

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            CodeSystemContent::NotPresent => "not-present",
            CodeSystemContent::Example => "example",
            CodeSystemContent::Fragment => "fragment",
            CodeSystemContent::Complete => "complete",
            CodeSystemContent::Supplement => "supplement",
        }
    }
}

/// `CodeSystem.hierarchyMeaning`: what a parent–child link means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HierarchyMeaning {
    /// `grouped-by`.
    GroupedBy,
    /// `is-a`: the child is a kind of the parent (subsumption).
    IsA,
    /// `part-of`.
    PartOf,
    /// `classified-with`.
    ClassifiedWith,
}

impl HierarchyMeaning {
    /// The value for a FHIR code (`is-a`); `None` for anything else.
    pub fn from_code(code: &str) -> Option<HierarchyMeaning> {
        Some(match code {
            "grouped-by" => HierarchyMeaning::GroupedBy,
            "is-a" => HierarchyMeaning::IsA,
            "part-of" => HierarchyMeaning::PartOf,
            "classified-with" => HierarchyMeaning::ClassifiedWith,
            _ => return None,
        })
    }

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            HierarchyMeaning::GroupedBy => "grouped-by",
            HierarchyMeaning::IsA => "is-a",
            HierarchyMeaning::PartOf => "part-of",
            HierarchyMeaning::ClassifiedWith => "classified-with",
        }
    }
}

/// `CodeSystem.property.type`: the type of a concept property's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PropertyType {
    /// `code`: a code of this code system (or of another, for SNOMED CT attributes).
    Code,
    /// `Coding`.
    Coding,
    /// `string`.
    String,
    /// `integer`.
    Integer,
    /// `boolean`.
    Boolean,
    /// `dateTime`.
    DateTime,
    /// `decimal`.
    Decimal,
}

impl PropertyType {
    /// The value for a FHIR code (`dateTime`); `None` for anything else.
    pub fn from_code(code: &str) -> Option<PropertyType> {
        Some(match code {
            "code" => PropertyType::Code,
            "Coding" => PropertyType::Coding,
            "string" => PropertyType::String,
            "integer" => PropertyType::Integer,
            "boolean" => PropertyType::Boolean,
            "dateTime" => PropertyType::DateTime,
            "decimal" => PropertyType::Decimal,
            _ => return None,
        })
    }

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            PropertyType::Code => "code",
            PropertyType::Coding => "Coding",
            PropertyType::String => "string",
            PropertyType::Integer => "integer",
            PropertyType::Boolean => "boolean",
            PropertyType::DateTime => "dateTime",
            PropertyType::Decimal => "decimal",
        }
    }
}

/// `CodeSystem.property`: a property concepts of the code system may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDefinition {
    /// The code concepts use for it (`status`, `parent`).
    pub code: String,
    /// A URI that identifies its meaning across code systems.
    pub uri: Option<String>,
    /// The type of its values.
    pub kind: PropertyType,
    /// What it means.
    pub description: Option<String>,
}

/// The metadata of a code system: everything but its concepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSystemInfo {
    /// The canonical URL (`http://snomed.info/sct`).
    pub url: String,
    /// The business version (`http://snomed.info/sct/900000000000207008/version/20240101`).
    pub version: Option<String>,
    /// Computer-friendly name.
    pub name: Option<String>,
    /// Human-friendly name.
    pub title: Option<String>,
    /// Publication status (`active`, `draft`, `retired`).
    pub status: Option<String>,
    /// How much of the code system the concepts are.
    pub content: CodeSystemContent,
    /// What parent–child links mean; `None` is read as is-a.
    pub hierarchy_meaning: Option<HierarchyMeaning>,
    /// Whether codes are case-sensitive; codes are always compared exactly.
    pub case_sensitive: Option<bool>,
    /// The properties concepts may have.
    pub properties: Vec<PropertyDefinition>,
}

impl CodeSystemInfo {
    /// Metadata for a complete code system with just a URL.
    pub fn new(url: impl Into<String>) -> CodeSystemInfo {
        CodeSystemInfo {
            url: url.into(),
            version: None,
            name: None,
            title: None,
            status: None,
            content: CodeSystemContent::Complete,
            hierarchy_meaning: None,
            case_sensitive: None,
            properties: Vec::new(),
        }
    }
}

/// A FHIR Coding: a code and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coding {
    /// The code system URL.
    pub system: Option<String>,
    /// The code.
    pub code: String,
    /// The code's display.
    pub display: Option<String>,
}

impl Coding {
    /// A Coding of `code` in `system`, with no display.
    pub fn new(system: impl Into<String>, code: impl Into<String>) -> Coding {
        Coding {
            system: Some(system.into()),
            code: code.into(),
            display: None,
        }
    }
}

/// `CodeSystem.concept.designation`: another representation of a concept, such as a
/// translation or a synonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designation {
    /// The language (`nl`, `en-US`).
    pub language: Option<String>,
    /// What kind of designation it is (FHIR's `use`: SNOMED CT's fully specified name or
    /// synonym, `designation-usage#display`).
    pub usage: Option<Coding>,
    /// The text.
    pub value: String,
}

/// The value of a concept property.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// `valueCode`.
    Code(String),
    /// `valueCoding`.
    Coding(Coding),
    /// `valueString`.
    String(String),
    /// `valueInteger`.
    Integer(i64),
    /// `valueBoolean`.
    Boolean(bool),
    /// `valueDateTime`, as written.
    DateTime(String),
    /// `valueDecimal`, as written.
    Decimal(String),
}

impl PropertyValue {
    /// The type of the value.
    pub fn kind(&self) -> PropertyType {
        match self {
            PropertyValue::Code(_) => PropertyType::Code,
            PropertyValue::Coding(_) => PropertyType::Coding,
            PropertyValue::String(_) => PropertyType::String,
            PropertyValue::Integer(_) => PropertyType::Integer,
            PropertyValue::Boolean(_) => PropertyType::Boolean,
            PropertyValue::DateTime(_) => PropertyType::DateTime,
            PropertyValue::Decimal(_) => PropertyType::Decimal,
        }
    }
}

/// Compose filters compare against this text: the code for codes and Codings, `true`/`false`,
/// decimal digits.
impl fmt::Display for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Code(text)
            | PropertyValue::String(text)
            | PropertyValue::DateTime(text)
            | PropertyValue::Decimal(text) => f.write_str(text),
            PropertyValue::Coding(coding) => f.write_str(&coding.code),
            PropertyValue::Integer(value) => write!(f, "{value}"),
            PropertyValue::Boolean(value) => write!(f, "{value}"),
        }
    }
}

/// `CodeSystem.concept.property`: a property of one concept.
#[derive(Debug, Clone, PartialEq)]
pub struct ConceptProperty {
    /// The property's code (`status`, `inactive`, `moduleId`).
    pub code: String,
    /// Its value.
    pub value: PropertyValue,
}

/// The answer of `$subsumes`: how concept A relates to concept B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subsumption {
    /// A and B are the same concept.
    Equivalent,
    /// A is an ancestor of B.
    Subsumes,
    /// A is a descendant of B.
    SubsumedBy,
    /// Neither is an ancestor of the other.
    NotSubsumed,
}

impl Subsumption {
    /// The FHIR code (`subsumed-by`).
    pub fn code(self) -> &'static str {
        match self {
            Subsumption::Equivalent => "equivalent",
            Subsumption::Subsumes => "subsumes",
            Subsumption::SubsumedBy => "subsumed-by",
            Subsumption::NotSubsumed => "not-subsumed",
        }
    }
}

impl fmt::Display for Subsumption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for content in [
            CodeSystemContent::NotPresent,
            CodeSystemContent::Example,
            CodeSystemContent::Fragment,
            CodeSystemContent::Complete,
            CodeSystemContent::Supplement,
        ] {
            assert_eq!(CodeSystemContent::from_code(content.code()), Some(content));
        }
        for meaning in [
            HierarchyMeaning::GroupedBy,
            HierarchyMeaning::IsA,
            HierarchyMeaning::PartOf,
            HierarchyMeaning::ClassifiedWith,
        ] {
            assert_eq!(HierarchyMeaning::from_code(meaning.code()), Some(meaning));
        }
        for kind in [
            PropertyType::Code,
            PropertyType::Coding,
            PropertyType::String,
            PropertyType::Integer,
            PropertyType::Boolean,
            PropertyType::DateTime,
            PropertyType::Decimal,
        ] {
            assert_eq!(PropertyType::from_code(kind.code()), Some(kind));
        }
        assert_eq!(PropertyType::from_code("Code"), None);
        assert_eq!(Subsumption::SubsumedBy.to_string(), "subsumed-by");
    }

    #[test]
    fn property_values_print_as_filters_compare_them() {
        let coding = PropertyValue::Coding(Coding::new("http://snomed.info/sct", "123"));
        assert_eq!(coding.to_string(), "123");
        assert_eq!(PropertyValue::Boolean(true).to_string(), "true");
        assert_eq!(PropertyValue::Integer(-4).to_string(), "-4");
        assert_eq!(PropertyValue::Integer(-4).kind(), PropertyType::Integer);
    }
}
