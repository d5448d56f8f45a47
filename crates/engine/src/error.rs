//! What can go wrong in a FHIR interaction. The server maps each variant to an HTTP status and an
//! OperationOutcome; the CLI prints it.

/// One problem found in a request, pointing at where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a FHIRPath-like location (`Patient.name[0].given`) or a parameter name.
    pub expression: Option<String>,
    /// What is wrong, quoting the input.
    pub diagnostics: String,
}

/// An interaction failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource type is not an R4 resource type.
    #[error("unknown resource type {0:?}")]
    UnknownResourceType(String),
    /// The request is malformed: bad JSON shape, bad id, unknown elements, bad parameters.
    #[error("{}", summarize(.0))]
    Invalid(Vec<Problem>),
    /// No such resource (or version).
    #[error("{0} is not known")]
    NotFound(String),
    /// The resource was deleted.
    #[error("{resource} was deleted (version {version})")]
    Gone {
        /// `Type/id`.
        resource: String,
        /// The tombstone's version.
        version: u64,
    },
    /// A precondition (If-Match, conditional match count) did not hold.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The request was understood but its result would be invalid (e.g. a patch that breaks the
    /// resource).
    #[error("{}", summarize(.0))]
    Unprocessable(Vec<Problem>),
    /// An entry of a transaction failed; the whole transaction was rolled back.
    #[error("transaction entry {index} failed: {source}")]
    TransactionEntry {
        /// Position of the entry in `Bundle.entry`.
        index: usize,
        /// What went wrong with it.
        source: Box<Error>,
    },
    /// The caller's access does not allow this (403). Never used where the answer would tell
    /// whether a resource the caller may not see exists: that is [`Error::NotFound`].
    #[error("{0}")]
    Forbidden(String),
    /// A terminology operation failed: unknown code systems and value sets answer 404,
    /// definitions that cannot be evaluated 400, the terminology file's failures 500.
    #[error("{0}")]
    Terminology(#[from] medulla_terminology::Error),
    /// The storage backend failed.
    #[error("storage failure: {0}")]
    Store(#[from] medulla_store::Error),
}

fn summarize(problems: &[Problem]) -> String {
    let mut text = String::new();
    for (n, problem) in problems.iter().enumerate() {
        if n > 0 {
            text.push_str("; ");
        }
        if let Some(expression) = &problem.expression {
            text.push_str(expression);
            text.push_str(": ");
        }
        text.push_str(&problem.diagnostics);
    }
    text
}

impl Error {
    /// A single invalid-input problem.
    pub fn invalid(expression: Option<&str>, diagnostics: impl Into<String>) -> Error {
        Error::Invalid(vec![Problem {
            expression: expression.map(str::to_owned),
            diagnostics: diagnostics.into(),
        }])
    }

    /// The problems this error carries, for rendering as OperationOutcome issues.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Error::Invalid(problems) | Error::Unprocessable(problems) => problems.clone(),
            Error::TransactionEntry { index, source } => source
                .problems()
                .into_iter()
                .map(|problem| Problem {
                    expression: Some(match problem.expression {
                        Some(inner) => format!("Bundle.entry[{index}]: {inner}"),
                        None => format!("Bundle.entry[{index}]"),
                    }),
                    diagnostics: problem.diagnostics,
                })
                .collect(),
            other => vec![Problem {
                expression: None,
                diagnostics: other.to_string(),
            }],
        }
    }

    /// The innermost error (through transaction entries).
    pub fn root(&self) -> &Error {
        match self {
            Error::TransactionEntry { source, .. } => source.root(),
            other => other,
        }
    }
}
