//! `medulla quality`: the data quality report over the store, as JSON (standard output or a
//! file) and optionally as an HTML page.

use crate::cli::QualityArgs;
use anyhow::{Context as _, bail};
use medulla_quality::{QualityOptions, QualityReport};
use medulla_store::{SearchQuery, Store as _};
use std::sync::Arc;

pub fn run(args: QualityArgs) -> anyhow::Result<()> {
    let data = &args.data.data;
    // A report over a directory that does not exist would create an empty store and report
    // nothing; say so instead.
    if !data.is_dir() {
        bail!("no data directory at {}", data.display());
    }
    if let Some(unknown) = args
        .types
        .iter()
        .find(|resource_type| !medulla_model::definitions().is_resource_type(resource_type))
    {
        bail!("unknown resource type {unknown:?} in --type");
    }
    let terminology_dir = data.join("terminology");
    let terminology = if terminology_dir.is_dir() {
        medulla_terminology::Terminology::open(&terminology_dir)
            .context("opening the terminology file")?
    } else {
        medulla_terminology::Terminology::in_memory()
    };
    let store = Arc::new(
        medulla_store::SqliteStore::open(data, medulla_engine::sqlite_options())
            .with_context(|| format!("opening the store in {}", data.display()))?,
    );
    // Through an engine, so that the StructureDefinitions stored (or installed from packages)
    // count: mustSupport completeness for resources that declare those profiles.
    let engine = medulla_engine::Engine::new(store.clone(), Default::default())
        .with_terminology(Arc::new(terminology));
    let validator = engine
        .validator()
        .context("reading the stored definitions")?;
    let mut builder = QualityReport::builder(&validator, QualityOptions::default());
    let query = SearchQuery {
        resource_types: args.types.clone(),
        ..SearchQuery::default()
    };
    let scanned = store.scan(std::slice::from_ref(&query), &mut |stored| {
        // A stored body that is not JSON is counted as input that is not a resource.
        let resource = stored
            .body
            .as_deref()
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
            .unwrap_or(serde_json::Value::Null);
        builder.add(&resource);
        Ok(true)
    });
    store.close();
    scanned.context("reading the resources")?;
    let report = builder.finish();
    let json = serde_json::to_string_pretty(&report.to_json()).context("rendering the report")?;
    match &args.json {
        Some(path) => std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("writing {}", path.display()))?,
        None => println!("{json}"),
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report.to_html())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
