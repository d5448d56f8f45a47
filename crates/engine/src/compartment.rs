//! Compartment search (`/Patient/1/Observation`, `/Patient/1/*`) and `Patient/1/$everything`,
//! driven by the R4 Patient CompartmentDefinition.

use crate::searching::Within;
use crate::{Engine, Error, Handling, resource};
use medulla_model::definitions;
use medulla_store::{Clause, Predicate};
use std::collections::BTreeSet;

impl Engine {
    /// Resource types in the Patient compartment and the parameters that put them there.
    fn compartment_members(types: &[String]) -> Vec<(String, Vec<String>)> {
        types
            .iter()
            .filter_map(|t| {
                let params = definitions().patient_compartment_params(t)?;
                let params: Vec<String> = params
                    .iter()
                    .filter(|p| !p.starts_with('{'))
                    .cloned()
                    .collect();
                (!params.is_empty()).then(|| (t.clone(), params))
            })
            .collect()
    }

    /// The clause "refers to Patient/`id` through one of these parameters".
    pub(crate) fn compartment_clause(id: &str, params: &BTreeSet<String>) -> Clause {
        Clause(
            params
                .iter()
                .map(|param| Predicate::Reference {
                    param: param.clone(),
                    target_type: Some("Patient".to_owned()),
                    target_id: Some(id.to_owned()),
                    target_version: None,
                    url: None,
                })
                .collect(),
        )
    }

    /// Search within a compartment: `GET /{compartment}/{id}/{target}` where `target` is a type or
    /// `*`. Only the Patient compartment is defined in this server. Blocks on the store.
    ///
    /// # Errors
    /// 400 for other compartments or types outside the compartment, 404 for an unknown patient.
    pub fn compartment_bundle(
        &self,
        compartment: &str,
        id: &str,
        target: &str,
        path: &str,
        params: &[(String, String)],
        handling: Handling,
    ) -> Result<Vec<u8>, Error> {
        self.compartment_bundle_visible(compartment, id, target, path, params, handling, None)
    }

    /// [`Engine::compartment_bundle`] for a caller who may not see everything.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn compartment_bundle_visible(
        &self,
        compartment: &str,
        id: &str,
        target: &str,
        path: &str,
        params: &[(String, String)],
        handling: Handling,
        visible: Option<crate::searching::Visible>,
    ) -> Result<Vec<u8>, Error> {
        resource::check_type(compartment)?;
        if compartment != "Patient" {
            return Err(Error::invalid(
                None,
                format!("only the Patient compartment is supported, not {compartment}"),
            ));
        }
        resource::check_id(id)?;
        let candidates: Vec<String> = if target == "*" {
            definitions().resource_types().map(str::to_owned).collect()
        } else {
            resource::check_type(target)?;
            vec![target.to_owned()]
        };
        self.read("Patient", id)?;
        let members = Self::compartment_members(&candidates);
        if members.is_empty() {
            return Err(Error::invalid(
                None,
                format!("{target} is not in the Patient compartment"),
            ));
        }
        // With `*`, one query covers every member type: a resource is included when any of the
        // compartment's parameters (of any member type) refers to the patient.
        let params_union: BTreeSet<String> = members
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect();
        let types: Vec<String> = members.into_iter().map(|(t, _)| t).collect();
        let within = Within {
            clauses: vec![Self::compartment_clause(id, &params_union)],
            lead: None,
            visible,
        };
        self.search_bundle_within(&types, path, params, params, handling, within)
    }

    /// `Patient/{id}/$everything`: the patient's compartment, with `_since`, `_type` and
    /// `_count`, paged like a search. Blocks on the store.
    ///
    /// # Errors
    /// 404 for an unknown patient, 400 for bad parameters.
    pub fn everything_bundle(
        &self,
        id: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Vec<u8>, Error> {
        self.everything_bundle_visible(id, path, params, None, None)
    }

    /// [`Engine::everything_bundle`] limited to `allowed` types and what `visible` admits.
    pub(crate) fn everything_bundle_visible(
        &self,
        id: &str,
        path: &str,
        params: &[(String, String)],
        allowed: Option<&[String]>,
        visible: Option<crate::searching::Visible>,
    ) -> Result<Vec<u8>, Error> {
        resource::check_id(id)?;
        let patient = self.read("Patient", id)?;
        let mut types: Vec<String> = definitions().resource_types().map(str::to_owned).collect();
        if let Some(allowed) = allowed {
            types.retain(|t| allowed.contains(t));
        }
        // `_type` and `_since` become conditions; the rest is passed on to the search. Links
        // repeat the request's own parameters, so later pages keep the same conditions.
        let mut search_params: Vec<(String, String)> = Vec::new();
        let mut clauses = Vec::new();
        let mut since = None;
        for (name, value) in params {
            match name.as_str() {
                "_type" => {
                    let wanted: Vec<String> = value
                        .split(',')
                        .map(|t| t.trim().to_owned())
                        .filter(|t| !t.is_empty())
                        .collect();
                    for t in &wanted {
                        resource::check_type(t)?;
                    }
                    types.retain(|t| wanted.contains(t));
                }
                "_since" => {
                    let (low, _) = crate::fhir_time::parse_range(value).ok_or_else(|| {
                        Error::invalid(
                            Some("_since"),
                            format!("_since must be an instant, not {value:?}"),
                        )
                    })?;
                    since = Some(low);
                    clauses.push(Clause(vec![Predicate::LastUpdated {
                        prefix: medulla_store::Prefix::Ge,
                        low,
                        high: low,
                    }]));
                }
                "_count" | "_cursor" | "_format" | "_pretty" | "_elements" | "_summary" => {
                    search_params.push((name.clone(), value.clone()))
                }
                other => {
                    return Err(Error::invalid(
                        Some(other),
                        format!("$everything does not take {other:?}"),
                    ));
                }
            }
        }
        let members = Self::compartment_members(&types);
        let params_union: BTreeSet<String> = members
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect();
        let member_types: Vec<String> = members.into_iter().map(|(t, _)| t).collect();
        // The patient itself leads the first page (its compartment membership is by identity,
        // which no reference parameter expresses).
        let lead = (types.iter().any(|t| t == "Patient")
            && since.is_none_or(|since| patient.last_updated >= since))
        .then_some(patient);
        if member_types.is_empty() && lead.is_none() {
            return Err(Error::invalid(
                Some("_type"),
                "none of the requested types is in the Patient compartment",
            ));
        }
        clauses.push(Self::compartment_clause(id, &params_union));
        self.search_bundle_within(
            &member_types,
            path,
            params,
            &search_params,
            Handling::Strict,
            Within {
                clauses,
                lead,
                visible,
            },
        )
    }
}
