//! The evaluator: walks a compiled [`Plan`] over a collection. Operators live here; functions
//! in [`functions`], path steps in [`navigation`].

mod arithmetic;
mod collections;
mod conversion;
mod functions;
pub(crate) mod navigation;
mod strings;

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use medulla_model::{TypeDef, TypeKind, definitions};
use regex::Regex;
use serde_json::Value as Json;

use crate::compile::{LiteralValue, MemberPlan, Plan, UnionBranch};
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::syntax::ast::BinaryOperator;
use crate::value::{
    Collection, Node, Temporal, Value, compare_items, items_equal, items_equivalent,
};

/// Largest collection an evaluation builds; past it the evaluation fails rather than exhaust
/// memory (`repeat()` over a cycle, `descendants()` of a huge input).
pub(crate) const MAX_COLLECTION: usize = 1_000_000;

/// What `$this`, `$index` and `$total` are at a point of evaluation.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'s, 'a> {
    pub(crate) this: &'s [Value<'a>],
    pub(crate) index: Option<usize>,
    pub(crate) total: Option<&'s [Value<'a>]>,
}

/// One evaluation's state.
pub(crate) struct Evaluator<'e, 'a> {
    pub(crate) environment: &'e Environment<'a>,
    pub(crate) context: &'e [Value<'a>],
    pub(crate) resource: Option<&'a Json>,
    pub(crate) root_resource: Option<&'a Json>,
    pub(crate) strict: bool,
    /// The clock, read at the first `now()`, `today()` or `timeOfDay()` of the evaluation.
    pub(crate) now: OnceCell<Temporal>,
    pub(crate) regexes: RefCell<HashMap<String, Regex>>,
}

pub(crate) fn singleton<'c, 'a>(
    collection: &'c [Value<'a>],
    operation: &str,
) -> Result<Option<&'c Value<'a>>> {
    match collection {
        [] => Ok(None),
        [item] => Ok(Some(item)),
        _ => Err(Error::evaluation(
            operation,
            format!("expected at most one item, got {}", collection.len()),
        )),
    }
}

/// Singleton evaluation to a boolean: empty is unknown, one boolean is itself, one other item
/// is true, more than one is an error.
pub(crate) fn to_boolean(collection: &[Value<'_>], operation: &str) -> Result<Option<bool>> {
    Ok(match singleton(collection, operation)? {
        None => None,
        Some(item) => match item.to_system().as_ref() {
            Value::Boolean(value) => Some(*value),
            _ => Some(true),
        },
    })
}

fn boolean<'a>(value: Option<bool>) -> Collection<'a> {
    value.map(Value::Boolean).into_iter().collect()
}

pub(crate) fn now_temporal() -> Temporal {
    let now = time::OffsetDateTime::now_utc();
    Temporal {
        year: now.year(),
        month: u8::from(now.month()),
        day: now.day(),
        hour: now.hour(),
        minute: now.minute(),
        second: now.second(),
        millisecond: now.millisecond(),
        precision: crate::value::Precision::Millisecond,
        offset_minutes: Some(0),
    }
}

impl<'e, 'a> Evaluator<'e, 'a> {
    /// The evaluation's one moment: the environment's clock, or the time it is first asked.
    pub(crate) fn now(&self) -> Temporal {
        *self.now.get_or_init(now_temporal)
    }

    pub(crate) fn evaluate(&self, plan: &'a Plan) -> Result<Collection<'a>> {
        let scope = Scope {
            this: self.context,
            index: None,
            total: None,
        };
        self.eval(plan, self.context, &scope)
    }

    pub(crate) fn eval(
        &self,
        plan: &'a Plan,
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        match plan {
            Plan::Empty => Ok(Vec::new()),
            Plan::Literal(literal) => Ok(vec![literal_value(literal)]),
            Plan::Member(member) => self.member(input, member),
            Plan::Invoke { target, member } => {
                let target = self.eval(target, input, scope)?;
                if target.is_empty() && member.is_empty_on_empty() {
                    return Ok(target);
                }
                self.eval(member, &target, scope)
            }
            Plan::Function {
                function,
                arguments,
                type_argument,
                position,
            } => self.function(
                *function,
                arguments,
                *type_argument,
                *position,
                input,
                scope,
            ),
            Plan::Indexer { target, index } => {
                let target = self.eval(target, input, scope)?;
                let index = self.eval(index, scope.this, scope)?;
                let Some(index) = singleton(&index, "[]")? else {
                    return Ok(Vec::new());
                };
                let Value::Integer(index) = index.to_system().into_owned() else {
                    return Err(Error::evaluation("[]", "the index must be an integer"));
                };
                Ok(usize::try_from(index)
                    .ok()
                    .and_then(|index| target.into_iter().nth(index))
                    .into_iter()
                    .collect())
            }
            Plan::Negate(operand) => {
                let operand = self.eval(operand, input, scope)?;
                arithmetic::negate(&operand)
            }
            Plan::Union(branches) => self.union(branches, input, scope),
            Plan::Binary {
                operator,
                left,
                right,
            } => self.binary(*operator, left, right, input, scope),
            Plan::TypeOperation {
                is_cast,
                operand,
                type_ref,
            } => {
                let operand = self.eval(operand, input, scope)?;
                let operation = if *is_cast { "as" } else { "is" };
                let Some(item) = singleton(&operand, operation)? else {
                    return Ok(Vec::new());
                };
                let matches = type_ref.matches(item, *is_cast);
                Ok(if *is_cast {
                    if matches {
                        vec![item.clone()]
                    } else {
                        Vec::new()
                    }
                } else {
                    vec![Value::Boolean(matches)]
                })
            }
            Plan::This => Ok(scope.this.to_vec()),
            Plan::Index => Ok(scope
                .index
                .and_then(|index| i64::try_from(index).ok())
                .map(Value::Integer)
                .into_iter()
                .collect()),
            Plan::Total => Ok(scope.total.map(<[Value<'a>]>::to_vec).unwrap_or_default()),
            Plan::Variable(name) => self.variable(name),
        }
    }

    fn variable(&self, name: &str) -> Result<Collection<'a>> {
        let resource = |json: Option<&'a Json>| match json {
            Some(json) => vec![Value::Node(Node::resource(json))],
            None => self.context.to_vec(),
        };
        let text = |text: &'static str| Ok(vec![Value::String(Cow::Borrowed(text))]);
        match name {
            "context" => Ok(self.context.to_vec()),
            "resource" => Ok(resource(self.resource)),
            "rootResource" => Ok(resource(self.root_resource.or(self.resource))),
            "ucum" => text("http://unitsofmeasure.org"),
            "sct" => text("http://snomed.info/sct"),
            "loinc" => text("http://loinc.org"),
            _ => {
                if let Some(value) = self.environment.variables.get(name) {
                    return Ok(value.clone());
                }
                if let Some(value_set) = name.strip_prefix("vs-") {
                    return Ok(vec![Value::String(Cow::Owned(format!(
                        "http://hl7.org/fhir/ValueSet/{value_set}"
                    )))]);
                }
                if let Some(extension) = name.strip_prefix("ext-") {
                    return Ok(vec![Value::String(Cow::Owned(format!(
                        "http://hl7.org/fhir/StructureDefinition/{extension}"
                    )))]);
                }
                Err(Error::evaluation(
                    format!("%{name}"),
                    format!("unknown variable '%{name}'"),
                ))
            }
        }
    }

    fn member(&self, input: &[Value<'a>], member: &MemberPlan) -> Result<Collection<'a>> {
        let MemberPlan {
            name,
            underscore_name,
            at_start,
            position,
            type_name,
            hint,
        } = member;
        let mut out = Vec::new();
        let is_type_name = *at_start && name.starts_with(|c: char| c.is_ascii_uppercase());
        // Strict checks judge the static type of the input; a mixed collection (from
        // `descendants()`, say) has none, so it is navigated leniently.
        let strict = self.strict && is_homogeneous(input);
        for item in input {
            match item {
                Value::Node(node) => {
                    if is_type_name
                        && let Some(actual) = node.type_def
                        && let Some(wanted) = type_name
                    {
                        if is_same_or_subtype(actual, wanted) {
                            out.push(item.clone());
                            continue;
                        }
                        if strict {
                            return Err(Error::Semantic {
                                position: *position,
                                message: format!("the input is a {}, not a {name}", actual.name),
                            });
                        }
                        // A typed node of another type: no element is named like a type
                        // (element names start in lower case), so there is nothing to step to.
                        continue;
                    }
                    navigation::push_named_children(
                        node,
                        name,
                        underscore_name,
                        hint.as_ref(),
                        strict,
                        &mut out,
                    )
                    .map_err(|error| Error::Semantic {
                        position: *position,
                        message: error.0,
                    })?;
                }
                Value::TypeInfo(info) => match name.as_str() {
                    "namespace" => out.push(Value::String(Cow::Owned(info.namespace.to_owned()))),
                    "name" => out.push(Value::String(Cow::Owned(info.name.clone()))),
                    _ => {}
                },
                _ => {}
            }
            if out.len() > MAX_COLLECTION {
                return Err(too_large(name));
            }
        }
        Ok(out)
    }

    fn union(
        &self,
        branches: &'a [UnionBranch],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        let mut all = Vec::new();
        for branch in branches {
            if !self.strict
                && let Some(root_type) = branch.root_type
                && !input.iter().any(|item| could_be_of_type(item, root_type))
            {
                continue;
            }
            all.extend(self.eval(&branch.plan, input, scope)?);
            if all.len() > MAX_COLLECTION {
                return Err(too_large("|"));
            }
        }
        if all.len() <= 1 {
            return Ok(all);
        }
        Ok(collections::distinct(&all))
    }

    fn binary(
        &self,
        operator: BinaryOperator,
        left: &'a Plan,
        right: &'a Plan,
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        use BinaryOperator as Op;
        let symbol = operator.symbol();
        // Boolean operators evaluate the right side only when it can change the answer.
        match operator {
            Op::And | Op::Or | Op::Implies => {
                let left_value = to_boolean(&self.eval(left, input, scope)?, symbol)?;
                let short = match (operator, left_value) {
                    (Op::And, Some(false)) => Some(false),
                    (Op::Or, Some(true)) => Some(true),
                    (Op::Implies, Some(false)) => Some(true),
                    _ => None,
                };
                if short.is_some() {
                    return Ok(boolean(short));
                }
                let right_value = to_boolean(&self.eval(right, input, scope)?, symbol)?;
                return Ok(boolean(match operator {
                    Op::And => match (left_value, right_value) {
                        (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    Op::Or => match (left_value, right_value) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    _ => match (left_value, right_value) {
                        (Some(true), right) => right,
                        (None, Some(true)) => Some(true),
                        _ => None,
                    },
                }));
            }
            _ => {}
        }
        let left = self.eval(left, input, scope)?;
        let right = self.eval(right, input, scope)?;
        match operator {
            Op::Xor => {
                let (a, b) = (to_boolean(&left, symbol)?, to_boolean(&right, symbol)?);
                Ok(boolean(a.zip(b).map(|(a, b)| a != b)))
            }
            Op::Union => collections::union(left, right),
            Op::Equal => Ok(boolean(collection_equal(&left, &right))),
            Op::NotEqual => Ok(boolean(collection_equal(&left, &right).map(|value| !value))),
            Op::Equivalent => Ok(vec![Value::Boolean(collection_equivalent(&left, &right))]),
            Op::NotEquivalent => Ok(vec![Value::Boolean(!collection_equivalent(&left, &right))]),
            Op::LessThan | Op::LessOrEqual | Op::GreaterThan | Op::GreaterOrEqual => {
                let (Some(a), Some(b)) = (singleton(&left, symbol)?, singleton(&right, symbol)?)
                else {
                    return Ok(Vec::new());
                };
                let ordering = compare_items(a, b).map_err(|_| {
                    Error::evaluation(
                        symbol,
                        format!("cannot compare {} with {}", a.type_name(), b.type_name()),
                    )
                })?;
                Ok(boolean(ordering.map(|ordering| match operator {
                    Op::LessThan => ordering.is_lt(),
                    Op::LessOrEqual => ordering.is_le(),
                    Op::GreaterThan => ordering.is_gt(),
                    _ => ordering.is_ge(),
                })))
            }
            Op::In | Op::Contains => {
                let (item, collection) = if operator == Op::In {
                    (&left, &right)
                } else {
                    (&right, &left)
                };
                let Some(item) = singleton(item, symbol)? else {
                    return Ok(Vec::new());
                };
                Ok(vec![Value::Boolean(
                    collection
                        .iter()
                        .any(|other| items_equal(item, other) == Some(true)),
                )])
            }
            _ => arithmetic::binary(operator, &left, &right),
        }
    }
}

/// Whether a path starting with the concrete resource type `root_type` can yield anything on
/// `item`: only on a node of that type, or one the model does not type (navigated by name).
fn could_be_of_type(item: &Value<'_>, root_type: &'static TypeDef) -> bool {
    match item {
        Value::Node(node) => node
            .type_def
            .is_none_or(|actual| std::ptr::eq(actual, root_type)),
        _ => false,
    }
}

/// Whether `actual` is `wanted` or derives from it. A concrete resource type has no subtypes,
/// so it needs no walk up the base types.
fn is_same_or_subtype(actual: &'static TypeDef, wanted: &'static TypeDef) -> bool {
    if std::ptr::eq(actual, wanted) {
        return true;
    }
    if wanted.kind == TypeKind::Resource {
        if !wanted.is_abstract {
            return false;
        }
        // Every resource is a `Resource`, the root of the resource types.
        if wanted.base.is_none() && actual.kind == TypeKind::Resource {
            return true;
        }
    }
    if actual.base.as_deref() == Some(wanted.name.as_str()) {
        return true;
    }
    definitions().is_subtype_of(&actual.name, &wanted.name)
}

/// Whether every item is a node of one and the same type.
fn is_homogeneous(input: &[Value<'_>]) -> bool {
    let mut types = input.iter().map(|item| match item {
        Value::Node(node) => node.type_name(),
        _ => None,
    });
    match types.next() {
        Some(Some(first)) => types.all(|other| other == Some(first)),
        _ => false,
    }
}

pub(crate) fn too_large(operation: &str) -> Error {
    Error::evaluation(
        operation,
        format!("the result has more than {MAX_COLLECTION} items"),
    )
}

pub(crate) fn literal_value(literal: &LiteralValue) -> Value<'_> {
    match literal {
        LiteralValue::Boolean(value) => Value::Boolean(*value),
        LiteralValue::Integer(value) => Value::Integer(*value),
        LiteralValue::Decimal(value) => Value::Decimal(*value),
        LiteralValue::String(text) => Value::String(Cow::Borrowed(text)),
        LiteralValue::Date(value) => Value::Date(*value),
        LiteralValue::DateTime(value) => Value::DateTime(*value),
        LiteralValue::Time(value) => Value::Time(*value),
        LiteralValue::Quantity(quantity) => Value::Quantity(Box::new(quantity.clone())),
    }
}

/// `=` between collections.
pub(crate) fn collection_equal(left: &[Value<'_>], right: &[Value<'_>]) -> Option<bool> {
    if left.is_empty() || right.is_empty() {
        return None;
    }
    if left.len() != right.len() {
        return Some(false);
    }
    let mut unknown = false;
    for (a, b) in left.iter().zip(right) {
        match items_equal(a, b) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    (!unknown).then_some(true)
}

/// `~` between collections: same size, and each item equivalent to a distinct other.
pub(crate) fn collection_equivalent(left: &[Value<'_>], right: &[Value<'_>]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let mut used = vec![false; right.len()];
    left.iter().all(|a| {
        let found = right.iter().enumerate().find(|(index, b)| {
            !used.get(*index).copied().unwrap_or(true) && items_equivalent(a, b)
        });
        match found {
            Some((index, _)) => {
                if let Some(slot) = used.get_mut(index) {
                    *slot = true;
                }
                true
            }
            None => false,
        }
    })
}
