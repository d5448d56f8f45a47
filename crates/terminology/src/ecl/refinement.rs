//! Evaluating a refinement (`focus : refinement`) over the attribute relationships: [`refine`].
//!
//! Semantics (ECL 1.x/2.x, on the inferred relationships):
//! - `[min..max] name = value` (ungrouped): a concept matches if the number of its relationships,
//!   in any group, whose type is in `name` and whose destination is in `value` lies within the
//!   cardinality (default `[1..*]`). `!=` counts relationships of those types whose destination
//!   is *not* in `value`; `[0..0] name = value` is how to say "has none".
//! - `R name = value` (reverse): counts the relationships whose destination is the concept and
//!   whose source is in `value`.
//! - `[min..max] { … }`: counts the concept's relationship groups in which the braced
//!   refinement holds, each attribute's cardinality counted within the group. Ungrouped
//!   relationships (group 0) are each a group of their own, as SNOMED CT's concept model treats
//!   them.
//! - `AND` / `,` and `OR` between refinements: both must hold, either may.
//!
//! Evaluation runs from the smaller side. A refinement first proposes candidates where it can do
//! so cheaply: for `name = value` with a minimum of at least one, the concepts at the other end
//! of the relationships into the values (the incoming index), when the values' relationships are
//! fewer than the focus concepts' own; `AND` intersects its parts' candidates, `OR` unites them
//! when each part has some. Candidates (or, without any, every focus concept) are then checked
//! one by one against their own relationships, which decides cardinalities and groups exactly.

use super::evaluate::evaluate_sub;
use super::{Attribute, Cardinality, Focus, Refinement, SubExpression};
use crate::Error;
use crate::code_system::CodeSystem;
use crate::relationships::RelationshipRecord;
use crate::text_index::intersect_sorted;

/// `focus` (sorted active concepts) narrowed to those meeting `refinement`.
///
/// # Errors
///
/// [`Error::EclNotSupported`] for a group inside a group, the reverse flag inside a group, and
/// is-a as an attribute; the errors of evaluating the attribute names and values.
pub(crate) fn refine(
    system: &CodeSystem,
    focus: Vec<u32>,
    refinement: &Refinement,
    text: &str,
) -> Result<Vec<u32>, Error> {
    let rule = Rule::compile(system, refinement, false, text)?;
    let candidates = match rule.candidates(system, focus.len()) {
        Some(candidates) => intersect_sorted(&candidates, &focus),
        None => focus,
    };
    Ok(candidates
        .into_iter()
        .filter(|&concept| rule.matches(system, concept))
        .collect())
}

/// Attribute names or values: any concept (`*`), or a sorted list.
enum ConceptSet {
    Any,
    Sorted(Vec<u32>),
}

impl ConceptSet {
    fn contains(&self, ordinal: u32) -> bool {
        match self {
            ConceptSet::Any => true,
            ConceptSet::Sorted(members) => members.binary_search(&ordinal).is_ok(),
        }
    }
}

/// A refinement with its names and values evaluated.
enum Rule {
    Attribute(AttributeRule),
    Group {
        cardinality: Cardinality,
        inner: Box<Rule>,
    },
    And(Vec<Rule>),
    Or(Vec<Rule>),
}

struct AttributeRule {
    cardinality: Cardinality,
    reverse: bool,
    names: ConceptSet,
    negated: bool,
    values: ConceptSet,
}

/// `[1..*]`, what a refinement without a cardinality means.
const AT_LEAST_ONE: Cardinality = Cardinality { min: 1, max: None };

fn holds(cardinality: Cardinality, count: u32) -> bool {
    count >= cardinality.min && cardinality.max.is_none_or(|max| count <= max)
}

impl Rule {
    fn compile(
        system: &CodeSystem,
        refinement: &Refinement,
        in_group: bool,
        text: &str,
    ) -> Result<Rule, Error> {
        let not_supported = |feature: &'static str| Error::EclNotSupported {
            expression: text.to_owned(),
            feature,
        };
        Ok(match refinement {
            Refinement::Attribute(attribute) => {
                if in_group && attribute.reverse {
                    return Err(not_supported(
                        "the reverse flag 'R' inside an attribute group is not supported",
                    ));
                }
                Rule::Attribute(AttributeRule::compile(system, attribute, text)?)
            }
            Refinement::Group {
                cardinality,
                refinement,
            } => {
                if in_group {
                    return Err(not_supported(
                        "an attribute group inside an attribute group is not supported",
                    ));
                }
                Rule::Group {
                    cardinality: cardinality.unwrap_or(AT_LEAST_ONE),
                    inner: Box::new(Rule::compile(system, refinement, true, text)?),
                }
            }
            Refinement::And(parts) => Rule::And(
                parts
                    .iter()
                    .map(|part| Rule::compile(system, part, in_group, text))
                    .collect::<Result<_, _>>()?,
            ),
            Refinement::Or(parts) => Rule::Or(
                parts
                    .iter()
                    .map(|part| Rule::compile(system, part, in_group, text))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    /// Whether `concept` meets the rule, from its own relationships.
    fn matches(&self, system: &CodeSystem, concept: u32) -> bool {
        match self {
            Rule::Attribute(attribute) => {
                let records = if attribute.reverse {
                    system.relationships.incoming(concept)
                } else {
                    system.relationships.outgoing(concept)
                };
                holds(attribute.cardinality, attribute.count(records))
            }
            Rule::Group { cardinality, inner } => {
                let records = system.relationships.outgoing(concept);
                let mut matching_groups = 0_u32;
                for group in relationship_groups(records) {
                    if inner.matches_group(group) {
                        matching_groups += 1;
                    }
                }
                holds(*cardinality, matching_groups)
            }
            Rule::And(parts) => parts.iter().all(|part| part.matches(system, concept)),
            Rule::Or(parts) => parts.iter().any(|part| part.matches(system, concept)),
        }
    }

    /// Whether the rule holds within one relationship group's records.
    fn matches_group(&self, group: &[RelationshipRecord]) -> bool {
        match self {
            Rule::Attribute(attribute) => holds(attribute.cardinality, attribute.count(group)),
            // Compiling refuses groups inside groups.
            Rule::Group { .. } => false,
            Rule::And(parts) => parts.iter().all(|part| part.matches_group(group)),
            Rule::Or(parts) => parts.iter().any(|part| part.matches_group(group)),
        }
    }

    /// A sorted superset of the concepts meeting the rule, when one is cheaper to find than
    /// checking `focus_count` concepts; `None` when every focus concept must be checked.
    fn candidates(&self, system: &CodeSystem, focus_count: usize) -> Option<Vec<u32>> {
        match self {
            Rule::Attribute(attribute) => attribute.candidates(system, focus_count),
            // A group that must match needs an inner attribute that matches.
            Rule::Group { cardinality, inner } if cardinality.min > 0 => {
                inner.candidates(system, focus_count)
            }
            Rule::Group { .. } => None,
            Rule::And(parts) => parts
                .iter()
                .filter_map(|part| part.candidates(system, focus_count))
                .reduce(|so_far, more| intersect_sorted(&so_far, &more)),
            Rule::Or(parts) => {
                let mut union = Vec::new();
                for part in parts {
                    union.extend(part.candidates(system, focus_count)?);
                }
                union.sort_unstable();
                union.dedup();
                Some(union)
            }
        }
    }
}

impl AttributeRule {
    fn compile(
        system: &CodeSystem,
        attribute: &Attribute,
        text: &str,
    ) -> Result<AttributeRule, Error> {
        if let Focus::Concept { id, .. } = &attribute.name.focus
            && id == "116680003"
            && attribute.name.operator.is_none()
        {
            return Err(Error::EclNotSupported {
                expression: text.to_owned(),
                feature: "'116680003 |Is a|' as a refinement attribute is not supported; use \
                          the hierarchy operators ('<', '>')",
            });
        }
        Ok(AttributeRule {
            cardinality: attribute.cardinality.unwrap_or(AT_LEAST_ONE),
            reverse: attribute.reverse,
            names: concept_set(system, &attribute.name, text)?,
            negated: attribute.negated,
            values: concept_set(system, &attribute.value, text)?,
        })
    }

    /// How many of `records` (a concept's relationships, seen from the concept) match.
    fn count(&self, records: &[RelationshipRecord]) -> u32 {
        let matching = records
            .iter()
            .filter(|record| {
                self.names.contains(record.kind)
                    && self.values.contains(record.other) != self.negated
            })
            .count();
        u32::try_from(matching).unwrap_or(u32::MAX)
    }

    /// The concepts with at least one matching relationship, found from the values' side when
    /// that touches fewer relationships than checking the focus would.
    fn candidates(&self, system: &CodeSystem, focus_count: usize) -> Option<Vec<u32>> {
        // Concepts without a matching relationship can meet a minimum of 0; "!=" matches
        // relationships to anything outside the values, which no index lists.
        if self.cardinality.min == 0 || self.negated {
            return None;
        }
        let ConceptSet::Sorted(values) = &self.values else {
            return None;
        };
        let relationships = &system.relationships;
        // From a value, the relationships of the concepts refined: into it (normal), or out of
        // it (reverse: the value is the source).
        let from_value = |value: u32| {
            if self.reverse {
                relationships.outgoing(value)
            } else {
                relationships.incoming(value)
            }
        };
        let value_side: usize = values
            .iter()
            .map(|&value| {
                if self.reverse {
                    relationships.outgoing_count(value)
                } else {
                    relationships.incoming_count(value)
                }
            })
            .sum();
        let per_concept = relationships.len().div_ceil(system.len().max(1)).max(1);
        if value_side >= focus_count.saturating_mul(per_concept) {
            return None;
        }
        let mut found: Vec<u32> = values
            .iter()
            .flat_map(|&value| from_value(value).iter())
            .filter(|record| self.names.contains(record.kind))
            .map(|record| record.other)
            .collect();
        found.sort_unstable();
        found.dedup();
        Some(found)
    }
}

/// An attribute name or value: `*` is any concept, anything else is evaluated.
fn concept_set(system: &CodeSystem, sub: &SubExpression, text: &str) -> Result<ConceptSet, Error> {
    if sub.focus == Focus::Wildcard && sub.operator.is_none() && !sub.member_of {
        return Ok(ConceptSet::Any);
    }
    Ok(ConceptSet::Sorted(evaluate_sub(system, sub, text)?))
}

/// A concept's relationships (sorted by group) split into relationship groups: one slice per
/// group number above 0, and one slice per ungrouped (group 0) relationship.
fn relationship_groups(
    records: &[RelationshipRecord],
) -> impl Iterator<Item = &[RelationshipRecord]> {
    let mut rest = records;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let length = if first.group == 0 {
            1
        } else {
            rest.iter()
                .take_while(|record| record.group == first.group)
                .count()
        };
        let (group, after) = rest.split_at(length);
        rest = after;
        Some(group)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(group: u32, kind: u32, other: u32) -> RelationshipRecord {
        RelationshipRecord { group, kind, other }
    }

    #[test]
    fn ungrouped_relationships_are_groups_of_their_own() {
        let records = [
            record(0, 5, 1),
            record(0, 6, 2),
            record(1, 5, 3),
            record(1, 6, 4),
            record(3, 5, 1),
        ];
        let groups: Vec<usize> = relationship_groups(&records).map(<[_]>::len).collect();
        assert_eq!(groups, [1, 1, 2, 1]);
        assert_eq!(relationship_groups(&[]).count(), 0);
    }

    /// The candidates found from the values' side must never lose a match: on the RF2 fixture,
    /// `refine` agrees with checking every focus concept.
    #[test]
    fn candidates_agree_with_checking_every_concept() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/snomed/SnomedCT_Fixture_20240101/Snapshot");
        let (system, _) =
            crate::snomed::read_snapshot(&fixture, &crate::snomed::SnomedOptions::default())
                .unwrap();
        let mut reverse_side_used = 0;
        for text in [
            "* : 363698007 = << 15776009",
            "* : 363698007 = 15776009 AND 116676008 = *",
            "* : 116676008 = 23583003 OR 363698007 = 64033007",
            "* : { 363698007 = << 80891009, 116676008 = << 55641003 }",
            "* : [2..*] { 363698007 = * }",
            "* : R 363698007 = < 64572001",
            "* : [2..*] R 363698007 = *",
            "* : [0..1] 363698007 = << 15776009",
            "* : 363698007 != 15776009",
        ] {
            let super::super::Expression::Refined(focus, refinement) =
                super::super::parse(text).unwrap()
            else {
                panic!("{text}")
            };
            let focus = evaluate_sub(&system, &focus, text).unwrap();
            let rule = Rule::compile(&system, &refinement, false, text).unwrap();
            let every: Vec<u32> = focus
                .iter()
                .copied()
                .filter(|&concept| rule.matches(&system, concept))
                .collect();
            assert!(!every.is_empty(), "{text}");
            if rule.candidates(&system, focus.len()).is_some() {
                reverse_side_used += 1;
            }
            assert_eq!(
                refine(&system, focus, &refinement, text).unwrap(),
                every,
                "{text}"
            );
        }
        assert!(reverse_side_used >= 5, "{reverse_side_used}");
    }

    #[test]
    fn cardinality_bounds_are_inclusive() {
        let zero_to_one = Cardinality {
            min: 0,
            max: Some(1),
        };
        assert!(holds(zero_to_one, 0) && holds(zero_to_one, 1) && !holds(zero_to_one, 2));
        assert!(!holds(AT_LEAST_ONE, 0) && holds(AT_LEAST_ONE, 7));
    }
}
