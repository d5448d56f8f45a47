//! Validation in the engine: the write-time policy ([`ValidationPolicy`]: `off`, `base` or
//! `profiles`, per resource type) applied before resources are written, and the `$validate`
//! operation.
//!
//! Under `base` (the default) a resource is checked against the R4 base definitions only
//! (structure, cardinality, primitives, required bindings, invariants); under `profiles` also
//! against the profiles it declares in `meta.profile` and those the policy requires for its
//! type, which must be StructureDefinitions known to the server (stored, or installed from a
//! package). A write is refused (422, an OperationOutcome listing the errors) only for issues
//! of severity error or fatal. Extensions the server has no definition for are allowed at write
//! time (sites add their own); `$validate` reports them as the HL7 validator does.

use std::collections::BTreeMap;
use std::str::FromStr;

use std::sync::Arc;

use medulla_validation::{Options, Outcome, Severity, Validator};
use serde_json::Value;

use crate::{Engine, Error, OperationInput, Problem};

/// How strictly a resource type is validated before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidationLevel {
    /// Only the structural check every write gets (JSON shape, known elements, ids).
    Off,
    /// The R4 base definitions.
    #[default]
    Base,
    /// The base, the profiles the resource declares, and the profiles required for its type.
    Profiles,
}

impl FromStr for ValidationLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(ValidationLevel::Off),
            "base" => Ok(ValidationLevel::Base),
            "profiles" => Ok(ValidationLevel::Profiles),
            other => Err(format!(
                "unknown validation level {other:?}: use off, base or profiles"
            )),
        }
    }
}

/// The write-time validation policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// The level of types not named in `by_type`.
    pub default: ValidationLevel,
    /// Levels by resource type.
    pub by_type: BTreeMap<String, ValidationLevel>,
    /// Profiles (canonical URLs) every resource of a type must conform to, under `profiles`.
    pub required_profiles: BTreeMap<String, Vec<String>>,
}

impl ValidationPolicy {
    /// The level for `resource_type`.
    pub fn level(&self, resource_type: &str) -> ValidationLevel {
        self.by_type
            .get(resource_type)
            .copied()
            .unwrap_or(self.default)
    }

    /// Adds a `Type=level` rule (`Observation=profiles`).
    ///
    /// # Errors
    /// A message when the rule is malformed or the type is not an R4 resource type.
    pub fn add_type_rule(&mut self, rule: &str) -> Result<(), String> {
        let (resource_type, level) = rule
            .split_once('=')
            .ok_or_else(|| format!("{rule:?} is not Type=level"))?;
        check_type_name(resource_type)?;
        self.by_type
            .insert(resource_type.to_owned(), level.parse()?);
        Ok(())
    }

    /// Adds a `Type=canonical` requirement (`Patient=http://…/us-core-patient`).
    ///
    /// # Errors
    /// A message when the rule is malformed or the type is not an R4 resource type.
    pub fn add_required_profile(&mut self, rule: &str) -> Result<(), String> {
        let (resource_type, profile) = rule
            .split_once('=')
            .ok_or_else(|| format!("{rule:?} is not Type=profile-url"))?;
        check_type_name(resource_type)?;
        if profile.is_empty() {
            return Err(format!("{rule:?} names no profile"));
        }
        self.required_profiles
            .entry(resource_type.to_owned())
            .or_default()
            .push(profile.to_owned());
        Ok(())
    }
}

fn check_type_name(resource_type: &str) -> Result<(), String> {
    if medulla_model::definitions().is_resource_type(resource_type) {
        Ok(())
    } else {
        Err(format!("{resource_type:?} is not an R4 resource type"))
    }
}

fn is_error(severity: Severity) -> bool {
    matches!(severity, Severity::Error | Severity::Fatal)
}

impl Engine {
    /// The checks a resource gets before bulk loading writes it: a known `resourceType`, the
    /// structural check, and the write-time validation policy.
    ///
    /// # Errors
    /// 400 for a structural problem, 422 for validation errors.
    pub fn check_for_write(&self, body: &Value) -> Result<(), Error> {
        crate::check_resource(body)?;
        self.check_policy(body)
    }

    /// Validates `body` as the write-time policy asks for its type.
    ///
    /// # Errors
    /// 422 listing the errors (each with its FHIRPath location) when there are any; a storage
    /// error when the stored definitions cannot be read.
    pub fn check_policy(&self, body: &Value) -> Result<(), Error> {
        let Some(resource_type) = body.get("resourceType").and_then(Value::as_str) else {
            return Ok(());
        };
        if self.options.validation.level(resource_type) == ValidationLevel::Off {
            return Ok(());
        }
        let validator = self.definitions.validator()?;
        self.check_policy_with(&validator, body)
    }

    /// The validator write-time checks use (fetched before a write job that must check inside
    /// it, so that the writer thread does not read the stored definitions).
    ///
    /// # Errors
    /// When the stored definitions cannot be read.
    pub(crate) fn policy_validator(&self) -> Result<Arc<Validator>, Error> {
        self.definitions.validator()
    }

    /// [`Engine::check_policy`] with a given validator.
    pub(crate) fn check_policy_with(
        &self,
        validator: &Validator,
        body: &Value,
    ) -> Result<(), Error> {
        let Some(resource_type) = body.get("resourceType").and_then(Value::as_str) else {
            return Ok(());
        };
        let policy = &self.options.validation;
        let level = policy.level(resource_type);
        if level == ValidationLevel::Off {
            return Ok(());
        }
        let mut options = Options::new()
            .allow_unknown_extensions(true)
            .declared_profiles(level == ValidationLevel::Profiles);
        if level == ValidationLevel::Profiles {
            for profile in policy
                .required_profiles
                .get(resource_type)
                .into_iter()
                .flatten()
            {
                options = options.with_profile(profile.clone());
            }
        }
        let outcome = validator.validate(body, &options);
        let problems: Vec<Problem> = outcome
            .issues
            .iter()
            .filter(|issue| is_error(issue.severity))
            .map(|issue| Problem {
                expression: Some(issue.expression.clone()),
                diagnostics: issue.details.clone(),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Unprocessable(problems))
        }
    }

    /// `$validate` of `resource` (the body, or the stored resource for
    /// `GET /Type/id/$validate`) with `mode` (`create`, `update`, `delete`) and extra
    /// `profile`s: an OperationOutcome of every issue (or one saying all is well).
    pub(crate) fn validate_operation(
        &self,
        resource_type: &str,
        id: Option<&str>,
        stored: Option<Value>,
        input: &OperationInput,
    ) -> Result<Value, Error> {
        let mode = input.text("mode")?;
        let mut options = Options::new();
        for profile in input.all("profile") {
            let profile = profile.as_str().ok_or_else(|| {
                Error::invalid(Some("profile"), "profile must be a canonical URL")
            })?;
            options = options.with_profile(profile);
        }
        let given = input.resource("resource")?.cloned();
        match mode {
            None | Some("create" | "update" | "delete") => {}
            Some(other) => {
                return Err(Error::invalid(
                    Some("mode"),
                    format!("unknown mode {other:?}: use create, update or delete"),
                ));
            }
        }
        if mode == Some("delete") {
            // Deleting needs only that the resource exists; no content rules apply to it.
            return match (id, stored) {
                (Some(_), Some(_)) => Ok(Outcome::default().to_operation_outcome()),
                _ => Err(Error::invalid(
                    Some("mode"),
                    "mode delete validates the deletion of a stored resource: call it on /Type/id/$validate",
                )),
            };
        }
        let resource = match (given, stored) {
            (Some(resource), _) => resource,
            (None, Some(stored)) => stored,
            (None, None) => {
                return Err(Error::invalid(
                    Some("resource"),
                    "$validate needs the resource: as the body, or as the parameter resource",
                ));
            }
        };
        match resource.get("resourceType").and_then(Value::as_str) {
            Some(found) if found == resource_type => {}
            found => {
                return Err(Error::invalid(
                    Some("resource"),
                    format!(
                        "the resource is a {}, not a {resource_type}",
                        found.unwrap_or("(no resourceType)")
                    ),
                ));
            }
        }
        if mode == Some("update") {
            let body_id = resource.get("id").and_then(Value::as_str);
            if body_id.is_none() || (id.is_some() && body_id != id) {
                return Err(Error::invalid(
                    Some("resource.id"),
                    "mode update needs the resource's id, the same as in the URL",
                ));
            }
        }
        let outcome = self.definitions.validator()?.validate(&resource, &options);
        Ok(outcome.to_operation_outcome())
    }
}
