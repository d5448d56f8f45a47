//! Access enforcement: the one choke point between a caller's [`Access`] and the engine.
//!
//! The server reaches the engine only through [`Guarded`], whose methods mirror the engine's
//! and decide first. Rules, in the words of SMART App Launch 2.0 and our policy:
//!
//! - No scope for the type and interaction: 403.
//! - `patient/` scopes limit to the launch patient's compartment (the R4 Patient
//!   CompartmentDefinition). Searches get the compartment as a condition, so counts and pages
//!   are right; reads of a resource outside it answer 404, exactly as if it did not exist.
//!   Types outside the compartment (Practitioner, Medication …) hold no patient's data and are
//!   not limited, but their searches may not reach into patient data through chains or `_has`.
//! - Granular scopes (`?category=…`) limit to resources matching their search: one such limit
//!   becomes part of the query; several (alternatives) filter each page.
//! - Included resources (`_include`, `_revinclude`, `:iterate`) are checked one by one.
//! - History of a type or the system needs unrestricted access to the types involved.
//! - Writes under limits: the new content must be inside the limits, and so must the version it
//!   replaces, which is pinned with If-Match so that no concurrent change slips between the
//!   check and the write. Conditional writes and granular write scopes are refused (403):
//!   their targets cannot be checked before the write.
//! - Batch and transaction entries are checked one by one, before anything is written.
//! - `AuditEvent` is read-only for everyone and readable by the `auditor` role only.
//! - CodeSystem, ValueSet, ConceptMap and StructureDefinition, which change terminology and
//!   validation for everyone, are written only under scopes without limits (user/, system/).
//! - Active Consent resources that deny access hide resources from reads and searches (see
//!   `consent.rs`), for every caller, unless a clinician or administrator asserts break-glass.

use crate::bundle::{BundleResponse, Entry, Target, Verb};
use crate::searching::{Visible, Within};
use crate::{Engine, Error, Handling, PatchTarget, Written, resource};
use medulla_access::{Access, Grant, Limit, Permission};
use medulla_model::definitions;
use medulla_store::{HistoryScope, StoredResource};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The engine as one caller may use it.
#[derive(Clone)]
pub struct Guarded {
    engine: Engine,
    access: Arc<Access>,
}

impl Engine {
    /// The engine limited to what `access` allows.
    pub fn guarded(&self, access: Arc<Access>) -> Guarded {
        Guarded {
            engine: self.clone(),
            access,
        }
    }
}

/// Reference parameters of a type outside the Patient compartment that can point at a Patient.
fn patient_reference_params(resource_type: &str) -> Vec<String> {
    definitions()
        .search_params(resource_type)
        .filter(|p| {
            p.kind == medulla_model::SearchParamType::Reference
                && p.target.iter().any(|t| t == "Patient")
        })
        .map(|p| p.code.clone())
        .collect()
}

fn verb(permission: Permission) -> &'static str {
    match permission {
        Permission::Create => "create",
        Permission::Read => "read",
        Permission::Update => "update",
        Permission::Delete => "delete",
        Permission::Search => "search",
    }
}

impl Guarded {
    /// The caller's access.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The engine underneath (for options and job status only; never for data).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// What the caller may do with `resource_type`; `AuditEvent` is read-only and needs the
    /// `auditor` role.
    pub fn decide(&self, resource_type: &str, permission: Permission) -> Grant {
        if resource_type == "AuditEvent" {
            let reading = matches!(permission, Permission::Read | Permission::Search);
            if !reading || !(self.access.is_anonymous() || self.access.has_role("auditor")) {
                return Grant::Denied;
            }
        }
        self.access.decide(resource_type, permission)
    }

    fn forbidden(&self, resource_type: &str, permission: Permission) -> Error {
        Error::Forbidden(format!(
            "the access token does not allow {} on {resource_type}",
            verb(permission)
        ))
    }

    /// The grant, or 403 when nothing is allowed.
    fn require(&self, resource_type: &str, permission: Permission) -> Result<Grant, Error> {
        match self.decide(resource_type, permission) {
            Grant::Denied => Err(self.forbidden(resource_type, permission)),
            grant => Ok(grant),
        }
    }

    /// Requires unrestricted access to every type in `types` (all types when empty): for
    /// history across types, bulk export, and other operations a limit cannot be applied to.
    ///
    /// # Errors
    /// 403 naming the first type that is denied or limited.
    pub fn require_all(&self, types: &[String], permission: Permission) -> Result<(), Error> {
        if self.access.is_anonymous() {
            return Ok(());
        }
        if types.is_empty() {
            return if self.access.allows_all_types(permission) {
                Ok(())
            } else {
                Err(Error::Forbidden(format!(
                    "this needs {} access to every resource type (a user/ or system/ *.{} scope)",
                    verb(permission),
                    match permission {
                        Permission::Create => "c",
                        Permission::Read => "r",
                        Permission::Update => "u",
                        Permission::Delete => "d",
                        Permission::Search => "s",
                    }
                )))
            };
        }
        for resource_type in types {
            if self.decide(resource_type, permission) != Grant::All {
                return Err(Error::Forbidden(format!(
                    "this needs unrestricted {} access to {resource_type}",
                    verb(permission)
                )));
            }
        }
        Ok(())
    }

    /// Whether the caller may see `resource` (any version) under `grant`.
    fn permits(&self, grant: &Grant, resource: &StoredResource) -> bool {
        match grant {
            Grant::All => true,
            Grant::Denied => false,
            Grant::Limited(limits) => {
                let Some(body) = resource
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                else {
                    return false;
                };
                limits.iter().any(|limit| {
                    self.satisfies(limit, &resource.resource_type, &resource.id, &body)
                })
            }
        }
    }

    fn satisfies(&self, limit: &Limit, resource_type: &str, id: &str, body: &Value) -> bool {
        if let Some(patient) = &limit.patient
            && !self.in_compartment(patient, resource_type, id, body)
        {
            return false;
        }
        if limit.query.is_empty() {
            return true;
        }
        // A granular limit: does the stored resource match the scope's search?
        let mut params = limit.query.clone();
        params.push(("_id".to_owned(), id.to_owned()));
        self.engine
            .parse_search(&[resource_type.to_owned()], &params, Handling::Strict)
            .ok()
            .and_then(|request| self.engine.store().search(&request.query).ok())
            .is_some_and(|page| !page.resources.is_empty())
    }

    /// Whether a resource with this content is in `patient`'s compartment. A type outside the
    /// CompartmentDefinition (Device, GuidanceResponse, Contract …) may still point at a
    /// patient through a reference parameter: then it must point at this one; if it points at
    /// no patient it is nobody's data and counts as inside.
    fn in_compartment(&self, patient: &str, resource_type: &str, id: &str, body: &Value) -> bool {
        if resource_type == "Patient" {
            return id == patient;
        }
        let base = &self.engine.options().base_url;
        match definitions().patient_compartment_params(resource_type) {
            Some(params) => {
                let params: Vec<String> = params
                    .iter()
                    .filter(|p| !p.starts_with('{'))
                    .cloned()
                    .collect();
                medulla_search::reference_targets(body, &params, base)
                    .iter()
                    .any(|(t, i)| t == "Patient" && i == patient)
            }
            None => {
                let params = patient_reference_params(resource_type);
                let patients: Vec<(String, String)> =
                    medulla_search::reference_targets(body, &params, base)
                        .into_iter()
                        .filter(|(t, _)| t == "Patient")
                        .collect();
                patients.is_empty() || patients.iter().any(|(_, i)| i == patient)
            }
        }
    }

    /// The patients a resource belongs to (for consent rules).
    fn patients_of(&self, resource: &StoredResource) -> Vec<String> {
        if resource.resource_type == "Patient" {
            return vec![resource.id.clone()];
        }
        let Some(body) = resource
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Vec::new();
        };
        let params: Vec<String> =
            match definitions().patient_compartment_params(&resource.resource_type) {
                Some(params) => params
                    .iter()
                    .filter(|p| !p.starts_with('{'))
                    .cloned()
                    .collect(),
                None => patient_reference_params(&resource.resource_type),
            };
        medulla_search::reference_targets(&body, &params, &self.engine.options().base_url)
            .into_iter()
            .filter(|(t, _)| t == "Patient")
            .map(|(_, id)| id)
            .collect()
    }

    /// Whether a consent hides `resource` from this caller. Break-glass lifts consents for
    /// clinicians and administrators (and on an unauthenticated loopback server).
    fn consent_hides(&self, resource: &StoredResource) -> bool {
        if resource.body.is_none() {
            return false;
        }
        let may_break_glass = self.access.is_anonymous()
            || self.access.has_role("clinician")
            || self.access.has_role("admin");
        let access: &Access = &self.access;
        let overridden;
        let access = if access.is_break_glass() && !may_break_glass {
            overridden = Access {
                purpose_of_use: access
                    .purpose_of_use
                    .iter()
                    .filter(|p| *p != "BTG")
                    .cloned()
                    .collect(),
                ..access.clone()
            };
            &overridden
        } else {
            access
        };
        self.engine
            .consents
            .denies(&self.engine, access, resource, || {
                self.patients_of(resource)
            })
    }

    /// Reloads consent rules after a write that may have changed them.
    fn after_write(&self, resource_type: &str) {
        if resource_type == "Consent" || resource_type == "Bundle" {
            self.engine.consents.invalidate();
        }
    }

    /// The check applied to included resources (and to matches when `filter_matches`, or
    /// when consents are in force).
    fn visible(&self, filter_matches: bool) -> Option<Visible> {
        let consents = self.engine.consents.any(&self.engine);
        if self.access.is_anonymous() && !consents {
            return None;
        }
        let guard = self.clone();
        Some(Visible {
            check: Arc::new(move |found: &StoredResource| {
                let grant = match guard.decide(&found.resource_type, Permission::Search) {
                    Grant::Denied => guard.decide(&found.resource_type, Permission::Read),
                    grant => grant,
                };
                guard.permits(&grant, found) && !guard.consent_hides(found)
            }),
            filter_matches: filter_matches || consents,
        })
    }

    /// An operation on a type or an instance: `$validate` (any type), or a terminology
    /// operation (`$lookup`, `$validate-code`, `$subsumes` on CodeSystem;
    /// `$expand`, `$validate-code` on ValueSet; `$translate` on ConceptMap) on the type, or on the resource `id` (whose
    /// `url` names the code system or value set). Needs read access to the type.
    ///
    /// # Errors
    /// 403 without read access; 404 for an unknown operation, resource, code system or value
    /// set; 400 for missing or malformed parameters.
    pub fn operation(
        &self,
        resource_type: &str,
        id: Option<&str>,
        operation: &str,
        input: &crate::OperationInput,
    ) -> Result<Value, Error> {
        if operation == "validate" {
            resource::check_type(resource_type)?;
            self.require(resource_type, Permission::Read)?;
            let stored = match id {
                Some(id) => Some(self.read_json(resource_type, id)?),
                None => None,
            };
            return self
                .engine
                .validate_operation(resource_type, id, stored, input);
        }
        if !crate::is_terminology_operation(resource_type, operation) {
            return Err(Error::NotFound(format!(
                "operation ${operation} on {resource_type}"
            )));
        }
        self.require(resource_type, Permission::Read)?;
        let instance = match id {
            Some(id) => Some(self.read_json(resource_type, id)?),
            None => None,
        };
        let terminology = self.engine.terminology()?;
        crate::terminology_ops::run(
            &terminology,
            resource_type,
            operation,
            input,
            instance.as_ref(),
        )
    }

    /// [`Guarded::read`], parsed.
    fn read_json(&self, resource_type: &str, id: &str) -> Result<Value, Error> {
        let stored = self.read(resource_type, id)?;
        let body = stored.body.as_deref().unwrap_or_default();
        serde_json::from_slice::<Value>(body).map_err(|error| {
            Error::invalid(None, format!("{resource_type}/{id} is not JSON: {error}"))
        })
    }

    /// Read (`GET /Type/id`): 403 without a read scope for the type, 404 outside the limits.
    ///
    /// # Errors
    /// As [`Engine::read`], plus 403/404 as above.
    pub fn read(&self, resource_type: &str, id: &str) -> Result<StoredResource, Error> {
        resource::check_type(resource_type)?;
        let grant = self.require(resource_type, Permission::Read)?;
        let found = self.engine.read(resource_type, id)?;
        if self.permits(&grant, &found) && !self.consent_hides(&found) {
            Ok(found)
        } else {
            Err(Error::NotFound(format!("{resource_type}/{id}")))
        }
    }

    /// Version read; the version itself must be inside the limits.
    ///
    /// # Errors
    /// As [`Engine::vread`], plus 403/404.
    pub fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version: &str,
    ) -> Result<StoredResource, Error> {
        resource::check_type(resource_type)?;
        let grant = self.require(resource_type, Permission::Read)?;
        if grant != Grant::All {
            // A limited caller learns nothing about resources outside the limits: not even
            // that a version was deleted.
            let current = self
                .engine
                .read(resource_type, id)
                .map_err(|_| Error::NotFound(format!("{resource_type}/{id}")))?;
            if !self.permits(&grant, &current) {
                return Err(Error::NotFound(format!("{resource_type}/{id}")));
            }
        }
        let found = self.engine.vread(resource_type, id, version)?;
        if self.permits(&grant, &found) && !self.consent_hides(&found) {
            Ok(found)
        } else {
            Err(Error::NotFound(format!(
                "{resource_type}/{id}/_history/{version}"
            )))
        }
    }

    /// Search (`GET /Type?…`, `GET /?_type=…`).
    ///
    /// # Errors
    /// As [`Engine::search_bundle`], plus 403 for types without a search scope, for searches
    /// across several limited types, and for chains or `_has` from a type outside the
    /// compartment under a patient limit.
    pub fn search_bundle(
        &self,
        types: &[String],
        path: &str,
        params: &[(String, String)],
        handling: Handling,
    ) -> Result<Vec<u8>, Error> {
        if self.access.is_anonymous() && !self.engine.consents.any(&self.engine) {
            return self.engine.search_bundle(types, path, params, handling);
        }
        let [resource_type] = types else {
            self.require_all(types, Permission::Search)?;
            return self.engine.search_bundle_within(
                types,
                path,
                params,
                params,
                handling,
                Within {
                    visible: self.visible(false),
                    ..Within::default()
                },
            );
        };
        resource::check_type(resource_type)?;
        let grant = self.require(resource_type, Permission::Search)?;
        let mut query: Vec<(String, String)> = params.to_vec();
        let mut within = Within::default();
        let limits = grant.limits();
        match limits {
            [] => within.visible = self.visible(false),
            [only] => {
                within.visible = self.visible(false);
                if let Some(patient) = &only.patient {
                    self.limit_to_compartment(
                        resource_type,
                        patient,
                        params,
                        &mut query,
                        &mut within,
                    )?;
                }
                query.extend(only.query.iter().cloned());
            }
            _ => {
                if limits.iter().any(|l| l.patient.is_some()) {
                    self.refuse_reaching_out(resource_type, params)?;
                }
                within.visible = self.visible(true);
            }
        }
        // Links repeat the caller's own parameters; the limits are re-applied on every page.
        self.engine
            .search_bundle_within(types, path, params, &query, handling, within)
    }

    fn limit_to_compartment(
        &self,
        resource_type: &str,
        patient: &str,
        params: &[(String, String)],
        query: &mut Vec<(String, String)>,
        within: &mut Within,
    ) -> Result<(), Error> {
        if resource_type == "Patient" {
            query.push(("_id".to_owned(), patient.to_owned()));
            return Ok(());
        }
        match definitions().patient_compartment_params(resource_type) {
            Some(members) => {
                let members: BTreeSet<String> = members
                    .iter()
                    .filter(|p| !p.starts_with('{'))
                    .cloned()
                    .collect();
                within
                    .clauses
                    .push(Engine::compartment_clause(patient, &members));
                Ok(())
            }
            None => {
                self.refuse_reaching_out(resource_type, params)?;
                // Some such types still point at patients (Device.patient): check each match.
                if !patient_reference_params(resource_type).is_empty() {
                    within.visible = self.visible(true);
                }
                Ok(())
            }
        }
    }

    /// Searches of types outside the compartment may not test patient data by chains or
    /// `_has`: `Practitioner?_has:Observation:performer:subject=Patient/other` would tell
    /// whom another patient saw.
    fn refuse_reaching_out(
        &self,
        resource_type: &str,
        params: &[(String, String)],
    ) -> Result<(), Error> {
        let reaches = params.iter().any(|(name, _)| {
            let base = name.split(':').next().unwrap_or(name);
            name.starts_with("_has") || base.contains('.')
        });
        if reaches {
            return Err(Error::Forbidden(format!(
                "with patient-level access, a search of {resource_type} may not use chained or _has parameters"
            )));
        }
        Ok(())
    }

    /// Compartment search (`GET /Patient/id/Type`): a limited caller only in their own
    /// patient's compartment (another patient's answers 404).
    ///
    /// # Errors
    /// As [`Engine::compartment_bundle`], plus 403/404.
    #[allow(clippy::too_many_arguments)]
    pub fn compartment_bundle(
        &self,
        compartment: &str,
        id: &str,
        target: &str,
        path: &str,
        params: &[(String, String)],
        handling: Handling,
    ) -> Result<Vec<u8>, Error> {
        if self.access.is_anonymous() && !self.engine.consents.any(&self.engine) {
            return self
                .engine
                .compartment_bundle(compartment, id, target, path, params, handling);
        }
        let targets: Vec<String> = if target == "*" {
            definitions().resource_types().map(str::to_owned).collect()
        } else {
            vec![target.to_owned()]
        };
        for t in &targets {
            let grant = self.decide(t, Permission::Search);
            let ok = match &grant {
                Grant::All => true,
                Grant::Denied => target == "*",
                Grant::Limited(limits) => limits
                    .iter()
                    .any(|l| l.query.is_empty() && l.patient.as_deref() == Some(id)),
            };
            if !ok {
                if grant.limits().iter().any(|l| l.patient.is_some()) {
                    return Err(Error::NotFound(format!("Patient/{id}")));
                }
                return Err(self.forbidden(t, Permission::Search));
            }
        }
        self.engine.compartment_bundle_visible(
            compartment,
            id,
            target,
            path,
            params,
            handling,
            self.visible(target == "*"),
        )
    }

    /// `Patient/id/$everything`: the types the caller may search, for their own patient.
    ///
    /// # Errors
    /// As [`Engine::everything_bundle`], plus 403/404.
    pub fn everything_bundle(
        &self,
        id: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, Error> {
        if self.access.is_anonymous() && !self.engine.consents.any(&self.engine) {
            return self.engine.everything_bundle(id, path, params);
        }
        let patient = self.read("Patient", id)?;
        let _ = patient;
        let allowed: Vec<String> = definitions()
            .resource_types()
            .filter(|t| match self.decide(t, Permission::Search) {
                Grant::All => true,
                Grant::Denied => false,
                Grant::Limited(limits) => limits
                    .iter()
                    .any(|l| l.query.is_empty() && l.patient.as_deref() == Some(id)),
            })
            .map(str::to_owned)
            .collect();
        self.engine
            .everything_bundle_visible(id, path, params, Some(&allowed), self.visible(true))
    }

    /// History: of one resource with read access to it; of a type or the system only with
    /// unrestricted search access.
    ///
    /// # Errors
    /// As [`Engine::history_bundle`], plus 403/404.
    pub fn history_bundle(
        &self,
        scope: HistoryScope,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, Error> {
        match &scope {
            HistoryScope::Instance(resource_type, id) => {
                if !self.access.is_anonymous() {
                    // Earlier versions may have been elsewhere: a limited caller sees the
                    // history of what is inside the limits now.
                    self.read(resource_type, id)?;
                }
            }
            HistoryScope::Type(resource_type) => {
                self.require_all(std::slice::from_ref(resource_type), Permission::Search)?;
            }
            HistoryScope::System => self.require_all(&[], Permission::Search)?,
        }
        self.engine.history_bundle(scope, path, params)
    }

    /// The current version of `Type/id` for a limited writer: must be inside the limits
    /// (else 404), or absent.
    fn current_for_write(
        &self,
        grant: &Grant,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, Error> {
        match self.engine.store().read(resource_type, id)? {
            Some(current) if current.body.is_some() => {
                if self.permits(grant, &current) {
                    Ok(Some(current))
                } else {
                    Err(Error::NotFound(format!("{resource_type}/{id}")))
                }
            }
            _ => Ok(None),
        }
    }

    /// The write grant; granular write scopes are refused.
    fn write_grant(&self, resource_type: &str, permission: Permission) -> Result<Grant, Error> {
        let grant = self.require(resource_type, permission)?;
        // CodeSystems, ValueSets, ConceptMaps and StructureDefinitions change terminology and
        // validation for every user: a patient-scoped or granular token may not write them.
        if crate::definitions::is_definition_type(resource_type) && grant != Grant::All {
            return Err(Error::Forbidden(format!(
                "writing {resource_type} changes the server's definitions for everyone: it needs a user/ or system/ scope without limits"
            )));
        }
        if grant.limits().iter().all(|l| !l.query.is_empty()) && grant != Grant::All {
            return Err(Error::Forbidden(format!(
                "granular scopes allow reads and searches of {resource_type}, not {}",
                verb(permission)
            )));
        }
        Ok(grant)
    }

    /// New content must be inside the (unqueried) limits.
    fn check_content(
        &self,
        grant: &Grant,
        resource_type: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), Error> {
        match grant {
            Grant::All => Ok(()),
            Grant::Denied => Err(Error::Forbidden(format!("no access to {resource_type}"))),
            Grant::Limited(limits) => {
                let inside = limits
                    .iter()
                    .filter(|l| l.query.is_empty())
                    .any(|l| self.satisfies(l, resource_type, id, body));
                if inside {
                    Ok(())
                } else {
                    Err(Error::Forbidden(format!(
                        "the {resource_type} would be outside the patient's compartment this token is limited to"
                    )))
                }
            }
        }
    }

    /// Create.
    ///
    /// # Errors
    /// As [`Engine::create`], plus 403.
    pub async fn create(
        &self,
        resource_type: &str,
        body: Value,
        if_none_exist: Option<String>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        let grant = self.write_grant(resource_type, Permission::Create)?;
        if grant != Grant::All {
            if if_none_exist.is_some() {
                return Err(Error::Forbidden(
                    "conditional create is not available with patient-level or granular access"
                        .into(),
                ));
            }
            self.check_content(&grant, resource_type, "", &body)?;
        }
        let written = self.engine.create(resource_type, body, if_none_exist).await;
        self.after_write(resource_type);
        written
    }

    /// Update (or create with a client id).
    ///
    /// # Errors
    /// As [`Engine::update`], plus 403/404.
    pub async fn update(
        &self,
        resource_type: &str,
        id: &str,
        body: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        let grant = self.write_grant(resource_type, Permission::Update)?;
        let mut if_match = if_match;
        if grant != Grant::All {
            resource::check_id(id)?;
            let current = self.current_for_write(&grant, resource_type, id)?;
            if current.is_none() {
                // Update-as-create needs create access too.
                let create = self.write_grant(resource_type, Permission::Create)?;
                self.check_content(&create, resource_type, id, &body)?;
            }
            self.check_content(&grant, resource_type, id, &body)?;
            if let Some(current) = current {
                if if_match.is_some_and(|v| v != current.version) {
                    return Err(Error::PreconditionFailed(format!(
                        "{resource_type}/{id} is at version {}, not {}",
                        current.version,
                        if_match.unwrap_or_default()
                    )));
                }
                if_match = Some(current.version);
            }
        }
        let written = self.engine.update(resource_type, id, body, if_match).await;
        self.after_write(resource_type);
        written
    }

    /// Conditional update (unrestricted access only).
    ///
    /// # Errors
    /// As [`Engine::conditional_update`], plus 403.
    pub async fn conditional_update(
        &self,
        resource_type: &str,
        criteria: &str,
        body: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        self.require_unlimited_conditional(
            resource_type,
            &[Permission::Update, Permission::Create],
        )?;
        let written = self
            .engine
            .conditional_update(resource_type, criteria, body, if_match)
            .await;
        self.after_write(resource_type);
        written
    }

    fn require_unlimited_conditional(
        &self,
        resource_type: &str,
        permissions: &[Permission],
    ) -> Result<(), Error> {
        resource::check_type(resource_type)?;
        for permission in permissions {
            if self.require(resource_type, *permission)? != Grant::All {
                return Err(Error::Forbidden(format!(
                    "conditional {} of {resource_type} needs unrestricted access",
                    verb(*permission)
                )));
            }
        }
        Ok(())
    }

    /// JSON Patch: under limits the patch is applied here first, so the result can be checked,
    /// and written as an update pinned to the version it was applied to.
    ///
    /// # Errors
    /// As [`Engine::patch`], plus 403/404.
    pub async fn patch(
        &self,
        resource_type: &str,
        target: PatchTarget,
        operations: Value,
        if_match: Option<u64>,
    ) -> Result<Written, Error> {
        resource::check_type(resource_type)?;
        let grant = self.write_grant(resource_type, Permission::Update)?;
        if grant == Grant::All {
            let written = self
                .engine
                .patch(resource_type, target, operations, if_match)
                .await;
            self.after_write(resource_type);
            return written;
        }
        let PatchTarget::Id(id) = target else {
            return Err(Error::Forbidden(format!(
                "conditional patch of {resource_type} needs unrestricted access"
            )));
        };
        resource::check_id(&id)?;
        let current = self
            .current_for_write(&grant, resource_type, &id)?
            .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id}")))?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(Error::PreconditionFailed(format!(
                "{resource_type}/{id} is at version {}",
                current.version
            )));
        }
        let patch: json_patch::Patch = serde_json::from_value(operations).map_err(|error| {
            Error::invalid(
                None,
                format!("the body is not a JSON Patch document: {error}"),
            )
        })?;
        let mut body: Value = current
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id}")))?;
        json_patch::patch(&mut body, &patch).map_err(|error| {
            Error::Unprocessable(vec![crate::Problem {
                expression: None,
                diagnostics: format!("the patch cannot be applied: {error}"),
            }])
        })?;
        if let Some(meta) = body.get_mut("meta").and_then(Value::as_object_mut) {
            meta.remove("versionId");
            meta.remove("lastUpdated");
        }
        self.check_content(&grant, resource_type, &id, &body)?;
        let written = self
            .engine
            .update(resource_type, &id, body, Some(current.version))
            .await;
        self.after_write(resource_type);
        written
    }

    /// Delete.
    ///
    /// # Errors
    /// As [`Engine::delete`], plus 403/404.
    pub async fn delete(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, Error> {
        resource::check_type(resource_type)?;
        let grant = self.write_grant(resource_type, Permission::Delete)?;
        if grant != Grant::All {
            resource::check_id(id)?;
            self.current_for_write(&grant, resource_type, id)?;
        }
        let written = self.engine.delete(resource_type, id).await;
        self.after_write(resource_type);
        written
    }

    /// Conditional delete (unrestricted access only).
    ///
    /// # Errors
    /// As [`Engine::conditional_delete`], plus 403.
    pub async fn conditional_delete(
        &self,
        resource_type: &str,
        criteria: &str,
    ) -> Result<Vec<StoredResource>, Error> {
        self.require_unlimited_conditional(resource_type, &[Permission::Delete])?;
        let written = self
            .engine
            .conditional_delete(resource_type, criteria)
            .await;
        self.after_write(resource_type);
        written
    }

    /// A batch or transaction Bundle, every entry checked before anything runs: in a batch a
    /// refused entry answers 403/404 alone; in a transaction it fails the whole.
    ///
    /// # Errors
    /// As [`Engine::process_bundle`], plus 403/404.
    pub async fn process_bundle(&self, bundle: Value) -> Result<BundleResponse, Error> {
        let consents = self.engine.consents.any(&self.engine);
        if self.access.is_anonymous() && !consents {
            let response = self.engine.process_bundle(bundle).await;
            self.after_write("Bundle");
            return response;
        }
        let guard = self.clone();
        let response = self
            .engine
            .process_bundle_checked(bundle, move |entry| guard.check_entry(entry, consents))
            .await;
        self.after_write("Bundle");
        response
    }

    /// Checks one entry, pinning the version of the target it checked.
    pub(crate) fn check_entry(&self, entry: &mut Entry, consents: bool) -> Result<(), Error> {
        if consents && entry.verb == Verb::Get {
            return Err(Error::Forbidden(
                "while patient consents are in force, read and search through the REST API, not in a Bundle".into(),
            ));
        }
        let resource_type = entry.resource_type.clone();
        let permission = match entry.verb {
            Verb::Get => match entry.target {
                Target::Instance(_) | Target::Version(_, _) => Permission::Read,
                _ => Permission::Search,
            },
            Verb::Post => Permission::Create,
            Verb::Put | Verb::Patch => Permission::Update,
            Verb::Delete => Permission::Delete,
        };
        let grant = self.require(&resource_type, permission)?;
        if grant == Grant::All {
            return Ok(());
        }
        if entry.verb != Verb::Get {
            self.write_grant(&resource_type, permission)?;
        }
        match (entry.verb, &entry.target) {
            (Verb::Get, _) => Err(Error::Forbidden(
                "with patient-level or granular access, read and search through the REST API, not in a Bundle".into(),
            )),
            (Verb::Post, _) if entry.if_none_exist.is_some() => Err(Error::Forbidden(
                "conditional create is not available with patient-level or granular access".into(),
            )),
            (Verb::Post, _) => {
                let body = entry.resource.as_ref().ok_or_else(|| Error::invalid(None, "no resource"))?;
                self.check_content(&grant, &resource_type, "", body)
            }
            (Verb::Put, Target::Instance(id)) => {
                let id = id.clone();
                let current = self.current_for_write(&grant, &resource_type, &id)?;
                let body = entry.resource.as_ref().ok_or_else(|| Error::invalid(None, "no resource"))?;
                self.check_content(&grant, &resource_type, &id, body)?;
                if let Some(current) = current {
                    if entry.if_match.is_some_and(|v| v != current.version) {
                        return Err(Error::PreconditionFailed(format!(
                            "{resource_type}/{id} is at version {}",
                            current.version
                        )));
                    }
                    entry.if_match = Some(current.version);
                } else {
                    let create = self.write_grant(&resource_type, Permission::Create)?;
                    self.check_content(&create, &resource_type, &id, body)?;
                }
                Ok(())
            }
            (Verb::Delete, Target::Instance(id)) => {
                self.current_for_write(&grant, &resource_type, id)?;
                Ok(())
            }
            (Verb::Patch, _) => Err(Error::Forbidden(
                "with patient-level access, patch through the REST API, not in a Bundle".into(),
            )),
            _ => Err(Error::Forbidden(format!(
                "conditional {} of {resource_type} needs unrestricted access",
                verb(permission)
            ))),
        }
    }

    /// Streams every current resource of `types` (every type when empty) from one snapshot of
    /// the store, for whole-store reports such as `$data-quality`; `visit` returns `false` to
    /// stop. Needs unrestricted read access to the types, since a report over part of a type
    /// would silently mislead. Resources an active Consent hides from this caller are left
    /// out, as in searches.
    ///
    /// # Errors
    /// 400 for an unknown resource type, 403 without unrestricted read access, or a store
    /// failure.
    pub fn scan_current(
        &self,
        types: &[String],
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> Result<(), Error> {
        if let Some(unknown) = types
            .iter()
            .find(|resource_type| !definitions().is_resource_type(resource_type))
        {
            return Err(Error::invalid(
                Some("_type"),
                format!("unknown resource type {unknown:?}"),
            ));
        }
        self.require_all(types, Permission::Read)?;
        let audit_events_readable = self.decide("AuditEvent", Permission::Read) != Grant::Denied;
        let consents = self.engine.consents.any(&self.engine);
        let query = medulla_store::SearchQuery {
            resource_types: types.to_vec(),
            ..medulla_store::SearchQuery::default()
        };
        self.engine
            .store()
            .scan(std::slice::from_ref(&query), &mut |resource| {
                if consents && self.consent_hides(&resource) {
                    return Ok(true);
                }
                // `require_all` of every type does not ask `decide`: AuditEvents kept in the
                // resource store are for auditors only.
                if resource.resource_type == "AuditEvent" && !audit_events_readable {
                    return Ok(true);
                }
                Ok(visit(resource))
            })?;
        Ok(())
    }

    /// Starts `$reindex` (administrators: unrestricted update access to every type).
    ///
    /// # Errors
    /// 403, or as [`Engine::start_reindex`].
    pub fn start_reindex(&self, types: Vec<String>) -> Result<String, Error> {
        self.require_all(&[], Permission::Update)?;
        self.engine.start_reindex(types)
    }
}
