//! Search parameters derived from others of the same resource type, found in the R4
//! definitions: they get no index rows of their own, and searches use their members' rows.
//!
//! Two shapes occur, both by expression text:
//! - a **union**: the expression's parts (`A | B`) are exactly the parts of other parameters
//!   of the same type and kind (`Observation.combo-code` = `code` ∪ `component-code`;
//!   composites must also have the same component expressions);
//! - a **restriction**: a reference parameter `E.where(resolve() is T)` where another
//!   reference parameter is `E` (`Observation.patient` = `subject` pointing at a Patient).
//!
//! Such pairs hold the same values, so indexing both would write them twice (a quarter of
//! the index rows of typical clinical data).

use medulla_model::{SearchParamDef, SearchParamType, definitions};
use medulla_store::{AliasMember, ParamAliases};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

static ALIASES: LazyLock<ParamAliases> = LazyLock::new(compute);

/// The derived parameters of every resource type.
pub fn param_aliases() -> &'static ParamAliases {
    &ALIASES
}

/// True when `code` of `resource_type` is derived (and so has no index rows of its own).
pub(crate) fn is_derived(resource_type: &str, code: &str) -> bool {
    ALIASES.members(resource_type, code).is_some()
}

/// The parts of `expression` that apply to `resource_type`: its top-level `|` alternatives
/// that start at that type, with enclosing parentheses and spaces removed.
fn own_parts(expression: &str, resource_type: &str) -> BTreeSet<String> {
    split_top_level(expression)
        .into_iter()
        .map(|part| strip_parens(part.trim()).to_owned())
        .filter(|part| {
            part == resource_type
                || part
                    .strip_prefix(resource_type)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with(' '))
        })
        .collect()
}

fn split_top_level(expression: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut quoted) = (0_i32, 0, false);
    for (at, c) in expression.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            '|' if !quoted && depth == 0 => {
                parts.push(&expression[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&expression[start..]);
    parts
}

/// `(x)` → `x`, when the parentheses enclose the whole text.
fn strip_parens(text: &str) -> &str {
    let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return text;
    };
    let mut depth = 0_i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return text;
                }
            }
            _ => {}
        }
    }
    if depth == 0 { inner.trim() } else { text }
}

struct Candidate<'d> {
    def: &'d SearchParamDef,
    parts: BTreeSet<String>,
}

fn same_components(a: &SearchParamDef, b: &SearchParamDef) -> bool {
    a.components.len() == b.components.len()
        && a.components
            .iter()
            .zip(&b.components)
            .all(|(x, y)| x.expression.trim() == y.expression.trim())
}

fn compute() -> ParamAliases {
    let mut aliases = ParamAliases::default();
    let defs = definitions();
    for resource_type in defs.resource_types() {
        let candidates: Vec<Candidate<'_>> = defs
            .search_params(resource_type)
            .filter(|def| !def.code.starts_with('_'))
            .filter_map(|def| {
                let parts = own_parts(def.expression.as_deref()?, resource_type);
                (!parts.is_empty()).then_some(Candidate { def, parts })
            })
            .collect();
        let by_parts: HashMap<&BTreeSet<String>, &Candidate<'_>> =
            candidates.iter().map(|c| (&c.parts, c)).collect();
        for candidate in &candidates {
            if let Some(members) = derivation(candidate, &candidates, &by_parts) {
                aliases.insert(resource_type, &candidate.def.code, members);
            }
        }
    }
    aliases
}

fn derivation(
    candidate: &Candidate<'_>,
    candidates: &[Candidate<'_>],
    by_parts: &HashMap<&BTreeSet<String>, &Candidate<'_>>,
) -> Option<Vec<AliasMember>> {
    let def = candidate.def;
    // A restriction: `E.where(resolve() is T)` of a plain `E`.
    if def.kind == SearchParamType::Reference && candidate.parts.len() == 1 {
        let part = candidate.parts.iter().next()?;
        if let Some((base, target)) = restriction(part) {
            let base_parts = BTreeSet::from([base.to_owned()]);
            if let Some(member) = by_parts.get(&base_parts)
                && member.def.kind == SearchParamType::Reference
                && member.def.code != def.code
            {
                return Some(vec![AliasMember {
                    code: member.def.code.clone(),
                    target_type: Some(target.to_owned()),
                }]);
            }
        }
        return None;
    }
    // A union: other parameters of the same kind whose parts are a proper subset, together
    // covering every part.
    if candidate.parts.len() < 2 {
        return None;
    }
    let members: Vec<&Candidate<'_>> = candidates
        .iter()
        .filter(|other| {
            other.def.code != def.code
                && other.def.kind == def.kind
                && other.parts.len() < candidate.parts.len()
                && other.parts.is_subset(&candidate.parts)
                && (def.kind != SearchParamType::Composite || same_components(def, other.def))
        })
        .collect();
    let covered: BTreeSet<&String> = members.iter().flat_map(|m| &m.parts).collect();
    if covered.len() != candidate.parts.len() {
        return None;
    }
    // Members that are themselves unions of the others are redundant but harmless; a member
    // that is itself derived would have no rows, so only underived ones qualify.
    let mut codes: Vec<AliasMember> = members
        .iter()
        .filter(|m| derivation(m, candidates, by_parts).is_none())
        .map(|m| AliasMember {
            code: m.def.code.clone(),
            target_type: None,
        })
        .collect();
    let underived: BTreeSet<&String> = members
        .iter()
        .filter(|m| codes.iter().any(|c| c.code == m.def.code))
        .flat_map(|m| &m.parts)
        .collect();
    if underived.len() != candidate.parts.len() {
        return None;
    }
    codes.sort();
    Some(codes)
}

/// `E.where(resolve() is T)` → (`E`, `T`).
fn restriction(part: &str) -> Option<(&str, &str)> {
    let (base, rest) = part.split_once(".where(resolve() is ")?;
    let target = rest.strip_suffix(')')?;
    target
        .chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then_some((base, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(resource_type: &str, code: &str) -> Vec<(String, Option<String>)> {
        param_aliases()
            .members(resource_type, code)
            .unwrap_or_default()
            .iter()
            .map(|m| (m.code.clone(), m.target_type.clone()))
            .collect()
    }

    #[test]
    fn unions_and_restrictions_are_found_in_the_definitions() {
        assert_eq!(
            members("Observation", "combo-code"),
            vec![("code".into(), None), ("component-code".into(), None)]
        );
        assert_eq!(
            members("Observation", "combo-code-value-quantity"),
            vec![
                ("code-value-quantity".into(), None),
                ("component-code-value-quantity".into(), None)
            ]
        );
        assert_eq!(
            members("Observation", "patient"),
            vec![("subject".into(), Some("Patient".into()))]
        );
        assert_eq!(
            members("Encounter", "practitioner"),
            vec![("participant".into(), Some("Practitioner".into()))]
        );
        // Parameters with their own path stay indexed.
        for (resource_type, code) in [
            ("Observation", "code"),
            ("Observation", "subject"),
            ("Observation", "code-value-quantity"),
            ("Claim", "patient"),
            ("AllergyIntolerance", "patient"),
            ("Patient", "name"),
        ] {
            assert!(
                !is_derived(resource_type, code),
                "{resource_type}.{code} is not derived"
            );
        }
        // Members are never derived themselves.
        for resource_type in definitions().resource_types() {
            for def in definitions().search_params(resource_type) {
                for member in param_aliases()
                    .members(resource_type, &def.code)
                    .unwrap_or_default()
                {
                    assert!(!is_derived(resource_type, &member.code));
                }
            }
        }
    }

    #[test]
    fn expression_parts() {
        assert_eq!(
            own_parts(
                "(Observation.value as CodeableConcept) | (Observation.component.value as CodeableConcept) | Condition.code",
                "Observation"
            ),
            BTreeSet::from([
                "Observation.value as CodeableConcept".to_owned(),
                "Observation.component.value as CodeableConcept".to_owned()
            ])
        );
        assert_eq!(strip_parens("(a) | (b)"), "(a) | (b)");
        assert_eq!(
            restriction("Observation.subject.where(resolve() is Patient)"),
            Some(("Observation.subject", "Patient"))
        );
    }
}
