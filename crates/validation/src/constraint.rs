//! Invariants (`ElementDefinition.constraint`) compiled once: [`Constraint`], and the cache that
//! shares one compiled copy between every element and definition that repeats it.

use std::collections::HashMap;
use std::sync::Arc;

use medulla_fhirpath::FhirPath;
use serde_json::Value as Json;

use crate::outcome::Severity;

/// `ele-1`'s expression, which every element of every definition carries. It is checked by
/// [`has_value_or_children`] instead of the FHIRPath engine: it would otherwise be most of the
/// validation time, and a test checks that both agree.
pub(crate) const ELE_1_EXPRESSION: &str = "hasValue() or (children().count() > id.count())";

/// One invariant of an element.
#[derive(Debug)]
pub struct Constraint {
    /// The key: `ele-1`, `obs-6`, `dom-3`.
    pub key: String,
    /// `error` constraints make the resource invalid; `warning` ones do not.
    pub severity: Severity,
    /// The human description, quoted in issues.
    pub human: String,
    /// The FHIRPath expression, if the definition gives one.
    pub expression: Option<String>,
    pub(crate) check: ConstraintCheck,
}

impl Constraint {
    /// Why the constraint is not evaluated (an expression the engine cannot compile, or none);
    /// `None` when it is.
    pub fn not_evaluated_reason(&self) -> Option<&str> {
        match &self.check {
            ConstraintCheck::NotEvaluated(reason) => Some(reason),
            _ => None,
        }
    }
}

/// How a constraint is checked.
#[derive(Debug)]
pub(crate) enum ConstraintCheck {
    /// `ele-1`, natively.
    HasValueOrChildren,
    /// A compiled FHIRPath expression.
    Expression(Box<FhirPath>),
    /// Not checked, with the reason.
    NotEvaluated(String),
}

/// Compiled constraints by their full text, so that `ele-1` and `dom-*`, repeated on thousands of
/// elements, are compiled once.
#[derive(Debug, Default)]
pub(crate) struct ConstraintCache {
    by_text: HashMap<[String; 4], Arc<Constraint>>,
}

impl ConstraintCache {
    /// The compiled constraint for a raw `ElementDefinition.constraint`; `None` when it has no
    /// key.
    pub(crate) fn constraint(&mut self, raw: &Json) -> Option<Arc<Constraint>> {
        let text = |key: &str| raw.get(key).and_then(Json::as_str).unwrap_or("").to_owned();
        let key = text("key");
        if key.is_empty() {
            return None;
        }
        let cache_key = [key, text("severity"), text("human"), text("expression")];
        if let Some(constraint) = self.by_text.get(&cache_key) {
            return Some(Arc::clone(constraint));
        }
        let [key, severity, human, expression] = cache_key.clone();
        let severity = if severity == "warning" {
            Severity::Warning
        } else {
            Severity::Error
        };
        let check = if expression.is_empty() {
            ConstraintCheck::NotEvaluated("the constraint has no FHIRPath expression".to_owned())
        } else if expression == ELE_1_EXPRESSION {
            ConstraintCheck::HasValueOrChildren
        } else {
            match FhirPath::compile(&lenient_as(&expression)) {
                Ok(path) => ConstraintCheck::Expression(Box::new(path)),
                Err(error) => ConstraintCheck::NotEvaluated(error.to_string()),
            }
        };
        let constraint = Arc::new(Constraint {
            key,
            severity,
            human,
            expression: (!expression.is_empty()).then_some(expression),
            check,
        });
        self.by_text.insert(cache_key, Arc::clone(&constraint));
        Some(constraint)
    }
}

/// The expression with each `.as(T)` function call written `.ofType(T)`.
///
/// FHIRPath's `as()` demands at most one input item, and this crate's engine enforces that; the
/// HL7 Java validator filters instead, and R4 invariants rely on it (`dom-3` applies
/// `descendants().as(canonical)` to every node of the resource). On one item or none both mean
/// the same; on more, `ofType()` is exactly what the Java validator computes.
fn lenient_as(expression: &str) -> String {
    expression.replace(".as(", ".ofType(")
}

/// `ele-1` for one value: a primitive has a value, or an extension in its `_name` companion;
/// an object has some property besides `id`.
pub(crate) fn has_value_or_children(value: Option<&Json>, companion: Option<&Json>) -> bool {
    let has_content = |json: &Json| match json {
        Json::Null => false,
        Json::Array(items) => items.iter().any(|item| !item.is_null()),
        _ => true,
    };
    match value {
        Some(Json::Object(map)) => map
            .iter()
            .any(|(key, child)| key != "id" && has_content(child)),
        Some(Json::Null) | None => companion
            .and_then(|companion| companion.get("extension"))
            .is_some_and(has_content),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medulla_fhirpath::{Environment, Node, Value};
    use serde_json::json;

    #[test]
    fn native_ele_1_agrees_with_the_fhirpath_expression_on_objects() {
        let expression = FhirPath::compile(ELE_1_EXPRESSION).expect("ele-1 compiles");
        let human_name = medulla_model::definitions().type_def("HumanName");
        for sample in [
            json!({"family": "Chalmers"}),
            json!({"id": "a"}),
            json!({"id": "a", "given": ["Peter"]}),
            json!({"extension": [{"url": "http://example.org", "valueString": "x"}]}),
            json!({"id": "a", "extension": []}),
            json!({"_family": {"extension": [{"url": "http://e.org", "valueCode": "x"}]}}),
            json!({}),
        ] {
            let node = Value::Node(Node::new(&sample, human_name));
            let result = expression
                .evaluate_collection(&[node], &Environment::new())
                .expect("evaluates");
            let fhirpath = matches!(result.as_slice(), [Value::Boolean(true)]);
            assert_eq!(
                has_value_or_children(Some(&sample), None),
                fhirpath,
                "{sample}"
            );
        }
    }

    #[test]
    fn native_ele_1_on_primitives_looks_at_value_then_extensions() {
        assert!(has_value_or_children(Some(&json!("x")), None));
        assert!(has_value_or_children(
            None,
            Some(&json!({"extension": [{"url": "u", "valueCode": "c"}]}))
        ));
        assert!(!has_value_or_children(None, Some(&json!({"id": "a"}))));
        assert!(!has_value_or_children(Some(&Json::Null), None));
    }

    #[test]
    fn dom_3_filters_descendants_by_type_as_the_java_validator_does() {
        let structures = crate::Structures::r4();
        let dom_3 = structures
            .for_type("Patient")
            .and_then(|patient| patient.elements().first())
            .and_then(|root| root.constraints.iter().find(|c| c.key == "dom-3"))
            .expect("Patient has dom-3");
        let ConstraintCheck::Expression(expression) = &dom_3.check else {
            panic!("dom-3 compiles");
        };
        let patient = json!({"resourceType": "Patient",
            "contained": [{"resourceType": "Organization", "id": "o", "name": "X"}],
            "name": [{"family": "A"}], "managingOrganization": {"reference": "#o"}});
        let result = expression
            .evaluate(Some(&patient), &Environment::new())
            .expect("evaluates on many descendants");
        assert!(matches!(result.as_slice(), [Value::Boolean(true)]));
        assert_eq!(
            lenient_as("a.as(uri) | b.as(url)"),
            "a.ofType(uri) | b.ofType(url)"
        );
    }

    #[test]
    fn repeated_constraints_are_compiled_once() {
        let mut cache = ConstraintCache::default();
        let raw = json!({"key": "obs-6", "severity": "error", "human": "h",
                         "expression": "dataAbsentReason.empty() or value.empty()"});
        let first = cache.constraint(&raw).expect("has a key");
        let second = cache.constraint(&raw).expect("has a key");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(matches!(first.check, ConstraintCheck::Expression(_)));
        let broken = cache
            .constraint(&json!({"key": "x-1", "severity": "warning", "human": "h",
                                "expression": "noSuchFunction()"}))
            .expect("has a key");
        assert_eq!(broken.severity, Severity::Warning);
        assert!(broken.not_evaluated_reason().is_some());
    }
}
