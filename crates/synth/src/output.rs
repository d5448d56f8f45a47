//! Writing a population to disk: worker threads, file naming, and deterministic ordering.
//!
//! Bundle output needs no coordination: each patient is one file. NDJSON output is cut into
//! chunks of consecutive patients; workers generate chunks in any order and a committer appends
//! them to the per-type files strictly in chunk order, so the bytes never depend on scheduling.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};

use crate::directory::{
    Directory, NPI_SYSTEM, SYNTHEA_SYSTEM, write_organization, write_practitioner,
};
use crate::json::Json;
use crate::life::{PatientSummary, write_patient};
use crate::sink::{RefStyle, ResourceType, Sink};
use crate::{Error, OutputFormat, SynthOptions, SynthSummary};

/// Patients per NDJSON chunk: large enough to amortise locking, small enough to keep the
/// reordering buffer short.
const NDJSON_CHUNK: u64 = 16;

#[derive(Debug, Default)]
struct Counts {
    resources: u64,
    bytes: u64,
    files: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.resources += other.resources;
        self.bytes += other.bytes;
        self.files += other.files;
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the organization and practitioner resources of `directory` into `sink`.
pub(crate) fn write_directory(directory: &Directory, sink: &mut Sink, which: ResourceType) {
    let mut json = Json::with_capacity(2048);
    let mut condition = String::new();
    if which == ResourceType::Organization {
        for organization in &directory.organizations {
            write_organization(&mut json, organization);
            condition.clear();
            condition.push_str("identifier=");
            condition.push_str(SYNTHEA_SYSTEM);
            condition.push('|');
            condition.push_str(&organization.id_text);
            sink.push_conditional(which, organization.id, json.as_str(), &condition);
        }
    } else {
        for practitioner in &directory.practitioners {
            let organization = &directory.organizations[practitioner.organization];
            write_practitioner(&mut json, practitioner, organization);
            condition.clear();
            condition.push_str("identifier=");
            condition.push_str(NPI_SYSTEM);
            condition.push('|');
            condition.push_str(&practitioner.npi);
            sink.push_conditional(which, practitioner.id, json.as_str(), &condition);
        }
    }
}

pub(crate) fn generate(
    options: &SynthOptions,
    out_dir: &Path,
    progress: &dyn Fn(u64),
) -> Result<SynthSummary, Error> {
    std::fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    let directory = Directory::new(options.seed);
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        options.threads
    };
    let counts = match options.format {
        OutputFormat::Bundle => write_bundles(options, &directory, out_dir, threads, progress)?,
        OutputFormat::Ndjson => write_ndjson(options, &directory, out_dir, threads, progress)?,
    };
    Ok(SynthSummary {
        patients: options.patients,
        resources: counts.resources,
        bytes: counts.bytes,
        files: counts.files,
    })
}

/// Runs `threads` workers and reports progress on the calling thread, because the progress
/// callback need not be `Sync`.
fn run_workers<W>(threads: usize, progress: &dyn Fn(u64), worker: W) -> Result<Counts, Error>
where
    W: Fn(&Sender<u64>) -> Result<Counts, Error> + Sync,
{
    let (sender, receiver) = channel::<u64>();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let sender = sender.clone();
                let worker = &worker;
                scope.spawn(move || worker(&sender))
            })
            .collect();
        drop(sender);
        let mut done = 0;
        for patients in receiver {
            done += patients;
            progress(done);
        }
        let mut total = Counts::default();
        let mut first_error = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok(counts)) => total.add(&counts),
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(Error::WorkerPanicked);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(total),
        }
    })
}

fn patient_file_name(index: u64, summary: &PatientSummary) -> String {
    let mut name = format!("{index:06}_{}_{}_", summary.given, summary.family);
    summary.id.push_to(&mut name);
    name.push_str(".json");
    name
}

fn write_file(path: PathBuf, text: &str) -> Result<Counts, Error> {
    std::fs::write(&path, text).map_err(io_error(&path))?;
    Ok(Counts {
        resources: 0,
        bytes: text.len() as u64,
        files: 1,
    })
}

fn write_bundles(
    options: &SynthOptions,
    directory: &Directory,
    out_dir: &Path,
    threads: usize,
    progress: &dyn Fn(u64),
) -> Result<Counts, Error> {
    let mut total = Counts::default();
    for (which, prefix) in [
        (ResourceType::Organization, "hospitalInformation"),
        (ResourceType::Practitioner, "practitionerInformation"),
    ] {
        let mut sink = Sink::new(RefStyle::Bundle);
        write_directory(directory, &mut sink, which);
        let resources = sink.resources();
        let path = out_dir.join(format!("{prefix}{}.json", options.seed));
        let mut counts = write_file(path, sink.finish_bundle())?;
        counts.resources = resources;
        total.add(&counts);
    }
    let next = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let patients = run_workers(threads, progress, |sender| {
        let mut sink = Sink::new(RefStyle::Bundle);
        let mut counts = Counts::default();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= options.patients {
                break;
            }
            sink.clear();
            let summary = write_patient(options.seed, index, directory, &mut sink);
            let resources = sink.resources();
            let path = out_dir.join(patient_file_name(index, &summary));
            match write_file(path, sink.finish_bundle()) {
                Ok(mut written) => {
                    written.resources = resources;
                    counts.add(&written);
                }
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
            // The receiver only disappears if the caller's thread is unwinding.
            let _ = sender.send(1);
        }
        Ok(counts)
    })?;
    total.add(&patients);
    Ok(total)
}

/// The per-type NDJSON files and the chunks waiting for their turn to be appended.
struct Committer {
    files: Vec<(PathBuf, BufWriter<File>)>,
    bytes: Vec<u64>,
    next_chunk: u64,
    pending: BTreeMap<u64, Vec<String>>,
}

impl Committer {
    fn append(&mut self, lines: &[String]) -> Result<(), Error> {
        for (index, text) in lines.iter().enumerate() {
            if text.is_empty() {
                continue;
            }
            let (path, file) = &mut self.files[index];
            file.write_all(text.as_bytes()).map_err(io_error(path))?;
            self.bytes[index] += text.len() as u64;
        }
        Ok(())
    }

    /// Accepts chunk `chunk` and appends every chunk that is now next in order.
    fn commit(&mut self, chunk: u64, lines: Vec<String>) -> Result<(), Error> {
        self.pending.insert(chunk, lines);
        while let Some(lines) = self.pending.remove(&self.next_chunk) {
            self.append(&lines)?;
            self.next_chunk += 1;
        }
        Ok(())
    }
}

fn write_ndjson(
    options: &SynthOptions,
    directory: &Directory,
    out_dir: &Path,
    threads: usize,
    progress: &dyn Fn(u64),
) -> Result<Counts, Error> {
    let mut files = Vec::with_capacity(ResourceType::ALL.len());
    for resource_type in ResourceType::ALL {
        let path = out_dir.join(format!("{}.ndjson", resource_type.as_str()));
        let file = File::create(&path).map_err(io_error(&path))?;
        files.push((path, BufWriter::with_capacity(1 << 20, file)));
    }
    let mut committer = Committer {
        files,
        bytes: vec![0; ResourceType::ALL.len()],
        next_chunk: 0,
        pending: BTreeMap::new(),
    };
    let mut sink = Sink::new(RefStyle::Ndjson);
    write_directory(directory, &mut sink, ResourceType::Organization);
    write_directory(directory, &mut sink, ResourceType::Practitioner);
    let mut resources = sink.resources();
    committer.append(&sink.take_lines())?;

    let committer = Mutex::new(committer);
    let next_chunk = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let chunks = options.patients.div_ceil(NDJSON_CHUNK);
    let patients = run_workers(threads, progress, |sender| {
        let mut sink = Sink::new(RefStyle::Ndjson);
        let mut counts = Counts::default();
        while !failed.load(Ordering::Relaxed) {
            let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
            if chunk >= chunks {
                break;
            }
            let first = chunk * NDJSON_CHUNK;
            let last = (first + NDJSON_CHUNK).min(options.patients);
            for index in first..last {
                write_patient(options.seed, index, directory, &mut sink);
            }
            counts.resources += sink.resources();
            let lines = sink.take_lines();
            let committed = match committer.lock() {
                Ok(mut committer) => committer.commit(chunk, lines),
                Err(_) => Err(Error::WorkerPanicked),
            };
            if let Err(error) = committed {
                failed.store(true, Ordering::Relaxed);
                return Err(error);
            }
            let _ = sender.send(last - first);
        }
        Ok(counts)
    })?;
    resources += patients.resources;

    let committer = committer.into_inner().map_err(|_| Error::WorkerPanicked)?;
    let mut counts = Counts {
        resources,
        bytes: 0,
        files: 0,
    };
    for ((path, file), bytes) in committer.files.into_iter().zip(committer.bytes) {
        file.into_inner()
            .map_err(|error| io_error(&path)(error.into_error()))?;
        if bytes == 0 {
            // A type no patient produced (tiny populations) gets no file at all.
            std::fs::remove_file(&path).map_err(io_error(&path))?;
        } else {
            counts.bytes += bytes;
            counts.files += 1;
        }
    }
    Ok(counts)
}
