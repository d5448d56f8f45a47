//! `$reindex`: reload SearchParameter resources as search parameters, then recompute the index
//! rows of existing resources in a background job that reports its progress.

use crate::{Engine, Error, fhir_time, resource};
use medulla_model::definitions;
use medulla_store::{SearchQuery, Timestamp};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Resources reindexed per write.
const BATCH: usize = 500;

/// Where a reindex job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReindexState {
    /// Working.
    Running,
    /// Done.
    Completed,
    /// Stopped by an error (the message says which).
    Failed(String),
}

/// Progress of one reindex job.
#[derive(Debug, Clone)]
pub struct ReindexStatus {
    /// Job id.
    pub id: String,
    /// Types reindexed (every type when the request named none).
    pub types: Vec<String>,
    /// Resources to do.
    pub total: u64,
    /// Resources done.
    pub done: u64,
    /// State.
    pub state: ReindexState,
    /// Usable custom search parameters loaded at the start.
    pub custom_params: usize,
    /// SearchParameter resources that could not be used: (id, reason).
    pub problems: Vec<(String, String)>,
    /// When the job started.
    pub started: Timestamp,
}

impl ReindexStatus {
    /// The status as a FHIR Parameters resource.
    pub fn to_parameters(&self) -> Value {
        let state = match &self.state {
            ReindexState::Running => "in-progress".to_owned(),
            ReindexState::Completed => "completed".to_owned(),
            ReindexState::Failed(reason) => format!("failed: {reason}"),
        };
        let mut parameters = vec![
            serde_json::json!({"name": "id", "valueString": self.id}),
            serde_json::json!({"name": "status", "valueString": state}),
            serde_json::json!({"name": "total", "valueInteger": self.total}),
            serde_json::json!({"name": "processed", "valueInteger": self.done}),
            serde_json::json!({"name": "customParameters", "valueInteger": self.custom_params}),
            serde_json::json!({"name": "started", "valueInstant": fhir_time::format_instant(self.started)}),
        ];
        for (id, reason) in &self.problems {
            parameters.push(serde_json::json!({"name": "unusableSearchParameter", "valueString": format!("SearchParameter/{id}: {reason}")}));
        }
        serde_json::json!({"resourceType": "Parameters", "parameter": parameters})
    }
}

/// The reindex jobs of this process.
#[derive(Clone, Default)]
pub(crate) struct Jobs(Arc<Mutex<HashMap<String, Arc<Mutex<ReindexStatus>>>>>);

impl Engine {
    /// Reads every SearchParameter resource and makes the usable ones the custom search
    /// parameters. Returns the count and the unusable ones with reasons. Blocks on the store.
    ///
    /// # Errors
    /// When the store fails.
    pub fn reload_custom_params(&self) -> Result<(usize, Vec<(String, String)>), Error> {
        let mut resources = Vec::new();
        let mut query = SearchQuery {
            resource_types: vec!["SearchParameter".into()],
            count: 1000,
            ..SearchQuery::default()
        };
        loop {
            let page = self.store.search(&query)?;
            for found in &page.resources {
                if let Some(body) = found
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                {
                    resources.push(body);
                }
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        let (custom, problems) = medulla_search::CustomParams::from_resources(&resources);
        let count = custom.len();
        if let Ok(mut slot) = self.custom.write() {
            *slot = Arc::new(custom);
        }
        Ok((count, problems))
    }

    /// Starts `$reindex` of `types` (every type when empty) in the background and returns the
    /// job's id. Blocks briefly to load SearchParameters and count the work.
    ///
    /// # Errors
    /// Unknown types, or a failing store.
    pub fn start_reindex(&self, types: Vec<String>) -> Result<String, Error> {
        for resource_type in &types {
            resource::check_type(resource_type)?;
        }
        let types: Vec<String> = if types.is_empty() {
            definitions().resource_types().map(str::to_owned).collect()
        } else {
            types
        };
        let (custom_params, problems) = self.reload_custom_params()?;
        let mut total = 0;
        for resource_type in &types {
            let count = SearchQuery {
                resource_types: vec![resource_type.clone()],
                count: 0,
                total: true,
                ..SearchQuery::default()
            };
            total += self.store.search(&count)?.total.unwrap_or(0);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let status = Arc::new(Mutex::new(ReindexStatus {
            id: id.clone(),
            types: types.clone(),
            total,
            done: 0,
            state: ReindexState::Running,
            custom_params,
            problems,
            started: Timestamp::now(),
        }));
        if let Ok(mut jobs) = self.jobs.0.lock() {
            jobs.insert(id.clone(), status.clone());
        }
        let engine = self.clone();
        let job_id = id.clone();
        let spawned = std::thread::Builder::new()
            .name("medulla-reindex".into())
            .spawn(move || {
                let result = engine.run_reindex(&types, &status);
                if let Ok(mut status) = status.lock() {
                    status.state = match result {
                        Ok(()) => ReindexState::Completed,
                        Err(error) => {
                            tracing::error!(job = job_id, %error, "reindex failed");
                            ReindexState::Failed(error.to_string())
                        }
                    };
                }
            });
        spawned.map_err(|error| {
            Error::invalid(None, format!("cannot start the reindex job: {error}"))
        })?;
        Ok(id)
    }

    /// The status of a reindex job of this process.
    pub fn reindex_status(&self, id: &str) -> Option<ReindexStatus> {
        let jobs = self.jobs.0.lock().ok()?;
        let status = jobs.get(id)?.lock().ok()?;
        Some(status.clone())
    }

    fn run_reindex(&self, types: &[String], status: &Mutex<ReindexStatus>) -> Result<(), Error> {
        let custom = self.custom();
        for resource_type in types {
            let mut query = SearchQuery {
                resource_types: vec![resource_type.clone()],
                count: BATCH,
                ..SearchQuery::default()
            };
            loop {
                let page = self.store.search(&query)?;
                let mut work = Vec::with_capacity(page.resources.len());
                for found in &page.resources {
                    let Some(body) = found
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    else {
                        continue;
                    };
                    let mut rows = medulla_search::index_resource(&body, &custom);
                    medulla_search::localize_references(&mut rows, &self.options.base_url);
                    work.push((
                        found.resource_type.clone(),
                        found.id.clone(),
                        found.version,
                        rows,
                    ));
                }
                let count = work.len() as u64;
                medulla_store::write(self.store.as_ref(), move |tx| {
                    for (resource_type, id, version, rows) in &work {
                        // A resource changed since it was read keeps the rows of its newer
                        // version, which were computed with the new parameters already.
                        tx.replace_index(resource_type, id, *version, rows)?;
                    }
                    Ok::<_, Error>(())
                })
                .blocking_wait()?;
                if let Ok(mut status) = status.lock() {
                    status.done += count;
                }
                match page.next {
                    Some(next) => query.after = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }
}
