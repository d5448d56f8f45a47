//! OperationOutcome rendering and the one mapping from [`Error`] to HTTP status and issue code.

use crate::Error;
use serde_json::{Value, json};

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::UnknownResourceType(_) | Error::NotFound(_) => 404,
            Error::Invalid(_) => 400,
            Error::Gone { .. } => 410,
            Error::PreconditionFailed(_) => 412,
            Error::Conflict(_) => 409,
            Error::Unprocessable(_) => 422,
            Error::Forbidden(_) => 403,
            Error::TransactionEntry { source, .. } => source.status(),
            Error::Store(medulla_store::Error::VersionConflict { .. }) => 409,
            Error::Store(_) => 500,
            Error::Terminology(error) if error.is_not_found() => 404,
            Error::Terminology(error) if error.is_internal() => 500,
            Error::Terminology(_) => 400,
        }
    }

    /// The OperationOutcome `issue.code` for this error.
    pub fn issue_code(&self) -> &'static str {
        match self.root() {
            Error::UnknownResourceType(_) => "not-supported",
            Error::NotFound(_) => "not-found",
            Error::Gone { .. } => "deleted",
            Error::Invalid(_) | Error::Unprocessable(_) => "invalid",
            Error::Forbidden(_) => "forbidden",
            Error::PreconditionFailed(_) | Error::Conflict(_) => "conflict",
            Error::Store(medulla_store::Error::VersionConflict { .. }) => "conflict",
            Error::Terminology(error) if error.is_not_found() => "not-found",
            Error::Terminology(medulla_terminology::Error::ExpansionTooLarge { .. }) => {
                "too-costly"
            }
            Error::Terminology(error) if !error.is_internal() => "invalid",
            _ => "exception",
        }
    }

    /// The error as an OperationOutcome. Storage failures are not detailed to clients.
    pub fn to_outcome(&self) -> Value {
        let internal = match self.root() {
            Error::Store(error) => !matches!(error, medulla_store::Error::VersionConflict { .. }),
            Error::Terminology(error) => error.is_internal(),
            _ => false,
        };
        if internal {
            return operation_outcome(
                "error",
                "exception",
                &[(
                    None,
                    "internal storage error; see the server log".to_owned(),
                )],
            );
        }
        let problems: Vec<(Option<String>, String)> = self
            .problems()
            .into_iter()
            .map(|problem| (problem.expression, problem.diagnostics))
            .collect();
        operation_outcome("error", self.issue_code(), &problems)
    }
}

/// The canonical text of an HTTP status, as `Bundle.entry.response.status` carries it.
pub fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        422 => "Unprocessable Entity",
        _ => "Internal Server Error",
    };
    format!("{status} {reason}")
}

/// Builds an OperationOutcome with one issue per `(expression, diagnostics)`.
pub fn operation_outcome(severity: &str, code: &str, issues: &[(Option<String>, String)]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|(expression, diagnostics)| {
            let mut issue =
                json!({ "severity": severity, "code": code, "diagnostics": diagnostics });
            if let (Some(expression), Some(object)) = (expression, issue.as_object_mut()) {
                object.insert("expression".into(), json!([expression]));
            }
            issue
        })
        .collect();
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}
