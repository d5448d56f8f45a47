//! The one error type of this crate: [`Error`].

/// What went wrong parsing, compiling or evaluating a FHIRPath expression.
///
/// Positions are character offsets into the expression text, counted from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a FHIRPath expression: an unknown token, an unbalanced bracket, an
    /// unterminated string or comment, or nesting deeper than the parser allows.
    #[error("syntax error at position {position}: {message}")]
    Syntax {
        /// Character offset of the offending token.
        position: usize,
        /// What was wrong, quoting the input.
        message: String,
    },
    /// The expression parses but cannot be evaluated as written: an unknown function, a wrong
    /// number of arguments, an unknown type name, or (in strict mode) a path the R4 model rules
    /// out.
    #[error("semantic error at position {position}: {message}")]
    Semantic {
        /// Character offset of the offending part of the expression.
        position: usize,
        /// What was wrong, quoting the input.
        message: String,
    },
    /// Evaluation failed: a function or operator was given more than one item where the spec
    /// demands a singleton, operands of types it cannot combine, or an input the engine will not
    /// process (a collection past the size limit).
    #[error("evaluation error in {operation}: {message}")]
    Evaluation {
        /// The function or operator that failed: `single()`, `+`, `as`.
        operation: String,
        /// What was wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn evaluation(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Evaluation {
            operation: operation.into(),
            message: message.into(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
