//! `$import`: NDJSON files from this server's import folder, loaded by a background job with
//! the same idempotent batched writes as `medulla import`.

use crate::Error;
use crate::job::io_error;
use medulla_engine::{Engine, resource};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Resources per write.
const BATCH: usize = 1000;
/// Problems kept per job (the count goes on).
const MAX_ERRORS: usize = 1000;

/// One input of an import: a resource type and where its NDJSON is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInput {
    /// Declared resource type (lines of other types are reported).
    pub resource_type: String,
    /// `file:///…` URL or a path relative to the import folder.
    pub url: String,
}

/// A job's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    /// Job id.
    pub id: String,
    /// The inputs.
    pub inputs: Vec<ImportInput>,
    /// When the job was accepted (FHIR instant).
    pub transaction_time: String,
    /// Status.
    pub status: crate::Status,
    /// Resources written per input url.
    pub written: HashMap<String, u64>,
    /// Resources already present with the same content.
    pub unchanged: u64,
    /// Problems: `url:line: reason`.
    pub errors: Vec<String>,
    /// Problems in all (more than are kept).
    pub error_count: u64,
}

/// The import jobs under one folder, reading from `source`.
#[derive(Clone)]
pub struct Imports {
    dir: PathBuf,
    source: PathBuf,
    engine: Engine,
    jobs: Arc<Mutex<HashMap<String, Arc<Mutex<ImportState>>>>>,
}

impl std::fmt::Debug for Imports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imports")
            .field("dir", &self.dir)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Imports {
    /// Opens the jobs folder `dir`; inputs are read only from under `source`. Unfinished jobs of
    /// a previous process are run again (writes are idempotent, so nothing is duplicated).
    ///
    /// # Errors
    /// When the folders cannot be created or read.
    pub fn open(dir: PathBuf, source: PathBuf, engine: Engine) -> Result<Imports, Error> {
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        std::fs::create_dir_all(&source).map_err(io_error(&source))?;
        let source = source.canonicalize().map_err(io_error(&source))?;
        let imports = Imports {
            dir: dir.clone(),
            source,
            engine,
            jobs: Arc::default(),
        };
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))?.flatten() {
            let path = entry.path().join("job.json");
            let Ok(state) = std::fs::read(&path)
                .map_err(|_| ())
                .and_then(|b| serde_json::from_slice::<ImportState>(&b).map_err(|_| ()))
            else {
                continue;
            };
            let resume = state.status == crate::Status::InProgress;
            let id = state.id.clone();
            let job = Arc::new(Mutex::new(state));
            if let Ok(mut jobs) = imports.jobs.lock() {
                jobs.insert(id, job.clone());
            }
            if resume {
                imports.spawn(job);
            }
        }
        Ok(imports)
    }

    /// The file an input names, if it lies under the import folder.
    fn resolve(&self, url: &str) -> Result<PathBuf, Error> {
        let relative = url.strip_prefix("file://").unwrap_or(url);
        let candidate = if Path::new(relative).is_absolute() {
            PathBuf::from(relative)
        } else {
            self.source.join(relative)
        };
        let resolved = candidate.canonicalize().map_err(|_| {
            Error::Invalid(format!(
                "input {url:?} is not a readable file in the import folder"
            ))
        })?;
        if !resolved.starts_with(&self.source) || !resolved.is_file() {
            return Err(Error::Invalid(format!(
                "input {url:?} is outside the import folder {}",
                self.source.display()
            )));
        }
        Ok(resolved)
    }

    /// Starts an import; returns its id.
    ///
    /// # Errors
    /// [`Error::Invalid`] for unknown types or inputs outside the import folder.
    pub fn start(&self, inputs: Vec<ImportInput>) -> Result<String, Error> {
        if inputs.is_empty() {
            return Err(Error::Invalid("$import needs at least one input".into()));
        }
        for input in &inputs {
            resource::check_type(&input.resource_type)?;
            self.resolve(&input.url)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let state = ImportState {
            id: id.clone(),
            inputs,
            transaction_time: medulla_engine::fhir_time::format_instant(
                medulla_store::Timestamp::now(),
            ),
            status: crate::Status::InProgress,
            written: HashMap::new(),
            unchanged: 0,
            errors: Vec::new(),
            error_count: 0,
        };
        let job = Arc::new(Mutex::new(state));
        self.persist(&job)?;
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.insert(id.clone(), job.clone());
        }
        self.spawn(job);
        Ok(id)
    }

    /// A job's state.
    pub fn state(&self, id: &str) -> Option<ImportState> {
        let jobs = self.jobs.lock().ok()?;
        let state = jobs.get(id)?.lock().ok()?.clone();
        Some(state)
    }

    fn persist(&self, job: &Mutex<ImportState>) -> Result<(), Error> {
        let state = job
            .lock()
            .map_err(|_| Error::Invalid("job state lock poisoned".into()))?
            .clone();
        let folder = self.dir.join(&state.id);
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let path = folder.join("job.json");
        let temporary = folder.join("job.json.tmp");
        std::fs::write(
            &temporary,
            serde_json::to_vec_pretty(&state).unwrap_or_default(),
        )
        .map_err(io_error(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        Ok(())
    }

    fn spawn(&self, job: Arc<Mutex<ImportState>>) {
        let imports = self.clone();
        let spawned = std::thread::Builder::new()
            .name("medulla-import".into())
            .spawn(move || {
                let result = imports.run(&job);
                if let Ok(mut state) = job.lock() {
                    state.status = match result {
                        Ok(()) => crate::Status::Completed,
                        Err(error) => {
                            tracing::error!(job = state.id, %error, "import failed");
                            crate::Status::Failed(error.to_string())
                        }
                    };
                }
                let _ = imports.persist(&job);
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start an import thread");
        }
    }

    fn run(&self, job: &Mutex<ImportState>) -> Result<(), Error> {
        let inputs = job.lock().map(|s| s.inputs.clone()).unwrap_or_default();
        let note = |message: String| {
            if let Ok(mut state) = job.lock() {
                state.error_count += 1;
                if state.errors.len() < MAX_ERRORS {
                    state.errors.push(message);
                }
            }
        };
        for input in inputs {
            let path = self.resolve(&input.url)?;
            let file = std::fs::File::open(&path).map_err(io_error(&path))?;
            let mut batch = Vec::with_capacity(BATCH);
            let flush = |batch: &mut Vec<medulla_engine::Prepared>| -> Result<(), Error> {
                if batch.is_empty() {
                    return Ok(());
                }
                let outcome = self
                    .engine
                    .submit_ingest(std::mem::take(batch))
                    .blocking_wait()?;
                if let Ok(mut state) = job.lock() {
                    *state.written.entry(input.url.clone()).or_default() += outcome.written as u64;
                    state.unchanged += outcome.unchanged as u64;
                }
                Ok(())
            };
            for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
                let line = line.map_err(io_error(&path))?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let location = format!("{}:{}", input.url, n + 1);
                let value: serde_json::Value = match serde_json::from_slice(&line) {
                    Ok(value) => value,
                    Err(error) => {
                        note(format!("{location}: not valid JSON: {error}"));
                        continue;
                    }
                };
                let resource_type = value
                    .get("resourceType")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("");
                if resource_type != input.resource_type {
                    note(format!(
                        "{location}: resourceType {resource_type:?} is not the input's type {:?}",
                        input.resource_type
                    ));
                    continue;
                }
                if let Err(error) = resource::check_body(resource_type, &value, None)
                    .and_then(|()| self.engine.check_policy(&value))
                {
                    note(format!("{location}: {error}"));
                    continue;
                }
                batch.push(self.engine.prepare(value));
                if batch.len() == BATCH {
                    flush(&mut batch)?;
                }
            }
            flush(&mut batch)?;
        }
        Ok(())
    }
}
