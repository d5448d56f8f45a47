//! `medulla bench export`: system-level export of a store to NDJSON, in MB/s, against the floor
//! of reading the same bodies straight out of SQLite into one file.

use anyhow::Context as _;
use medulla_bulk::{ExportRequest, Exports, Level, Status};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Options of `medulla bench export`.
#[derive(Debug, clap::Args)]
pub struct ExportBenchArgs {
    /// The store to export (e.g. one filled by `medulla import`). It is only read.
    #[arg(long, env = "MEDULLA_DATA")]
    pub data: PathBuf,
}

pub fn run(args: ExportBenchArgs) -> anyhow::Result<()> {
    let out = tempfile::tempdir().context("creating an output folder")?;
    let store = Arc::new(
        medulla_store::SqliteStore::open(&args.data, medulla_engine::sqlite_options())
            .with_context(|| format!("opening {}", args.data.display()))?,
    );
    let engine = medulla_engine::Engine::new(store.clone(), Default::default());
    let exports = Exports::open(out.path().join("jobs"), engine)?;
    let started = Instant::now();
    let id = exports
        .start(ExportRequest {
            level: Level::System,
            ..ExportRequest::default()
        })
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let state = exports.wait(&id).context("the export job vanished")?;
    let seconds = started.elapsed().as_secs_f64();
    if let Status::Failed(reason) = &state.status {
        anyhow::bail!("export failed: {reason}");
    }
    let bytes: u64 = state.output.iter().map(|f| f.bytes).sum();
    store.close();

    // The floor: every current body, in storage order, written to one file.
    let floor_started = Instant::now();
    let conn = rusqlite::Connection::open_with_flags(
        args.data.join("medulla.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut file = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(out.path().join("floor.ndjson"))?,
    );
    let mut stmt = conn.prepare(
        "SELECT v.body FROM resources r JOIN versions v ON v.seq = r.version_seq WHERE r.deleted = 0 ORDER BY r.res_key",
    )?;
    let mut rows = stmt.query([])?;
    let mut floor_bytes = 0_u64;
    while let Some(row) = rows.next()? {
        let body = row.get_ref(0)?.as_blob()?;
        file.write_all(body)?;
        file.write_all(b"\n")?;
        floor_bytes += body.len() as u64 + 1;
    }
    file.flush()?;
    file.get_ref().sync_all()?;
    let floor_seconds = floor_started.elapsed().as_secs_f64();
    let rate = bytes as f64 / 1e6 / seconds.max(1e-9);
    let floor_rate = floor_bytes as f64 / 1e6 / floor_seconds.max(1e-9);
    println!(
        "$export (system): {} resources, {} files, {:.1} MB in {:.2} s = {:.1} MB/s",
        state.exported,
        state.output.len(),
        bytes as f64 / 1e6,
        seconds,
        rate
    );
    println!(
        "floor (raw SELECT of the same bodies into one file): {:.1} MB in {:.2} s = {:.1} MB/s; Medulla = {:.2} of the floor",
        floor_bytes as f64 / 1e6,
        floor_seconds,
        floor_rate,
        rate / floor_rate.max(1e-9)
    );
    Ok(())
}
