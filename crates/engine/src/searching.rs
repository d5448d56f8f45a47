//! Search as a searchset Bundle: matches, `_include`/`_revinclude`, signed paging links, and an
//! OperationOutcome entry for ignored parameters.

use crate::{
    Engine, EntryParts, Error, Handling, Problem, Shape, link, operation_outcome, render, resource,
};
use medulla_search::{SearchOptions, SearchRequest, cursor, parse_search};
use medulla_store::StoredResource;
use std::collections::HashSet;
use std::sync::Arc;

/// Most included resources per page.
const MAX_INCLUDED: usize = 5000;
/// Most rounds of `:iterate` includes. Cycles end anyway (a round continues only from resources
/// not seen before, and at most [`MAX_INCLUDED`] are taken), so this only has to let the longest
/// possible chain finish: a small cap would silently cut off long `Patient:link` chains.
const MAX_INCLUDE_ROUNDS: usize = MAX_INCLUDED + 1;

/// What compartment searches add to a request: conditions it cannot express, and a resource
/// shown first on the first page (the patient in `$everything`).
#[derive(Default)]
pub(crate) struct Within {
    pub(crate) clauses: Vec<medulla_store::Clause>,
    pub(crate) lead: Option<StoredResource>,
    /// What the caller may see, when access is limited (see `guard.rs`).
    pub(crate) visible: Option<Visible>,
}

/// Whether the caller may see a resource; `filter_matches` also applies it to the matches
/// (limits a query cannot express), otherwise only to included resources.
#[derive(Clone)]
pub(crate) struct Visible {
    pub(crate) check: Arc<dyn Fn(&StoredResource) -> bool + Send + Sync>,
    pub(crate) filter_matches: bool,
}

impl From<medulla_search::Error> for Error {
    fn from(error: medulla_search::Error) -> Self {
        match error {
            medulla_search::Error::Invalid { param, message } => Error::Invalid(vec![Problem {
                expression: Some(param),
                diagnostics: message,
            }]),
            other => Error::invalid(None, other.to_string()),
        }
    }
}

impl Engine {
    /// The search parameters defined by SearchParameter resources, as last loaded.
    pub fn custom(&self) -> Arc<medulla_search::CustomParams> {
        self.custom
            .read()
            .map(|custom| custom.clone())
            .unwrap_or_default()
    }

    pub(crate) fn search_options<'a>(
        &'a self,
        handling: Handling,
        custom: &'a medulla_search::CustomParams,
    ) -> SearchOptions<'a> {
        SearchOptions {
            custom,
            base_url: &self.options.base_url,
            handling,
            cursor_key: &self.options.cursor_key,
            code_sets: Some(self.definitions.as_ref()),
        }
    }

    /// Parses a search for `types` (one for type-level search; several or none for system-level).
    ///
    /// # Errors
    /// Unknown types, malformed or (strictly) unknown parameters.
    pub fn parse_search(
        &self,
        types: &[String],
        params: &[(String, String)],
        handling: Handling,
    ) -> Result<SearchRequest, Error> {
        for resource_type in types {
            resource::check_type(resource_type)?;
        }
        let custom = self.custom();
        Ok(parse_search(
            types,
            params,
            &self.search_options(handling, &custom),
        )?)
    }

    /// Search as a searchset Bundle. Blocks on the store. `path` is the request path below the
    /// base URL, for links.
    ///
    /// # Errors
    /// Invalid parameters; unknown ones too under [`Handling::Strict`].
    pub fn search_bundle(
        &self,
        types: &[String],
        path: &str,
        params: &[(String, String)],
        handling: Handling,
    ) -> Result<Vec<u8>, Error> {
        self.search_bundle_within(types, path, params, params, handling, Within::default())
    }

    /// [`Engine::search_bundle`] with one more condition that the request cannot express
    /// (compartment membership).
    pub(crate) fn search_bundle_within(
        &self,
        types: &[String],
        path: &str,
        link_params: &[(String, String)],
        params: &[(String, String)],
        handling: Handling,
        within: Within,
    ) -> Result<Vec<u8>, Error> {
        let shape = Shape::from_params(params)?;
        let mut request = self.parse_search(types, params, handling)?;
        request.query.clauses.extend(within.clauses);
        if shape == Shape::Count {
            request.query.count = 0;
            request.query.total = true;
        }
        let mut page = self.store.search(&request.query)?;
        let mut included = self.includes(&request, &page.keys)?;
        if let Some(visible) = &within.visible {
            if visible.filter_matches {
                page.resources.retain(|found| (visible.check)(found));
                // The count covered resources the caller may not see.
                page.total = None;
            }
            included.retain(|found| (visible.check)(found));
        }
        let base = &self.options.base_url;
        let mut links = vec![("self", link(base, path, link_params, None))];
        if let Some(next) = &page.next {
            let token = cursor::encode(&self.options.cursor_key, next, &request.fingerprint);
            links.push(("next", link(base, path, link_params, Some(token))));
        }
        let outcome = (!request.ignored.is_empty()).then(|| {
            let issues: Vec<(Option<String>, String)> = request
                .ignored
                .iter()
                .map(|name| {
                    (
                        Some(name.clone()),
                        format!("search parameter {name:?} is not supported and was ignored"),
                    )
                })
                .collect();
            operation_outcome("warning", "not-supported", &issues)
        });
        let entry = |found: &StoredResource, mode: &'static str| EntryParts {
            full_url: Some(format!("{base}/{}/{}", found.resource_type, found.id)),
            resource: found
                .body
                .as_deref()
                .map(|body| shape.apply(body).into_owned().into()),
            search_mode: Some(mode),
            ..EntryParts::default()
        };
        let lead = if request.query.after.is_none() {
            within.lead.as_ref()
        } else {
            None
        };
        let matches = lead
            .into_iter()
            .chain(page.resources.iter())
            .map(|found| entry(found, "match"));
        let includes = included.iter().map(|found| entry(found, "include"));
        let outcome_entry = outcome.map(|outcome| EntryParts {
            resource: serde_json::to_vec(&outcome)
                .ok()
                .map(std::borrow::Cow::Owned),
            search_mode: Some("outcome"),
            ..EntryParts::default()
        });
        Ok(render::bundle(
            "searchset",
            page.total,
            &links,
            matches.chain(includes).chain(outcome_entry),
        ))
    }

    /// Resolves `_include` and `_revinclude` for the matches with `keys`, following `:iterate`
    /// directives over included resources until nothing new appears.
    fn includes(
        &self,
        request: &SearchRequest,
        keys: &[i64],
    ) -> Result<Vec<StoredResource>, Error> {
        if request.includes.is_empty() || keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen: HashSet<i64> = keys.iter().copied().collect();
        let mut included = Vec::new();
        let mut frontier: Vec<i64> = keys.to_vec();
        for round in 0..MAX_INCLUDE_ROUNDS {
            let mut next = Vec::new();
            for directive in request.includes.iter().filter(|d| round == 0 || d.iterate) {
                let found = if directive.reverse {
                    self.store.revinclude(&frontier, &directive.include)?
                } else {
                    self.store.include(&frontier, &directive.include)?
                };
                for (key, resource) in found {
                    if seen.insert(key) && included.len() < MAX_INCLUDED {
                        included.push(resource);
                        next.push(key);
                    }
                }
            }
            if next.is_empty() || !request.includes.iter().any(|d| d.iterate) {
                break;
            }
            frontier = next;
        }
        Ok(included)
    }
}
