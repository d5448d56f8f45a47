//! `medulla user`, `medulla client` and `medulla audit`.

use crate::cli::{AuditArgs, AuditCommand, ClientArgs, ClientCommand, UserArgs, UserCommand};
use anyhow::{Context as _, bail};
use medulla_store::Store;
use std::path::Path;
use std::sync::Arc;

fn open_store(data: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let store = medulla_store::SqliteStore::open(data, medulla_engine::sqlite_options())
        .with_context(|| format!("opening the store in {}", data.display()))?;
    Ok(Arc::new(store))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn user(args: UserArgs) -> anyhow::Result<()> {
    match args.command {
        UserCommand::Add {
            data,
            name,
            role,
            patient,
            fhir_user,
            password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let policy = medulla_auth::Policy::load(&data.data.join("auth"))?;
            let store = open_store(&data.data)?;
            let user = medulla_auth::User {
                name,
                role,
                patient,
                fhir_user,
                password: String::new(),
                disabled: false,
            };
            let added =
                runtime()?.block_on(medulla_auth::add_user(&*store, &policy, user, password))?;
            print_json(&added)
        }
        UserCommand::List { data } => print_json(&medulla_auth::users(&*open_store(&data.data)?)?),
        UserCommand::Disable { data, name } => {
            let store = open_store(&data.data)?;
            runtime()?.block_on(medulla_auth::set_user_disabled(&*store, &name, true))?;
            eprintln!("user {name} disabled");
            Ok(())
        }
        UserCommand::Enable { data, name } => {
            let store = open_store(&data.data)?;
            runtime()?.block_on(medulla_auth::set_user_disabled(&*store, &name, false))?;
            eprintln!("user {name} enabled");
            Ok(())
        }
    }
}

pub fn client(args: ClientArgs) -> anyhow::Result<()> {
    match args.command {
        ClientCommand::Register {
            data,
            name,
            kind,
            jwks,
            redirect_uris,
            scope,
        } => {
            let Some(kind) = medulla_auth::ClientKind::parse(&kind) else {
                bail!("--type must be public, symmetric or asymmetric, not {kind:?}");
            };
            let jwks = match jwks {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(
                        serde_json::from_slice(&bytes)
                            .with_context(|| format!("{} is not JSON", path.display()))?,
                    )
                }
                None => None,
            };
            let store = open_store(&data.data)?;
            let registered = runtime()?.block_on(medulla_auth::register_client(
                &*store,
                medulla_auth::NewClient {
                    name,
                    kind,
                    jwks,
                    redirect_uris,
                    scope,
                },
            ))?;
            print_json(&registered)
        }
        ClientCommand::List { data } => {
            print_json(&medulla_auth::clients(&*open_store(&data.data)?)?)
        }
    }
}

pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Verify { data } => {
            let folder = data.data.join("audit");
            if !folder.join(medulla_audit::LEDGER_FILE).exists() {
                bail!("no audit ledger in {}", folder.display());
            }
            let report = medulla_audit::verify(&folder)
                .with_context(|| format!("reading the audit ledger in {}", folder.display()))?;
            if report.is_intact() {
                println!("{report}");
                Ok(())
            } else {
                bail!("{report}")
            }
        }
    }
}
