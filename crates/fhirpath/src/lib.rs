//! FHIRPath for Medulla: the parser, compiler and evaluator of FHIRPath (the N1 normative
//! grammar and functions, plus the FHIR R4 additions) over FHIR JSON.
//!
//! This crate owns FHIRPath text → syntax tree ([`parse`], [`Expression`]) → compiled plan
//! ([`FhirPath`]) → result collection ([`Collection`] of [`Value`]). Evaluation walks the input
//! `serde_json::Value` in place, typing each node with the R4 model from `medulla-model`
//! (choice elements, `_name` primitive extensions, inheritance for `is`/`as`/`ofType`).
//!
//! Does not do I/O and knows nothing of the server: references outside the input, terminology
//! and profiles come in through the hook traits of [`Environment`].
//!
//! Main types:
//! - [`FhirPath`]: an expression compiled once (names resolved, arities checked), evaluated
//!   many times, from many threads.
//! - [`Environment`]: variables (`%name`), the clock, and the [`ResourceResolver`],
//!   [`TerminologyService`], [`ProfileChecker`] and [`TraceSink`] hooks.
//! - [`Value`]: one result item, a [`Node`] borrowed from the input or a System value.
//!
//! ```
//! use medulla_fhirpath::{Environment, FhirPath};
//! use serde_json::json;
//!
//! let patient = json!({
//!     "resourceType": "Patient",
//!     "name": [{"given": ["Peter", "James"], "family": "Chalmers"}],
//!     "birthDate": "1974-12-25",
//! });
//! let path = FhirPath::compile("Patient.name.given.first() & ' ' & name.family")?;
//! let result = path.evaluate(Some(&patient), &Environment::new())?;
//! assert_eq!(result[0].to_json(), json!("Peter Chalmers"));
//!
//! let born = medulla_fhirpath::evaluate_to_json("birthDate < @2000-01-01", Some(&patient), true)?;
//! assert_eq!(born, json!([{"type": "boolean", "value": true}]));
//! # Ok::<(), medulla_fhirpath::Error>(())
//! ```

mod compile;
mod environment;
mod error;
mod eval;
pub mod syntax;
mod types;
mod value;

use std::cell::{OnceCell, RefCell};

use serde_json::Value as Json;

pub use environment::{
    Coding, Environment, ProfileChecker, ResourceResolver, TerminologyService, TraceSink,
};
pub use error::{Error, Result};
pub use syntax::ast::Expression;
pub use syntax::parser::parse;
pub use value::{Collection, Node, Precision, Quantity, Temporal, TypeInfo, Value};

/// Options for [`FhirPath::compile_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The HL7 suite's strict mode: a path step the R4 model does not have on a typed node
    /// (`name.given1`, `Observation.valueQuantity`), a leading type name that does not match
    /// the input (`Encounter.name` on a Patient), ordered functions after `children()`, and a
    /// string criterion in `iif()` are errors instead of empty results. Off by default, since
    /// expressions such as the R4 search parameters rely on `Patient.x | Group.y` meaning
    /// "whichever applies".
    pub strict: bool,
}

impl Options {
    /// Strict options (see [`Options::strict`]).
    pub fn strict() -> Options {
        Options { strict: true }
    }
}

/// A compiled FHIRPath expression.
#[derive(Debug, Clone)]
pub struct FhirPath {
    text: String,
    syntax: Expression,
    plan: compile::Plan,
    strict: bool,
}

impl FhirPath {
    /// Parses and compiles `text` with default options.
    ///
    /// # Errors
    ///
    /// [`Error::Syntax`] for text that is not FHIRPath; [`Error::Semantic`] for unknown
    /// functions or type names and wrong argument counts.
    pub fn compile(text: &str) -> Result<FhirPath> {
        FhirPath::compile_with(text, Options::default())
    }

    /// Parses and compiles `text`.
    ///
    /// # Errors
    ///
    /// As [`FhirPath::compile`], plus the strict-mode checks that need no input.
    pub fn compile_with(text: &str, options: Options) -> Result<FhirPath> {
        let syntax = parse(text)?;
        let plan = compile::compile(&syntax, options.strict)?;
        Ok(FhirPath {
            text: text.to_owned(),
            syntax,
            plan,
            strict: options.strict,
        })
    }

    /// The expression text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The syntax tree.
    pub fn syntax(&self) -> &Expression {
        &self.syntax
    }

    /// Evaluates against a resource (or any JSON; `None` for no input). `%resource`,
    /// `%rootResource` and `%context` are the input unless the environment says otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::Evaluation`] for run-time errors (a collection where one item is required,
    /// operands that cannot be combined); [`Error::Semantic`] for strict-mode path errors.
    pub fn evaluate<'a>(
        &'a self,
        input: Option<&'a Json>,
        environment: &Environment<'a>,
    ) -> Result<Collection<'a>> {
        let context: Collection<'a> = input
            .map(|json| Value::Node(Node::resource(json)))
            .into_iter()
            .collect();
        self.evaluate_collection(&context, environment)
    }

    /// Evaluates with any collection as the input and `%context`.
    ///
    /// # Errors
    ///
    /// As [`FhirPath::evaluate`].
    pub fn evaluate_collection<'a>(
        &'a self,
        context: &[Value<'a>],
        environment: &Environment<'a>,
    ) -> Result<Collection<'a>> {
        let root = context.first().and_then(|value| match value {
            Value::Node(node) => Some(node.json()),
            _ => None,
        });
        let evaluator = eval::Evaluator {
            environment,
            context,
            resource: environment.resource.or(root),
            root_resource: environment.root_resource.or(environment.resource).or(root),
            strict: self.strict,
            now: environment.now.map(OnceCell::from).unwrap_or_default(),
            regexes: RefCell::new(Default::default()),
        };
        evaluator.evaluate(&self.plan)
    }
}

/// Compiles and evaluates `expression` in strict mode and returns the result as a JSON array:
/// FHIR nodes as their JSON, System values as FHIR JSON would write them. With `typed`, each
/// item is `{"type": T, "value": V}`, T being the FHIR type (`code`, `HumanName`) or the System
/// type as the HL7 suite writes it (`boolean`, `integer`, `decimal`, `string`, `date`,
/// `dateTime`, `time`, `Quantity`). This is what `medulla fhirpath` prints.
///
/// # Errors
///
/// Any [`Error`]; its message carries the position or the function that failed.
pub fn evaluate_to_json(expression: &str, input: Option<&Json>, typed: bool) -> Result<Json> {
    let path = FhirPath::compile_with(expression, Options::strict())?;
    let result = path.evaluate(input, &Environment::new())?;
    Ok(Json::Array(
        result
            .iter()
            .map(|value| {
                if typed {
                    value.to_typed_json()
                } else {
                    value.to_json()
                }
            })
            .collect(),
    ))
}
