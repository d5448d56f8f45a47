//! Types and their elements: [`TypeDef`], [`ElementDef`], [`TypeKind`].

use regex::Regex;

use crate::fast_hash::NameMap;

/// What sort of FHIR type a [`TypeDef`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeKind {
    /// A primitive type such as `string`, `date` or `boolean`; a leaf in JSON.
    Primitive,
    /// A complex data type such as `HumanName`, `Quantity` or `Element`.
    Complex,
    /// A resource type, concrete (`Patient`) or abstract (`Resource`, `DomainResource`).
    Resource,
    /// A type made from an element with children, named by its path (`Patient.contact`).
    Backbone,
}

/// How a primitive type's value is written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrimitiveJsonKind {
    /// `boolean`: a JSON `true` or `false`.
    Boolean,
    /// `integer`, `positiveInt`, `unsignedInt`: a JSON integer that fits in 32 bits.
    Integer,
    /// `decimal`: a JSON number, its text kept as written.
    Decimal,
    /// Everything else (`string`, `date`, `uri`, `xhtml`, …): a JSON string.
    String,
}

/// One element of a type, as its snapshot defines it.
#[derive(Debug, Clone)]
pub struct ElementDef {
    /// The element name without `[x]`: `value` for `Observation.value[x]`.
    pub name: String,
    /// The path from the StructureDefinition: `Observation.value[x]`, `Patient.contact.name`.
    pub path: String,
    /// Type codes. A backbone element has the one synthetic type named by its path; primitive
    /// types' own `id` and `value` elements have FHIRPath system types such as `System.String`.
    pub types: Vec<String>,
    /// Whether this is a choice element (`value[x]`): its JSON names are `name` plus each type
    /// code with the first letter upper-cased (`valueQuantity`).
    pub is_choice: bool,
    /// Minimum cardinality.
    pub min: u32,
    /// Whether the maximum cardinality is more than one (JSON array).
    pub max_many: bool,
    /// Whether the element is part of the summary view (`_summary=true`).
    pub is_summary: bool,
    /// Whether the element is a modifier element.
    pub is_modifier: bool,
    /// Indexes into the definitions' type table, parallel to `types`.
    pub(crate) type_ids: Vec<usize>,
}

/// A resource, data type, primitive type or backbone element type.
#[derive(Debug)]
pub struct TypeDef {
    /// The type name: `Patient`, `HumanName`, `date`, or a backbone path such as `Patient.contact`.
    pub name: String,
    /// What sort of type this is.
    pub kind: TypeKind,
    /// Whether the type is abstract (`Resource`, `DomainResource`, `Element`, `BackboneElement`).
    pub is_abstract: bool,
    /// The type this one derives from: `DomainResource` for `Patient`, `Quantity` for `Age`,
    /// `string` for `code`; `None` for `Resource` and `Element`.
    pub base: Option<String>,
    /// For primitives, the R4 regex anchored to the whole value; `None` where R4 gives none (`xhtml`).
    pub regex: Option<Regex>,
    pub(crate) primitive_json_kind: Option<PrimitiveJsonKind>,
    /// A hand-coded matcher equal to `regex` for the commonest R4 patterns; `None` otherwise.
    pub(crate) fast_format: Option<FastFormat>,
    pub(crate) elements: Vec<ElementDef>,
    /// JSON property name → (index into `elements`, index into that element's `types`).
    pub(crate) json_names: NameMap<String, (usize, usize)>,
}

impl TypeDef {
    /// The elements in snapshot order, inherited ones (`id`, `meta`, `extension`, …) included.
    pub fn elements(&self) -> &[ElementDef] {
        &self.elements
    }

    /// Looks up an element by its name (`value` for `value[x]`), not by a JSON property name.
    pub fn element(&self, name: &str) -> Option<&ElementDef> {
        self.elements.iter().find(|element| element.name == name)
    }

    /// Looks up a JSON property name: `valueQuantity` resolves to (element `value`, type
    /// `Quantity`), `birthDate` to (element `birthDate`, type `date`).
    ///
    /// Primitive extension siblings such as `_birthDate` are not handled here: the caller strips
    /// the underscore first.
    pub fn element_for_json_name(&self, json_name: &str) -> Option<(&ElementDef, &str)> {
        let (element_index, type_index) = *self.json_names.get(json_name)?;
        let element = self.elements.get(element_index)?;
        let type_code = element.types.get(type_index)?;
        Some((element, type_code.as_str()))
    }

    /// Like [`TypeDef::element_for_json_name`], giving the type's index in the type table.
    pub(crate) fn element_and_type_id(&self, json_name: &str) -> Option<(&ElementDef, usize)> {
        let (element_index, type_index) = *self.json_names.get(json_name)?;
        let element = self.elements.get(element_index)?;
        let type_id = *element.type_ids.get(type_index)?;
        Some((element, type_id))
    }

    /// For primitive types, how the value is written in JSON; `None` for other kinds.
    pub fn primitive_json_kind(&self) -> Option<PrimitiveJsonKind> {
        self.primitive_json_kind
    }

    /// Whether `text` has this primitive's format: matches its R4 regex, or any text when the
    /// type has none (`xhtml`) or is not primitive.
    pub fn is_valid_format(&self, text: &str) -> bool {
        match (self.fast_format, &self.regex) {
            (Some(fast), _) => fast.is_match(text),
            (None, Some(regex)) => regex.is_match(text),
            (None, None) => true,
        }
    }

    /// Whether this is a primitive type.
    pub fn is_primitive(&self) -> bool {
        self.kind == TypeKind::Primitive
    }
}

/// Matchers for the three R4 regexes that nearly every string value meets (`string`, `code`,
/// `uri` and their kin). They are chosen by the regex text, never by type name, and a test checks
/// each against the regex it replaces; a regex call costs about as much as the rest of a
/// property's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FastFormat {
    /// `\S*`: no whitespace at all.
    NoWhitespace,
    /// `[ \r\n\t\S]+`: not empty, and the only whitespace is space, CR, LF or tab.
    StringCharacters,
    /// `[^\s]+(\s[^\s]+)*`: not empty, no leading, trailing or doubled whitespace.
    SingleSpacedTokens,
}

/// `\s` as the R4 regexes mean it: they are Java regexes, whose `\s` is ASCII whitespace only,
/// so a no-break space (U+00A0) in a string is a character like any other.
fn is_regex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// An R4 regex with Java's meaning of `\s` and `\S` (ASCII whitespace), for the regex crate,
/// whose classes are Unicode.
pub fn java_whitespace_classes(pattern: &str) -> String {
    pattern
        .replace(r"\s", r"[ \t\n\x0B\x0C\r]")
        .replace(r"\S", r"[^ \t\n\x0B\x0C\r]")
}

impl FastFormat {
    pub(crate) fn for_pattern(pattern: &str) -> Option<Self> {
        match pattern {
            r"\S*" => Some(Self::NoWhitespace),
            r"[ \r\n\t\S]+" => Some(Self::StringCharacters),
            r"[^\s]+(\s[^\s]+)*" => Some(Self::SingleSpacedTokens),
            _ => None,
        }
    }

    pub(crate) fn is_match(self, text: &str) -> bool {
        match self {
            Self::NoWhitespace => !text.chars().any(is_regex_space),
            Self::StringCharacters => {
                !text.is_empty()
                    && text
                        .chars()
                        .all(|c| matches!(c, ' ' | '\r' | '\n' | '\t') || !is_regex_space(c))
            }
            Self::SingleSpacedTokens => {
                let mut previous_was_space = true;
                for c in text.chars() {
                    let is_space = is_regex_space(c);
                    if is_space && previous_was_space {
                        return false;
                    }
                    previous_was_space = is_space;
                }
                !previous_was_space
            }
        }
    }
}

/// The JSON property name of one type of a choice element: `value` + `Quantity` → `valueQuantity`.
pub fn choice_json_name(element_name: &str, type_code: &str) -> String {
    let mut name = String::with_capacity(element_name.len() + type_code.len());
    name.push_str(element_name);
    let mut characters = type_code.chars();
    if let Some(first) = characters.next() {
        name.extend(first.to_uppercase());
        name.push_str(characters.as_str());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_formats_agree_with_their_regexes() {
        let samples = [
            "",
            " ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "a\nb",
            "a\r\nb",
            "\t",
            "ab\u{a0}c",
            "\u{a0}",
            "a\u{2028}b",
            "http://example.org/a?b=c",
            "urn:uuid:1",
            "é ü",
            "a\u{3000}b",
            "x\u{85}",
            "\n\n",
            "tok en s",
            "a\u{b}b",
            "a\u{c}",
            "\u{200b}",
            "😀 😀",
            "no\u{a0}break",
            "\u{a0}",
        ];
        for pattern in [r"\S*", r"[ \r\n\t\S]+", r"[^\s]+(\s[^\s]+)*"] {
            let fast = FastFormat::for_pattern(pattern);
            let regex = Regex::new(&format!("^(?:{})$", java_whitespace_classes(pattern))).ok();
            for sample in samples {
                assert_eq!(
                    fast.map(|fast| fast.is_match(sample)),
                    regex.as_ref().map(|regex| regex.is_match(sample)),
                    "{pattern} on {sample:?}"
                );
            }
        }
        assert_eq!(FastFormat::for_pattern("[0-9]+"), None);
    }

    #[test]
    fn choice_json_name_upper_cases_the_type_code() {
        assert_eq!(choice_json_name("value", "Quantity"), "valueQuantity");
        assert_eq!(choice_json_name("value", "string"), "valueString");
        assert_eq!(choice_json_name("deceased", "dateTime"), "deceasedDateTime");
        assert_eq!(choice_json_name("value", ""), "value");
    }
}
