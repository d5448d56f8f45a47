//! Export jobs: request, state, the worker, persistence.

use crate::Error;
use medulla_engine::{Engine, Handling};
use medulla_model::definitions;
use medulla_store::{Clause, Predicate, Prefix, SearchQuery, StoredResource, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Largest NDJSON file written; beyond it the type continues in a new file.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Which resources an export covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    /// Every resource (`/$export`).
    #[default]
    System,
    /// Every patient's compartment (`/Patient/$export`).
    Patient,
    /// The compartments of a Group's member patients (`/Group/{id}/$export`).
    Group(String),
}

/// An export request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// Level.
    pub level: Level,
    /// `_type`: only these types (empty: all the level allows).
    pub types: Vec<String>,
    /// `_since`: only resources updated at or after this FHIR instant.
    pub since: Option<String>,
    /// `_typeFilter`: `Type?search` criteria; resources of a filtered type must match one.
    pub type_filters: Vec<String>,
    /// The kick-off URL, echoed in the manifest.
    pub request_url: String,
    /// Who asked (user name or client id), when the server authenticates: only they may poll,
    /// download or cancel (`requiresAccessToken`).
    #[serde(default)]
    pub owner: Option<String>,
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Working.
    InProgress,
    /// Done; the manifest is ready.
    Completed,
    /// Stopped by an error.
    Failed(String),
}

/// One NDJSON file of a finished export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Resource type.
    pub resource_type: String,
    /// File name inside the job's folder.
    pub name: String,
    /// Resources in it.
    pub count: u64,
    /// Bytes in it.
    pub bytes: u64,
}

/// A job's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// Job id.
    pub id: String,
    /// The request.
    pub request: ExportRequest,
    /// The snapshot time (FHIR instant): the export holds the store as it was then.
    pub transaction_time: String,
    /// Status.
    pub status: Status,
    /// Resources written so far.
    pub exported: u64,
    /// Output files (complete once `status` is `Completed`).
    pub output: Vec<OutputFile>,
}

struct Job {
    state: Mutex<JobState>,
    cancelled: AtomicBool,
}

/// The export jobs under one folder.
#[derive(Clone)]
pub struct Exports {
    dir: PathBuf,
    engine: Engine,
    jobs: Arc<Mutex<HashMap<String, Arc<Job>>>>,
}

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exports")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Maps an I/O failure on `path` to [`Error::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

impl Exports {
    /// Opens the jobs folder, restarting jobs a previous process left unfinished.
    ///
    /// # Errors
    /// When the folder cannot be created or read.
    pub fn open(dir: PathBuf, engine: Engine) -> Result<Exports, Error> {
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let exports = Exports {
            dir: dir.clone(),
            engine,
            jobs: Arc::default(),
        };
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let Ok(entry) = entry else { continue };
            let state_path = entry.path().join("job.json");
            let Ok(text) = std::fs::read(&state_path) else {
                continue;
            };
            let Ok(state) = serde_json::from_slice::<JobState>(&text) else {
                tracing::warn!(path = %state_path.display(), "unreadable export job state; ignored");
                continue;
            };
            let resume = state.status == Status::InProgress;
            let id = state.id.clone();
            let job = Arc::new(Job {
                state: Mutex::new(state),
                cancelled: AtomicBool::new(false),
            });
            if let Ok(mut jobs) = exports.jobs.lock() {
                jobs.insert(id.clone(), job.clone());
            }
            if resume {
                tracing::info!(job = id, "resuming export left unfinished by a restart");
                exports.spawn(job);
            }
        }
        Ok(exports)
    }

    /// Starts an export in the background; returns its id.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed request (checked before anything starts).
    pub fn start(&self, request: ExportRequest) -> Result<String, Error> {
        self.plan(&request)?;
        let id = uuid::Uuid::new_v4().to_string();
        let state = JobState {
            id: id.clone(),
            request,
            transaction_time: medulla_engine::fhir_time::format_instant(Timestamp::now()),
            status: Status::InProgress,
            exported: 0,
            output: Vec::new(),
        };
        let job = Arc::new(Job {
            state: Mutex::new(state),
            cancelled: AtomicBool::new(false),
        });
        self.persist(&job)?;
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id.clone(), job.clone());
        }
        self.spawn(job);
        Ok(id)
    }

    /// A job's state.
    pub fn state(&self, id: &str) -> Option<JobState> {
        let jobs = self.jobs.lock().ok()?;
        let state = jobs.get(id)?.state.lock().ok()?.clone();
        Some(state)
    }

    /// Waits for a job to finish (for the CLI and tests).
    pub fn wait(&self, id: &str) -> Option<JobState> {
        loop {
            let state = self.state(id)?;
            if state.status != Status::InProgress {
                return Some(state);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Cancels a job (or removes a finished one) and deletes its files. `false` when unknown.
    pub fn cancel(&self, id: &str) -> bool {
        let removed = self.jobs.lock().ok().and_then(|mut jobs| jobs.remove(id));
        let Some(job) = removed else { return false };
        job.cancelled.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(self.dir.join(id));
        true
    }

    /// The path of an output file of a completed job, if it exists.
    pub fn file(&self, id: &str, name: &str) -> Option<PathBuf> {
        let state = self.state(id)?;
        state.output.iter().find(|f| f.name == name)?;
        Some(self.dir.join(id).join(name))
    }

    fn persist(&self, job: &Job) -> Result<(), Error> {
        let state = job
            .state
            .lock()
            .map_err(|_| Error::Invalid("job state lock poisoned".into()))?
            .clone();
        let folder = self.dir.join(&state.id);
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let path = folder.join("job.json");
        let temporary = folder.join("job.json.tmp");
        let bytes = serde_json::to_vec_pretty(&state).unwrap_or_default();
        std::fs::write(&temporary, bytes).map_err(io_error(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        Ok(())
    }

    fn spawn(&self, job: Arc<Job>) {
        let exports = self.clone();
        let spawned = std::thread::Builder::new()
            .name("medulla-export".into())
            .spawn(move || {
                let result = exports.run(&job);
                if job.cancelled.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(mut state) = job.state.lock() {
                    state.status = match result {
                        Ok(output) => {
                            state.output = output;
                            Status::Completed
                        }
                        Err(error) => {
                            tracing::error!(job = state.id, %error, "export failed");
                            Status::Failed(error.to_string())
                        }
                    };
                }
                let _ = exports.persist(&job);
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start an export thread");
        }
    }

    /// The store queries an export runs.
    fn plan(&self, request: &ExportRequest) -> Result<Vec<SearchQuery>, Error> {
        let defs = definitions();
        for resource_type in &request.types {
            if !defs.is_resource_type(resource_type) {
                return Err(Error::Invalid(format!(
                    "_type: unknown resource type {resource_type:?}"
                )));
            }
        }
        let since = match &request.since {
            Some(text) => {
                let (low, _) = medulla_engine::fhir_time::parse_range(text).ok_or_else(|| {
                    Error::Invalid(format!("_since must be a FHIR instant, not {text:?}"))
                })?;
                Some(low)
            }
            None => None,
        };
        // Filters per type, parsed with the search engine (strictly: an ignored criterion would
        // export too much).
        let mut filters: BTreeMap<String, Vec<Vec<Clause>>> = BTreeMap::new();
        for filter in &request.type_filters {
            let (resource_type, criteria) = filter.split_once('?').ok_or_else(|| {
                Error::Invalid(format!("_typeFilter {filter:?} is not Type?criteria"))
            })?;
            let params = medulla_engine::query::parse_query_string(criteria);
            let parsed =
                self.engine
                    .parse_search(&[resource_type.to_owned()], &params, Handling::Strict)?;
            filters
                .entry(resource_type.to_owned())
                .or_default()
                .push(parsed.query.clauses);
        }
        // Types and the compartment clause per type.
        let mut members: Vec<(String, Option<Vec<String>>)> = Vec::new();
        let wanted = |t: &str| request.types.is_empty() || request.types.iter().any(|w| w == t);
        match &request.level {
            Level::System => {
                for resource_type in defs.resource_types().filter(|t| wanted(t)) {
                    members.push((resource_type.to_owned(), None));
                }
            }
            Level::Patient | Level::Group(_) => {
                for resource_type in defs.resource_types().filter(|t| wanted(t)) {
                    if resource_type == "Patient" {
                        members.push(("Patient".to_owned(), Some(Vec::new())));
                        continue;
                    }
                    let params: Vec<String> = defs
                        .patient_compartment_params(resource_type)
                        .map(|p| p.iter().filter(|p| !p.starts_with('{')).cloned().collect())
                        .unwrap_or_default();
                    if !params.is_empty() {
                        members.push((resource_type.to_owned(), Some(params)));
                    }
                }
            }
        }
        let patients: Option<Vec<String>> = match &request.level {
            Level::Group(id) => Some(self.group_members(id)?),
            _ => None,
        };
        let mut queries = Vec::new();
        for (resource_type, compartment) in members {
            let mut base_clauses = Vec::new();
            if let Some(low) = since {
                base_clauses.push(Clause(vec![Predicate::LastUpdated {
                    prefix: Prefix::Ge,
                    low,
                    high: low,
                }]));
            }
            if let Some(params) = &compartment {
                let targets: Vec<Option<String>> = match &patients {
                    Some(ids) => ids.iter().cloned().map(Some).collect(),
                    None => vec![None],
                };
                let clause = if resource_type == "Patient" {
                    patients
                        .as_ref()
                        .map(|ids| Clause(ids.iter().cloned().map(Predicate::Id).collect()))
                } else {
                    Some(Clause(
                        params
                            .iter()
                            .flat_map(|param| {
                                targets.iter().map(move |target| Predicate::Reference {
                                    param: param.clone(),
                                    target_type: Some("Patient".to_owned()),
                                    target_id: target.clone(),
                                    target_version: None,
                                    url: None,
                                })
                            })
                            .collect(),
                    ))
                };
                if let Some(clause) = clause {
                    if clause.0.is_empty() {
                        continue;
                    }
                    base_clauses.push(clause);
                }
            }
            match filters.get(&resource_type) {
                None => queries.push(SearchQuery {
                    resource_types: vec![resource_type.clone()],
                    clauses: base_clauses,
                    ..SearchQuery::default()
                }),
                Some(alternatives) => {
                    for filter_clauses in alternatives {
                        let mut clauses = base_clauses.clone();
                        clauses.extend(filter_clauses.iter().cloned());
                        queries.push(SearchQuery {
                            resource_types: vec![resource_type.clone()],
                            clauses,
                            ..SearchQuery::default()
                        });
                    }
                }
            }
        }
        // Queries that differ only in their type run as one, in storage order: far fewer
        // random reads of the versions table than one pass per type.
        let mut merged: Vec<SearchQuery> = Vec::new();
        for query in queries {
            match merged.iter_mut().find(|m| m.clauses == query.clauses) {
                Some(existing) => existing.resource_types.extend(query.resource_types),
                None => merged.push(query),
            }
        }
        // Every type at once needs no type condition at all: a plain scan in storage order.
        let all_types = defs.resource_types().count();
        for query in &mut merged {
            if query.resource_types.len() == all_types {
                query.resource_types.clear();
            }
        }
        Ok(merged)
    }

    /// The ids of the Patients a Group lists as members.
    fn group_members(&self, id: &str) -> Result<Vec<String>, Error> {
        let group = self.engine.read("Group", id)?;
        let body: serde_json::Value =
            serde_json::from_slice(group.body.as_deref().unwrap_or(b"{}"))
                .map_err(|error| Error::Invalid(format!("Group/{id} is unreadable: {error}")))?;
        let mut ids = BTreeSet::new();
        for member in body
            .get("member")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            if member.get("inactive").and_then(serde_json::Value::as_bool) == Some(true) {
                continue;
            }
            let reference = member
                .pointer("/entity/reference")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            if let Some(patient) = reference.strip_prefix("Patient/") {
                ids.insert(patient.to_owned());
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Writes the export's files; returns them.
    fn run(&self, job: &Job) -> Result<Vec<OutputFile>, Error> {
        let (id, request) = {
            let state = job
                .state
                .lock()
                .map_err(|_| Error::Invalid("job state lock poisoned".into()))?;
            (state.id.clone(), state.request.clone())
        };
        let folder = self.dir.join(&id);
        // A resumed job starts over: remove what an interrupted run wrote.
        if let Ok(entries) = std::fs::read_dir(&folder) {
            for entry in entries.flatten() {
                if entry.path().extension().and_then(|e| e.to_str()) == Some("ndjson") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let queries = self.plan(&request)?;
        let mut writers: BTreeMap<String, TypeWriter> = BTreeMap::new();
        let mut seen: HashMap<String, BTreeSet<String>> = HashMap::new();
        let filtered_types: BTreeSet<String> = request
            .type_filters
            .iter()
            .filter_map(|f| f.split_once('?').map(|(t, _)| t.to_owned()))
            .collect();
        let mut failure: Option<Error> = None;
        let mut exported = 0_u64;
        self.engine
            .store()
            .scan(&queries, &mut |resource: StoredResource| {
                if job.cancelled.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                let Some(body) = resource.body.as_deref() else {
                    return Ok(true);
                };
                // Several `_typeFilter`s of one type may match the same resource.
                if filtered_types.contains(&resource.resource_type)
                    && !seen
                        .entry(resource.resource_type.clone())
                        .or_default()
                        .insert(resource.id.clone())
                {
                    return Ok(true);
                }
                let writer = writers
                    .entry(resource.resource_type.clone())
                    .or_insert_with(|| TypeWriter::new(&folder, &resource.resource_type));
                if let Err(error) = writer.write(body) {
                    failure = Some(error);
                    return Ok(false);
                }
                exported += 1;
                if exported.is_multiple_of(10_000)
                    && let Ok(mut state) = job.state.lock()
                {
                    state.exported = exported;
                }
                Ok(true)
            })
            .map_err(medulla_engine::Error::from)?;
        if let Some(error) = failure {
            return Err(error);
        }
        let mut output = Vec::new();
        for writer in writers.into_values() {
            output.extend(writer.finish()?);
        }
        if let Ok(mut state) = job.state.lock() {
            state.exported = exported;
        }
        Ok(output)
    }
}

/// The NDJSON files of one type, rolled over by size.
struct TypeWriter {
    folder: PathBuf,
    resource_type: String,
    current: Option<(std::io::BufWriter<std::fs::File>, OutputFile)>,
    done: Vec<OutputFile>,
    error: Option<Error>,
}

impl TypeWriter {
    fn new(folder: &Path, resource_type: &str) -> TypeWriter {
        TypeWriter {
            folder: folder.to_owned(),
            resource_type: resource_type.to_owned(),
            current: None,
            done: Vec::new(),
            error: None,
        }
    }

    fn write(&mut self, body: &[u8]) -> Result<(), Error> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let full = self.current.as_ref().is_some_and(|(_, file)| {
            file.bytes + body.len() as u64 + 1 > MAX_FILE_BYTES && file.count > 0
        });
        if full {
            self.roll()?;
        }
        if self.current.is_none() {
            let name = format!("{}.{}.ndjson", self.resource_type, self.done.len() + 1);
            let path = self.folder.join(&name);
            let file = std::fs::File::create(&path).map_err(io_error(&path))?;
            self.current = Some((
                std::io::BufWriter::with_capacity(1 << 20, file),
                OutputFile {
                    resource_type: self.resource_type.clone(),
                    name,
                    count: 0,
                    bytes: 0,
                },
            ));
        }
        if let Some((writer, file)) = self.current.as_mut() {
            let path = self.folder.join(&file.name);
            writer.write_all(body).map_err(io_error(&path))?;
            writer.write_all(b"\n").map_err(io_error(&path))?;
            file.count += 1;
            file.bytes += body.len() as u64 + 1;
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<(), Error> {
        if let Some((mut writer, file)) = self.current.take() {
            let path = self.folder.join(&file.name);
            writer.flush().map_err(io_error(&path))?;
            writer.get_ref().sync_all().map_err(io_error(&path))?;
            self.done.push(file);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<OutputFile>, Error> {
        self.roll()?;
        Ok(self.done)
    }
}
