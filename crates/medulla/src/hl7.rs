//! `medulla hl7 …`: the HL7 v2 interface from the command line.

use crate::cli::{Hl7Args, Hl7Command};
use anyhow::{Context as _, bail};
use medulla_hl7v2::groups::{self, Group, Node};
use medulla_hl7v2::{Message, ParseOptions, Segment, Value as V2Value};
use medulla_interface::log::{self, Status};
use medulla_interface::mllp;
use medulla_interface::{Interface, InterfaceOptions};
use serde_json::{Map, Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: Hl7Args) -> anyhow::Result<()> {
    match args.command {
        Hl7Command::Parse { file, strict } => each_message(&file, strict, |message| {
            println!("{}", serde_json::to_string_pretty(&tree(message))?);
            Ok(())
        }),
        Hl7Command::ToFhir { file, strict } => each_message(&file, strict, |message| {
            let bundle = medulla_interface::mapping::to_bundle(message)
                .map_err(|error| anyhow::anyhow!("{}: {error:?}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&bundle)?);
            Ok(())
        }),
        Hl7Command::Send {
            to,
            files,
            timeout_secs,
        } => send(&to, &files, Duration::from_secs(timeout_secs)),
        Hl7Command::Listen {
            data,
            mllp: address,
            strict,
            validation,
        } => {
            let policy = validation.policy()?;
            if !address.ip().is_loopback() {
                bail!(
                    "refusing to listen on {address}: MLLP has no authentication of its own, so Medulla only listens on loopback addresses until access control exists"
                );
            }
            let store = open_store(&data.data)?;
            let runtime = runtime()?;
            let result = runtime.block_on(async {
                let engine = medulla_engine::Engine::new(
                    store.clone(),
                    medulla_engine::EngineOptions {
                        validation: policy,
                        ..Default::default()
                    },
                );
                let interface = Interface::new(engine, InterfaceOptions { strict });
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                let local = listener.local_addr()?;
                tracing::info!(%local, "MLLP listening");
                mllp::serve(
                    listener,
                    interface,
                    mllp::MllpOptions::default(),
                    crate::serve::shutdown_signal(),
                )
                .await
                .context("serving MLLP")
            });
            store.close();
            result
        }
        Hl7Command::Log {
            data,
            status,
            after,
            limit,
        } => {
            let store = open_store(&data.data)?;
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(Status::parse(text).with_context(|| {
                    format!("unknown status {text:?}: use applied, failed or rejected")
                })?),
            };
            let entries = log::list(store.as_ref(), after, limit, status)?;
            for logged in entries {
                let entry = &logged.entry;
                let line = json!({
                    "id": logged.record.seq,
                    "received": medulla_engine::fhir_time::format_instant(logged.record.updated),
                    "sender": entry.sender,
                    "controlId": entry.control_id,
                    "type": entry.message_type,
                    "status": entry.status.as_str(),
                    "ack": entry.ack_code,
                    "error": entry.error,
                    "resources": entry.resources,
                    "repeats": entry.repeats,
                });
                println!("{line}");
            }
            store.close();
            Ok(())
        }
        Hl7Command::Replay {
            data,
            id,
            validation,
        } => {
            let policy = validation.policy()?;
            let store = open_store(&data.data)?;
            let runtime = runtime()?;
            let handled = runtime.block_on(async {
                let engine = medulla_engine::Engine::new(
                    store.clone(),
                    medulla_engine::EngineOptions {
                        validation: policy,
                        ..Default::default()
                    },
                );
                Interface::new(engine, InterfaceOptions::default())
                    .replay(id)
                    .await
            });
            store.close();
            let handled = handled.map_err(|reason| anyhow::anyhow!("{reason}"))?;
            println!(
                "message {id}: {} ({})",
                handled.status.as_str(),
                handled.code.code()
            );
            if handled.status != Status::Applied {
                bail!("the replay did not apply the message");
            }
            Ok(())
        }
    }
}

fn open_store(data: &Path) -> anyhow::Result<Arc<medulla_store::SqliteStore>> {
    let store = medulla_store::SqliteStore::open(data, medulla_engine::sqlite_options())
        .with_context(|| format!("opening the store in {}", data.display()))?;
    Ok(Arc::new(store))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Parses each message of a file (one or several, each starting with MSH) and hands it to
/// `visit`; the first message that does not parse is the error, naming its number.
fn each_message(
    file: &Path,
    strict: bool,
    mut visit: impl FnMut(&Message<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let contents = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let options = ParseOptions { strict };
    let messages = mllp::split_messages(&contents);
    if messages.is_empty() {
        bail!("{}: no message (none starts with MSH)", file.display());
    }
    for (n, bytes) in messages.into_iter().enumerate() {
        let message = medulla_hl7v2::parse(bytes, &options)
            .with_context(|| format!("{}: message {}", file.display(), n + 1))?;
        visit(&message)?;
    }
    Ok(())
}

fn send(to: &str, files: &[std::path::PathBuf], timeout: Duration) -> anyhow::Result<()> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let mut client = mllp::Client::connect(to, timeout)
            .await
            .with_context(|| format!("connecting to {to}"))?;
        let mut failed = 0;
        let mut sent = 0;
        for file in files {
            let contents =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            for (n, message) in mllp::split_messages(&contents).into_iter().enumerate() {
                let ack = client
                    .send(message)
                    .await
                    .with_context(|| format!("{}: message {}", file.display(), n + 1))?;
                sent += 1;
                let parsed = medulla_hl7v2::parse(&ack, &ParseOptions::default());
                let code = parsed
                    .as_ref()
                    .ok()
                    .and_then(|a| a.get("MSA-1").map(|c| c.into_owned()))
                    .unwrap_or_else(|| "??".into());
                let text = parsed
                    .as_ref()
                    .ok()
                    .and_then(|a| {
                        a.get("ERR-8")
                            .or_else(|| a.get("MSA-3"))
                            .map(|t| t.into_owned())
                    })
                    .unwrap_or_default();
                println!("{}#{}: {code} {text}", file.display(), n + 1);
                if code != "AA" && code != "CA" {
                    failed += 1;
                }
            }
        }
        if failed > 0 {
            bail!("{failed} of {sent} messages were not accepted");
        }
        Ok(())
    })
}

/// A message as JSON: its groups when the structure is known, otherwise its segments.
fn tree(message: &Message<'_>) -> Value {
    let body = match groups::group(message) {
        Some(root) => group_json(message, &root),
        None => Value::Array(message.segments().map(|s| segment_json(&s)).collect()),
    };
    let (code, event, structure) = message.message_type();
    json!({
        "type": format!("{code}^{event}"),
        "structure": groups::structure_name(message).unwrap_or(structure),
        "controlId": message.control_id(),
        "version": message.version(),
        "charset": format!("{:?}", message.charset()),
        "message": body,
    })
}

fn group_json(message: &Message<'_>, group: &Group) -> Value {
    let children: Vec<Value> = group
        .children
        .iter()
        .filter_map(|child| match child {
            Node::Segment(index) => message.segment_index(*index).map(|s| segment_json(&s)),
            Node::Group(inner) => Some(group_json(message, inner)),
        })
        .collect();
    json!({ "group": group.name, "children": children })
}

fn value_json(value: V2Value<'_>) -> Value {
    match value {
        V2Value::Absent => Value::String(String::new()),
        V2Value::Null => Value::Null,
        V2Value::Text(text) => Value::String(text.into_owned()),
    }
}

/// `{"segment": "PID", "fields": {"3": [[comp, comp…], …repetitions]}}`: components with
/// sub-components become arrays; `""` (HL7 null) becomes JSON null.
fn segment_json(segment: &Segment<'_>) -> Value {
    let mut fields = Map::new();
    for n in 1..=segment.field_count() {
        let Some(field) = segment.field(n) else {
            continue;
        };
        if field.raw().is_empty() {
            continue;
        }
        let header = matches!(segment.name(), "MSH" | "BHS" | "FHS") && n <= 2;
        let value = if header {
            Value::String(field.raw().to_owned())
        } else {
            let repetitions: Vec<Value> = field
                .repetitions()
                .map(|repetition| {
                    let components: Vec<Value> = (1..=repetition.component_count())
                        .filter_map(|c| repetition.component(c))
                        .map(|component| {
                            let subs = component.subcomponent_count();
                            if subs > 1 {
                                Value::Array(
                                    (1..=subs)
                                        .map(|s| value_json(component.subcomponent(s)))
                                        .collect(),
                                )
                            } else {
                                value_json(component.value())
                            }
                        })
                        .collect();
                    Value::Array(components)
                })
                .collect();
            Value::Array(repetitions)
        };
        fields.insert(n.to_string(), value);
    }
    json!({ "segment": segment.name(), "fields": fields })
}
