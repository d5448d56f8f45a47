//! Syntax tree to evaluation plan: resolves function names to [`Function`], checks arities
//! and type names, and precomputes literals. Errors here are [`Error::Semantic`].

use medulla_model::{TypeDef, definitions};
use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::eval::navigation::{ChildType, Step, StepHint};
use crate::syntax::ast::{
    BinaryOperator, Expression, ExpressionKind, Literal, Span, TypeSpecifier,
};
use crate::types::TypeRef;
use crate::value::{Quantity, Temporal};

macro_rules! functions {
    ($($variant:ident = $name:literal ($min:literal, $max:literal),)*) => {
        /// Every function this engine knows, by its FHIRPath name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Function { $($variant,)* }

        impl Function {
            fn from_name(name: &str) -> Option<Function> {
                match name { $($name => Some(Function::$variant),)* _ => None }
            }
            pub(crate) fn name(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }
            fn arity(self) -> (usize, usize) {
                match self { $(Function::$variant => ($min, $max),)* }
            }
        }
    };
}

functions! {
    Empty = "empty"(0, 0),
    Exists = "exists"(0, 1),
    All = "all"(1, 1),
    AllTrue = "allTrue"(0, 0),
    AnyTrue = "anyTrue"(0, 0),
    AllFalse = "allFalse"(0, 0),
    AnyFalse = "anyFalse"(0, 0),
    SubsetOf = "subsetOf"(1, 1),
    SupersetOf = "supersetOf"(1, 1),
    Count = "count"(0, 0),
    Distinct = "distinct"(0, 0),
    IsDistinct = "isDistinct"(0, 0),
    Where = "where"(1, 1),
    Select = "select"(1, 1),
    Repeat = "repeat"(1, 1),
    RepeatAll = "repeatAll"(1, 1),
    OfType = "ofType"(1, 1),
    Single = "single"(0, 0),
    First = "first"(0, 0),
    Last = "last"(0, 0),
    Tail = "tail"(0, 0),
    Skip = "skip"(1, 1),
    Take = "take"(1, 1),
    Intersect = "intersect"(1, 1),
    Exclude = "exclude"(1, 1),
    Union = "union"(1, 1),
    Combine = "combine"(1, 1),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToString = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    IndexOf = "indexOf"(1, 1),
    LastIndexOf = "lastIndexOf"(1, 1),
    Substring = "substring"(1, 2),
    StartsWith = "startsWith"(1, 1),
    EndsWith = "endsWith"(1, 1),
    Contains = "contains"(1, 1),
    Upper = "upper"(0, 0),
    Lower = "lower"(0, 0),
    Replace = "replace"(2, 2),
    Matches = "matches"(1, 1),
    MatchesFull = "matchesFull"(1, 1),
    ReplaceMatches = "replaceMatches"(2, 2),
    Length = "length"(0, 0),
    ToChars = "toChars"(0, 0),
    Trim = "trim"(0, 0),
    Split = "split"(1, 1),
    Join = "join"(0, 1),
    Encode = "encode"(1, 1),
    Decode = "decode"(1, 1),
    Escape = "escape"(1, 1),
    Unescape = "unescape"(1, 1),
    Abs = "abs"(0, 0),
    Ceiling = "ceiling"(0, 0),
    Exp = "exp"(0, 0),
    Floor = "floor"(0, 0),
    Ln = "ln"(0, 0),
    Log = "log"(1, 1),
    Power = "power"(1, 1),
    Round = "round"(0, 1),
    Sqrt = "sqrt"(0, 0),
    Truncate = "truncate"(0, 0),
    Children = "children"(0, 0),
    Descendants = "descendants"(0, 0),
    Trace = "trace"(1, 2),
    Now = "now"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Today = "today"(0, 0),
    Is = "is"(1, 1),
    As = "as"(1, 1),
    Type = "type"(0, 0),
    Not = "not"(0, 0),
    Aggregate = "aggregate"(1, 2),
    Sort = "sort"(0, 8),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Precision = "precision"(0, 0),
    Comparable = "comparable"(1, 1),
    Extension = "extension"(1, 1),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    Resolve = "resolve"(0, 0),
    MemberOf = "memberOf"(1, 1),
    Subsumes = "subsumes"(1, 1),
    SubsumedBy = "subsumedBy"(1, 1),
    HtmlChecks = "htmlChecks"(0, 0),
    ConformsTo = "conformsTo"(1, 1),
    CheckModifiers = "checkModifiers"(1, 1),
}

/// A compiled expression node.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// A literal (`{}` is an empty `Literals`).
    Literal(LiteralValue),
    Empty,
    /// A path step on the input.
    Member(MemberPlan),
    /// Evaluates `target`, then `member` with that result as input.
    Invoke {
        target: Box<Plan>,
        member: Box<Plan>,
    },
    Function {
        function: Function,
        arguments: Vec<Plan>,
        /// For `is`, `as`, `ofType`: the type named by the argument.
        type_argument: Option<TypeRef>,
        position: usize,
    },
    Indexer {
        target: Box<Plan>,
        index: Box<Plan>,
    },
    Negate(Box<Plan>),
    /// `a | b | c`: the branches of a chain of `|`, evaluated in order on the same input, their
    /// items merged without duplicates.
    Union(Vec<UnionBranch>),
    Binary {
        operator: BinaryOperator,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    TypeOperation {
        is_cast: bool,
        operand: Box<Plan>,
        type_ref: TypeRef,
    },
    This,
    Index,
    Total,
    Variable(String),
}

impl Plan {
    /// See [`UnionBranch::root_type`].
    fn root_type(&self) -> Option<&'static TypeDef> {
        match self {
            Plan::Member(member) if member.at_start => member.type_name.filter(|type_def| {
                type_def.kind == medulla_model::TypeKind::Resource && !type_def.is_abstract
            }),
            Plan::Invoke { target, member } if member.is_empty_on_empty() => target.root_type(),
            // `is` and `as` of nothing are nothing.
            Plan::TypeOperation { operand, .. } => operand.root_type(),
            _ => None,
        }
    }

    /// Whether this plan, given an empty input, yields an empty result whatever its `$this`
    /// and variables, without failing: path steps, and functions that filter or map their
    /// input item by item and have no argument evaluated once (`skip(n)` is not one: its `n`
    /// may fail).
    pub(crate) fn is_empty_on_empty(&self) -> bool {
        use Function as F;
        match self {
            Plan::Member(_) => true,
            Plan::Invoke { target, member } => {
                target.is_empty_on_empty() && member.is_empty_on_empty()
            }
            Plan::Function { function, .. } => matches!(
                function,
                F::Where
                    | F::Select
                    | F::OfType
                    | F::As
                    | F::First
                    | F::Last
                    | F::Tail
                    | F::Single
                    | F::Distinct
                    | F::Resolve
                    | F::Children
                    | F::Descendants
            ),
            _ => false,
        }
    }
}

/// One operand of a [`Plan::Union`].
#[derive(Debug, Clone)]
pub(crate) struct UnionBranch {
    pub(crate) plan: Plan,
    /// The concrete resource type the branch starts with (`Observation` in
    /// `Observation.subject.where(resolve() is Patient)`) when nothing else in the branch can
    /// make something of an empty start: on input of other types the branch is empty (outside
    /// strict mode), so it need not be evaluated.
    pub(crate) root_type: Option<&'static TypeDef>,
}

impl UnionBranch {
    fn new(plan: Plan) -> UnionBranch {
        let root_type = plan.root_type();
        UnionBranch { plan, root_type }
    }
}

/// A path step: an element name, or at the start of a path possibly a type name.
#[derive(Debug, Clone)]
pub(crate) struct MemberPlan {
    pub(crate) name: String,
    /// `_name`, where a primitive's id and extensions are.
    pub(crate) underscore_name: String,
    /// Whether the step begins a path, where a type name such as `Patient` selects the input
    /// itself when it is of that type.
    pub(crate) at_start: bool,
    pub(crate) position: usize,
    /// At the start of a path, the FHIR type `name` names, if it names one.
    pub(crate) type_name: Option<&'static TypeDef>,
    /// The step worked out for the input type the expression implies here (`subject` after
    /// `Observation.`); used when the input node is of that type, ignored otherwise.
    pub(crate) hint: Option<StepHint>,
}

/// Literal values, precomputed.
#[derive(Debug, Clone)]
pub(crate) enum LiteralValue {
    Boolean(bool),
    Integer(i64),
    Decimal(Decimal),
    String(String),
    Date(Temporal),
    DateTime(Temporal),
    Time(Temporal),
    Quantity(Quantity),
}

fn semantic(span: Span, message: impl Into<String>) -> Error {
    Error::Semantic {
        position: span.start,
        message: message.into(),
    }
}

/// Compiles a syntax tree. `strict` adds the HL7 suite's strict-mode checks that can be made
/// without input: ordered functions after `children()`/`descendants()`, and `iif` with a
/// string literal as its criterion.
pub(crate) fn compile(expression: &Expression, strict: bool) -> Result<Plan> {
    let mut plan = Compiler { strict }.plan(expression, true)?;
    infer(&mut plan, None);
    Ok(plan)
}

/// Works out, where the expression implies it, the FHIR type each path step will see
/// (`Observation.subject`: an Observation, then `subject` of Observation is a Reference) and
/// stores the step's meaning for that type in [`MemberPlan::hint`], so that evaluation does not
/// look the name up in the model again. Returns the type `plan` yields, if one is implied.
///
/// The inferred types are guesses, never trusted: a hint is used only when the node at hand is
/// of the very type it was made for, so a wrong guess costs a model lookup, not a wrong result.
fn infer(plan: &mut Plan, input: Option<&'static TypeDef>) -> Option<&'static TypeDef> {
    match plan {
        Plan::Member(member) => {
            if member.type_name.is_some() {
                return member.type_name;
            }
            let input = input?;
            let step = Step::resolve(input, &member.name);
            member.hint = Some(StepHint { input, step });
            match step {
                Step::Property {
                    child: ChildType::Fixed(type_def),
                    ..
                } => type_def,
                _ => None,
            }
        }
        Plan::Invoke { target, member } => {
            let target = infer(target, input);
            infer(member, target)
        }
        Plan::Function {
            function,
            arguments,
            type_argument,
            ..
        } => {
            use Function as F;
            // Criteria and projections are evaluated on each input item; other arguments on
            // `$this` of the enclosing scope, whose type is not tracked here.
            let per_item = matches!(
                function,
                F::Where | F::Select | F::Exists | F::All | F::Repeat | F::RepeatAll
            );
            let mut projected = None;
            for argument in arguments.iter_mut() {
                projected = infer(argument, if per_item { input } else { None });
            }
            match function {
                F::Where
                | F::First
                | F::Last
                | F::Tail
                | F::Skip
                | F::Take
                | F::Single
                | F::Distinct
                | F::Trace => input,
                F::Select => projected,
                F::As | F::OfType => type_argument.as_ref().and_then(TypeRef::fhir_type),
                F::Extension => definitions().type_def("Extension"),
                _ => None,
            }
        }
        Plan::Indexer { target, index } => {
            infer(index, None);
            infer(target, input)
        }
        Plan::Negate(operand) => {
            infer(operand, input);
            None
        }
        Plan::Union(branches) => {
            let mut common = None;
            for (index, branch) in branches.iter_mut().enumerate() {
                let output = infer(&mut branch.plan, input);
                common = match (index, common, output) {
                    (0, _, output) => output,
                    (_, Some(common), Some(output)) if std::ptr::eq(common, output) => Some(common),
                    _ => None,
                };
            }
            common
        }
        Plan::Binary { left, right, .. } => {
            let left = infer(left, input);
            let right = infer(right, input);
            match (left, right) {
                (Some(left), Some(right)) if std::ptr::eq(left, right) => Some(left),
                _ => None,
            }
        }
        Plan::TypeOperation {
            is_cast,
            operand,
            type_ref,
        } => {
            infer(operand, input);
            if *is_cast { type_ref.fhir_type() } else { None }
        }
        Plan::Literal(_)
        | Plan::Empty
        | Plan::This
        | Plan::Index
        | Plan::Total
        | Plan::Variable(_) => None,
    }
}

struct Compiler {
    strict: bool,
}

fn literal(literal: &Literal, span: Span) -> Result<Plan> {
    let invalid =
        |what: &str, text: &str| semantic(span, format!("invalid {what} literal '{text}'"));
    Ok(Plan::Literal(match literal {
        Literal::Empty => return Ok(Plan::Empty),
        Literal::Boolean(value) => LiteralValue::Boolean(*value),
        Literal::String(text) => LiteralValue::String(text.clone()),
        Literal::Integer(text) => match text.parse::<i64>() {
            Ok(value) => LiteralValue::Integer(value),
            Err(_) => LiteralValue::Decimal(text.parse().map_err(|_| invalid("integer", text))?),
        },
        Literal::Decimal(text) => {
            LiteralValue::Decimal(text.parse().map_err(|_| invalid("decimal", text))?)
        }
        Literal::Date(text) => {
            LiteralValue::Date(Temporal::parse_date(text).ok_or_else(|| invalid("date", text))?)
        }
        Literal::DateTime(text) => LiteralValue::DateTime(
            Temporal::parse_date_time(text.trim_end_matches('T'))
                .ok_or_else(|| invalid("date-time", text))?,
        ),
        Literal::Time(text) => {
            LiteralValue::Time(Temporal::parse_time(text).ok_or_else(|| invalid("time", text))?)
        }
        Literal::Quantity { value, unit, .. } => LiteralValue::Quantity(Quantity::new(
            value.parse().map_err(|_| invalid("quantity", value))?,
            unit.clone(),
        )),
    }))
}

/// Reads a type name written as a function argument (`ofType(FHIR.Patient)`).
fn type_argument(argument: &Expression) -> Option<TypeSpecifier> {
    match &argument.kind {
        ExpressionKind::Identifier(name) => Some(TypeSpecifier {
            namespace: None,
            name: name.clone(),
        }),
        ExpressionKind::Invocation { target, member } => match (&target.kind, &member.kind) {
            (ExpressionKind::Identifier(namespace), ExpressionKind::Identifier(name)) => {
                Some(TypeSpecifier {
                    namespace: Some(namespace.clone()),
                    name: name.clone(),
                })
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_unordered_source(plan: &Plan) -> bool {
    match plan {
        Plan::Function { function, .. } => {
            matches!(function, Function::Children | Function::Descendants)
        }
        Plan::Invoke { member, .. } => is_unordered_source(member),
        _ => false,
    }
}

impl Compiler {
    fn plan(&self, expression: &Expression, at_start: bool) -> Result<Plan> {
        let span = expression.span;
        Ok(match &expression.kind {
            ExpressionKind::Literal(value) => literal(value, span)?,
            ExpressionKind::Identifier(name) => Plan::Member(MemberPlan {
                name: name.clone(),
                underscore_name: format!("_{name}"),
                at_start,
                position: span.start,
                type_name: if at_start && name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    definitions().type_def(name)
                } else {
                    None
                },
                hint: None,
            }),
            ExpressionKind::Function { name, arguments } => self.function(name, arguments, span)?,
            ExpressionKind::Invocation { target, member } => {
                let target = self.plan(target, at_start)?;
                let member = self.plan(member, false)?;
                if self.strict
                    && is_unordered_source(&target)
                    && let Plan::Function { function, .. } = &member
                    && matches!(
                        function,
                        Function::First
                            | Function::Last
                            | Function::Tail
                            | Function::Skip
                            | Function::Take
                    )
                {
                    return Err(semantic(
                        member_span(expression),
                        format!(
                            "'{}()' needs an ordered collection, and children() and descendants() are unordered",
                            function.name()
                        ),
                    ));
                }
                if self.strict {
                    check_member_of_cast(&target, &member)?;
                }
                Plan::Invoke {
                    target: Box::new(target),
                    member: Box::new(member),
                }
            }
            ExpressionKind::Indexer { target, index } => Plan::Indexer {
                target: Box::new(self.plan(target, at_start)?),
                index: Box::new(self.plan(index, true)?),
            },
            ExpressionKind::Polarity { negate, operand } => {
                let operand = self.plan(operand, at_start)?;
                if *negate {
                    Plan::Negate(Box::new(operand))
                } else {
                    operand
                }
            }
            ExpressionKind::Binary {
                operator: BinaryOperator::Union,
                left,
                right,
            } => {
                let mut branches = Vec::new();
                for side in [left, right] {
                    match self.plan(side, true)? {
                        Plan::Union(more) => branches.extend(more),
                        plan => branches.push(UnionBranch::new(plan)),
                    }
                }
                Plan::Union(branches)
            }
            ExpressionKind::Binary {
                operator,
                left,
                right,
            } => Plan::Binary {
                operator: *operator,
                left: Box::new(self.plan(left, true)?),
                right: Box::new(self.plan(right, true)?),
            },
            ExpressionKind::TypeOperation {
                is_cast,
                operand,
                type_name,
            } => Plan::TypeOperation {
                is_cast: *is_cast,
                operand: Box::new(self.plan(operand, at_start)?),
                type_ref: TypeRef::resolve(type_name)
                    .ok_or_else(|| semantic(span, format!("unknown type '{type_name}'")))?,
            },
            ExpressionKind::This => Plan::This,
            ExpressionKind::Index => Plan::Index,
            ExpressionKind::Total => Plan::Total,
            ExpressionKind::Variable(name) => Plan::Variable(name.clone()),
        })
    }

    fn function(&self, name: &str, arguments: &[Expression], span: Span) -> Result<Plan> {
        let function = Function::from_name(name)
            .ok_or_else(|| semantic(span, format!("unknown function '{name}()'")))?;
        let (min, max) = function.arity();
        if arguments.len() < min || arguments.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(semantic(
                span,
                format!(
                    "'{name}()' takes {expected} argument(s), {} given",
                    arguments.len()
                ),
            ));
        }
        let mut type_argument_ref = None;
        let mut planned = Vec::with_capacity(arguments.len());
        if matches!(function, Function::Is | Function::As | Function::OfType) {
            let specifier = arguments
                .first()
                .and_then(type_argument)
                .ok_or_else(|| semantic(span, format!("'{name}()' needs a type name")))?;
            type_argument_ref = Some(
                TypeRef::resolve(&specifier)
                    .ok_or_else(|| semantic(span, format!("unknown type '{specifier}'")))?,
            );
        } else {
            for argument in arguments {
                planned.push(self.plan(argument, true)?);
            }
        }
        if self.strict
            && function == Function::Iif
            && let Some(Plan::Literal(LiteralValue::String(text))) = planned.first()
        {
            return Err(semantic(
                span,
                format!("the criterion of 'iif()' must be a boolean, not the string '{text}'"),
            ));
        }
        Ok(Plan::Function {
            function,
            arguments: planned,
            type_argument: type_argument_ref,
            position: span.start,
        })
    }
}

fn member_span(expression: &Expression) -> Span {
    match &expression.kind {
        ExpressionKind::Invocation { member, .. } => member.span,
        _ => expression.span,
    }
}

/// Strict mode: after `as T` or `.as(T)`, a path step must be an element of `T`
/// (`(Observation.value as Period).unit` is an error, though it would evaluate to empty).
fn check_member_of_cast(target: &Plan, member: &Plan) -> Result<()> {
    let cast_type = match target {
        Plan::TypeOperation {
            is_cast: true,
            type_ref,
            ..
        } => type_ref.fhir_type(),
        Plan::Invoke { member, .. } => match member.as_ref() {
            Plan::Function {
                function: Function::As,
                type_argument: Some(type_ref),
                ..
            } => type_ref.fhir_type(),
            _ => None,
        },
        _ => None,
    };
    let (Some(type_def), Plan::Member(MemberPlan { name, position, .. })) = (cast_type, member)
    else {
        return Ok(());
    };
    if type_def.kind == medulla_model::TypeKind::Primitive
        || type_def.element(name).is_some()
        || type_def.element_for_json_name(name).is_some()
    {
        return Ok(());
    }
    Err(Error::Semantic {
        position: *position,
        message: format!("'{name}' is not an element of {}", type_def.name),
    })
}
