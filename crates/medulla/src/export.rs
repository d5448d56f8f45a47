//! `medulla export`: the Bulk Data export, run in-process, writing NDJSON files to a folder.

use crate::cli::ExportArgs;
use anyhow::{Context as _, bail};
use medulla_bulk::{ExportRequest, Exports, Level, Status};
use std::sync::Arc;

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let store = Arc::new(
        medulla_store::SqliteStore::open(&args.data.data, medulla_engine::sqlite_options())
            .with_context(|| format!("opening the store in {}", args.data.data.display()))?,
    );
    let engine = medulla_engine::Engine::new(store.clone(), Default::default());
    let jobs_dir = args.out.join(".medulla-export");
    let exports = Exports::open(jobs_dir.clone(), engine).context("preparing the output folder")?;
    let level = match (&args.group, args.patients) {
        (Some(group), _) => Level::Group(group.clone()),
        (None, true) => Level::Patient,
        (None, false) => Level::System,
    };
    let request = ExportRequest {
        level,
        types: args.types.clone(),
        since: args.since.clone(),
        type_filters: args.type_filters.clone(),
        request_url: "medulla export".to_owned(),
        owner: None,
    };
    let id = exports
        .start(request)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let state = exports.wait(&id).context("the export job vanished")?;
    if let Status::Failed(reason) = &state.status {
        bail!("export failed: {reason}");
    }
    let mut bytes = 0;
    for file in &state.output {
        let from = jobs_dir.join(&id).join(&file.name);
        let to = args.out.join(&file.name);
        std::fs::rename(&from, &to)
            .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
        bytes += file.bytes;
    }
    std::fs::remove_dir_all(&jobs_dir)
        .with_context(|| format!("removing {}", jobs_dir.display()))?;
    store.close();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "exported {} resources in {} files, {:.1} MB in {:.2} s ({:.1} MB/s), snapshot at {}",
        state.exported,
        state.output.len(),
        bytes as f64 / 1e6,
        seconds,
        bytes as f64 / 1e6 / seconds.max(1e-9),
        state.transaction_time
    );
    Ok(())
}
