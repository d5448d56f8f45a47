//! Evaluating an [`Expression`] over one code system: [`evaluate`]. Every result is a sorted
//! list of ordinals of active concepts; compound expressions merge such lists, refinements
//! narrow one ([`super::refinement`]).

use super::{Expression, Focus, HierarchyOperator, SubExpression};
use crate::Error;
use crate::code_system::CodeSystem;
use crate::text_index::intersect_sorted;

/// The active concepts of `system` that `expression` selects, sorted by ordinal. `text` is the
/// expression as written, for error messages.
///
/// # Errors
///
/// [`Error::EclNotSupported`] for what the evaluator does not have (see [`super`]).
pub(crate) fn evaluate(
    system: &CodeSystem,
    expression: &Expression,
    text: &str,
) -> Result<Vec<u32>, Error> {
    let sub = |sub: &SubExpression| evaluate_sub(system, sub, text);
    match expression {
        Expression::Sub(only) => sub(only),
        Expression::And(operands) => {
            let mut result: Option<Vec<u32>> = None;
            for operand in operands {
                let members = sub(operand)?;
                result = Some(match result {
                    None => members,
                    Some(so_far) => intersect_sorted(&so_far, &members),
                });
            }
            Ok(result.unwrap_or_default())
        }
        Expression::Or(operands) => {
            let mut result = Vec::new();
            for operand in operands {
                result.extend(sub(operand)?);
            }
            result.sort_unstable();
            result.dedup();
            Ok(result)
        }
        Expression::Minus(left, right) => {
            let left = sub(left)?;
            let right = sub(right)?;
            Ok(left
                .into_iter()
                .filter(|ordinal| right.binary_search(ordinal).is_err())
                .collect())
        }
        Expression::Refined(focus, refinement) => {
            let focus = sub(focus)?;
            super::refinement::refine(system, focus, refinement, text)
        }
    }
}

/// `[operator] [^] focus`: the focus concepts, their reference set members with `^`, then the
/// hierarchy operator applied to those.
pub(crate) fn evaluate_sub(
    system: &CodeSystem,
    sub: &SubExpression,
    text: &str,
) -> Result<Vec<u32>, Error> {
    let mut focus: Vec<u32> = match &sub.focus {
        Focus::Concept { id, .. } => system.ordinal(id).into_iter().collect(),
        // "Members of any reference set".
        Focus::Wildcard if sub.member_of => system.refsets.refsets().to_vec(),
        Focus::Wildcard => return Ok(wildcard(system, sub.operator)),
        Focus::Nested(nested) => evaluate(system, nested, text)?,
    };
    if sub.member_of {
        focus = members_of(system, &focus);
    }
    let mut result = match sub.operator {
        None => focus,
        Some(operator) => apply_operator(system, operator, &focus),
    };
    result.retain(|&ordinal| !system.is_inactive(ordinal));
    Ok(result)
}

/// The members of the reference sets `refsets`, sorted.
fn members_of(system: &CodeSystem, refsets: &[u32]) -> Vec<u32> {
    match refsets {
        [] => Vec::new(),
        [only] => system.refsets.members(*only).to_vec(),
        _ => {
            let mut members: Vec<u32> = refsets
                .iter()
                .flat_map(|&refset| system.refsets.members(refset).iter().copied())
                .collect();
            members.sort_unstable();
            members.dedup();
            members
        }
    }
}

/// A hierarchy operator on `*`, the active concepts.
fn wildcard(system: &CodeSystem, operator: Option<HierarchyOperator>) -> Vec<u32> {
    let all_active = (0..system.len())
        .filter_map(|ordinal| u32::try_from(ordinal).ok())
        .filter(|&ordinal| !system.is_inactive(ordinal));
    match operator {
        // Descendants (children) of any concept: every concept with a parent.
        Some(HierarchyOperator::DescendantOf | HierarchyOperator::ChildOf) => all_active
            .filter(|&ordinal| !system.hierarchy.parents(ordinal).is_empty())
            .collect(),
        // Ancestors (parents) of any concept: every concept with a child.
        Some(HierarchyOperator::AncestorOf | HierarchyOperator::ParentOf) => all_active
            .filter(|&ordinal| !system.hierarchy.children(ordinal).is_empty())
            .collect(),
        // The "or self" forms add every concept.
        _ => all_active.collect(),
    }
}

/// The union of `operator` applied to each of `focus`, sorted.
fn apply_operator(system: &CodeSystem, operator: HierarchyOperator, focus: &[u32]) -> Vec<u32> {
    let hierarchy = &system.hierarchy;
    if let [only] = focus {
        // One focus concept (the common case): the descendant walk is already sorted.
        match operator {
            HierarchyOperator::DescendantOf => return hierarchy.descendants(*only, false),
            HierarchyOperator::DescendantOrSelfOf => return hierarchy.descendants(*only, true),
            _ => {}
        }
    }
    let mut result: Vec<u32> = Vec::new();
    for &concept in focus {
        match operator {
            HierarchyOperator::DescendantOf => result.extend(hierarchy.descendants(concept, false)),
            HierarchyOperator::DescendantOrSelfOf => {
                result.extend(hierarchy.descendants(concept, true));
            }
            HierarchyOperator::ChildOf => result.extend_from_slice(hierarchy.children(concept)),
            HierarchyOperator::ChildOrSelfOf => {
                result.push(concept);
                result.extend_from_slice(hierarchy.children(concept));
            }
            HierarchyOperator::AncestorOf => result.extend_from_slice(hierarchy.ancestors(concept)),
            HierarchyOperator::AncestorOrSelfOf => {
                result.push(concept);
                result.extend_from_slice(hierarchy.ancestors(concept));
            }
            HierarchyOperator::ParentOf => result.extend_from_slice(hierarchy.parents(concept)),
            HierarchyOperator::ParentOrSelfOf => {
                result.push(concept);
                result.extend_from_slice(hierarchy.parents(concept));
            }
        }
    }
    result.sort_unstable();
    result.dedup();
    result
}
