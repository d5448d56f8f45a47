//! SNOMED CT Expression Constraint Language: [`parse`] turns ECL text into an [`Expression`];
//! value sets evaluate it through the `constraint` filter (`{"property": "constraint", "op":
//! "=", "value": "<< 73211009"}`) and the implicit value sets
//! `http://snomed.info/sct?fhir_vs=ecl/<< 73211009` and `…?fhir_vs=refset/{id}`.
//!
//! Parsed (ECL 2.x brief syntax): the hierarchy operators `<`, `<<`, `<!`, `<<!`, `>`, `>>`,
//! `>!`, `>>!`; member of `^`; concept references with an optional `|term|`; the wildcard `*`;
//! `AND` (or `,`), `OR` and `MINUS` (mixing them needs parentheses, as ECL requires); nested
//! `( … )`; refinements after `:` with attributes (`name = value`, `!=`), attribute groups
//! `{ … }`, cardinalities `[0..*]`, the reverse flag `R`, and `AND`/`OR` between them; comments
//! `/* … */`.
//!
//! Evaluated, over a code system's hierarchy, attribute relationships and reference set members
//! (what [`crate::snomed`] loads): all of the above. `^ 723264001` is the members of that
//! reference set, `^ *` the members of any, `^ (<< id)` the members of every reference set the
//! nested expression selects, and `<< ^ id` the members and their descendants. A refinement
//! `[min..max] name = value` counts a concept's relationships, in any group, whose type is in
//! `name` and whose destination is (`=`) or is not (`!=`) in `value` (default `[1..*]`, so
//! `[0..0]` says "has none"); `R` counts relationships into the concept from `value`;
//! `[min..max] { … }` counts the relationship groups in which all of the braced attributes
//! hold, ungrouped relationships each being a group of their own. Evaluation starts from the
//! smaller side: the concepts whose relationships point into the values (an index by
//! destination) when those are fewer than the focus concepts. Results hold active concepts only.
//!
//! Not supported, each an [`Error::EclNotSupported`] naming the feature: concrete values
//! (`#5`, `"text"`), dotted attributes (`expression . attribute`), member field selection
//! (`^ [fields] …`), ECL 2 filters (`{{ … }}`), an attribute group inside a group, the reverse
//! flag inside a group, and `116680003 |Is a|` as a refinement attribute (the hierarchy
//! operators say the same).

mod evaluate;
mod parser;
mod refinement;

use std::fmt;

#[cfg(doc)]
use crate::Error;
pub(crate) use evaluate::evaluate;
pub use parser::parse;

/// A hierarchy operator before a focus concept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HierarchyOperator {
    /// `<`: descendants.
    DescendantOf,
    /// `<<`: descendants and the concept itself.
    DescendantOrSelfOf,
    /// `<!`: children.
    ChildOf,
    /// `<<!`: children and the concept itself.
    ChildOrSelfOf,
    /// `>`: ancestors.
    AncestorOf,
    /// `>>`: ancestors and the concept itself.
    AncestorOrSelfOf,
    /// `>!`: parents.
    ParentOf,
    /// `>>!`: parents and the concept itself.
    ParentOrSelfOf,
}

impl HierarchyOperator {
    /// The ECL symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            HierarchyOperator::DescendantOf => "<",
            HierarchyOperator::DescendantOrSelfOf => "<<",
            HierarchyOperator::ChildOf => "<!",
            HierarchyOperator::ChildOrSelfOf => "<<!",
            HierarchyOperator::AncestorOf => ">",
            HierarchyOperator::AncestorOrSelfOf => ">>",
            HierarchyOperator::ParentOf => ">!",
            HierarchyOperator::ParentOrSelfOf => ">>!",
        }
    }
}

/// What a sub-expression starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// A concept, with the term written beside it (not checked).
    Concept {
        /// The SCTID.
        id: String,
        /// The `|term|`, trimmed.
        term: Option<String>,
    },
    /// `*`: any concept.
    Wildcard,
    /// `( expression )`.
    Nested(Box<Expression>),
}

/// `[operator] [^] focus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubExpression {
    /// The hierarchy operator.
    pub operator: Option<HierarchyOperator>,
    /// `^`: the members of the reference set(s) the focus stands for.
    pub member_of: bool,
    /// The focus.
    pub focus: Focus,
}

/// A parsed expression constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// One sub-expression.
    Sub(SubExpression),
    /// `a AND b AND …` (or `,`).
    And(Vec<SubExpression>),
    /// `a OR b OR …`.
    Or(Vec<SubExpression>),
    /// `a MINUS b`.
    Minus(SubExpression, SubExpression),
    /// `a : refinement`.
    Refined(SubExpression, Refinement),
}

/// The refinement after `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refinement {
    /// One attribute.
    Attribute(Attribute),
    /// `[cardinality] { … }`: attributes that must hold in one relationship group.
    Group {
        /// How many groups must match.
        cardinality: Option<Cardinality>,
        /// The attributes.
        refinement: Box<Refinement>,
    },
    /// All of these.
    And(Vec<Refinement>),
    /// Any of these.
    Or(Vec<Refinement>),
}

/// `[cardinality] [R] name (= | !=) value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// How many relationships must match.
    pub cardinality: Option<Cardinality>,
    /// `R`: the attribute points at the concept rather than from it.
    pub reverse: bool,
    /// The attribute type(s).
    pub name: SubExpression,
    /// `!=` rather than `=`.
    pub negated: bool,
    /// The value(s).
    pub value: SubExpression,
}

/// `[min..max]`; `max` `None` is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cardinality {
    /// The least number.
    pub min: u32,
    /// The greatest number, `None` for many.
    pub max: Option<u32>,
}

impl fmt::Display for Focus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Focus::Concept {
                id,
                term: Some(term),
            } => write!(f, "{id} |{term}|"),
            Focus::Concept { id, term: None } => f.write_str(id),
            Focus::Wildcard => f.write_str("*"),
            Focus::Nested(_) => f.write_str("( … )"),
        }
    }
}

/// Decodes `%XX` escapes (an ECL in a URL: `ecl/%3C%3C73211009`); text without valid escapes
/// is returned as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(value) = u8::from_str_radix(hex, 16)
        {
            decoded.push(value);
            index += 3;
            continue;
        }
        decoded.push(byte);
        index += 1;
    }
    String::from_utf8(decoded).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_escaped_ecl() {
        assert_eq!(percent_decode("%3C%3C73211009"), "<<73211009");
        assert_eq!(percent_decode("<< 73211009 %zz"), "<< 73211009 %zz");
    }
}
