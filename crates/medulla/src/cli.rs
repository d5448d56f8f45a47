//! Command-line interface. Every option can also come from a `MEDULLA_*` environment variable;
//! a flag wins over the variable, which wins over the default.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Medulla: a FHIR R4 health information server in one binary.
#[derive(Debug, Parser)]
#[command(name = "medulla", version, about, propagate_version = true)]
pub struct Cli {
    /// Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG overrides.
    #[arg(long, global = true, env = "MEDULLA_LOG", default_value = "info")]
    pub log_level: String,
    /// Log as JSON lines.
    #[arg(long, global = true, env = "MEDULLA_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the FHIR R4 server.
    Serve(ServeArgs),
    /// Load Bundles (transaction, batch, collection) and NDJSON files into the store.
    Import(ImportArgs),
    /// Generate a synthetic patient population as FHIR R4 Bundles or NDJSON.
    Synth(SynthArgs),
    /// Export resources as NDJSON files (Bulk Data `$export` from the command line).
    Export(ExportArgs),
    /// Report data quality (completeness, conformance, plausibility) as JSON and HTML.
    Quality(QualityArgs),
    /// Evaluate a FHIRPath expression, printing the result as a JSON array.
    Fhirpath(FhirpathArgs),
    /// Measure performance and print figures.
    Bench(BenchArgs),
    /// The HL7 v2 interface: parse, map, send and receive messages, read the message log.
    Hl7(Hl7Args),
    /// Users who log in through the built-in authorization server.
    User(UserArgs),
    /// OAuth clients (SMART apps and backend services).
    Client(ClientArgs),
    /// The audit ledger: verify its hash chain and signed checkpoints.
    Audit(AuditArgs),
    /// Code system releases (SNOMED CT, LOINC, ICD-10-CM, RxNorm) in the terminology file.
    Terminology(TerminologyArgs),
    /// FHIR packages (implementation guides such as US Core): install their conformance
    /// resources into the store.
    Package(PackageArgs),
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    #[command(subcommand)]
    pub command: PackageCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PackageCommand {
    /// Install an NPM-format FHIR R4 package (.tgz): its CodeSystems, ValueSets, ConceptMaps,
    /// StructureDefinitions and SearchParameters are stored under their own ids, all or none.
    /// Prints a JSON summary. New search parameters take effect after `$reindex` (or a
    /// restart, for resources written after it).
    Install {
        #[command(flatten)]
        data: DataArgs,
        /// The package archive (`package.tgz`, as `npm pack` or the FHIR registry makes it).
        file: PathBuf,
        /// Leave out invalid resource files (listed in the summary) instead of refusing the
        /// package.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// List the installed packages as JSON.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Args)]
pub struct TerminologyArgs {
    #[command(subcommand)]
    pub command: TerminologyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TerminologyCommand {
    /// Load a release folder into DATA/terminology/terminology.sqlite (replacing an earlier
    /// load of the same version). A running server sees it after a restart.
    Load {
        #[command(flatten)]
        data: DataArgs,
        /// The release format.
        #[arg(value_enum)]
        kind: ReleaseKind,
        /// The release folder (SNOMED CT: the RF2 `Snapshot` folder or the release root).
        dir: PathBuf,
        /// SNOMED CT: the edition's module id, for the version URI.
        #[arg(long)]
        edition: Option<u64>,
        /// SNOMED CT: the language reference set whose preferred terms become displays.
        #[arg(long)]
        language_refset: Option<u64>,
        /// LOINC, ICD-10-CM, RxNorm: the version to record (default: from the folder or
        /// file names).
        #[arg(long)]
        release_version: Option<String>,
    },
    /// List the code systems in the terminology file as JSON.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

/// A code system release format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReleaseKind {
    /// SNOMED CT RF2 Snapshot (concepts, descriptions, relationships, language and simple
    /// refsets).
    Snomed,
    /// LOINC (LoincTable/Loinc.csv, the part file, the component hierarchy, part links).
    Loinc,
    /// ICD-10-CM (the CMS order file `icd10cm_order_YYYY.txt`).
    Icd10cm,
    /// RxNorm (RRF: RXNCONSO.RRF, RXNREL.RRF).
    Rxnorm,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// Login name.
        name: String,
        /// Role (a key of the role policy: admin, clinician, patient, auditor, or those of
        /// DATA/auth/roles.json).
        #[arg(long)]
        role: String,
        /// For role patient: the Patient id this user is.
        #[arg(long)]
        patient: Option<String>,
        /// The user's FHIR resource (`Practitioner/123`), for `fhirUser`.
        #[arg(long)]
        fhir_user: Option<String>,
        /// Read the password from standard input (required: passwords never go on the
        /// command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users as JSON (no password hashes).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Disable a user: no logins; their tokens stop working within 30 seconds.
    Disable {
        #[command(flatten)]
        data: DataArgs,
        /// Login name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[command(flatten)]
        data: DataArgs,
        /// Login name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its client_id (and secret, shown once) as JSON.
    Register {
        #[command(flatten)]
        data: DataArgs,
        /// A name shown on the consent page.
        #[arg(long)]
        name: String,
        /// public (PKCE only), symmetric (client secret) or asymmetric (private_key_jwt).
        #[arg(long = "type")]
        kind: String,
        /// The client's public keys as a JWKS file (asymmetric clients).
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// A redirect URI for the authorization code flow (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// The most this client may be granted, e.g. "system/*.rs" or
        /// "launch/patient openid fhirUser patient/*.rs offline_access".
        #[arg(long)]
        scope: String,
    },
    /// List clients as JSON (no secrets).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the ledger's hash chain and signed checkpoints; exits 2 naming the first
    /// tampered, deleted, inserted or reordered record.
    Verify {
        #[command(flatten)]
        data: DataArgs,
    },
}

/// How `medulla serve` authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// No authentication: allowed on loopback addresses only.
    None,
    /// The built-in SMART on FHIR authorization server.
    Smart,
    /// Access tokens of an external OpenID Connect issuer (`--oidc-issuer`; claim mapping in
    /// DATA/auth/oidc.json).
    Oidc,
}

#[derive(Debug, Args)]
pub struct Hl7Args {
    #[command(subcommand)]
    pub command: Hl7Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Hl7Command {
    /// Parse a file of messages and print each as a JSON tree (groups, segments, fields).
    Parse {
        /// A file with one or more messages.
        file: PathBuf,
        /// Refuse `\n` segment separators, trailing whitespace and 8-bit text in ASCII messages.
        #[arg(long)]
        strict: bool,
    },
    /// Print the FHIR transaction Bundle each message of a file maps to (nothing is written).
    ToFhir {
        /// A file with one or more messages.
        file: PathBuf,
        /// Parse strictly.
        #[arg(long)]
        strict: bool,
    },
    /// Send the messages of files over MLLP, one at a time, waiting for each ACK.
    Send {
        /// Receiver address, HOST:PORT.
        #[arg(long)]
        to: String,
        /// Files with one or more messages each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seconds to wait for each ACK.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Receive messages over MLLP into the store (without the FHIR HTTP API).
    Listen {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on (loopback only).
        #[arg(long, env = "MEDULLA_MLLP", default_value = "127.0.0.1:2575")]
        mllp: SocketAddr,
        /// Parse strictly.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        validation: ValidationArgs,
    },
    /// List the message log as JSON lines (oldest first).
    Log {
        #[command(flatten)]
        data: DataArgs,
        /// Only messages with this status: applied, failed (dead letters) or rejected.
        #[arg(long)]
        status: Option<String>,
        /// Only messages logged after this id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Re-run a dead-lettered message (after fixing what made it fail).
    Replay {
        #[command(flatten)]
        data: DataArgs,
        /// The message's id in `medulla hl7 log`.
        id: i64,
        #[command(flatten)]
        validation: ValidationArgs,
    },
}

#[derive(Debug, Args)]
pub struct FhirpathArgs {
    /// A JSON resource to evaluate against (none: evaluate without input).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Print each item as {"type": T, "value": V}.
    #[arg(long)]
    pub typed: bool,
    /// The expression.
    #[arg(allow_hyphen_values = true)]
    pub expression: String,
}

/// Where the data lives.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// The data directory (created if missing).
    #[arg(long, env = "MEDULLA_DATA", default_value = "./medulla-data")]
    pub data: PathBuf,
}

/// The write-time validation policy.
#[derive(Debug, Clone, Args)]
pub struct ValidationArgs {
    /// How resources are validated before they are written: off (structure only), base (the
    /// R4 base definitions; errors refuse the write) or profiles (also the profiles a resource
    /// declares and those --require-profile names).
    #[arg(
        long = "validate",
        env = "MEDULLA_VALIDATE",
        default_value = "base",
        value_name = "LEVEL"
    )]
    pub level: String,
    /// The level for one resource type, as TYPE=LEVEL (repeat for several types).
    #[arg(long = "validate-type", value_name = "TYPE=LEVEL")]
    pub by_type: Vec<String>,
    /// A profile every resource of a type must conform to under level profiles, as
    /// TYPE=CANONICAL-URL (repeat for several).
    #[arg(long = "require-profile", value_name = "TYPE=URL")]
    pub required_profiles: Vec<String>,
}

impl ValidationArgs {
    /// The policy these options describe.
    ///
    /// # Errors
    /// A message naming the malformed option.
    pub fn policy(&self) -> anyhow::Result<medulla_engine::ValidationPolicy> {
        let mut policy = medulla_engine::ValidationPolicy {
            default: self
                .level
                .parse()
                .map_err(|message: String| anyhow::anyhow!("--validate: {message}"))?,
            ..Default::default()
        };
        for rule in &self.by_type {
            policy
                .add_type_rule(rule)
                .map_err(|message| anyhow::anyhow!("--validate-type: {message}"))?;
        }
        for rule in &self.required_profiles {
            policy
                .add_required_profile(rule)
                .map_err(|message| anyhow::anyhow!("--require-profile: {message}"))?;
        }
        Ok(policy)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on. Without `--auth smart`, loopback addresses only.
    #[arg(long, env = "MEDULLA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// The server's public URL (default: http://ADDR): the token issuer; the FHIR API is
    /// under /fhir and the authorization server under /auth.
    #[arg(long, env = "MEDULLA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The public base URL of the FHIR API (default: PUBLIC_URL/fhir).
    #[arg(long, env = "MEDULLA_BASE_URL")]
    pub base_url: Option<String>,
    /// Authentication: `none` (loopback only), `smart` (the built-in SMART on FHIR
    /// authorization server; users and clients from `medulla user` and `medulla client`) or
    /// `oidc` (tokens of an external OpenID Connect issuer).
    #[arg(long, env = "MEDULLA_AUTH", value_enum, default_value = "none")]
    pub auth: AuthMode,
    /// With `--auth oidc`: the issuer URL (its `/.well-known/openid-configuration` is read at
    /// start). Overrides the issuer of DATA/auth/oidc.json.
    #[arg(long, env = "MEDULLA_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Do not record accesses in the audit ledger (for measurements; never in production).
    #[arg(long, env = "MEDULLA_NO_AUDIT")]
    pub no_audit: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MEDULLA_BODY_LIMIT", default_value_t = 16 * 1024 * 1024)]
    pub body_limit: usize,
    /// Let a conditional delete remove every match (otherwise several matches answer 412).
    #[arg(long, env = "MEDULLA_ALLOW_MULTIPLE_DELETE")]
    pub allow_multiple_delete: bool,
    #[command(flatten)]
    pub validation: ValidationArgs,
    /// Also receive HL7 v2 messages over MLLP on this address (loopback only), e.g.
    /// 127.0.0.1:2575.
    #[arg(long, env = "MEDULLA_MLLP")]
    pub mllp: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. With TLS on,
    /// PUBLIC_URL defaults to https://ADDR and every response carries
    /// Strict-Transport-Security.
    #[arg(
        long,
        env = "MEDULLA_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(
        long,
        env = "MEDULLA_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Let browser apps from this origin (https://app.example.org) call the server (CORS);
    /// repeatable, comma-separated in the variable; `*` for any origin. Cross-origin
    /// credentials (cookies) are never allowed: apps send bearer tokens. Default: no CORS.
    #[arg(
        long = "cors-origin",
        env = "MEDULLA_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub validation: ValidationArgs,
    /// Files or folders: Bundles (.json) and NDJSON (.ndjson); folders are read recursively.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Resources per write batch for NDJSON and collection Bundles.
    #[arg(long, env = "MEDULLA_IMPORT_BATCH", default_value_t = 1000)]
    pub batch: usize,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// What a malformed NDJSON line or unreadable file does: `skip` reports it (file:line:
    /// reason) and goes on, exiting non-zero at the end; `abort` stops at the first one.
    #[arg(
        long,
        value_enum,
        env = "MEDULLA_IMPORT_ON_ERROR",
        default_value = "skip"
    )]
    pub on_error: OnError,
    /// Threads that parse, check and index NDJSON lines (0: one per core).
    #[arg(long, env = "MEDULLA_IMPORT_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Write without search-index rows (only to measure write amplification: such resources
    /// cannot be found by search).
    #[arg(long, hide = true)]
    pub no_index: bool,
    /// The writer's SQLite page cache during import, MiB.
    #[arg(long, env = "MEDULLA_IMPORT_CACHE_MIB", default_value_t = 64)]
    pub cache_mib: usize,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Report the bad line or file and go on.
    Skip,
    /// Stop at the first bad line or file.
    Abort,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Folder for the NDJSON files (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Only these resource types (comma-separated).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Only resources updated at or after this FHIR instant.
    #[arg(long)]
    pub since: Option<String>,
    /// `Type?criteria` filters (repeatable), as `_typeFilter`.
    #[arg(long = "type-filter")]
    pub type_filters: Vec<String>,
    /// Patient-level export: every patient's compartment.
    #[arg(long, conflicts_with = "group")]
    pub patients: bool,
    /// Group-level export: the compartments of this Group's members.
    #[arg(long)]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Only these resource types (comma-separated).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Write the JSON report to this file instead of standard output.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write the report as a self-contained HTML page to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of patients.
    #[arg(long, default_value_t = 10)]
    pub patients: u64,
    /// Seed: the same seed and patient count give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// `bundle` (one transaction Bundle per patient) or `ndjson` (one file per type).
    #[arg(long, default_value = "bundle")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Create/read/CRUD-mix throughput and latency over loopback HTTP against a spawned server,
    /// with the raw SQLite floor measured in the same run.
    Crud(CrudBenchArgs),
    /// FHIRPath evaluations/s over the R4 search parameters on synthetic resources, with
    /// `--peer` against fhirpath.js in the same run (rates and results compared).
    Fhirpath(crate::bench_fhirpath::FhirpathBenchArgs),
    /// Search latency (p50/p99) on a generated population at about 10% and 100% of its size.
    Search(crate::bench_search::SearchBenchArgs),
    /// Bulk NDJSON import with full indexing (resources/s, MB/s, peak RSS) at several sizes,
    /// against parsing and inserting raw blobs into SQLite in the same run.
    Ingest(crate::bench_ingest::IngestBenchArgs),
    /// System-level `$export` of an existing store (MB/s of NDJSON), against raw SQLite reads.
    Export(crate::bench_export::ExportBenchArgs),
    /// HL7 v2 parse throughput against peer parsers (`--peers`), and messages/s end to end
    /// over MLLP into the store.
    Hl7(crate::bench_hl7::Hl7BenchArgs),
    /// Read throughput with authentication and audit on vs off (same run), and
    /// client-credentials grants/s with ES384 assertions.
    Auth(crate::bench_auth::AuthBenchArgs),
    /// A generated SNOMED CT-like release: load time and memory, `$subsumes` and
    /// `$validate-code` calls/s, `$expand` with a text filter (p50/p99).
    Terminology(TerminologyBenchArgs),
    /// Resources validated/s against base R4 (structure, bindings, invariants) on generated
    /// patients, on one thread and on all cores, with `--peer` against the Python package
    /// fhir.resources (pydantic models) on the same resources in the same run.
    Validate(crate::bench_validate::ValidateBenchArgs),
}

#[derive(Debug, Args)]
pub struct TerminologyBenchArgs {
    /// Concepts in the generated release.
    #[arg(long, default_value_t = 400_000)]
    pub concepts: usize,
    /// Descriptions in the generated release.
    #[arg(long, default_value_t = 1_200_000)]
    pub descriptions: usize,
    /// Relationships in the generated release.
    #[arg(long, default_value_t = 1_000_000)]
    pub relationships: usize,
    /// Calls per in-process operation measurement.
    #[arg(long, default_value_t = 2_000_000)]
    pub calls: usize,
    /// `$expand` calls measured.
    #[arg(long, default_value_t = 200)]
    pub expansions: usize,
    /// Skip writing the release to a terminology file and reading it back.
    #[arg(long)]
    pub no_persist: bool,
}

#[derive(Debug, Args)]
pub struct CrudBenchArgs {
    /// Concurrent clients (keep-alive connections), comma-separated.
    #[arg(long, default_value = "1,8,64", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Resources created before the read phase.
    #[arg(long, default_value_t = 10_000)]
    pub preload: usize,
}
