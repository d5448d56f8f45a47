//! The functions of FHIRPath and its FHIR additions.

use std::borrow::Cow;
use std::cmp::Ordering;

use medulla_model::definitions;
use regex::Regex;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::Value as Json;

use crate::compile::{Function, Plan};
use crate::environment::Coding;
use crate::error::{Error, Result};
use crate::eval::conversion::{Target, convert};
use crate::eval::{
    Evaluator, MAX_COLLECTION, Scope, collections, navigation, singleton, strings, to_boolean,
    too_large,
};
use crate::types::{TypeRef, type_info};
use crate::value::{Collection, Node, Precision, Quantity, Temporal, Value, compare_items};

fn error(function: Function, message: impl Into<String>) -> Error {
    Error::evaluation(format!("{}()", function.name()), message)
}

fn one<'a>(value: Value<'a>) -> Collection<'a> {
    vec![value]
}

fn boolean<'a>(value: bool) -> Collection<'a> {
    vec![Value::Boolean(value)]
}

/// Longest regular expression accepted, and the compiled size limit: the `regex` crate runs
/// in linear time, so these bound the only other cost.
const MAX_REGEX_BYTES: usize = 10_000;
const REGEX_SIZE_LIMIT: usize = 1 << 22;

impl<'e, 'a> Evaluator<'e, 'a> {
    /// Evaluates argument `index` (not per item: with the caller's `$this` as input).
    fn argument(
        &self,
        arguments: &'a [Plan],
        index: usize,
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        match arguments.get(index) {
            Some(plan) => self.eval(plan, scope.this, scope),
            None => Ok(Vec::new()),
        }
    }

    fn string_argument(
        &self,
        function: Function,
        arguments: &'a [Plan],
        index: usize,
        scope: &Scope<'_, 'a>,
    ) -> Result<Option<String>> {
        let values = self.argument(arguments, index, scope)?;
        match singleton(&values, function.name())? {
            None => Ok(None),
            Some(value) => match value.as_str() {
                Some(text) => Ok(Some(text.to_owned())),
                None => Err(error(
                    function,
                    format!(
                        "argument {} must be a string, got {}",
                        index + 1,
                        value.type_name()
                    ),
                )),
            },
        }
    }

    fn integer_argument(
        &self,
        function: Function,
        arguments: &'a [Plan],
        index: usize,
        scope: &Scope<'_, 'a>,
    ) -> Result<Option<i64>> {
        let values = self.argument(arguments, index, scope)?;
        match singleton(&values, function.name())? {
            None => Ok(None),
            Some(value) => match value.to_system().as_ref() {
                Value::Integer(integer) => Ok(Some(*integer)),
                other => Err(error(
                    function,
                    format!(
                        "argument {} must be an integer, got {}",
                        index + 1,
                        other.type_name()
                    ),
                )),
            },
        }
    }

    /// Evaluates `plan` once per input item with `$this` and `$index` set.
    fn per_item(
        &self,
        plan: &'a Plan,
        item: &Value<'a>,
        index: usize,
        total: Option<&[Value<'a>]>,
    ) -> Result<Collection<'a>> {
        let this = std::slice::from_ref(item);
        let scope = Scope {
            this,
            index: Some(index),
            total,
        };
        self.eval(plan, this, &scope)
    }

    fn regex(&self, function: Function, pattern: &str, full: bool) -> Result<Regex> {
        let key = format!("{}{pattern}", if full { "F" } else { "P" });
        if let Some(regex) = self.regexes.borrow().get(&key) {
            return Ok(regex.clone());
        }
        if pattern.len() > MAX_REGEX_BYTES {
            return Err(error(function, "the regular expression is too long"));
        }
        let source = if full {
            format!("^(?:{pattern})$")
        } else {
            pattern.to_owned()
        };
        let regex = regex::RegexBuilder::new(&source)
            .dot_matches_new_line(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|problem| {
                error(
                    function,
                    format!("invalid regular expression '{pattern}': {problem}"),
                )
            })?;
        self.regexes.borrow_mut().insert(key, regex.clone());
        Ok(regex)
    }

    /// The input as one string: empty input gives `None`; a non-string is an error.
    fn input_string<'c>(
        &self,
        function: Function,
        input: &'c [Value<'a>],
    ) -> Result<Option<&'c str>> {
        match singleton(input, function.name())? {
            None => Ok(None),
            Some(value) => value.as_str().map(Some).ok_or_else(|| {
                error(
                    function,
                    format!("the input must be a string, got {}", value.type_name()),
                )
            }),
        }
    }

    pub(crate) fn function(
        &self,
        function: Function,
        arguments: &'a [Plan],
        type_argument: Option<TypeRef>,
        position: usize,
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        use Function as F;
        let _ = position;
        match function {
            F::Empty => Ok(boolean(input.is_empty())),
            F::Exists => match arguments.first() {
                None => Ok(boolean(!input.is_empty())),
                Some(criteria) => {
                    for (index, item) in input.iter().enumerate() {
                        let result = self.per_item(criteria, item, index, None)?;
                        if to_boolean(&result, "exists()")? == Some(true) {
                            return Ok(boolean(true));
                        }
                    }
                    Ok(boolean(false))
                }
            },
            F::All => {
                let Some(criteria) = arguments.first() else {
                    return Ok(boolean(true));
                };
                for (index, item) in input.iter().enumerate() {
                    let result = self.per_item(criteria, item, index, None)?;
                    if to_boolean(&result, "all()")? != Some(true) {
                        return Ok(boolean(false));
                    }
                }
                Ok(boolean(true))
            }
            F::AllTrue | F::AnyTrue | F::AllFalse | F::AnyFalse => {
                let mut values = Vec::with_capacity(input.len());
                for item in input {
                    match item.to_system().as_ref() {
                        Value::Boolean(value) => values.push(*value),
                        other => {
                            return Err(error(
                                function,
                                format!("the input must be booleans, got {}", other.type_name()),
                            ));
                        }
                    }
                }
                Ok(boolean(match function {
                    F::AllTrue => values.iter().all(|v| *v),
                    F::AnyTrue => values.iter().any(|v| *v),
                    F::AllFalse => values.iter().all(|v| !*v),
                    _ => values.iter().any(|v| !*v),
                }))
            }
            F::SubsetOf => {
                let other = self.argument(arguments, 0, scope)?;
                Ok(boolean(collections::is_subset(input, &other)))
            }
            F::SupersetOf => {
                let other = self.argument(arguments, 0, scope)?;
                Ok(boolean(collections::is_subset(&other, input)))
            }
            F::Count => Ok(one(Value::Integer(
                i64::try_from(input.len()).unwrap_or(i64::MAX),
            ))),
            F::Distinct => Ok(collections::distinct(input)),
            F::IsDistinct => Ok(boolean(collections::is_distinct(input))),
            F::Where => {
                let Some(criteria) = arguments.first() else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for (index, item) in input.iter().enumerate() {
                    let result = self.per_item(criteria, item, index, None)?;
                    if to_boolean(&result, "where()")? == Some(true) {
                        out.push(item.clone());
                    }
                }
                Ok(out)
            }
            F::Select => {
                let Some(projection) = arguments.first() else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for (index, item) in input.iter().enumerate() {
                    out.extend(self.per_item(projection, item, index, None)?);
                    if out.len() > MAX_COLLECTION {
                        return Err(too_large("select()"));
                    }
                }
                Ok(out)
            }
            F::Repeat | F::RepeatAll => self.repeat(function, arguments, input),
            F::OfType => {
                let Some(type_ref) = type_argument else {
                    return Ok(Vec::new());
                };
                Ok(input
                    .iter()
                    .filter(|item| type_ref.matches(item, true))
                    .cloned()
                    .collect())
            }
            F::Is | F::As => {
                let Some(type_ref) = type_argument else {
                    return Ok(Vec::new());
                };
                let Some(item) = singleton(input, function.name())? else {
                    return Ok(Vec::new());
                };
                let matches = type_ref.matches(item, function == F::As);
                Ok(match function {
                    F::Is => boolean(matches),
                    _ if matches => vec![item.clone()],
                    _ => Vec::new(),
                })
            }
            F::Single => Ok(singleton(input, "single()")?.cloned().into_iter().collect()),
            F::First => Ok(input.first().cloned().into_iter().collect()),
            F::Last => Ok(input.last().cloned().into_iter().collect()),
            F::Tail => Ok(input.iter().skip(1).cloned().collect()),
            F::Skip | F::Take => {
                let Some(count) = self.integer_argument(function, arguments, 0, scope)? else {
                    return Ok(Vec::new());
                };
                let count = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
                Ok(if function == F::Skip {
                    input.iter().skip(count).cloned().collect()
                } else {
                    input.iter().take(count).cloned().collect()
                })
            }
            F::Intersect => {
                let other = self.argument(arguments, 0, scope)?;
                Ok(collections::intersect(input, &other))
            }
            F::Exclude => {
                let other = self.argument(arguments, 0, scope)?;
                Ok(collections::exclude(input, &other))
            }
            F::Union => {
                let other = self.argument(arguments, 0, scope)?;
                collections::union(input.to_vec(), other)
            }
            F::Combine => {
                let other = self.argument(arguments, 0, scope)?;
                if input.len() + other.len() > MAX_COLLECTION {
                    return Err(too_large("combine()"));
                }
                let mut out = input.to_vec();
                out.extend(other);
                Ok(out)
            }
            F::Iif => self.iif(arguments, input, scope),
            F::ToBoolean => self.convert(function, input, Target::Boolean, false),
            F::ConvertsToBoolean => self.convert(function, input, Target::Boolean, true),
            F::ToInteger => self.convert(function, input, Target::Integer, false),
            F::ConvertsToInteger => self.convert(function, input, Target::Integer, true),
            F::ToDecimal => self.convert(function, input, Target::Decimal, false),
            F::ConvertsToDecimal => self.convert(function, input, Target::Decimal, true),
            F::ToString => self.convert(function, input, Target::String, false),
            F::ConvertsToString => self.convert(function, input, Target::String, true),
            F::ToDate => self.convert(function, input, Target::Date, false),
            F::ConvertsToDate => self.convert(function, input, Target::Date, true),
            F::ToDateTime => self.convert(function, input, Target::DateTime, false),
            F::ConvertsToDateTime => self.convert(function, input, Target::DateTime, true),
            F::ToTime => self.convert(function, input, Target::Time, false),
            F::ConvertsToTime => self.convert(function, input, Target::Time, true),
            F::ToQuantity | F::ConvertsToQuantity => {
                let unit = self.string_argument(function, arguments, 0, scope)?;
                let converted = self.convert(function, input, Target::Quantity, false)?;
                let converted = match (converted.into_iter().next(), unit) {
                    (Some(Value::Quantity(quantity)), Some(unit)) => quantity
                        .convert_to(&unit)
                        .map(|q| Value::Quantity(Box::new(q))),
                    (value, _) => value,
                };
                Ok(if function == F::ConvertsToQuantity {
                    if input.is_empty() {
                        Vec::new()
                    } else {
                        boolean(converted.is_some())
                    }
                } else {
                    converted.into_iter().collect()
                })
            }
            F::Not => Ok(to_boolean(input, "not()")?
                .map(|value| Value::Boolean(!value))
                .into_iter()
                .collect()),
            F::Type => Ok(input
                .iter()
                .filter_map(type_info)
                .map(|info| Value::TypeInfo(Box::new(info)))
                .collect()),
            F::Children | F::Descendants => self.children(function, input),
            F::Trace => {
                let name = self
                    .string_argument(function, arguments, 0, scope)?
                    .unwrap_or_default();
                if let Some(sink) = self.environment.trace {
                    match arguments.get(1) {
                        Some(projection) => {
                            let mut projected = Vec::new();
                            for (index, item) in input.iter().enumerate() {
                                projected.extend(self.per_item(projection, item, index, None)?);
                            }
                            sink.trace(&name, &projected);
                        }
                        None => sink.trace(&name, input),
                    }
                }
                Ok(input.to_vec())
            }
            F::Now => Ok(one(Value::DateTime(self.now()))),
            F::Today => {
                let mut today = self.now();
                today.precision = Precision::Day;
                today.offset_minutes = None;
                Ok(one(Value::Date(today)))
            }
            F::TimeOfDay => {
                let mut time = self.now();
                time.offset_minutes = None;
                Ok(one(Value::Time(time)))
            }
            F::Aggregate => {
                let Some(aggregator) = arguments.first() else {
                    return Ok(Vec::new());
                };
                let mut total = self.argument(arguments, 1, scope)?;
                for (index, item) in input.iter().enumerate() {
                    total = self.per_item(aggregator, item, index, Some(&total))?;
                }
                Ok(total)
            }
            F::Sort => self.sort(arguments, input),
            F::IndexOf
            | F::LastIndexOf
            | F::Substring
            | F::StartsWith
            | F::EndsWith
            | F::Contains
            | F::Upper
            | F::Lower
            | F::Replace
            | F::Matches
            | F::MatchesFull
            | F::ReplaceMatches
            | F::Length
            | F::ToChars
            | F::Trim
            | F::Split
            | F::Encode
            | F::Decode
            | F::Escape
            | F::Unescape => self.string_function(function, arguments, input, scope),
            F::Join => {
                let separator = self
                    .string_argument(function, arguments, 0, scope)?
                    .unwrap_or_default();
                let mut parts = Vec::with_capacity(input.len());
                for item in input {
                    parts.push(item.as_str().ok_or_else(|| {
                        error(
                            function,
                            format!("the input must be strings, got {}", item.type_name()),
                        )
                    })?);
                }
                Ok(one(Value::String(Cow::Owned(parts.join(&separator)))))
            }
            F::Abs
            | F::Ceiling
            | F::Exp
            | F::Floor
            | F::Ln
            | F::Log
            | F::Power
            | F::Round
            | F::Sqrt
            | F::Truncate => self.math(function, arguments, input, scope),
            F::LowBoundary | F::HighBoundary | F::Precision => {
                self.boundary(function, arguments, input, scope)
            }
            F::Comparable => {
                let other = self.argument(arguments, 0, scope)?;
                let (Some(a), Some(b)) = (
                    singleton(input, "comparable()")?,
                    singleton(&other, "comparable()")?,
                ) else {
                    return Ok(Vec::new());
                };
                match (a.to_system().as_ref(), b.to_system().as_ref()) {
                    (Value::Quantity(a), Value::Quantity(b)) => Ok(boolean(a.compare(b).is_some())),
                    _ => Err(error(function, "comparable() needs two quantities")),
                }
            }
            F::Extension => {
                let Some(url) = self.string_argument(function, arguments, 0, scope)? else {
                    return Ok(Vec::new());
                };
                let mut extensions = Vec::new();
                for item in input {
                    if let Value::Node(node) = item {
                        navigation::push_named_children(
                            node,
                            "extension",
                            "_extension",
                            None,
                            false,
                            &mut extensions,
                        )
                        .map_err(|problem| error(function, problem.0))?;
                    }
                }
                Ok(extensions
                    .into_iter()
                    .filter(|extension| match extension {
                        Value::Node(node) => {
                            node.json.get("url").and_then(Json::as_str) == Some(url.as_str())
                        }
                        _ => false,
                    })
                    .collect())
            }
            F::HasValue => Ok(boolean(match input {
                [Value::Node(node)] => node.is_primitive() && !node.json.is_null(),
                [Value::TypeInfo(_)] | [] => false,
                [_] => true,
                _ => false,
            })),
            F::GetValue => Ok(match input {
                [Value::Node(node)] => node.to_system().into_iter().collect(),
                _ => Vec::new(),
            }),
            F::Resolve => Ok(input.iter().filter_map(|item| self.resolve(item)).collect()),
            F::MemberOf => self.member_of(arguments, input, scope),
            F::Subsumes | F::SubsumedBy => self.subsumes(function, arguments, input, scope),
            F::HtmlChecks => Ok(boolean(input.iter().all(|item| {
                item.as_str()
                    .or_else(|| match item {
                        Value::Node(node) => node.json.as_str(),
                        _ => None,
                    })
                    .is_some_and(is_safe_xhtml)
            }))),
            F::ConformsTo => self.conforms_to(arguments, input, scope),
            F::CheckModifiers => {
                let mut allowed = Vec::new();
                for value in self.argument(arguments, 0, scope)? {
                    if let Some(text) = value.as_str() {
                        allowed.push(text.to_owned());
                    }
                }
                for item in input {
                    let Value::Node(node) = item else { continue };
                    let modifiers = node.json.get("modifierExtension").and_then(Json::as_array);
                    for modifier in modifiers.into_iter().flatten() {
                        let url = modifier.get("url").and_then(Json::as_str).unwrap_or("");
                        if !allowed.iter().any(|allowed| allowed == url) {
                            return Err(error(
                                function,
                                format!("unknown modifier extension '{url}'"),
                            ));
                        }
                    }
                }
                Ok(input.to_vec())
            }
        }
    }

    fn repeat(
        &self,
        function: Function,
        arguments: &'a [Plan],
        input: &[Value<'a>],
    ) -> Result<Collection<'a>> {
        let Some(projection) = arguments.first() else {
            return Ok(Vec::new());
        };
        let mut out: Collection<'a> = Vec::new();
        let mut frontier: Collection<'a> = input.to_vec();
        // `repeat()` keeps each item once, which also ends cycles; `repeatAll()` keeps
        // duplicates, so it is bounded by the collection limit alone.
        let mut seen_nodes = std::collections::HashSet::new();
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for (index, item) in frontier.iter().enumerate() {
                for produced in self.per_item(projection, item, index, None)? {
                    let is_new = match (&produced, function) {
                        (_, Function::RepeatAll) => true,
                        (Value::Node(node), _) => seen_nodes.insert((
                            std::ptr::from_ref(node.json),
                            node.extension.map(std::ptr::from_ref),
                        )),
                        (other, _) => !out.iter().any(|existing| {
                            crate::value::items_equal(existing, other) == Some(true)
                        }),
                    };
                    if is_new {
                        out.push(produced.clone());
                        next.push(produced);
                    }
                }
                if out.len() > MAX_COLLECTION {
                    return Err(too_large(function.name()));
                }
            }
            frontier = next;
        }
        Ok(out)
    }

    fn iif(
        &self,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        outer: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        if input.len() > 1 {
            return Err(error(
                Function::Iif,
                "the input must be a single item or empty",
            ));
        }
        // `$this` is the input (the outer `$this` when iif() starts a path); `$index` and
        // `$total` stay those of the enclosing iteration.
        let scope = Scope {
            this: input,
            index: outer.index,
            total: outer.total,
        };
        let (Some(criterion), Some(when_true)) = (arguments.first(), arguments.get(1)) else {
            return Ok(Vec::new());
        };
        let condition = self.eval(criterion, input, &scope)?;
        if condition.len() > 1 {
            return Err(error(
                Function::Iif,
                "the criterion must be a single boolean",
            ));
        }
        if to_boolean(&condition, "iif()")? == Some(true) {
            self.eval(when_true, input, &scope)
        } else {
            match arguments.get(2) {
                Some(otherwise) => self.eval(otherwise, input, &scope),
                None => Ok(Vec::new()),
            }
        }
    }

    fn convert(
        &self,
        function: Function,
        input: &[Value<'a>],
        target: Target,
        test_only: bool,
    ) -> Result<Collection<'a>> {
        let Some(item) = singleton(input, function.name())? else {
            return Ok(Vec::new());
        };
        let system = item.to_system();
        let converted = convert(system.as_ref(), target);
        Ok(if test_only {
            boolean(converted.is_some())
        } else {
            converted.into_iter().collect()
        })
    }

    fn children(&self, function: Function, input: &[Value<'a>]) -> Result<Collection<'a>> {
        let mut out = Vec::new();
        for item in input {
            if let Value::Node(node) = item {
                navigation::push_all_children(node, &mut out);
            }
        }
        if function == Function::Descendants {
            let mut next = 0;
            while next < out.len() {
                if let Some(Value::Node(node)) = out.get(next).cloned() {
                    navigation::push_all_children(&node, &mut out);
                }
                next += 1;
                if out.len() > MAX_COLLECTION {
                    return Err(too_large("descendants()"));
                }
            }
        }
        Ok(out)
    }

    fn sort(&self, arguments: &'a [Plan], input: &[Value<'a>]) -> Result<Collection<'a>> {
        // Each key: the expression, and whether a leading `-` asks for descending order.
        let keys: Vec<(&'a Plan, bool)> = arguments
            .iter()
            .map(|plan| match plan {
                Plan::Negate(inner) => (inner.as_ref(), true),
                other => (other, false),
            })
            .collect();
        let mut rows: Vec<(Vec<Option<Value<'a>>>, Value<'a>)> = Vec::with_capacity(input.len());
        for (index, item) in input.iter().enumerate() {
            let mut values = Vec::with_capacity(keys.len().max(1));
            if keys.is_empty() {
                values.push(Some(item.clone()));
            }
            for (plan, _) in &keys {
                let result = self.per_item(plan, item, index, None)?;
                values.push(singleton(&result, "sort()")?.cloned());
            }
            rows.push((values, item.clone()));
        }
        let mut failure = None;
        rows.sort_by(|(a, _), (b, _)| {
            for (position, (left, right)) in a.iter().zip(b).enumerate() {
                let descending = keys.get(position).is_some_and(|(_, d)| *d);
                // Items without a key come first in either direction.
                let ordering = match (left, right) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(l), Some(r)) => match compare_items(l, r) {
                        Ok(ordering) => ordering.unwrap_or(Ordering::Equal),
                        Err(_) => {
                            failure =
                                Some(error(Function::Sort, "the sort keys cannot be compared"));
                            Ordering::Equal
                        }
                    },
                };
                let ordering = if descending {
                    ordering.reverse()
                } else {
                    ordering
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
        if let Some(failure) = failure {
            return Err(failure);
        }
        Ok(rows.into_iter().map(|(_, item)| item).collect())
    }

    fn string_function(
        &self,
        function: Function,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        use Function as F;
        let Some(text) = self.input_string(function, input)? else {
            return Ok(Vec::new());
        };
        let text_value = |s: String| one(Value::String(Cow::Owned(s)));
        let argument = |index: usize| self.string_argument(function, arguments, index, scope);
        Ok(match function {
            F::Upper => text_value(text.to_uppercase()),
            F::Lower => text_value(text.to_lowercase()),
            F::Trim => text_value(text.trim().to_owned()),
            F::Length => one(Value::Integer(
                i64::try_from(text.chars().count()).unwrap_or(i64::MAX),
            )),
            F::ToChars => text
                .chars()
                .map(|c| Value::String(Cow::Owned(c.to_string())))
                .collect(),
            F::IndexOf | F::LastIndexOf => match argument(0)? {
                Some(needle) => one(Value::Integer(strings::index_of(
                    text,
                    &needle,
                    function == F::LastIndexOf,
                ))),
                None => Vec::new(),
            },
            F::Substring => {
                let Some(start) = self.integer_argument(function, arguments, 0, scope)? else {
                    return Ok(Vec::new());
                };
                let length = self.integer_argument(function, arguments, 1, scope)?;
                strings::substring(text, start, length)
                    .map(|s| Value::String(Cow::Owned(s)))
                    .into_iter()
                    .collect()
            }
            F::StartsWith | F::EndsWith | F::Contains => match argument(0)? {
                Some(needle) => boolean(match function {
                    F::StartsWith => text.starts_with(needle.as_str()),
                    F::EndsWith => text.ends_with(needle.as_str()),
                    _ => text.contains(needle.as_str()),
                }),
                None => Vec::new(),
            },
            F::Replace => match (argument(0)?, argument(1)?) {
                (Some(pattern), Some(substitution)) => {
                    text_value(text.replace(pattern.as_str(), &substitution))
                }
                _ => Vec::new(),
            },
            F::Matches | F::MatchesFull => match argument(0)? {
                Some(pattern) => {
                    let regex = self.regex(function, &pattern, function == F::MatchesFull)?;
                    boolean(regex.is_match(text))
                }
                None => Vec::new(),
            },
            F::ReplaceMatches => match (argument(0)?, argument(1)?) {
                (Some(pattern), Some(substitution)) => {
                    if pattern.is_empty() {
                        text_value(text.to_owned())
                    } else {
                        let regex = self.regex(function, &pattern, false)?;
                        text_value(regex.replace_all(text, substitution.as_str()).into_owned())
                    }
                }
                _ => Vec::new(),
            },
            F::Split => match argument(0)? {
                Some(separator) if !separator.is_empty() => text
                    .split(separator.as_str())
                    .map(|part| Value::String(Cow::Owned(part.to_owned())))
                    .collect(),
                Some(_) => text
                    .chars()
                    .map(|c| Value::String(Cow::Owned(c.to_string())))
                    .collect(),
                None => Vec::new(),
            },
            F::Encode | F::Decode | F::Escape | F::Unescape => match argument(0)? {
                Some(format) => {
                    let result = match function {
                        F::Encode => strings::encode(text, &format),
                        F::Decode => strings::decode(text, &format),
                        F::Escape => strings::escape(text, &format),
                        _ => strings::unescape(text, &format),
                    };
                    result
                        .map(|s| Value::String(Cow::Owned(s)))
                        .into_iter()
                        .collect()
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        })
    }

    fn math(
        &self,
        function: Function,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        use Function as F;
        let Some(item) = singleton(input, function.name())? else {
            return Ok(Vec::new());
        };
        let system = item.to_system();
        let not_a_number = || {
            error(
                function,
                format!("the input must be a number, got {}", system.type_name()),
            )
        };
        if let (F::Abs, Value::Quantity(quantity)) = (function, system.as_ref()) {
            return Ok(one(Value::Quantity(Box::new(Quantity::new(
                quantity.value.abs(),
                quantity.unit.clone(),
            )))));
        }
        let (value, is_integer) = match system.as_ref() {
            Value::Integer(integer) => (Decimal::from(*integer), true),
            Value::Decimal(decimal) => (*decimal, false),
            _ => return Err(not_a_number()),
        };
        let integer = |d: Decimal| d.to_i64().map(Value::Integer);
        let from_float = |f: f64| {
            if f.is_finite() {
                Decimal::from_f64(f).map(Value::Decimal)
            } else {
                None
            }
        };
        let float = value.to_f64().unwrap_or(f64::NAN);
        let result = match function {
            F::Abs if is_integer => integer(value.abs()),
            F::Abs => Some(Value::Decimal(value.abs())),
            F::Ceiling => integer(value.ceil()),
            F::Floor => integer(value.floor()),
            F::Truncate => integer(value.trunc()),
            F::Exp => from_float(float.exp()),
            F::Ln if value > Decimal::ZERO => from_float(float.ln()),
            F::Sqrt if value >= Decimal::ZERO => from_float(float.sqrt()),
            F::Ln | F::Sqrt => None,
            F::Log => {
                let base = self.argument(arguments, 0, scope)?;
                let Some(base) = singleton(&base, "log()")? else {
                    return Ok(Vec::new());
                };
                let base = match base.to_system().as_ref() {
                    Value::Integer(i) => Decimal::from(*i),
                    Value::Decimal(d) => *d,
                    _ => return Err(error(function, "the base must be a number")),
                };
                if value <= Decimal::ZERO || base <= Decimal::ZERO || base == Decimal::ONE {
                    None
                } else {
                    from_float(float.ln() / base.to_f64().unwrap_or(f64::NAN).ln())
                }
            }
            F::Power => {
                let exponent = self.argument(arguments, 0, scope)?;
                let Some(exponent) = singleton(&exponent, "power()")? else {
                    return Ok(Vec::new());
                };
                match (system.as_ref(), exponent.to_system().as_ref()) {
                    (Value::Integer(base), Value::Integer(exponent)) if *exponent >= 0 => {
                        u32::try_from(*exponent)
                            .ok()
                            .and_then(|e| base.checked_pow(e))
                            .map(Value::Integer)
                    }
                    (_, Value::Integer(exponent)) => {
                        rust_decimal::MathematicalOps::checked_powi(&value, *exponent)
                            .map(Value::Decimal)
                    }
                    (_, Value::Decimal(exponent)) => {
                        let result = float.powf(exponent.to_f64().unwrap_or(f64::NAN));
                        from_float(result)
                    }
                    _ => return Err(error(function, "the exponent must be a number")),
                }
            }
            F::Round => {
                let digits = self
                    .integer_argument(function, arguments, 0, scope)?
                    .unwrap_or(0);
                let digits = u32::try_from(digits)
                    .map_err(|_| error(function, "the precision must not be negative"))?;
                Some(Value::Decimal(value.round_dp_with_strategy(
                    digits,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                )))
            }
            _ => None,
        };
        Ok(result.into_iter().collect())
    }

    fn boundary(
        &self,
        function: Function,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        let Some(item) = singleton(input, function.name())? else {
            return Ok(Vec::new());
        };
        let system = item.to_system().into_owned();
        if function == Function::Precision {
            let digits = match &system {
                Value::Decimal(d) => i64::from(d.scale()),
                Value::Integer(_) => 0,
                Value::Date(t) | Value::DateTime(t) => date_precision_digits(t.precision),
                Value::Time(t) => time_precision_digits(t.precision),
                _ => return Ok(Vec::new()),
            };
            return Ok(one(Value::Integer(digits)));
        }
        let precision = self.integer_argument(function, arguments, 0, scope)?;
        let high = function == Function::HighBoundary;
        Ok(match system {
            Value::Integer(i) => decimal_boundary(Decimal::from(i), precision, high)
                .map(Value::Decimal)
                .into_iter()
                .collect(),
            Value::Decimal(d) => decimal_boundary(d, precision, high)
                .map(Value::Decimal)
                .into_iter()
                .collect(),
            Value::Quantity(q) => decimal_boundary(q.value, precision, high)
                .map(|value| Value::Quantity(Box::new(Quantity::new(value, q.unit.clone()))))
                .into_iter()
                .collect(),
            Value::Date(t) => temporal_boundary(t, precision.unwrap_or(8), high, false)
                .map(Value::Date)
                .into_iter()
                .collect(),
            Value::DateTime(t) => {
                let digits = precision.unwrap_or(17);
                temporal_boundary(t, digits, high, false)
                    .map(|value| {
                        if digits <= 8 {
                            Value::Date(value)
                        } else {
                            Value::DateTime(value)
                        }
                    })
                    .into_iter()
                    .collect()
            }
            Value::Time(t) => temporal_boundary(t, precision.unwrap_or(9), high, true)
                .map(Value::Time)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
    }

    fn resolve(&self, item: &Value<'a>) -> Option<Value<'a>> {
        let reference = match item {
            Value::Node(node) if node.json.is_object() => {
                node.json.get("reference").and_then(Json::as_str)?
            }
            other => other.as_str()?,
        };
        let root = self.root_resource.or(self.resource).or_else(|| {
            self.context.first().and_then(|value| match value {
                Value::Node(node) => Some(node.json),
                _ => None,
            })
        });
        if let Some(root) = root {
            if let Some(id) = reference.strip_prefix('#') {
                let contained = root.get("contained").and_then(Json::as_array)?;
                return contained
                    .iter()
                    .find(|resource| resource.get("id").and_then(Json::as_str) == Some(id))
                    .map(|json| Value::Node(Node::resource(json)));
            }
            if let Some(entries) = root.get("entry").and_then(Json::as_array) {
                for entry in entries {
                    let Some(resource) = entry.get("resource") else {
                        continue;
                    };
                    let full_url = entry.get("fullUrl").and_then(Json::as_str);
                    let typed_id = match (
                        resource.get("resourceType").and_then(Json::as_str),
                        resource.get("id").and_then(Json::as_str),
                    ) {
                        (Some(kind), Some(id)) => Some((kind, id)),
                        _ => None,
                    };
                    let matches_relative = typed_id.is_some_and(|(kind, id)| {
                        reference
                            .strip_suffix(id)
                            .and_then(|rest| rest.strip_suffix('/'))
                            .is_some_and(|rest| rest == kind || rest.ends_with(&format!("/{kind}")))
                    });
                    if full_url == Some(reference) || matches_relative {
                        return Some(Value::Node(Node::resource(resource)));
                    }
                }
            }
        }
        let resolver = self.environment.resolver?;
        resolver
            .resolve(reference)
            .map(|json| Value::Node(Node::resource(json)))
    }

    fn codings<'c>(item: &'c Value<'a>) -> Vec<Coding<'c>> {
        if let Some(code) = item.as_str() {
            return vec![Coding { system: None, code }];
        }
        let Value::Node(node) = item else {
            return Vec::new();
        };
        let coding = |json: &'c Json| {
            json.get("code").and_then(Json::as_str).map(|code| Coding {
                system: json.get("system").and_then(Json::as_str),
                code,
            })
        };
        match node.type_name() {
            Some("CodeableConcept") => node
                .json
                .get("coding")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(coding)
                .collect(),
            _ => coding(node.json).into_iter().collect(),
        }
    }

    fn member_of(
        &self,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        let Some(value_set) = self.string_argument(Function::MemberOf, arguments, 0, scope)? else {
            return Ok(Vec::new());
        };
        let Some(item) = singleton(input, "memberOf()")? else {
            return Ok(Vec::new());
        };
        let terminology = self
            .environment
            .terminology
            .ok_or_else(|| error(Function::MemberOf, "no terminology service is configured"))?;
        let codings = Self::codings(item);
        Ok(terminology
            .member_of(&codings, &value_set)
            .map(Value::Boolean)
            .into_iter()
            .collect())
    }

    fn subsumes(
        &self,
        function: Function,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        let other = self.argument(arguments, 0, scope)?;
        let (Some(item), Some(other)) = (
            singleton(input, function.name())?,
            singleton(&other, function.name())?,
        ) else {
            return Ok(Vec::new());
        };
        let terminology = self
            .environment
            .terminology
            .ok_or_else(|| error(function, "no terminology service is configured"))?;
        let (mine, theirs) = (Self::codings(item), Self::codings(other));
        let mut answer = None;
        for a in &mine {
            for b in &theirs {
                let result = if function == Function::Subsumes {
                    terminology.subsumes(a, b)
                } else {
                    terminology.subsumes(b, a)
                };
                match result {
                    Some(true) => return Ok(boolean(true)),
                    Some(false) => answer = Some(false),
                    None => {}
                }
            }
        }
        Ok(answer.map(Value::Boolean).into_iter().collect())
    }

    fn conforms_to(
        &self,
        arguments: &'a [Plan],
        input: &[Value<'a>],
        scope: &Scope<'_, 'a>,
    ) -> Result<Collection<'a>> {
        let Some(profile) = self.string_argument(Function::ConformsTo, arguments, 0, scope)? else {
            return Ok(Vec::new());
        };
        let Some(item) = singleton(input, "conformsTo()")? else {
            return Ok(Vec::new());
        };
        let Value::Node(node) = item else {
            return Ok(boolean(false));
        };
        if let Some(type_name) = profile.strip_prefix("http://hl7.org/fhir/StructureDefinition/")
            && definitions().type_def(type_name).is_some()
        {
            let conforms = node
                .type_name()
                .is_some_and(|actual| definitions().is_subtype_of(actual, type_name));
            return Ok(boolean(conforms));
        }
        if let Some(profiles) = self.environment.profiles
            && let Some(answer) = profiles.conforms_to(node.json, &profile)
        {
            return Ok(boolean(answer));
        }
        Err(error(
            Function::ConformsTo,
            format!("unknown profile '{profile}'"),
        ))
    }
}

fn date_precision_digits(precision: Precision) -> i64 {
    match precision {
        Precision::Year => 4,
        Precision::Month => 6,
        Precision::Day => 8,
        Precision::Hour => 10,
        Precision::Minute => 12,
        Precision::Second => 14,
        Precision::Millisecond => 17,
    }
}

fn time_precision_digits(precision: Precision) -> i64 {
    match precision {
        Precision::Hour => 2,
        Precision::Minute => 4,
        Precision::Second => 6,
        _ => 9,
    }
}

/// The low or high boundary of a decimal: its value minus or plus half a unit of its last
/// digit, given at `precision` digits (default 8), rounded outwards.
fn decimal_boundary(value: Decimal, precision: Option<i64>, high: bool) -> Option<Decimal> {
    let digits = u32::try_from(precision.unwrap_or(8))
        .ok()
        .filter(|d| *d <= 28)?;
    let half = Decimal::new(5, value.scale() + 1);
    let boundary = if high {
        value.checked_add(half)?
    } else {
        value.checked_sub(half)?
    };
    let rounded = if digits >= boundary.scale() {
        let mut padded = boundary;
        padded.rescale(digits);
        padded
    } else {
        let strategy = match (high, boundary.is_sign_negative()) {
            (false, false) | (true, true) => rust_decimal::RoundingStrategy::ToZero,
            _ => rust_decimal::RoundingStrategy::AwayFromZero,
        };
        boundary.round_dp_with_strategy(digits, strategy)
    };
    Some(rounded)
}

/// The low or high boundary of a date, date-time or time at `digits` of precision.
fn temporal_boundary(value: Temporal, digits: i64, high: bool, is_time: bool) -> Option<Temporal> {
    let precision = if is_time {
        match digits {
            2 => Precision::Hour,
            4 => Precision::Minute,
            6 => Precision::Second,
            9 => Precision::Millisecond,
            _ => return None,
        }
    } else {
        match digits {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            17 => Precision::Millisecond,
            _ => return None,
        }
    };
    let mut result = value;
    let known = value.precision;
    if !is_time {
        if known < Precision::Month {
            result.month = if high { 12 } else { 1 };
        }
        if known < Precision::Day {
            result.day = if high {
                crate::value::days_in_month(result.year, result.month)
            } else {
                1
            };
        }
    }
    if known < Precision::Hour {
        result.hour = if high { 23 } else { 0 };
    }
    if known < Precision::Minute {
        result.minute = if high { 59 } else { 0 };
    }
    if known < Precision::Second {
        result.second = if high { 59 } else { 0 };
    }
    if known < Precision::Millisecond {
        result.millisecond = if high { 999 } else { 0 };
    }
    if !is_time && precision >= Precision::Hour && result.offset_minutes.is_none() {
        // Without a zone, the instant could be anywhere from UTC+14 to UTC-12.
        result.offset_minutes = Some(if high { -12 * 60 } else { 14 * 60 });
    }
    result.precision = precision;
    Some(result)
}

/// A conservative check of narrative XHTML: a `div` root and none of the constructs the FHIR
/// narrative rules forbid (scripts, forms, event handler attributes, `javascript:` links).
fn is_safe_xhtml(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start();
    trimmed.starts_with("<div")
        && ![
            "<script",
            "<form",
            "<iframe",
            "<object",
            "<embed",
            "<applet",
            "javascript:",
            "<base",
            "<link",
            "<meta",
            "<style",
        ]
        .iter()
        .any(|forbidden| lower.contains(forbidden))
        && !Regex::new(r"<[^>]*\son[a-z]+\s*=")
            .map(|regex| regex.is_match(&lower))
            .unwrap_or(false)
}
