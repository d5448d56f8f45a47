//! What an evaluation may use besides its input: variables, the clock, and hooks for
//! `resolve()`, `memberOf()`, `conformsTo()` and `trace()`: [`Environment`].

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::value::{Collection, Temporal, Value};

/// Resolves references that `resolve()` cannot find in the input (contained resources and
/// Bundle entries are found without it). The server plugs in its store here.
pub trait ResourceResolver {
    /// The resource a reference (`Patient/123`, an absolute URL) points to, if known.
    fn resolve(&self, reference: &str) -> Option<&Json>;
}

/// One code for terminology questions: a system (absent for a bare `code`) and a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coding<'c> {
    /// The code system URL.
    pub system: Option<&'c str>,
    /// The code.
    pub code: &'c str,
}

/// Answers `memberOf()`, `subsumes()` and `subsumedBy()`.
pub trait TerminologyService {
    /// Whether any of `codings` is in the value set; `None` when the value set is unknown.
    fn member_of(&self, codings: &[Coding<'_>], value_set: &str) -> Option<bool>;

    /// Whether `ancestor` subsumes `descendant`; `None` when it cannot say.
    fn subsumes(&self, ancestor: &Coding<'_>, descendant: &Coding<'_>) -> Option<bool> {
        let _ = (ancestor, descendant);
        None
    }
}

/// Answers `conformsTo()` for profiles other than the base R4 resource definitions.
pub trait ProfileChecker {
    /// Whether the resource conforms to the profile; `None` when the profile is unknown.
    fn conforms_to(&self, resource: &Json, profile: &str) -> Option<bool>;
}

/// Receives what `trace()` sees.
pub trait TraceSink {
    /// Called once per `trace()` evaluation with its name and the traced collection.
    fn trace(&self, name: &str, values: &[Value<'_>]);
}

/// The environment of one or many evaluations.
///
/// ```
/// use medulla_fhirpath::{Environment, FhirPath, Value};
///
/// let path = FhirPath::compile("%limit + 1").expect("valid");
/// let environment = Environment::new().with_variable("limit", vec![Value::Integer(41)]);
/// let result = path.evaluate(None, &environment).expect("evaluates");
/// assert_eq!(result[0].to_json(), serde_json::json!(42));
/// ```
#[derive(Default)]
pub struct Environment<'a> {
    pub(crate) variables: HashMap<String, Collection<'a>>,
    pub(crate) resolver: Option<&'a dyn ResourceResolver>,
    pub(crate) terminology: Option<&'a dyn TerminologyService>,
    pub(crate) profiles: Option<&'a dyn ProfileChecker>,
    pub(crate) trace: Option<&'a dyn TraceSink>,
    pub(crate) now: Option<Temporal>,
    pub(crate) resource: Option<&'a Json>,
    pub(crate) root_resource: Option<&'a Json>,
}

impl<'a> Environment<'a> {
    /// An environment with no variables or hooks; the clock is read at each evaluation.
    pub fn new() -> Environment<'a> {
        Environment::default()
    }

    /// Sets `%name`.
    pub fn with_variable(mut self, name: impl Into<String>, value: Collection<'a>) -> Self {
        self.variables.insert(name.into(), value);
        self
    }

    /// Sets the hook for references not found in the input.
    pub fn with_resolver(mut self, resolver: &'a dyn ResourceResolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Sets the terminology hook.
    pub fn with_terminology(mut self, terminology: &'a dyn TerminologyService) -> Self {
        self.terminology = Some(terminology);
        self
    }

    /// Sets the profile hook.
    pub fn with_profiles(mut self, profiles: &'a dyn ProfileChecker) -> Self {
        self.profiles = Some(profiles);
        self
    }

    /// Sets the receiver of `trace()` output.
    pub fn with_trace(mut self, trace: &'a dyn TraceSink) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Fixes `now()`, `today()` and `timeOfDay()` (a date-time with a zone).
    pub fn with_now(mut self, now: Temporal) -> Self {
        self.now = Some(now);
        self
    }

    /// Sets `%resource` and `%rootResource` when the input is not itself the resource (an
    /// element within it). Without this they are the input.
    pub fn with_resource(mut self, resource: &'a Json, root_resource: &'a Json) -> Self {
        self.resource = Some(resource);
        self.root_resource = Some(root_resource);
        self
    }
}
