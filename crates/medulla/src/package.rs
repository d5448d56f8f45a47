//! `medulla package install|list`: FHIR packages read by `medulla-package`, their conformance
//! resources written through the engine, and a `package` record per installed version.

use crate::cli::{PackageArgs, PackageCommand};
use anyhow::{Context as _, bail};
use medulla_engine::{Engine, EngineOptions};
use medulla_package::{Package, ReadOptions};
use medulla_store::{SqliteStore, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The kind of the store records that remember installed packages; keyed `name#version`.
const RECORD_KIND: &str = "package";

pub fn run(args: PackageArgs) -> anyhow::Result<()> {
    match args.command {
        PackageCommand::Install {
            data,
            file,
            skip_invalid,
        } => {
            let summary = install(&data.data, &file, skip_invalid)
                .with_context(|| format!("installing package {}", file.display()))?;
            print_json(&summary)
        }
        PackageCommand::List { data } => print_json(&list(&data.data)?),
    }
}

/// Reads, checks and stores the package; returns the summary to print.
fn install(data: &Path, file: &Path, skip_invalid: bool) -> anyhow::Result<Value> {
    let options = ReadOptions {
        skip_invalid,
        ..ReadOptions::default()
    };
    let package = Package::read_with(file, &options)?;
    let mut invalid: Vec<Value> = package
        .invalid
        .iter()
        .map(|entry| json!({"file": entry.file, "reason": entry.reason}))
        .collect();
    // The package crate checked what installing relies on; the R4 structure is checked here,
    // as for any other write, so that a bad resource fails before anything is written.
    let mut resources = Vec::with_capacity(package.resources.len());
    let mut nonconforming = Vec::new();
    for resource in &package.resources {
        match medulla_engine::check_resource(resource) {
            Ok(()) => resources.push(resource.clone()),
            Err(error) => nonconforming.push((reference(resource), error.to_string())),
        }
    }
    if !nonconforming.is_empty() && !skip_invalid {
        let listed: Vec<String> = nonconforming
            .iter()
            .map(|(reference, reason)| format!("{reference}: {reason}"))
            .collect();
        bail!(
            "{} resource(s) are not valid R4 (nothing was written; --skip-invalid leaves them out): {}",
            listed.len(),
            listed.join("; ")
        );
    }
    invalid.extend(
        nonconforming
            .into_iter()
            .map(|(reference, reason)| json!({"resource": reference, "reason": reason})),
    );

    let counts = count_by_type(&resources);
    let store = Arc::new(
        SqliteStore::open(data, medulla_engine::sqlite_options())
            .with_context(|| format!("opening the store in {}", data.display()))?,
    );
    let result = write(&store, &package, resources);
    store.close();
    let outcome = result?;
    Ok(json!({
        "name": package.name,
        "version": package.version,
        "fhirVersions": package.fhir_versions,
        "resources": counts,
        "written": outcome.written,
        "unchanged": outcome.unchanged,
        "skipped": package.skipped,
        "invalid": invalid,
    }))
}

/// Refuses resources whose id another canonical URL holds, then stores the resources as one
/// write and the install record right after it.
fn write(
    store: &Arc<SqliteStore>,
    package: &Package,
    resources: Vec<Value>,
) -> anyhow::Result<medulla_engine::IngestOutcome> {
    check_canonical_conflicts(store.as_ref(), &package.name, &resources)?;
    let counts = count_by_type(&resources);
    let references: Vec<String> = resources.iter().map(reference).collect();
    let engine = Engine::new(store.clone(), EngineOptions::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // One job: all the package's resources or none. Resources whose stored version already
    // has the same content are left alone, so installing a package again writes nothing.
    let outcome = runtime
        .block_on(engine.ingest_batch(resources))
        .context("writing the package's resources")?;
    // The engine's batch write takes no extra work, so the record is a second write right
    // after. If it is lost (a crash between the two), installing again writes it.
    let key = format!("{}#{}", package.name, package.version);
    let mut value = record_value(package, &counts, &references);
    let written_anything = outcome.written > 0;
    medulla_store::write(store.as_ref(), move |tx| {
        if !written_anything && tx.record(RECORD_KIND, &key)?.is_some() {
            // Nothing changed: keep the first install's record and time.
            return Ok(());
        }
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "installed".into(),
                json!(medulla_engine::fhir_time::format_instant(tx.now())),
            );
        }
        tx.put_record(RECORD_KIND, &key, value.to_string().as_bytes(), None)?;
        Ok::<_, medulla_store::Error>(())
    })
    .blocking_wait()
    .context("recording the installed package")?;
    Ok(outcome)
}

/// Fails when a resource's `Type/id` is stored with a different canonical URL: installing
/// would silently replace another package's (or a user's) definition. The same URL is an
/// upgrade and goes ahead. Deleted resources do not count.
fn check_canonical_conflicts(
    store: &dyn Store,
    package: &str,
    resources: &[Value],
) -> anyhow::Result<()> {
    let mut conflicts = Vec::new();
    for resource in resources {
        let (resource_type, id) = (text(resource, "resourceType"), text(resource, "id"));
        let Some(current) = store
            .read(resource_type, id)
            .with_context(|| format!("reading {resource_type}/{id} from the store"))?
        else {
            continue;
        };
        if current.is_deleted() {
            continue;
        }
        let stored: Value = current
            .body
            .as_deref()
            .and_then(|body| serde_json::from_slice(body).ok())
            .unwrap_or_default();
        let (stored_url, package_url) = (text(&stored, "url"), text(resource, "url"));
        if stored_url != package_url {
            let stored_url = if stored_url.is_empty() {
                "no url".to_owned()
            } else {
                format!("url '{stored_url}'")
            };
            conflicts.push(format!(
                "{resource_type}/{id} is stored with {stored_url}, the package has '{package_url}'"
            ));
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} resource id(s) of {package} are taken by other definitions (nothing was written): {}",
            conflicts.len(),
            conflicts.join("; ")
        )
    }
}

/// The JSON of the install record (its `installed` time is set in the write).
fn record_value(
    package: &Package,
    counts: &BTreeMap<String, usize>,
    references: &[String],
) -> Value {
    json!({
        "name": package.name,
        "version": package.version,
        "fhirVersions": package.fhir_versions,
        "dependencies": package.dependencies,
        "installed": Value::Null,
        "resources": counts,
        "skipped": package.skipped,
        "references": references,
    })
}

/// The installed packages' records, oldest install first.
fn list(data: &Path) -> anyhow::Result<Value> {
    let store = SqliteStore::open(data, medulla_engine::sqlite_options())
        .with_context(|| format!("opening the store in {}", data.display()))?;
    let mut installed = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .records(RECORD_KIND, after, 500)
            .context("reading the package records")?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            let value: Value = serde_json::from_slice(&record.value)
                .with_context(|| format!("package record {} is not JSON", record.key))?;
            installed.push(value);
        }
    }
    store.close();
    Ok(Value::Array(installed))
}

fn count_by_type(resources: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for resource in resources {
        *counts
            .entry(text(resource, "resourceType").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// `Type/id` of a resource.
fn reference(resource: &Value) -> String {
    format!(
        "{}/{}",
        text(resource, "resourceType"),
        text(resource, "id")
    )
}

/// A string member, or "" when absent.
fn text<'v>(resource: &'v Value, member: &str) -> &'v str {
    resource.get(member).and_then(Value::as_str).unwrap_or("")
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
