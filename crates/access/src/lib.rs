//! Who may do what: SMART on FHIR scopes and the caller's access context.
//!
//! This crate owns the scope grammar of SMART App Launch 1.0 (`patient/Observation.read`) and
//! 2.0 (`patient/Observation.rs`, `user/*.cruds`, granular `system/Observation.rs?category=…`),
//! the [`Access`] a request runs with (who, which scopes, which patient and encounter were
//! launched, the purpose of use) and [`Access::decide`], the one answer to "may this caller do
//! this kind of interaction on this resource type, and within which limits".
//!
//! Does not: verify tokens, hash passwords or store anything (that is `medulla-auth`), look at
//! resources or run searches (the engine applies a [`Grant`]'s limits), or know HTTP.

mod scope;

pub use scope::{Context, Permission, Permissions, ResourceScope, Scope, ScopeError, ScopeSet};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// No authentication is configured (`--auth none`, loopback only): everything is allowed.
    Anonymous,
    /// A person who logged in (user name).
    User(String),
    /// A client acting for itself (backend services; client id).
    Client(String),
}

impl Subject {
    /// The name to record in audit trails.
    pub fn name(&self) -> &str {
        match self {
            Subject::Anonymous => "anonymous",
            Subject::User(name) | Subject::Client(name) => name,
        }
    }
}

/// The context a request runs with: checked token, scopes, launch context.
#[derive(Debug, Clone)]
pub struct Access {
    /// Who is calling.
    pub subject: Subject,
    /// The OAuth client the token was issued to, if any.
    pub client_id: Option<String>,
    /// The granted scopes.
    pub scopes: ScopeSet,
    /// The launch patient (`patient` in the token response): `patient/` scopes are limited to
    /// this patient's compartment.
    pub patient: Option<String>,
    /// The launch encounter.
    pub encounter: Option<String>,
    /// `fhirUser` (`Practitioner/123`).
    pub fhir_user: Option<String>,
    /// Roles of the user (`clinician`, `auditor`, `admin` …).
    pub roles: Vec<String>,
    /// Purposes of use asserted for this request (`TREAT`, `BTG` for break-glass).
    pub purpose_of_use: Vec<String>,
    /// Token id (`jti`), for audit.
    pub token_id: Option<String>,
}

/// The kind of interaction asked for, as SMART v2 permission letters name them.
pub use scope::Permission as Interaction;

/// One way a resource can be allowed: in the patient's compartment (if `patient` is set)
/// and matching the search (if `query` is not empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The resource must be in this patient's compartment.
    pub patient: Option<String>,
    /// The resource must match this search (granular scopes), as query-string pairs.
    pub query: Vec<(String, String)>,
}

/// What a caller may do with one resource type for one kind of interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// No scope allows it: 403 (or 404 where existence must not be revealed).
    Denied,
    /// Allowed on every resource of the type.
    All,
    /// Allowed on resources that satisfy at least one of these limits (never empty).
    Limited(Vec<Limit>),
}

impl Grant {
    /// Whether anything at all is allowed.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Grant::Denied)
    }

    /// The limits (empty for [`Grant::All`] and [`Grant::Denied`]).
    pub fn limits(&self) -> &[Limit] {
        match self {
            Grant::Limited(limits) => limits,
            _ => &[],
        }
    }
}

impl Access {
    /// Access without authentication: everything is allowed (`--auth none` on loopback).
    pub fn anonymous() -> Access {
        Access {
            subject: Subject::Anonymous,
            client_id: None,
            scopes: ScopeSet::default(),
            patient: None,
            encounter: None,
            fhir_user: None,
            roles: Vec::new(),
            purpose_of_use: Vec::new(),
            token_id: None,
        }
    }

    /// Whether this is the unauthenticated, allow-everything context.
    pub fn is_anonymous(&self) -> bool {
        self.subject == Subject::Anonymous
    }

    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the request asserts break-glass (`BTG`).
    pub fn is_break_glass(&self) -> bool {
        self.purpose_of_use.iter().any(|p| p == "BTG")
    }

    /// May the caller do `interaction` on resources of `resource_type`, and within which limits?
    ///
    /// Scopes add up: a `user/` or `system/` scope without a query allows everything of the type
    /// and wins over narrower ones; `patient/` scopes limit to the launch patient's compartment
    /// (and allow nothing without a launch patient); granular scopes (`?category=…`) limit to
    /// resources matching their search, and several of them are alternatives.
    pub fn decide(&self, resource_type: &str, interaction: Permission) -> Grant {
        if self.is_anonymous() {
            return Grant::All;
        }
        let mut limits: Vec<Limit> = Vec::new();
        for scope in self.scopes.resource_scopes() {
            if !scope.covers(resource_type, interaction) {
                continue;
            }
            let patient = match scope.context {
                // Without a launch patient, a patient scope allows nothing.
                Context::Patient => match &self.patient {
                    Some(id) => Some(id.clone()),
                    None => continue,
                },
                Context::User | Context::System => None,
            };
            if patient.is_none() && scope.query.is_empty() {
                return Grant::All;
            }
            let limit = Limit {
                patient,
                query: scope.query.clone(),
            };
            if !limits.contains(&limit) {
                limits.push(limit);
            }
        }
        // A limit without a query makes narrower ones for the same patient redundant.
        let unqueried: Vec<Option<String>> = limits
            .iter()
            .filter(|l| l.query.is_empty())
            .map(|l| l.patient.clone())
            .collect();
        limits.retain(|l| l.query.is_empty() || !unqueried.contains(&l.patient));
        if limits.is_empty() {
            Grant::Denied
        } else {
            Grant::Limited(limits)
        }
    }

    /// Whether any scope allows `interaction` on every resource type (`system/*.cud` and the
    /// like): required for server-wide operations such as `$reindex` and `$import`.
    pub fn allows_all_types(&self, interaction: Permission) -> bool {
        self.is_anonymous()
            || self.scopes.resource_scopes().any(|scope| {
                scope.resource_type.is_none()
                    && scope.query.is_empty()
                    && scope.context != Context::Patient
                    && scope.permissions.contains(interaction)
            })
    }
}

#[cfg(test)]
mod tests;
